"""The one place that keeps the API token out of text.

Every token the workbench is handed is registered here (:func:`register_secret`), and every
message, URL, header mapping or repr that may leave the process passes through
:func:`redact` first. Token-shaped values (SkyPortal tokens are UUIDs) in an
``Authorization`` header or a ``token=`` query parameter are masked even when they were
never registered, so a token typed into a URL by hand does not leak either.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping

MASK = "***"

_lock = threading.Lock()
_secrets: set[str] = set()

_PATTERNS = [
    # "Authorization: token abc", "token abc-123", "Bearer xyz"
    re.compile(r"(?i)\b(token|bearer)(\s+|=|:\s*)([A-Za-z0-9._~+/-]{8,})"),
    # ?token=... or &api_key=...
    re.compile(r"(?i)([?&](?:token|api_key|apikey|access_token)=)([^&#\s]+)"),
]


def _looks_like_credential(value: str) -> bool:
    # prose after the word "token" ("token configured", "token expired") stays readable:
    # credentials (UUIDs, JWTs, API keys) carry digits or are long
    return any(ch.isdigit() for ch in value) or len(value) >= 20


def _mask_scheme_value(match: re.Match[str]) -> str:
    if not _looks_like_credential(match.group(3)):
        return match.group(0)
    return f"{match.group(1)}{match.group(2)}{MASK}"


def register_secret(secret: str | None) -> None:
    """Remember a secret so that :func:`redact` masks it wherever it appears."""
    if secret and len(secret) >= 4:
        with _lock:
            _secrets.add(secret)


def mask_token(token: str | None) -> str:
    """A short, safe stand-in for a token in a repr: ``'***'`` or ``None``."""
    return "None" if not token else f"'{MASK}'"


def redact(text: str | None) -> str:
    """Return ``text`` with every registered secret and token-shaped credential masked."""
    if not text:
        return text or ""
    out = str(text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        out = out.replace(secret, MASK)
    out = _PATTERNS[0].sub(_mask_scheme_value, out)
    out = _PATTERNS[1].sub(lambda m: f"{m.group(1)}{MASK}", out)
    return out


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of HTTP headers fit for a log line: credentials masked."""
    safe = {}
    for key, value in headers.items():
        if key.lower() in {"authorization", "cookie", "x-api-key"}:
            safe[key] = MASK
        else:
            safe[key] = redact(str(value))
    return safe
