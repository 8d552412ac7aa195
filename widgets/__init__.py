"""ipywidgets panels over the workbench cache: vetting, classification, crossmatch, plots.

Panels read the cache and write to the outbox through the :class:`workbench.Workbench`
facade; they never make HTTP requests themselves.
"""
