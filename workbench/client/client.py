"""The SkyPortal API client: the HTTP core plus one named method per API operation."""

from __future__ import annotations

from .api_candidates import CandidatesAPI
from .api_comments import CommentsAPI
from .api_gcn import GcnAPI
from .api_observing import ObservingAPI
from .api_sources import SourcesAPI
from .api_spectra import SpectraAPI
from .api_system import SystemAPI


class SkyPortalClient(
    SourcesAPI, CandidatesAPI, CommentsAPI, SpectraAPI, GcnAPI, ObservingAPI, SystemAPI
):
    """A SkyPortal API client: token auth, rate limiting, retries, pagination, clear errors.

    ::

        client = SkyPortalClient()                 # URL/token from env or the config file
        client.get_source("ZTF21aaqjmps")          # one named method per operation
        client.get("/api/sources", {"numPerPage": 10})      # or the envelope's data
        for page in client.iter_pages("/api/sources", concurrency=4):
            ...                                    # pages in order, fetched ahead

    Arguments (keyword-only after ``url``): ``token``; ``timeout`` seconds or a
    (connect, read) pair, default (5, 60); ``rate_limit`` requests/s (``None`` disables;
    a :class:`RateLimiter` shares one budget between clients; ``"auto"``, the default:
    the production 5 r/s until the server advertises its own limit, as the project's
    local server does, and slower after a 429 from a server that does not) with ``burst``;
    ``max_retries``, ``backoff``, ``max_backoff`` (seconds) for retries;
    ``session`` an injectable ``requests.Session``; ``config_path``; ``user_agent``.
    ``client.stats.snapshot()`` tells what it did. Errors are those of
    :mod:`workbench.errors`; the token never appears in them, in logs or in the repr.
    """
