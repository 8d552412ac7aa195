"""HTTP access to SkyPortal: auth, envelopes, errors, rate limit, retries, pagination.

Nothing else in the workbench builds a URL; see :class:`SkyPortalClient`.
"""

from __future__ import annotations

from .client import SkyPortalClient
from .core import DEFAULT_USER_AGENT
from .pagination import (
    AUTO,
    GalaxyPaginator,
    Page,
    PageNumberPaginator,
    Paginator,
    SinglePagePaginator,
)
from .ratelimit import RateLimiter
from .retry import RetryPolicy
from .stats import ClientStats

__all__ = [
    "AUTO",
    "DEFAULT_USER_AGENT",
    "ClientStats",
    "GalaxyPaginator",
    "Page",
    "PageNumberPaginator",
    "Paginator",
    "RateLimiter",
    "RetryPolicy",
    "SinglePagePaginator",
    "SkyPortalClient",
]
