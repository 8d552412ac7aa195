"""The local SkyPortal-compatible server (SkyPortal 1.4.0 as recorded in the captures).

``LocalServer`` runs it in a background thread for tests and notebooks;
``spawn_server_process`` runs it in another process; ``workbench serve`` in the
foreground. See ``docs/ARCHITECTURE.md`` and ``workbench/server/README.md``.
"""

from __future__ import annotations

from .behaviour import Behaviour, Fault
from .local import LocalServer, ServerProcess, free_port, spawn_server_process
from .stats import Stats
from .store import Store

__all__ = [
    "Behaviour",
    "Fault",
    "LocalServer",
    "ServerProcess",
    "Stats",
    "Store",
    "free_port",
    "spawn_server_process",
]
