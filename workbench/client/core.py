"""The HTTP core of the client: one request path with pacing, retries and error mapping.

Every call goes through :meth:`BaseClient._perform`: wait for the rate limiter, send
with an explicit timeout, map the answer (envelope ``data`` or an exception from
``workbench.errors``), and repeat what may be repeated (see :mod:`.retry`). Errors
raised for a write carry ``outcome_unknown``: ``True`` when the server may have applied
it (timeout or dropped connection after sending, a 5xx), so the outbox checks before
sending it again.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import requests

from .._version import __version__
from ..config import Settings, resolve_settings
from ..errors import (
    BadRequest,
    ConfigError,
    ConnectionFailed,
    InvalidResponse,
    SkyPortalError,
    WorkbenchError,
)
from ..redact import redact
from .envelope import (
    decode_body,
    envelope_message,
    error_for,
    looks_like_html,
    message_in,
    parse_json,
    unwrap,
)
from .pagination import (
    AUTO,
    GalaxyPaginator,
    Page,
    PageNumberPaginator,
    Paginator,
    SinglePagePaginator,
    walk_pages,
)
from .ratelimit import RateLimiter
from .retry import (
    IDEMPOTENT_METHODS,
    MAX_RETRY_AFTER,
    READ_RETRY_STATUSES,
    RETRY_STATUSES,
    RetryPolicy,
    classify,
    parse_retry_after,
)
from .stats import ClientStats
from .transport import (
    TokenAuth,
    check_timeout,
    download_target,
    encode_json,
    encode_params,
    make_session,
    shown_url,
    warn_if_insecure,
    write_atomically,
)

log = logging.getLogger("workbench.client")

#: The production nginx limit (requests/s); the burst is the ``burst`` argument (10).
DEFAULT_RATE = 5.0
#: Where the project's own local server advertises the limit it applies.
RATE_LIMIT_HEADER = "X-Workbench-Rate-Limit"
T = TypeVar("T")
Timeout = float | tuple[float, float]
DEFAULT_USER_AGENT = f"skyportal-workbench/{__version__} python-requests/{requests.__version__}"


class _Retryable(Exception):
    """Internal: this attempt failed in a way that may be repeated."""

    def __init__(self, error: SkyPortalError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after


class BaseClient:
    """Connection, pacing, retries and the low-level verbs; endpoint methods build on it."""

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        timeout: Timeout = (5, 60),
        rate_limit: float | RateLimiter | str | None = "auto",
        burst: int = 10,
        max_retries: int = 6,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        session: requests.Session | None = None,
        config_path: str | os.PathLike | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        self.settings: Settings = resolve_settings(url, token=token, config_path=config_path)
        self.url: str = self.settings.url  # type: ignore[assignment]  # required above
        self._auth = TokenAuth(self.settings.token)  # type: ignore[arg-type]
        self.timeout = check_timeout(timeout)
        # "auto": the production limit (5 r/s, burst 10) until the server says otherwise
        # (the project's local server advertises its own limit, none by default, in
        # X-Workbench-Rate-Limit); a 429 from a server that does not say slows it further.
        self._auto_rate = rate_limit == "auto"
        self._advertised: str | None = None
        if self._auto_rate:
            self.rate_limiter: RateLimiter | None = RateLimiter(DEFAULT_RATE, burst)
        elif isinstance(rate_limit, RateLimiter) or rate_limit is None:
            self.rate_limiter = rate_limit
        elif isinstance(rate_limit, str):
            raise ConfigError(
                f"rate_limit must be requests/s, a RateLimiter, None or 'auto', got {rate_limit!r}"
            )
        else:
            self.rate_limiter = RateLimiter(rate_limit, burst)
        self._burst = burst
        self.retry_policy = RetryPolicy(max_retries, backoff, max_backoff)
        self.stats = ClientStats()
        self._own_session = session is None
        self.session = session if session is not None else make_session()
        self._headers = {"Accept": "application/json", "User-Agent": user_agent}
        warn_if_insecure(self.url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r}, token='***')"

    def __enter__(self) -> BaseClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP session (only one the client created itself)."""
        if self._own_session:
            self.session.close()

    # -- the verbs -----------------------------------------------------------------

    def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: Timeout | None = None,
        json: Any = None,
    ) -> Any:
        """GET ``path`` (e.g. ``"/api/sources"``) and return the envelope's ``data``.

        ``json`` is for the few SkyPortal GETs that read a JSON body
        (``/api/photometry/range``).
        """
        return self._perform(
            "GET", path, params=params, json=json, timeout=timeout, reader=self._read_envelope
        )

    def post(
        self,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout | None = None,
    ) -> Any:
        """POST a JSON body; return ``data``. Retried only if it provably never arrived."""
        return self._perform(
            "POST", path, params=params, json=json, timeout=timeout, reader=self._read_envelope
        )

    def put(
        self,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout | None = None,
    ) -> Any:
        """PUT a JSON body; return ``data`` (same retry rule as :meth:`post`)."""
        return self._perform(
            "PUT", path, params=params, json=json, timeout=timeout, reader=self._read_envelope
        )

    def patch(
        self,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout | None = None,
    ) -> Any:
        """PATCH a JSON body; return ``data`` (same retry rule as :meth:`post`)."""
        return self._perform(
            "PATCH", path, params=params, json=json, timeout=timeout, reader=self._read_envelope
        )

    def delete(
        self,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        timeout: Timeout | None = None,
    ) -> Any:
        """DELETE ``path``; return ``data`` (same retry rule as :meth:`post`)."""
        return self._perform(
            "DELETE", path, params=params, json=json, timeout=timeout, reader=self._read_envelope
        )

    def head(
        self, path: str, params: Mapping[str, Any] | None = None, *, timeout: Timeout | None = None
    ) -> bool:
        """HEAD ``path``: ``True`` on 2xx, ``False`` on 404; other refusals raise."""
        return self._perform(
            "HEAD",
            path,
            params=params,
            timeout=timeout,
            allow=frozenset({404}),
            reader=lambda resp, shown: resp.status_code < 300,
        )

    def get_bytes(
        self, path: str, params: Mapping[str, Any] | None = None, *, timeout: Timeout | None = None
    ) -> bytes:
        """GET a binary endpoint (PDF, PNG, FITS, an attachment) and return its bytes."""
        return self._perform("GET", path, params=params, timeout=timeout, reader=self._read_bytes)

    def download(
        self,
        path: str,
        dest: str | os.PathLike,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: Timeout | None = None,
    ) -> Path:
        """Stream a GET to ``dest`` (a file, or a folder to put it in); return the file written.

        The file appears only once complete (written beside it, then renamed).
        """

        def reader(resp: requests.Response, shown: str) -> Path:
            target = download_target(dest, resp, path)
            try:
                return write_atomically(target, resp.iter_content(1 << 16), self._count_bytes)
            except requests.RequestException:
                raise  # a network failure: retried like any other
            except OSError as exc:
                raise WorkbenchError(f"cannot write the download to {target}: {exc}") from exc

        return self._perform("GET", path, params=params, timeout=timeout, reader=reader)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        timeout: Timeout | None = None,
    ) -> Any:
        """Any method; returns the envelope's ``data``."""
        return self._perform(
            method, path, params=params, json=json, timeout=timeout, reader=self._read_envelope
        )

    # -- pagination ----------------------------------------------------------------

    def iter_pages(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        list_key: str | None = AUTO,
        page_size: int = 500,
        concurrency: int = 1,
        start_page: int = 1,
        paginator: Paginator | None = None,
        timeout: Timeout | None = None,
    ) -> Iterator[Page]:
        """Yield the pages of a listing in page order (see :func:`.pagination.walk_pages`).

        ``list_key`` names the list in ``data`` (``AUTO``: the only one; ``None``: ``data``
        is a bare list, one page). The first page is fetched alone; the others by up to
        ``concurrency`` threads, all within the client's rate limit.
        """
        if paginator is None:
            if path.rstrip("/").startswith("/api/galaxy_catalog"):
                paginator = GalaxyPaginator("galaxies" if list_key is AUTO else list_key)
            elif list_key is None:
                paginator = SinglePagePaginator()
            else:
                paginator = PageNumberPaginator(list_key)
        base = dict(params or {})
        first: list[Page] = []  # set by the first fetch, which always runs alone

        def fetch(number: int, size: int) -> Page:
            query = {**base, **paginator.params(number, size, first[0] if first else None)}
            page = paginator.parse(
                self.get(path, query, timeout=timeout), number, url=redact(self.url + path)
            )
            if not first:
                first.append(page)
            return page

        return walk_pages(
            fetch, paginator, page_size=page_size, start_page=start_page, concurrency=concurrency
        )

    def iter_records(
        self, path: str, params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> Iterator[dict]:
        """The records of every page of :meth:`iter_pages`, one by one."""
        for page in self.iter_pages(path, params, **kwargs):
            yield from page.records

    # -- the one request path ------------------------------------------------------

    def _perform(
        self,
        method: str,
        path: str,
        *,
        reader: Callable[[requests.Response, str], T],
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        timeout: Timeout | None = None,
        allow: frozenset[int] = frozenset(),
    ) -> T:
        method = method.upper()
        url = self._full_url(path)
        query = encode_params(params)
        body = encode_json(json) if json is not None else None
        shown = shown_url(url, query)
        timeout = check_timeout(timeout) if timeout is not None else self.timeout
        idempotent = method in IDEMPOTENT_METHODS
        for attempt in itertools.count():
            try:
                return self._attempt(
                    method, url, query, body, timeout, shown, idempotent, reader, allow
                )
            except _Retryable as retry:
                wait = retry.retry_after
                if attempt >= self.retry_policy.max_retries or (wait or 0) > MAX_RETRY_AFTER:
                    self._fail(retry.error, idempotent)
                delay = self.retry_policy.delay(attempt, wait)
                log.info("retrying %s %s in %.2f s: %s", method, shown, delay, retry.error.message)
                self.stats.add(retries=1, backoff_seconds=delay)
                time.sleep(delay)
            except SkyPortalError as exc:
                self._fail(exc, idempotent)
        raise AssertionError("unreachable")  # pragma: no cover

    def _follow_advertised_limit(self, value: str | None) -> None:
        """Pace by the limit the server advertises (``"none"`` or ``"rate=R; burst=B"``)."""
        if not value or value == self._advertised:
            return
        fields = dict(part.strip().split("=", 1) for part in value.split(";") if "=" in part)
        try:
            limiter = (
                None
                if value.strip() == "none"
                else RateLimiter(float(fields["rate"]), int(fields.get("burst", self._burst)))
            )
        except (KeyError, ValueError, ConfigError):
            return  # an unreadable advertisement: keep pacing as before
        self._advertised = value
        self.rate_limiter = limiter
        log.info("the server advertises its rate limit (%s): pacing by it", value)

    def _fail(self, error: SkyPortalError, idempotent: bool) -> None:
        if "outcome_unknown" not in vars(error):  # the class default is False
            # a write refused with a 5xx may still have been applied
            error.outcome_unknown = (not idempotent) and (error.status or 0) >= 500
        self.stats.add(errors=1)
        error.__suppress_context__ = True  # the internal retry plumbing is noise
        raise error

    def _count_bytes(self, n: int) -> None:
        self.stats.add(bytes_received=n)

    def _attempt(
        self,
        method: str,
        url: str,
        query: list[tuple[str, str]],
        body: bytes | None,
        timeout: Timeout,
        shown: str,
        idempotent: bool,
        reader: Callable[[requests.Response, str], T],
        allow: frozenset[int],
    ) -> T:
        if self.rate_limiter is not None:
            waited = self.rate_limiter.acquire()
            if waited:
                self.stats.add(wait_seconds=waited)
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "application/json"
        started = time.monotonic()
        self.stats.add(requests=1)
        try:
            resp = self.session.request(
                method,
                url,
                params=query,
                data=body,
                headers=headers,
                auth=self._auth,
                timeout=timeout,
                stream=True,
            )
        except requests.RequestException as exc:
            raise self._network_error(exc, method, shown, idempotent) from exc
        with resp:
            status = resp.status_code
            log.debug("%s %s -> %s (%.3f s)", method, shown, status, time.monotonic() - started)
            if self._auto_rate:
                self._follow_advertised_limit(resp.headers.get(RATE_LIMIT_HEADER))
            try:
                if status == 429:
                    self.stats.add(rate_limited=1)
                    limiter = self.rate_limiter
                    if limiter is not None:
                        if self._auto_rate and self._advertised is None:
                            limiter.slow_down()  # an unknown server: pace below its limit
                        else:
                            limiter.drain()
                if status >= 400 and status not in allow:
                    error = self._status_error(resp, shown, method)
                    retryable = (status in RETRY_STATUSES and (idempotent or status == 429)) or (
                        status in READ_RETRY_STATUSES and idempotent
                    )
                    if retryable:
                        raise _Retryable(error, parse_retry_after(resp.headers.get("Retry-After")))
                    raise error
                return reader(resp, shown)
            except requests.RequestException as exc:
                raise self._network_error(exc, method, shown, idempotent) from exc
            except InvalidResponse as exc:
                if idempotent and getattr(exc, "transient", False):  # a truncated body
                    raise _Retryable(exc) from exc
                raise

    def _network_error(
        self, exc: requests.RequestException, method: str, shown: str, idempotent: bool
    ) -> Exception:
        failure = classify(exc)
        if failure.sent and not idempotent:
            error = ConnectionFailed(
                f"{method}: {failure.reason} after the request was sent; the server may or "
                "may not have applied it: check before sending it again",
                url=shown,
            )
            error.outcome_unknown = True
        else:
            error = ConnectionFailed(
                f"{method}: {failure.reason} talking to {self.url} (is the server up and "
                "the URL right? a slow server may need a longer timeout)",
                url=shown,
            )
            error.outcome_unknown = False
        error.__cause__ = exc
        retry = failure.retryable and (idempotent or not failure.sent)
        return _Retryable(error) if retry else error

    def _status_error(self, resp: requests.Response, shown: str, method: str) -> SkyPortalError:
        body = b"" if method == "HEAD" else resp.content
        self.stats.add(bytes_received=len(body))
        message = message_in(body)
        if message is None:
            proxy = (
                " (an HTML page, not SkyPortal's JSON: a proxy answered)"
                if looks_like_html(body)
                else ""
            )
            message = f"HTTP {resp.status_code} {resp.reason or ''}".rstrip() + proxy
        return error_for(resp.status_code, message, shown)

    def _read_envelope(self, resp: requests.Response, shown: str) -> Any:
        body = resp.content
        self.stats.add(bytes_received=len(body))
        payload = decode_body(
            body,
            status=resp.status_code,
            content_type=resp.headers.get("Content-Type", ""),
            url=shown,
        )
        return unwrap(payload, status=resp.status_code, url=shown)

    def _read_bytes(self, resp: requests.Response, shown: str) -> bytes:
        body = resp.content
        self.stats.add(bytes_received=len(body))
        if "json" in resp.headers.get("Content-Type", ""):
            try:  # a binary endpoint may answer an error envelope with 200
                payload = parse_json(body)
            except (ValueError, UnicodeDecodeError):
                return body
            if isinstance(payload, dict) and payload.get("status") == "error":
                raise error_for(max(resp.status_code, 400), envelope_message(payload), shown)
        return body

    def _full_url(self, path: str) -> str:
        text = str(path)
        if "://" in text or text.startswith("//"):
            raise BadRequest(
                f"refusing to send the token to a full URL {redact(text)!r}: pass a path "
                "such as '/api/sources' (not sent)"
            )
        if not text.startswith("/"):
            text = "/api/" + text
        return self.url + text
