"""SkyPortal's JSON envelope: ``{"status": "success"|"error", "data": ..., "message": ...}``.

:func:`decode_body` parses a body (orjson, with the standard library as a fallback for
the ``NaN`` a Python server may write), :func:`unwrap` returns ``data`` of a success,
and :func:`error_for` picks the exception class from ``workbench.errors`` for a refusal.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from ..errors import (
    AuthError,
    BadRequest,
    InvalidResponse,
    NotFound,
    RateLimited,
    ServerError,
    SkyPortalError,
)

# SkyPortal answers some lookups of a missing thing with 400 rather than 404.
_NOT_FOUND_400 = re.compile(
    r"invalid (object )?id\b|invalid api endpoint|\bnot found\b|cannot find", re.IGNORECASE
)
_HINTS = {
    401: "check the API token (SKYPORTAL_TOKEN): it is missing, unknown or expired",
    403: "the token's user lacks the permission (ACL) for this operation",
    429: "the server's rate limit was hit on every retry: lower rate_limit or concurrency",
}
_PREVIEW = 120


def preview(body: bytes) -> str:
    """The first characters of a body, for a message (one line)."""
    text = body[:_PREVIEW].decode("utf-8", "replace")
    text = " ".join(text.split())
    return text + ("..." if len(body) > _PREVIEW else "")


def parse_json(body: bytes) -> Any:
    """Parse JSON bytes; raise ``ValueError`` when they are not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        pass
    # Python servers may write NaN/Infinity, which orjson refuses
    return json.loads(body)


def decode_body(body: bytes, *, status: int, content_type: str, url: str) -> Any:
    """Parse a JSON body; raise :class:`InvalidResponse` when it is not JSON at all."""
    if not body.strip():
        error = InvalidResponse(
            f"the server answered HTTP {status} with an empty body, not SkyPortal's JSON",
            status=status,
            url=url,
        )
        error.transient = True  # a cut connection or a proxy hiccup: a read may be repeated
        raise error
    try:
        return parse_json(body)
    except (ValueError, UnicodeDecodeError) as exc:
        html = looks_like_html(body)
        kind = "an HTML page" if html else f"'{content_type or 'no type'}'"
        error = InvalidResponse(
            f"the server answered HTTP {status} with {kind} that is not valid JSON "
            f"(truncated or not SkyPortal?): {preview(body)!r}",
            status=status,
            url=url,
        )
        # truncated JSON is worth another read; an HTML page (a login or portal) is not
        error.transient = not html
        raise error from exc


def looks_like_html(body: bytes) -> bool:
    """Whether a body is markup (a proxy's error page, a login or captive portal)."""
    return body.lstrip()[:1] == b"<"


def message_in(body: bytes) -> str | None:
    """The ``message`` of an error envelope in ``body``, or ``None`` if there is none."""
    try:
        return envelope_message(parse_json(body)) if body.strip() else None
    except (ValueError, UnicodeDecodeError):
        return None


def envelope_message(payload: Any) -> str | None:
    """The server's ``message`` in an envelope, if there is one."""
    if isinstance(payload, dict):
        message = payload.get("message")
        if isinstance(message, str) and message.strip():
            return message.strip()
    return None


def unwrap(payload: Any, *, status: int, url: str) -> Any:
    """``data`` of a success envelope; the matching error for an error envelope."""
    if not isinstance(payload, dict) or payload.get("status") not in {"success", "error"}:
        raise InvalidResponse(
            "the server's JSON is not SkyPortal's envelope (no 'status': 'success'/'error'); "
            f"is the URL a SkyPortal server? got {preview(orjson.dumps(payload))!r}",
            status=status,
            url=url,
        )
    if payload["status"] == "error":
        raise error_for(status if status >= 400 else 400, envelope_message(payload), url)
    return payload.get("data")


def error_for(status: int, message: str | None, url: str) -> SkyPortalError:
    """The exception for an HTTP refusal, carrying the server's own message."""
    text = message or f"HTTP {status}"
    hint = _HINTS.get(status)
    full = f"{text} ({hint})" if hint else text
    if status in (401, 403):
        return AuthError(full, status=status, url=url)
    if status == 404 or (status == 400 and message and _NOT_FOUND_400.search(message)):
        return NotFound(full, status=status, url=url)
    if status == 429:
        return RateLimited(full, status=status, url=url)
    if status >= 500:
        return ServerError(
            f"{full} (the server is failing; try again later)", status=status, url=url
        )
    if 400 <= status < 500:
        return BadRequest(full, status=status, url=url)
    return InvalidResponse(f"unexpected HTTP {status}: {text}", status=status, url=url)
