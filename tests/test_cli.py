"""The ``workbench`` command line, run as a real subprocess against the local server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import pytest
import requests

from workbench import Workbench
from workbench.cli import COMMANDS
from workbench.skymap_synthetic import gaussian_skymap, multiorder_fits_bytes

pytestmark = pytest.mark.slow
EMPTY_CONFIG_HOME = Path(tempfile.mkdtemp(prefix="wb-config-"))
REPO = Path(__file__).resolve().parents[1]


def workbench(
    *args: str, env: dict | None = None, check: bool = False
) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    for key in ("SKYPORTAL_URL", "SKYPORTAL_TOKEN", "WORKBENCH_CACHE"):
        if env is None or key not in env:
            full_env.pop(key, None)
    full_env.pop("WORKBENCH_CONFIG", None)
    full_env["XDG_CONFIG_HOME"] = str(EMPTY_CONFIG_HOME)  # no user config file leaks in
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=300,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_has_help(command):
    proc = workbench(command, "--help", check=True)
    assert "usage: workbench" in proc.stdout and command in proc.stdout


def test_no_command_prints_help_and_exits_2():
    proc = workbench()
    assert proc.returncode == 2 and "COMMAND" in proc.stdout


def test_sync_status_push_against_the_local_server(make_server, tmp_path):
    srv = make_server(sources=40, candidates=10, seed=41)
    cache = str(tmp_path / "c.duckdb")
    env = {"SKYPORTAL_TOKEN": srv.token}
    synced = workbench(
        "sync", "--url", srv.url, "--cache", cache, "--no-progress", "--json", env=env
    )
    assert synced.returncode == 0, synced.stderr
    assert srv.token not in synced.stdout + synced.stderr
    status = workbench("status", "--cache", cache, check=True)
    assert "sources" in status.stdout and "outbox  empty" in status.stdout
    pushed = workbench("push", "--url", srv.url, "--cache", cache, env=env)
    assert pushed.returncode == 0 and "sent 0" in pushed.stdout


def test_sync_without_a_token_fails_clearly(tmp_path, server):
    proc = workbench("sync", "--url", server.url, "--cache", str(tmp_path / "c.duckdb"))
    assert proc.returncode == 1
    assert "SKYPORTAL_TOKEN" in proc.stderr and "Traceback" not in proc.stderr


def test_sync_with_a_bad_token_fails_clearly(tmp_path, server):
    env = {"SKYPORTAL_TOKEN": "00000000-0000-0000-0000-000000000000"}
    proc = workbench(
        "sync", "--url", server.url, "--cache", str(tmp_path / "c.duckdb"), "--no-progress", env=env
    )
    assert proc.returncode == 1
    assert "401" in proc.stderr and "Traceback" not in proc.stderr
    assert "00000000-0000-0000-0000-000000000000" not in proc.stderr


def test_status_on_a_missing_cache_says_so(tmp_path):
    proc = workbench("status", "--cache", str(tmp_path / "none.duckdb"))
    assert proc.returncode == 1 and "workbench sync --cache" in proc.stderr
    assert "read_only" not in proc.stderr and "Traceback" not in proc.stderr


def test_top_level_help_imports_no_subcommand():
    """`workbench --help` lists every subcommand without importing any of them (the server
    alone pulls in tornado, healpy and astropy: seconds on a loaded machine)."""
    code = (
        "import sys\n"
        "from workbench.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('workbench.server', 'workbench.commands.sync', 'duckdb', "
        "'pandas', 'tornado', 'requests') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "HEAVY []" in proc.stdout, proc.stdout[-500:]
    for command in COMMANDS:
        assert command in proc.stdout


def test_sync_refuses_a_bad_since_up_front(tmp_path):
    proc = workbench("sync", "--cache", str(tmp_path / "c.duckdb"), "--since", "yesterday")
    assert proc.returncode == 2 and "ISO-8601" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("value", ["0", "-3", "four"])
def test_sync_refuses_a_concurrency_below_one_up_front(tmp_path, value):
    cache = tmp_path / "c.duckdb"
    proc = workbench(
        "sync", "--url", "http://127.0.0.1:9", "--cache", str(cache), "--concurrency", value
    )
    assert (
        proc.returncode == 2 and "--concurrency" in proc.stderr and "Traceback" not in proc.stderr
    )
    assert not cache.exists()  # refused before anything ran


def test_a_cache_folder_that_cannot_be_created_is_a_clear_error(tmp_path, server):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    cache = blocker / "sub" / "c.duckdb"  # its parent would have to be made inside a file
    env = {"SKYPORTAL_TOKEN": server.token}
    proc = workbench("push", "--url", server.url, "--cache", str(cache), env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "Cannot create the folder" in proc.stderr and "--cache" in proc.stderr


def _as_unprivileged() -> list[str] | None:
    """A command prefix that runs without root's power to write anywhere: none needed for
    an ordinary user; ``setpriv`` to nobody for root; ``None`` when neither works."""
    if not hasattr(os, "geteuid"):
        return None
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"] if setpriv else None


def test_a_cache_in_a_read_only_folder_is_a_clear_error(server):
    prefix = _as_unprivileged()
    if prefix is None:
        pytest.skip("cannot drop root's write access here")
    # a folder any user can reach (pytest's tmp_path is private to root)
    base = Path(tempfile.mkdtemp(prefix="wb-readonly-"))
    base.chmod(0o755)
    folder = base / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKYPORTAL_", "WORKBENCH_"))}
    env.update(
        SKYPORTAL_TOKEN=server.token,
        XDG_CONFIG_HOME=str(base / "no-config"),  # absent: no config file is read
        HOME=str(base),
    )
    try:
        for cache in (folder / "c.duckdb", folder / "sub" / "c.duckdb"):
            proc = subprocess.run(
                [*prefix, sys.executable, "-m", "workbench.cli", "push", "--url", server.url,
                 "--cache", str(cache)],
                capture_output=True, text=True, env=env, timeout=300, cwd=REPO,
            )  # fmt: skip
            assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
            assert str(folder) in proc.stderr and "ermission denied" in proc.stderr
            assert server.token not in proc.stderr
    finally:
        folder.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_cli_messages_speak_command_line_not_python(tmp_path):
    from workbench.cache import Cache

    cache = tmp_path / "c.duckdb"
    Cache(cache).close()  # an empty cache: no server, no event
    pushed = workbench("push", "--cache", str(cache))
    assert (
        pushed.returncode == 1 and "--url" in pushed.stderr and "SKYPORTAL_TOKEN" in pushed.stderr
    )
    matched = workbench(
        "crossmatch", "2019-08-14T21:10:39", "--sources", "--out", str(tmp_path / "o.csv"),
        "--cache", str(cache),
    )  # fmt: skip
    assert matched.returncode == 1 and "Traceback" not in matched.stderr, matched.stderr
    assert "workbench sync" in matched.stderr
    for proc in (pushed, matched):
        for python in ("Workbench.open", "wb.sync", "read_only=True"):
            assert python not in proc.stderr, proc.stderr
    no_url = workbench("sync", "--cache", str(cache))
    assert no_url.returncode == 1 and "--url" in no_url.stderr and "url=" not in no_url.stderr


def test_crossmatch_a_csv_against_a_fits_file(tmp_path):
    sky = gaussian_skymap(40.0, 10.0, 2.0, distmean=100.0, diststd=20.0)
    fits = tmp_path / "map.fits"
    fits.write_bytes(multiorder_fits_bytes(sky))
    positions = pd.DataFrame(
        {
            "ra": [40.0, 41.0, 200.0],
            "dec": [10.0, 10.5, -30.0],
            "distance": [100.0, 90.0, 50.0],
            "name": list("abc"),
        }
    )
    positions.to_csv(tmp_path / "pos.csv", index=False)
    out = tmp_path / "out.parquet"
    workbench(
        "crossmatch",
        str(fits),
        "--positions",
        str(tmp_path / "pos.csv"),
        "--out",
        str(out),
        check=True,
    )
    result = pd.read_parquet(out)
    for column in (
        "name",
        "probdensity",
        "credible_level",
        "searched_area",
        "probdensity_vol",
        "credible_level_vol",
    ):
        assert column in result.columns
    assert result["credible_level"].iloc[0] < 0.05 and result["credible_level"].iloc[2] > 0.99
    inside = tmp_path / "inside.csv"
    workbench(
        "crossmatch",
        str(fits),
        "--positions",
        str(tmp_path / "pos.csv"),
        "--out",
        str(inside),
        "--cumprob",
        "0.9",
        check=True,
    )
    assert list(pd.read_csv(inside)["name"]) == ["a", "b"]


def test_crossmatch_refuses_bad_input_clearly(tmp_path):
    bad = tmp_path / "broken.fits"
    bad.write_bytes(b"SIMPLE  =                    T" + b"\0" * 100)
    pd.DataFrame({"x": [1]}).to_csv(tmp_path / "p.csv", index=False)
    proc = workbench(
        "crossmatch",
        str(bad),
        "--positions",
        str(tmp_path / "p.csv"),
        "--out",
        str(tmp_path / "o.csv"),
    )
    assert proc.returncode == 1 and "broken.fits" in proc.stderr and "Traceback" not in proc.stderr


def test_local_localization_selection_equals_the_servers(make_server, tmp_path):
    """localizationDateobs/Cumprob on the server (sources, candidates, galaxies) and the cache's
    offline crossmatch agree."""
    srv = make_server(sources=300, candidates=40, seed=42)
    wb = Workbench.open(url=srv.url, token=srv.token, cache=tmp_path / "c.duckdb", rate_limit=None)
    wb.sync(resources=["sources", "candidates", "gcn_events", "galaxies"], progress=False)
    events = wb.gcn_events()
    checked = 0
    for dateobs in events["dateobs"]:
        dateobs = pd.Timestamp(dateobs).strftime("%Y-%m-%dT%H:%M:%S")
        for cumprob in (0.5, 0.9):
            params = {
                "localizationDateobs": dateobs,
                "localizationCumprob": cumprob,
                "numPerPage": 500,
                # detection bounds SkyPortal 1.4.0 requires with a localization
                **{k: "2017-01-01" for k in ("startDate", "firstDetectionAfter")},
                **{k: "2026-12-31" for k in ("endDate", "lastDetectionBefore")},
                "numberDetections": 1,
            }
            for path, key, what, column in (
                ("/api/sources", "sources", "sources", "id"),
                ("/api/candidates", "candidates", "candidates", "id"),
                ("/api/galaxy_catalog", "galaxies", "galaxies", "name"),
            ):
                r = requests.get(srv.url + path, params=params, headers=srv.headers, timeout=60)
                theirs = {row[column] for row in r.json()["data"][key]}
                ours = set(wb.crossmatch(dateobs, what=what, cumprob=cumprob)[column])
                assert ours == theirs, (dateobs, cumprob, path)
                checked += len(theirs)
    assert checked > 0


def test_demo_sets_up_server_and_cache(tmp_path):
    """What `make demo` runs, without JupyterLab: a local server, a synced cache."""
    from workbench.server import free_port

    cache = tmp_path / "demo.duckdb"
    args = (
        "--port",
        str(free_port()),
        "--sources",
        "40",
        "--candidates",
        "10",
        "--cache",
        str(cache),
    )
    proc = workbench("demo", "--no-lab", *args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "local SkyPortal at http://127.0.0.1" in proc.stdout
    offline = Workbench.open(cache=cache, offline=True)
    assert len(offline.sources()) == 40 and len(offline.candidates()) == 10


@pytest.mark.parametrize(
    ("python", "shell"),
    [
        (
            "cannot push offline: give Workbench.open a url and token, or set SKYPORTAL_URL "
            "and SKYPORTAL_TOKEN",
            "cannot push offline: pass --url (or set SKYPORTAL_URL) and set SKYPORTAL_TOKEN",
        ),
        (
            "no localization of 2019-08-14 in the cache; run wb.sync(['gcn_events'], "
            "gcn_event='2019-08-14')",
            "no localization of 2019-08-14 in the cache; run "
            "`workbench sync --resources gcn_events --gcn-event 2019-08-14`",
        ),
        (
            "no taxonomy in the cache yet: run wb.sync() (or wb.sync(['taxonomies'])) first",
            "no taxonomy in the cache yet: run `workbench sync` (or "
            "`workbench sync --resources taxonomies`) first",
        ),
    ],
)
def test_python_advice_is_reworded_for_the_shell(python, shell):
    from workbench.cli import for_the_command_line
    from workbench.errors import WorkbenchError

    assert for_the_command_line(WorkbenchError(python)) == shell
    own = WorkbenchError(python, cli_message="its own words")
    assert for_the_command_line(own) == "its own words" and str(own) == python
