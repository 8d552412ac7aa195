"""The first cell of every example notebook: a workbench connected to some SkyPortal.

With ``SKYPORTAL_URL`` set (the demo sets it, with ``SKYPORTAL_TOKEN`` and
``WORKBENCH_CACHE``), the notebook works on that server and cache. Without it, a private
local SkyPortal-compatible server with a small synthetic sky is started on 127.0.0.1 with a
throw-away cache, so a notebook runs anywhere (CI runs them under nbval) and never touches
a real server by accident. The token is never printed: the session's repr masks it.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.config import ENV_URL
from workbench.errors import WorkbenchError


@dataclass
class NotebookSession:
    """A workbench, and the private server and temporary cache it may own."""

    wb: Any
    server: Any = None
    tmpdir: tempfile.TemporaryDirectory | None = field(default=None, repr=False)
    _sandbox: bool | None = field(default=None, init=False, repr=False)  # asked once

    @property
    def private(self) -> bool:
        """True when the server is this notebook's own local one."""
        return self.server is not None

    @property
    def sandbox(self) -> bool:
        """True when writes are harmless: the server is the project's own local server
        (this notebook's private one, or the demo's), which identifies itself. Never merely
        because it is on this machine: a Fritz reached through an SSH tunnel is on
        127.0.0.1 too. Example notebooks only click write buttons in a sandbox."""
        if self._sandbox is None:
            self._sandbox = self.private or is_local_workbench_server(self.wb)
        return self._sandbox

    def __repr__(self) -> str:
        where = "private local server" if self.private else "SKYPORTAL_URL"
        return f"NotebookSession({where}, {self.wb!r})"

    def close(self) -> None:
        """Stop the private server and delete the temporary cache (nothing when external)."""
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.tmpdir is not None:
            self.tmpdir.cleanup()
            self.tmpdir = None


def is_local_workbench_server(wb: Any) -> bool:
    """True when ``wb``'s server identifies itself as the project's local server
    (``workbench.server``); False offline, for any other server, or when asking fails.
    Goes through the workbench's client: widgets make no HTTP requests of their own."""
    client = getattr(wb, "client", None)
    if client is None:
        return False
    try:
        return client.local_server_identity() is not None
    except WorkbenchError:  # down, failing, rate limited: not known to be ours
        return False


def open_session(
    *, sources: int = 40, candidates: int = 30, seed: int = 7, **client_options: Any
) -> NotebookSession:
    """Open the workbench a notebook works with.

    ``SKYPORTAL_URL`` set: ``Workbench.open()`` from the environment (and config file).
    Otherwise a private ``LocalServer`` with ``sources`` sources and ``candidates``
    candidates (random ``seed``) and a cache in a temporary directory; the notebook
    should call ``session.close()`` at its end. ``client_options`` go to the client
    (``timeout``, ``rate_limit``, ``max_retries``, ...).
    """
    from workbench.facade import Workbench

    from ._plots import ensure_bokehjs

    ensure_bokehjs()  # so that plots shown with workbench.plots.as_widget render
    if os.environ.get(ENV_URL):
        return NotebookSession(Workbench.open(**client_options))
    from workbench.server import LocalServer

    server = LocalServer(sources=sources, candidates=candidates, seed=seed, token=str(uuid.uuid4()))
    server.start()
    tmpdir = tempfile.TemporaryDirectory(prefix="workbench-notebook-")
    # The private server is on loopback and ours alone: no need to pace requests to it.
    client_options.setdefault("rate_limit", None)
    try:
        wb = Workbench.open(
            server.url, server.token, Path(tmpdir.name) / "workbench.duckdb", **client_options
        )
    except WorkbenchError:
        server.stop()
        tmpdir.cleanup()
        raise
    return NotebookSession(wb, server, tmpdir)
