"""The base handler: SkyPortal's envelope, token auth, nginx-style rate limit, injected
faults and latency, and query-parameter parsing with SkyPortal's error messages."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from typing import Any

import orjson
import tornado.web

from ..behaviour import Behaviour
from ..refdata import VERSION
from ..stats import Stats
from ..store import Store
from ..timeutil import parse_time

MAX_PER_PAGE = 500
#: The response header where the local server advertises its rate limit (not SkyPortal's).
RATE_LIMIT_HEADER = "X-Workbench-Rate-Limit"
UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12}$"
)
MSG_401 = "HTTP 401: Unauthorized"
MSG_401_MALFORMED = (
    'HTTP 401: Unauthorized (Credentials malformed; expected form "Authorization: token abc123")'
)
NGINX_BODY = (
    "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass
class Context:
    """What every handler shares: the store, the switches, the counters, the token."""

    store: Store
    behaviour: Behaviour
    stats: Stats
    token: str


class ApiError(Exception):
    """Abort a handler with SkyPortal's error envelope."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class BaseHandler(tornado.web.RequestHandler):
    """Envelope, auth, rate limit, faults; subclasses implement get/post/... as usual."""

    public = False  # sysinfo is public: no token needed
    latency_profile = "default"

    def initialize(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self._fault = None
        self.set_default_headers()  # now that the switches are known

    def set_default_headers(self) -> None:
        """Every answer (errors and 429s too) says which rate limit this server applies,
        so the workbench's client paces itself by it instead of the production default."""
        ctx = getattr(self, "ctx", None)
        if ctx is not None:
            self.set_header(RATE_LIMIT_HEADER, ctx.behaviour.advertised_rate_limit())

    # --------------------------------------------------------------- lifecycle
    async def prepare(self) -> None:
        ctx = self.ctx
        ctx.stats.record(self.request.method, self.request.path)
        fault = ctx.behaviour.pick_fault(self.request.method, self.request.path)
        if fault is not None:
            ctx.stats.event(f"fault:{fault.kind}")
            await self._inject(fault)
            if self._finished:
                return
        if self.request.path.startswith("/api/") and not ctx.behaviour.admit(
            self.request.remote_ip or "local"
        ):
            ctx.stats.event("rate_limited")
            self._nginx(429, "Too Many Requests", ctx.behaviour.retry_after)
            return
        if not self.public and ctx.behaviour.auth:
            problem = self._auth_problem()
            if problem:
                self.fail(problem, 401)

    async def _inject(self, fault) -> None:
        kind = fault.kind
        if kind == "slow":
            await asyncio.sleep(fault.seconds)
        elif kind == "drop":
            self.request.connection.stream.close()
            self._finished = True
        elif kind == "malformed":
            self._fault = fault
        elif kind == "500":
            self.fail("Internal server error (injected fault)", 500)
        elif kind == "html":
            self.set_status(200)
            self.set_header("Content-Type", "text/html")
            self.finish("<html><body><h1>SkyPortal</h1><p>Log in</p></body></html>")
        else:
            code = int(kind)
            reasons = {
                429: "Too Many Requests",
                502: "Bad Gateway",
                503: "Service Temporarily Unavailable",
                504: "Gateway Time-out",
            }
            self._nginx(code, reasons[code], self.ctx.behaviour.retry_after)

    def _auth_problem(self) -> str | None:
        header = self.request.headers.get("Authorization")
        if not header:
            return MSG_401_MALFORMED
        parts = header.split()
        if len(parts) != 2 or parts[0].lower() != "token":
            return MSG_401_MALFORMED
        token = parts[1]
        if not UUID_RE.match(token) or token != self.ctx.token:
            return MSG_401
        return None

    def _nginx(self, code: int, reason: str, retry_after: float | None) -> None:
        self.clear()
        self.set_status(code)
        self.set_header("Content-Type", "text/html")
        self.set_header("Server", "nginx")
        if retry_after is not None and code in (429, 503):
            self.set_header("Retry-After", str(round(retry_after)))
        self.finish(NGINX_BODY.format(code=code, reason=reason))

    def on_finish(self) -> None:
        self.ctx.stats.status(self.get_status())

    # ----------------------------------------------------------------- writing
    async def success(
        self, data: Any = None, *, rows: int = 0, profile: str | None = None, pretty: bool = True
    ) -> None:
        """Send ``{"status": "success", "data": ..., "version": ...}`` after any latency."""
        delay = self.ctx.behaviour.delay(profile or self.latency_profile, rows)
        if delay > 0:
            await asyncio.sleep(delay)
        body = orjson.dumps(
            {"status": "success", "data": {} if data is None else data, "version": VERSION},
            option=(orjson.OPT_INDENT_2 if pretty else 0)
            | orjson.OPT_SERIALIZE_NUMPY
            | orjson.OPT_NON_STR_KEYS,
        )
        if self._fault is not None:  # malformed-JSON fault: a truncated 200 body
            body = body[: max(1, len(body) // 2)]
        self.set_header("Content-Type", "application/json")
        self.finish(body)

    def fail(self, message: str, status: int = 400) -> None:
        """Send SkyPortal's one-line error envelope (``charset=UTF-8`` like the real one)."""
        self.clear()
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(
            json.dumps({"status": "error", "message": message, "data": {}, "version": VERSION})
        )

    def send_bytes(self, data: bytes, content_type: str, filename: str | None = None) -> None:
        """Send a binary payload (PNG, FITS, PDF)."""
        self.set_header("Content-Type", content_type)
        if filename:
            self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.finish(data)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exc, ApiError):
            self.fail(exc.message, exc.status)
        elif status_code == 405:
            self.fail(f"HTTP 405: Method Not Allowed ({self.request.method})", 405)
        else:
            self.fail(f"HTTP {status_code}: {self._reason}", status_code)

    def log_exception(self, typ, value, tb) -> None:
        if not isinstance(value, ApiError):
            super().log_exception(typ, value, tb)

    # --------------------------------------------------------------- arguments
    def arg(self, name: str, default: Any = None) -> Any:
        """A query argument (or, for GET handlers fed JSON bodies, a body field)."""
        value = self.get_query_argument(name, None)
        if value is None:
            value = self.json_body(optional=True).get(name, default)
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        """A boolean query argument ("true"/"1"/"yes")."""
        value = self.arg(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1", "yes", "t", "y")

    @staticmethod
    def by_id(lookup: Any, raw_id: str, message: str, status: int = 400) -> Any:
        """``lookup(int(raw_id))``, or ``ApiError(message, status)`` when the id is not an
        integer or nothing has it (each endpoint keeps SkyPortal's own wording and code)."""
        try:
            found = lookup(int(raw_id))
        except ValueError:
            found = None
        if found is None:
            raise ApiError(message, status)
        return found

    def int_arg(self, name: str, default: int | None = None) -> int | None:
        """An integer argument; 400 "Invalid <name> value." when not an integer."""
        return self._number_arg(name, int, default)

    def float_arg(self, name: str) -> float | None:
        """A float argument or None; 400 when not a number."""
        return self._number_arg(name, float, None)

    def _number_arg(self, name: str, cast: Any, default: Any) -> Any:
        value = self.arg(name)
        if value is None or value == "":
            return default
        try:
            return cast(value)
        except (TypeError, ValueError) as exc:
            raise ApiError(f"Invalid {name} value.") from exc

    def int_list(self, name: str) -> list[int] | None:
        """A comma-separated (or repeated) list of integers."""
        values = self.get_query_arguments(name) or []
        if not values:
            body = self.json_body(optional=True).get(name)
            values = body if isinstance(body, list) else ([body] if body is not None else [])
        out = []
        for value in values:
            for part in str(value).split(","):
                if part.strip():
                    try:
                        out.append(int(part))
                    except ValueError as exc:
                        raise ApiError(
                            f"Invalid {name} value: {part!r} is not an integer."
                        ) from exc
        return out or None

    def time_arg(self, name: str) -> int | None:
        """A date argument in epoch microseconds; 400 when it cannot be parsed."""
        value = self.arg(name)
        if value is None or value == "":
            return None
        try:
            return parse_time(str(value))
        except ValueError as exc:
            raise ApiError(f"Invalid {name}: could not parse {value!r} as a date.") from exc

    def page_args(
        self, default: int, *, page_name: str = "pageNumber", max_per_page: int = MAX_PER_PAGE
    ) -> tuple[int, int]:
        """(pageNumber, numPerPage) with SkyPortal's clamp and messages."""
        per = self.int_arg("numPerPage", default)
        page = self.arg(page_name)
        try:
            page = 1 if page in (None, "") else int(page)
        except (TypeError, ValueError) as exc:
            raise ApiError("Invalid page number value.") from exc
        return page, min(max(per, 1), max_per_page)

    def json_body(self, *, optional: bool = False) -> dict[str, Any]:
        """The request's JSON body; 400 when it is not a JSON object."""
        cached = getattr(self, "_json_cache", None)
        if cached is not None:
            return cached
        raw = self.request.body
        if not raw:
            if optional:
                return {}
            raise ApiError("Request body is empty: expected a JSON object.")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            if optional:
                return {}
            raise ApiError(f"Request body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            if optional:
                return {}
            raise ApiError("Request body must be a JSON object.")
        self._json_cache = data
        return data


def page_slice(total: int, page: int, per: int, *, past_end_empty: bool = False) -> slice:
    """The rows of one page; 400 "Page number out of range." for a page <= 0.

    Past the last page, SkyPortal 1.4.0 answers differently per endpoint: candidates
    (``grab_query_results``) refuse any page that starts at or after ``totalMatches``
    (except page 1 of an empty result) with a 400, while sources, classifications, GCN
    events and galaxies answer an empty list (``past_end_empty=True``).
    """
    if page <= 0:
        raise ApiError("Page number out of range.")
    if past_end_empty:
        return slice(min((page - 1) * per, total), min(page * per, total))
    if (total == 0 and page != 1) or (total > 0 and (page - 1) * per >= total):
        raise ApiError("Page number out of range.")
    return slice((page - 1) * per, page * per)


class InvalidEndpoint(BaseHandler):
    """Any unknown ``/api/...`` route: 400 "Invalid API endpoint", as SkyPortal answers."""

    public = True

    def _invalid(self, *args: Any) -> None:
        self.fail("Invalid API endpoint", 400)

    get = post = put = patch = delete = head = _invalid
