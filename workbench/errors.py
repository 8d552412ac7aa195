"""The one exception tree of the workbench.

Every error the workbench raises on purpose derives from :class:`WorkbenchError`, so a
notebook can catch them all with one ``except``. Lower-level exceptions (``requests``,
``json``, ``duckdb``, ``astropy.io.fits``) are converted once, at the layer that meets
them, with ``raise ... from exc``; the message says what was wrong and what to do.

::

    WorkbenchError
    ├── ConfigError                 bad or missing URL/token/config file
    ├── SkyPortalError(status, message, url)   the server or the network said no
    │   ├── AuthError               401 / 403: bad, missing or expired token
    │   ├── NotFound                404, and SkyPortal's 400 "Invalid ID"
    │   ├── BadRequest              other 400s: the server refused the request
    │   ├── RateLimited             429 after the retry budget was spent
    │   ├── ServerError             5xx after the retry budget was spent
    │   ├── InvalidResponse         the body was not the JSON envelope expected
    │   └── ConnectionFailed        server down, connection dropped, timeout
    ├── CacheError                  the DuckDB cache cannot do what was asked
    │   ├── CacheLocked             another process holds the write lock
    │   └── SchemaError             the cache file is newer than this code, or damaged
    ├── OutboxError                 an action cannot be queued or pushed
    ├── SkymapError                 a malformed or unusable localization
    └── SpectrumParseError          an ASCII spectrum that cannot be read

No message, ``str()`` or ``repr()`` of these ever contains the API token: URLs and
messages pass through :func:`workbench.redact.redact` before they are stored.
"""

from __future__ import annotations

from .redact import redact


class WorkbenchError(Exception):
    """Base class of every error the workbench raises on purpose.

    ``message`` speaks to a Python user (``wb.sync()``, ``read_only=True``); an error whose
    way out differs on the command line also carries ``cli_message``, the same advice as
    ``workbench`` options and commands, which the CLI prints instead (:meth:`for_cli`).
    """

    def __init__(self, message: str, *, cli_message: str | None = None) -> None:
        self.message = redact(str(message))
        self.cli_message = redact(str(cli_message)) if cli_message else None
        super().__init__(self.message)

    def for_cli(self) -> str:
        """The message as the ``workbench`` command line shows it."""
        return self.cli_message or str(self)


class ConfigError(WorkbenchError):
    """The URL, token or config file is missing, malformed or unsafe."""


class SkyPortalError(WorkbenchError):
    """The server (or the network on the way to it) refused or failed a request.

    ``status`` is the HTTP status (``None`` when no response came back), ``message``
    the server's own message when it sent one, ``url`` the request URL with any
    secret removed.
    """

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None) -> None:
        self.status = status
        self.url = redact(url) if url else url
        super().__init__(message)

    def __str__(self) -> str:
        where = f" [{self.status or 'no response'}] {self.url}" if self.url else ""
        return f"{self.message}{where}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r}, url={self.url!r})"


class AuthError(SkyPortalError):
    """401/403: the token is missing, malformed, unknown, or lacks the permission."""


class NotFound(SkyPortalError):
    """404, or SkyPortal's 400 "Invalid ID": the object, event or record does not exist."""


class BadRequest(SkyPortalError):
    """Any other 400: the server refused the request and said why in ``message``."""


class RateLimited(SkyPortalError):
    """429 persisted after every retry: slow down or raise the client's rate limit."""


class ServerError(SkyPortalError):
    """5xx persisted after every retry: the server is failing; try again later."""


class InvalidResponse(SkyPortalError):
    """The server answered with something that is not the SkyPortal JSON envelope."""


class ConnectionFailed(SkyPortalError):
    """No usable answer: the server is down, the connection dropped, or it timed out."""


class CacheError(WorkbenchError):
    """The local DuckDB cache cannot do what was asked."""


class CacheLocked(CacheError):
    """Another process holds the cache file's write lock."""


class SchemaError(CacheError):
    """The cache file was written by a newer workbench, or its schema is damaged."""


class OutboxError(WorkbenchError):
    """An action cannot be queued, edited or pushed."""


class SkymapError(WorkbenchError):
    """A localization that cannot be read or used (malformed, truncated, not normalised)."""


class SpectrumParseError(WorkbenchError):
    """An ASCII spectrum that cannot be parsed; the message names the line or column."""
