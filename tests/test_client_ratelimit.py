"""The token bucket: exact on a fake clock, and keeping the rate across threads for real."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from test_client_httpd import ScriptedServer, err, ok

from workbench.client import RateLimiter, SkyPortalClient
from workbench.errors import ConfigError

TOKEN = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"  # made up for the tests, not a real token


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_burst_then_steady_rate_on_a_fake_clock():
    clock = FakeClock()
    bucket = RateLimiter(2.0, burst=3, clock=clock, sleep=clock.sleep)
    waits = [bucket.acquire() for _ in range(6)]
    assert waits[:3] == [0, 0, 0]
    assert waits[3:] == pytest.approx([0.5, 0.5, 0.5])
    assert clock.now == pytest.approx(1.5)
    clock.now += 10  # idle: the burst refills, but never beyond its size
    assert [bucket.acquire() for _ in range(4)] == pytest.approx([0, 0, 0, 0.5])


def test_drain_forgets_the_burst():
    clock = FakeClock()
    bucket = RateLimiter(4.0, burst=10, clock=clock, sleep=clock.sleep)
    bucket.drain()
    assert bucket.acquire() == pytest.approx(0.25)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_nonsense_limits_are_refused(rate, burst):
    with pytest.raises(ConfigError):
        RateLimiter(rate, burst)


def test_threads_share_one_rate():
    bucket = RateLimiter(50.0, burst=5)
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            bucket.acquire()
            with lock:
                stamps.append(time.monotonic())

    started = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert len(stamps) == 40
    assert elapsed >= (40 - 5) / 50 * 0.95  # 35 beyond the burst at 50/s
    stamps.sort()
    # no 0.2 s window holds more than the burst plus the rate's share
    for i, t0 in enumerate(stamps):
        inside = sum(1 for t in stamps[i:] if t - t0 < 0.2)
        assert inside <= 5 + 0.2 * 50 + 1


def test_clients_sharing_a_limiter_share_the_budget():
    bucket = RateLimiter(40.0, burst=1)
    with ScriptedServer() as srv:
        srv.script("GET", "/api/x", ok(1))
        a = SkyPortalClient(srv.url, token=TOKEN, rate_limit=bucket)
        b = SkyPortalClient(srv.url, token=TOKEN, rate_limit=bucket)
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: (a if i % 2 else b).get("/api/x"), range(21)))
        elapsed = time.monotonic() - started
        assert srv.count("GET", "/api/x") == 21
        assert elapsed >= 20 / 40 * 0.95
        waited = a.stats.snapshot()["wait_seconds"] + b.stats.snapshot()["wait_seconds"]
        assert waited > 0.3


def test_default_limit_is_5_per_second_with_burst_10():
    with ScriptedServer() as srv:
        client = SkyPortalClient(srv.url, token=TOKEN)
        assert (client.rate_limiter.rate, client.rate_limiter.burst) == (5.0, 10)
        assert SkyPortalClient(srv.url, token=TOKEN, rate_limit=None).rate_limiter is None


# -- no pacing without a reason (issue 12) --------------------------------------------------


def test_the_local_server_advertises_its_limit_and_the_client_follows_it():
    from workbench.server import LocalServer

    with LocalServer(sources=5, candidates=2, seed=1) as srv:
        client = SkyPortalClient(srv.url, token=srv.token)  # rate_limit="auto"
        assert (client.rate_limiter.rate, client.rate_limiter.burst) == (5.0, 10)
        client.get_sysinfo()
        assert client.rate_limiter is None  # the server applies none: no pacing
        health = client.local_server_identity()
        assert health["rate_limit"] is None
        srv.behaviour.update(rate_limit=True, rate=40.0, burst=4)
        client.get_sysinfo()
        assert (client.rate_limiter.rate, client.rate_limiter.burst) == (40.0, 4)
        assert client.local_server_identity()["rate_limit"] == {"rate": 40.0, "burst": 4}
        explicit = SkyPortalClient(srv.url, token=srv.token, rate_limit=2.0)
        explicit.get_sysinfo()
        assert explicit.rate_limiter.rate == 2.0  # a chosen limit is kept
        off = SkyPortalClient(srv.url, token=srv.token, rate_limit=None)
        off.get_sysinfo()
        assert off.rate_limiter is None


def test_an_unknown_server_keeps_the_production_limit_and_a_429_slows_it():
    with ScriptedServer() as srv:  # says nothing about its limit, like a real SkyPortal
        srv.script("GET", "/api/x", err(429, "slow down"), ok(1))
        client = SkyPortalClient(srv.url, token=TOKEN, backoff=0.001, max_backoff=0.01)
        assert client.get("/api/x") == 1
        assert client.rate_limiter is not None and client.rate_limiter.rate == 2.5
        assert client.rate_limiter.burst == 10


def test_slow_down_has_a_floor():
    limiter = RateLimiter(5.0, 10)
    rates = [limiter.slow_down() for _ in range(5)]
    assert rates == [2.5, 1.25, 0.625, 0.5, 0.5]


def test_auto_is_the_only_word_accepted():
    with pytest.raises(ConfigError, match="auto"):
        SkyPortalClient("http://127.0.0.1:9", token=TOKEN, rate_limit="fast")
