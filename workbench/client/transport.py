"""The small pieces under the client: auth, encoding, the session, safe file writes."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import requests
from requests.adapters import HTTPAdapter

from ..errors import BadRequest, ConfigError
from ..redact import MASK, redact

log = logging.getLogger("workbench.client")

_warned_hosts: set[str] = set()
_warned_lock = threading.Lock()


class TokenAuth(requests.auth.AuthBase):
    """``Authorization: token <token>``, SkyPortal's only accepted scheme.

    requests drops this header when a redirect leaves the host, so the token is never
    sent to another server; the repr never shows it.
    """

    def __init__(self, token: str) -> None:
        self._header = f"token {token}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return f"TokenAuth({MASK!r})"


def make_session(pool_size: int = 16) -> requests.Session:
    """A session whose pool serves a few concurrent page fetches; urllib3 retries off.

    Retries are the client's own (they must pass the rate limiter and respect the write
    rule), so the adapter never repeats a request by itself.
    """
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def check_timeout(timeout: float | tuple[float, float]) -> float | tuple[float, float]:
    """Validate a timeout: seconds, or (connect, read) seconds; never ``None``."""
    values = timeout if isinstance(timeout, tuple) else (timeout,)
    if len(values) not in (1, 2) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in values
    ):
        raise ConfigError(
            f"timeout must be positive seconds or a (connect, read) pair, got {timeout!r}"
        )
    return timeout


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is this machine (127.0.0.0/8, ::1, localhost)."""
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def warn_if_insecure(url: str) -> None:
    """Warn once per host when the token would travel in clear text over a network."""
    parts = urlsplit(url)
    if parts.scheme != "http" or is_loopback(parts.hostname):
        return
    with _warned_lock:
        if parts.netloc in _warned_hosts:
            return
        _warned_hosts.add(parts.netloc)
    message = (
        f"the SkyPortal URL {url} uses plain http to a non-local host: the API token "
        "would cross the network unencrypted; use https"
    )
    log.warning(message)
    warnings.warn(message, UserWarning, stacklevel=4)


def path_segment(value: Any, what: str = "id") -> str:
    """One URL path segment from an id, percent-encoded; refuses empty and dot segments."""
    text = str(value).strip() if value is not None else ""
    if text in {"", ".", ".."}:
        raise BadRequest(f"{what} must be a non-empty identifier, got {value!r} (not sent)")
    return quote(text, safe=":@")


def api_path(*segments: Any) -> str:
    """``/api/<seg>/<seg>...`` with each dynamic segment encoded by :func:`path_segment`."""
    return "/api/" + "/".join(path_segment(s, "path segment") for s in segments)


def _param_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        # SkyPortal reads lists as comma-separated strings ("1,2")
        return ",".join(_param_value(v) for v in value)
    return str(value)


def encode_params(params: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """Query parameters as SkyPortal reads them: booleans lower-case, lists joined by commas."""
    if not params:
        return []
    return [(str(k), _param_value(v)) for k, v in params.items() if v is not None]


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):  # pandas Timestamp, numpy datetime via pandas
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_json(body: Any) -> bytes:
    """A JSON request body (numpy arrays and scalars allowed; NaN becomes null)."""
    try:
        return orjson.dumps(body, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise BadRequest(f"the request body cannot be sent as JSON: {exc} (not sent)") from exc


_FILENAME = re.compile(r"filename\*?=(?:UTF-8'')?\"?([^\";]+)\"?", re.IGNORECASE)


def download_target(dest: str | os.PathLike, response: requests.Response, path: str) -> Path:
    """The file to write: ``dest`` itself, or a safe name inside ``dest`` when it is a folder."""
    target = Path(dest).expanduser()
    if not target.is_dir():
        return target
    match = _FILENAME.search(response.headers.get("Content-Disposition", ""))
    name = match.group(1) if match else path.rstrip("/").rsplit("/", 1)[-1]
    name = Path(name.replace("\\", "/")).name  # never a path from the server
    if name in {"", ".", ".."}:
        name = "download"
    return target / name


def write_atomically(
    target: Path, chunks: Iterable[bytes], on_chunk: Callable[[int], None]
) -> Path:
    """Write chunks to a temporary file beside ``target`` and rename it over ``target``.

    A failed download never leaves a half-written file under the final name.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                on_chunk(len(chunk))
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def shown_url(url: str, query: list[tuple[str, str]]) -> str:
    """The URL with its query, fit for a message or a log line (secrets masked)."""
    if not query:
        return redact(url)
    return redact(requests.Request("GET", url, params=query).prepare().url)


def new_id(data: Any, *keys: str) -> Any:
    """The id a POST returned (``data.id`` or ``data.<keys>``), else ``data`` itself."""
    if isinstance(data, dict):
        for key in (*keys, "id"):
            if data.get(key) is not None:
                return data[key]
    return data


def drop_none(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without the ``None`` values (an option not given is not sent)."""
    return {k: v for k, v in mapping.items() if v is not None}


def one_of(value: str, allowed: Iterable[str], what: str) -> str:
    """``value`` if it is one of ``allowed``; else a :class:`BadRequest` naming the choices."""
    options = tuple(allowed)
    if value not in options:
        raise BadRequest(f"{what} must be one of {list(options)}, got {value!r} (not sent)")
    return value


def as_list(values: Iterable[Any] | None) -> list[Any] | None:
    """A JSON-ready list from ids given as a list, tuple, set, numpy array or one value."""
    if values is None:
        return None
    if isinstance(values, str | bytes | int):
        return [values]
    return list(values)
