"""SkyPortal Workbench: SkyPortal from Jupyter, with a local DuckDB cache.

The public surface is re-exported here; everything else is private by default::

    from workbench import Workbench
    wb = Workbench.open()          # URL/token from arguments, env vars or the config file
    wb.sync()
    wb.sources()                   # DataFrames from the cache
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    AuthError,
    BadRequest,
    CacheError,
    CacheLocked,
    ConfigError,
    ConnectionFailed,
    InvalidResponse,
    NotFound,
    OutboxError,
    RateLimited,
    SchemaError,
    ServerError,
    SkymapError,
    SkyPortalError,
    SpectrumParseError,
    WorkbenchError,
)

# Heavy modules (duckdb, astropy, bokeh) load on first use, so `import workbench` stays fast.
_LAZY = {
    "Workbench": "workbench.facade",
    "SkyPortalClient": "workbench.client",
    "Cache": "workbench.cache",
    "Skymap": "workbench.skymap",
    "read_skymap": "workbench.skymap",
    "crossmatch": "workbench.crossmatch",
    "LocalServer": "workbench.server",
    "parse_ascii": "workbench.spectra",
}

if TYPE_CHECKING:  # pragma: no cover
    from .cache import Cache
    from .client import SkyPortalClient
    from .crossmatch import crossmatch
    from .facade import Workbench
    from .server import LocalServer
    from .skymap import Skymap, read_skymap
    from .spectra import parse_ascii


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


__all__ = [
    "AuthError",
    "BadRequest",
    "Cache",
    "CacheError",
    "CacheLocked",
    "ConfigError",
    "ConnectionFailed",
    "InvalidResponse",
    "LocalServer",
    "NotFound",
    "OutboxError",
    "RateLimited",
    "SchemaError",
    "ServerError",
    "SkyPortalClient",
    "SkyPortalError",
    "Skymap",
    "SkymapError",
    "SpectrumParseError",
    "Workbench",
    "WorkbenchError",
    "__version__",
    "crossmatch",
    "parse_ascii",
    "read_skymap",
]
