"""Settings resolution: arguments, then environment, then the config file; safe files only."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workbench import config
from workbench.config import Settings, resolve_settings
from workbench.errors import ConfigError
from workbench.redact import redact

TOKEN = "0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f"  # made up for the tests, not a real token


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No stray SKYPORTAL_*/WORKBENCH_* variables, and a private home for the defaults."""
    for name in ("SKYPORTAL_URL", "SKYPORTAL_TOKEN", "WORKBENCH_CACHE", "WORKBENCH_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def write_private(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


def test_arguments_win_over_env_and_file(monkeypatch, tmp_path):
    cfg = write_private(
        tmp_path / "c.toml", f'url = "https://file.example"\ntoken = "file-{TOKEN}"\n'
    )
    monkeypatch.setenv("SKYPORTAL_URL", "https://env.example")
    monkeypatch.setenv("WORKBENCH_CONFIG", str(cfg))
    s = resolve_settings("https://arg.example/", token=TOKEN)
    assert (s.url, s.token) == ("https://arg.example", TOKEN)
    assert s.sources["url"] == "argument" and s.sources["token"] == "argument"
    assert s.config_path == cfg  # read for the cache path


def test_env_wins_over_the_file(monkeypatch, tmp_path):
    cfg = write_private(
        tmp_path / "c.toml", 'url = "https://file.example"\ntoken = "filetoken1234"\n'
    )
    monkeypatch.setenv("WORKBENCH_CONFIG", str(cfg))
    monkeypatch.setenv("SKYPORTAL_TOKEN", f"  {TOKEN}\n")
    monkeypatch.setenv("WORKBENCH_CACHE", str(tmp_path / "env.duckdb"))
    s = resolve_settings()
    assert s.url == "https://file.example"
    assert s.token == TOKEN  # whitespace of a copy-paste stripped
    assert s.cache_path == tmp_path / "env.duckdb"
    assert dict(s.sources) == {"url": "config file", "token": "env", "cache": "env"}


def test_default_config_file_location_with_token_file(tmp_path):
    token_file = write_private(tmp_path / "secret" / "token", TOKEN + "\n")
    cfg = config.default_config_path()
    assert cfg == tmp_path / "xdg-config" / "skyportal-workbench" / "config.toml"
    write_private(
        cfg,
        f'url = "http://127.0.0.1:5000/api/"\ntoken_file = "{token_file}"\ncache = "here.duckdb"\n',
    )
    s = resolve_settings()
    assert s.url == "http://127.0.0.1:5000"
    assert s.token == TOKEN
    assert s.cache_path == cfg.parent / "here.duckdb"  # relative to the config file


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602])
def test_config_file_readable_by_others_is_refused(tmp_path, mode):
    cfg = write_private(
        tmp_path / "c.toml", f'url = "https://x.example"\ntoken = "{TOKEN}"\n', mode
    )
    with pytest.raises(ConfigError, match=f"chmod 600 {cfg}") as info:
        resolve_settings(config_path=cfg)
    assert TOKEN not in str(info.value)


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_token_file_readable_by_others_is_refused(tmp_path):
    token_file = write_private(tmp_path / "token", TOKEN, 0o644)
    cfg = write_private(
        tmp_path / "c.toml", f'url = "https://x.example"\ntoken_file = "{token_file}"\n'
    )
    with pytest.raises(ConfigError, match=rf"token file {token_file}.*chmod 600"):
        resolve_settings(config_path=cfg)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("url = ", "not valid TOML"),
        ('url = "https://x.example"\ntokn = "abc"\n', "unknown key"),
        ("url = 5\n", "must be a string"),
        (f'token = "{TOKEN}"\ntoken_file = "/x"\n', "both `token` and `token_file`"),
    ],
)
def test_malformed_config_files_say_what_is_wrong(tmp_path, text, words):
    cfg = write_private(tmp_path / "c.toml", text)
    with pytest.raises(ConfigError, match=words):
        resolve_settings(config_path=cfg)


def test_an_explicitly_named_missing_config_file_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("WORKBENCH_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match=r"does not exist.*WORKBENCH_CONFIG"):
        resolve_settings(token=TOKEN)


def test_missing_url_or_token_says_how_to_set_it(tmp_path):
    with pytest.raises(
        ConfigError, match=r"no SkyPortal URL configured.*SKYPORTAL_URL.*config\.toml"
    ):
        resolve_settings(token=TOKEN)
    with pytest.raises(ConfigError, match=r"no SkyPortal TOKEN configured.*SKYPORTAL_TOKEN"):
        resolve_settings("https://x.example")
    offline = resolve_settings(require_server=False)
    assert offline.url is None and offline.token is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("fritz.science", "not an http"),
        ("ftp://fritz.science", "not an http"),
        ("https://fritz.science/?token=abc", "base address only"),
        ("https://user:pw@fritz.science", "base address only"),
    ],
)
def test_bad_urls_are_refused(url, words):
    with pytest.raises(ConfigError, match=words):
        resolve_settings(url, token=TOKEN)


@pytest.mark.parametrize("bad", ["token abc-123", "abc\x00def", "   "])
def test_bad_tokens_are_refused_without_echoing_them(bad):
    with pytest.raises(ConfigError) as info:
        resolve_settings("https://x.example", token=bad)
    if bad.strip():
        assert bad not in str(info.value)


def test_settings_are_immutable_and_hide_the_token():
    s = resolve_settings("https://x.example", token=TOKEN)
    assert TOKEN not in repr(s) and "token='***'" in repr(s)
    assert redact(f"Authorization: {TOKEN}") == "Authorization: ***"  # registered
    with pytest.raises(AttributeError):
        s.url = "https://y.example"  # type: ignore[misc]
    with pytest.raises(TypeError):
        s.sources["url"] = "x"  # type: ignore[index]
    assert isinstance(s, Settings)


def test_default_cache_path_in_a_checkout_and_outside(monkeypatch, tmp_path):
    repo_cache = Path(config.__file__).resolve().parents[1] / "cache"
    if repo_cache.is_dir():
        assert config.default_cache_path() == repo_cache / "workbench.duckdb"
    monkeypatch.setattr(config, "_REPO_CACHE_DIR", tmp_path / "no-such-dir")
    assert (
        config.default_cache_path()
        == tmp_path / "xdg-cache" / "skyportal-workbench" / "workbench.duckdb"
    )
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert (
        config.default_cache_path()
        == Path.home() / ".cache" / "skyportal-workbench" / "workbench.duckdb"
    )
