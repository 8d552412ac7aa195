"""Bokeh plots of the workbench: pure functions on DataFrames and arrays.

Every plot function returns ``(figure_or_layout, sources)`` and never calls ``show()``;
``sources`` maps names to the ``ColumnDataSource`` objects drawn (update ``source.data`` in
place to change the plot), with the exact, undecimated data in ``sources.full``.

==========================  =====================================================
:func:`lightcurve_plot`     magnitude or flux vs MJD/days, per filter, limits
:func:`lightcurve_grid`     several objects side by side
:func:`spectra_plot`        overlaid spectra, normalised/smoothed, redshift slider
:func:`localization_plot`   credible regions, all-sky and zoomed, with overlays
:func:`score_histogram`     candidate scores
:func:`vetting_timeline`    saved/rejected/skipped per day
:func:`classification_counts` classes as bars
:func:`galaxy_ranking`      the crossmatch's best galaxies (bars or table)
:func:`export_html`         standalone HTML, inline resources
:func:`as_widget`           a figure as an ipywidget (jupyter_bokeh)
==========================  =====================================================
"""

from __future__ import annotations

from ._base import PlotSources
from .colors import filter_color
from .export import as_widget, export_html
from .lightcurve import lightcurve_grid, lightcurve_plot, prepare_photometry
from .lines import LINE_SETS, LINES, TELLURIC_BANDS, SpectralLine, line_set
from .localization import localization_plot
from .spectrum import spectra_plot
from .summaries import classification_counts, galaxy_ranking, score_histogram, vetting_timeline

__all__ = [
    "LINES",
    "LINE_SETS",
    "TELLURIC_BANDS",
    "PlotSources",
    "SpectralLine",
    "as_widget",
    "classification_counts",
    "export_html",
    "filter_color",
    "galaxy_ranking",
    "lightcurve_grid",
    "lightcurve_plot",
    "line_set",
    "localization_plot",
    "prepare_photometry",
    "score_histogram",
    "spectra_plot",
    "vetting_timeline",
]
