"""Where the workbench finds its server, its token and its cache file.

Everything is resolved once, by :func:`resolve_settings`, into an immutable
:class:`Settings`. Each value comes from the first place that has it:

1. an explicit argument (``resolve_settings(url=..., token=...)``);
2. the environment: ``SKYPORTAL_URL``, ``SKYPORTAL_TOKEN``, ``WORKBENCH_CACHE``;
3. a TOML config file: ``WORKBENCH_CONFIG`` if set, else
   ``~/.config/skyportal-workbench/config.toml`` (``$XDG_CONFIG_HOME`` honoured)::

       url = "https://fritz.science"
       token = "..."                  # or: token_file = "~/.skyportal-token"
       cache = "~/data/workbench.duckdb"

A config file or token file that group or others may read or write is refused
(the token is a password); ``chmod 600 <path>`` fixes it.

The default cache is ``<repo>/cache/workbench.duckdb`` when the package runs from its
repository checkout (the ``cache/`` folder beside the ``workbench/`` package exists),
else ``~/.cache/skyportal-workbench/workbench.duckdb`` (``$XDG_CACHE_HOME`` honoured).
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from .errors import ConfigError
from .redact import mask_token, register_secret

ENV_URL = "SKYPORTAL_URL"
ENV_TOKEN = "SKYPORTAL_TOKEN"
ENV_CACHE = "WORKBENCH_CACHE"
ENV_CONFIG = "WORKBENCH_CONFIG"

APP_NAME = "skyportal-workbench"
CACHE_FILENAME = "workbench.duckdb"
_KNOWN_KEYS = {"url", "token", "token_file", "cache"}
_REPO_CACHE_DIR = Path(__file__).resolve().parent.parent / "cache"

_HOW_TO_SET = (
    'pass {arg}=... , set the environment variable {env}, or put `{key} = "..."` '
    "in {path} (chmod 600)"
)

# The same advice for the `workbench` command line, which takes no token option (a token
# on a command line shows in `ps` and the shell history).
_HOW_TO_SET_CLI = {
    "url": 'pass --url, set the environment variable {env}, or put `{key} = "..."` in {path}',
    "token": (
        'set the environment variable {env}, or put `{key} = "..."` in {path} (chmod 600); '
        "the command line never takes the token"
    ),
}


@dataclass(frozen=True)
class Settings:
    """The resolved connection and cache settings; immutable, token hidden in the repr.

    ``url`` is the server's base URL without a trailing slash or ``/api``;
    ``sources`` says where each value came from (``"argument"``, ``"env"``,
    ``"config file"``, ``"default"``), handy when a value is not the expected one.
    """

    url: str | None
    token: str | None = field(repr=False)
    cache_path: Path
    config_path: Path | None = None
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def __repr__(self) -> str:
        return (
            f"Settings(url={self.url!r}, token={mask_token(self.token)}, "
            f"cache_path={str(self.cache_path)!r}, "
            f"config_path={str(self.config_path) if self.config_path else None!r})"
        )


def default_config_path() -> Path:
    """The config file read when ``WORKBENCH_CONFIG`` is not set."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / APP_NAME / "config.toml"


def default_cache_path() -> Path:
    """The cache file used when none is configured (see the module docstring)."""
    if _REPO_CACHE_DIR.is_dir():
        return _REPO_CACHE_DIR / CACHE_FILENAME
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / APP_NAME / CACHE_FILENAME


def check_private(path: Path, what: str = "config file") -> None:
    """Refuse a file holding a secret that group or others can read or write."""
    if os.name == "nt":  # POSIX permission bits mean nothing there
        return
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"the {what} {path} is accessible by group or others (mode "
            f"{stat.filemode(mode)}); it holds your API token: run `chmod 600 {path}`"
        )


def normalize_url(url: str) -> str:
    """Check a SkyPortal base URL and return it without trailing ``/`` or ``/api``."""
    text = str(url).strip()
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            f"the SkyPortal URL {text!r} is not an http(s) URL; expected for example "
            "'https://fritz.science' or 'http://127.0.0.1:5000'"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(
            "the SkyPortal URL must be the server's base address only (no query, "
            "fragment or user:password; the token goes in SKYPORTAL_TOKEN)"
        )
    text = text.rstrip("/")
    if text.endswith("/api"):
        text = text[: -len("/api")]
    return text


def normalize_token(token: str, origin: str) -> str:
    """Strip the whitespace a copy-paste adds; refuse a token that cannot be one."""
    text = str(token).strip()
    if not text:
        raise ConfigError(f"the API token from {origin} is empty")
    if any(ch.isspace() for ch in text) or not text.isprintable():
        raise ConfigError(
            f"the API token from {origin} contains spaces or control characters; "
            "copy the token alone, without 'token ' or quotes"
        )
    return text


def read_config_file(path: Path) -> dict[str, str]:
    """Read and check a TOML config file; return its ``url``/``token``/``cache`` values."""
    check_private(path)
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the config file {path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(raw) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(
            f"the config file {path} has unknown key(s) {unknown}; allowed: {sorted(_KNOWN_KEYS)}"
        )
    for key, value in raw.items():
        if not isinstance(value, str):
            raise ConfigError(f"`{key}` in the config file {path} must be a string")
    if "token" in raw and "token_file" in raw:
        raise ConfigError(f"the config file {path} sets both `token` and `token_file`: keep one")
    values = {k: raw[k] for k in ("url", "token", "cache") if k in raw}
    if "token_file" in raw:
        values["token"] = _read_token_file(_expand(raw["token_file"], path.parent))
    return values


def _read_token_file(path: Path) -> str:
    check_private(path, "token file")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the token file {path}: {exc}") from exc


def _expand(value: str, relative_to: Path | None = None) -> Path:
    path = Path(os.path.expandvars(os.path.expanduser(value)))
    if relative_to is not None and not path.is_absolute():
        path = relative_to / path
    return path


def _config_location(config_path: str | os.PathLike | None) -> tuple[Path, bool]:
    """The config file to read and whether it was named explicitly (then it must exist)."""
    if config_path is not None:
        return _expand(os.fspath(config_path)), True
    env = os.environ.get(ENV_CONFIG)
    if env:
        return _expand(env), True
    return default_config_path(), False


def resolve_settings(
    url: str | None = None,
    *,
    token: str | None = None,
    cache_path: str | os.PathLike | None = None,
    config_path: str | os.PathLike | None = None,
    require_server: bool = True,
) -> Settings:
    """Resolve URL, token and cache path (arguments, then env, then config file).

    With ``require_server=True`` (what the API client needs) a missing URL or token raises
    :class:`ConfigError` saying how to set it; with ``require_server=False`` they may be
    ``None`` (offline use of the cache). The token is registered with
    :func:`workbench.redact.register_secret` so no message or log line shows it.
    """
    found: dict[str, tuple[str, str]] = {}  # key -> (value, source)
    for key, value, env in (
        ("url", url, ENV_URL),
        ("token", token, ENV_TOKEN),
        ("cache", cache_path, ENV_CACHE),
    ):
        if value is not None and str(value) != "":
            found[key] = (os.fspath(value), "argument")
        elif os.environ.get(env):
            found[key] = (os.environ[env], "env")

    cfg_path, explicit = _config_location(config_path)
    used_config: Path | None = None
    if len(found) < 3 and (explicit or cfg_path.is_file()):
        if not cfg_path.is_file():
            raise ConfigError(
                f"the config file {cfg_path} does not exist (named by "
                f"{'config_path' if config_path is not None else ENV_CONFIG})"
            )
        used_config = cfg_path
        for key, value in read_config_file(cfg_path).items():
            found.setdefault(key, (value, "config file"))

    def missing(key: str, arg: str, env: str) -> ConfigError:
        hint = _HOW_TO_SET.format(arg=arg, env=env, key=key, path=cfg_path)
        return ConfigError(
            f"no SkyPortal {key.upper()} configured: {hint}",
            cli_message=f"no SkyPortal {key.upper()} configured: "
            + _HOW_TO_SET_CLI[key].format(env=env, key=key, path=cfg_path),
        )

    resolved_url = resolved_token = None
    if "url" in found:
        resolved_url = normalize_url(found["url"][0])
    elif require_server:
        raise missing("url", "url", ENV_URL)
    if "token" in found:
        value, origin = found["token"]
        resolved_token = normalize_token(value, origin)
        register_secret(resolved_token)
    elif require_server:
        raise missing("token", "token", ENV_TOKEN)

    if "cache" in found:
        value, origin = found["cache"]
        # a relative cache path in the config file is relative to that file
        cache = _expand(value, cfg_path.parent if origin == "config file" else None)
    else:
        cache = default_cache_path()
    sources = {key: src for key, (_, src) in found.items()}
    sources.setdefault("cache", "default")
    return Settings(
        url=resolved_url,
        token=resolved_token,
        cache_path=cache,
        config_path=used_config,
        sources=MappingProxyType(sources),
    )
