"""Fixtures shared across the test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the repository; tests that need it skip cleanly when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    return SHARED


# --------------------------------------------------------------------------- local server
# The local SkyPortal-compatible server (workbench.server). ``server`` is shared by the
# whole session: tests that only read may use it; tests that write, switch behaviours
# (auth, rate limit, faults, latency, quirks) or need a particular seed use
# ``make_server``, which starts fresh servers and stops them afterwards.

SERVER_SEED = {"sources": 60, "candidates": 30, "seed": 1}


@pytest.fixture(scope="session")
def server():
    """A session-wide LocalServer (60 sources, 30 candidates, seed 1). Do not mutate it."""
    from workbench.server import LocalServer

    srv = LocalServer(**SERVER_SEED).start()
    yield srv
    srv.stop()


@pytest.fixture
def make_server():
    """Factory of started LocalServers, stopped after the test.

    ``make_server(sources=200, candidates=50, seed=3, rate_limit=True, latency="realistic",
    latency_scale=0.01, ...)``: keyword arguments are LocalServer's (sizes, seed, token,
    port) plus any behaviour switch.
    """
    from workbench.server import LocalServer

    started = []

    def factory(**kwargs):
        options = dict(SERVER_SEED)
        options.update(kwargs)
        srv = LocalServer(**options).start()
        started.append(srv)
        return srv

    yield factory
    for srv in started:
        srv.stop()


@pytest.fixture
def server_process():
    """Factory running the server in a SEPARATE process (for kill -9 / two-process tests).

    ``proc = server_process(sources=60, seed=1)`` -> ``proc.url``, ``proc.token``,
    ``proc.pid``; stopped (SIGTERM, then SIGKILL) after the test. Behaviours are switched
    over HTTP: ``PUT {proc.url}/_workbench/behaviour`` with the token.
    """
    from workbench.server import spawn_server_process

    started = []

    def factory(**kwargs):
        options = dict(SERVER_SEED)
        options.update(kwargs)
        proc = spawn_server_process(**options)
        started.append(proc)
        return proc

    yield factory
    for proc in started:
        proc.stop()


@pytest.fixture(scope="session")
def vetting_template(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A cache synced once from a small seeded server (the vetting panel tests copy it)."""
    from vetting_helpers import make_template

    return make_template(tmp_path_factory.mktemp("vetting-template"))


@pytest.fixture
def online(make_server, vetting_template, tmp_path):  # type: ignore[no-untyped-def]
    """(server, workbench): a fresh seeded server and a workbench on a copy of the vetting
    template cache, so each vetting test starts from the same synced state. Modules may
    define their own ``online``."""
    from vetting_helpers import open_online

    return open_online(make_server, vetting_template, tmp_path)
