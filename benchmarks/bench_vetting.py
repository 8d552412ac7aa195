"""How fast does the vetting panel show the next candidate? (target: under 0.1 s)

Starts a local server, syncs a cache, opens a :class:`widgets.VettingPanel` and clicks
through the queue (Reject, Skip, Save in turn), online and then offline on the same cache.
For each click it records the time until the next candidate is on screen
(``panel.last_show_seconds``) and the whole click handler (writing the decision to the cache
and the outbox, pushing it when online, and starting to prepare the candidates ahead, in a
worker thread by default). "Scanner looks" waits for the preparation before each click, as
a person looking at a candidate for a second does; "rapid clicks" does not. Prints figures.

    .venv/bin/python benchmarks/bench_vetting.py [--sources 300] [--candidates 300] [--clicks 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _figures(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return (
        f"{name:<34} median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   "
        f"max {ms[-1]:7.1f} ms   (n={len(ms)})"
    )


def _click_through(
    panel, clicks: int, group_id: int, *, look: bool
) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    """Click Reject, Skip, Save in turn. ``look``: wait until the candidates ahead are
    prepared before each click, as a scanner looking at the current one for a second does."""
    panel.save_groups.value = (group_id,)
    buttons = (panel.reject_button, panel.skip_button, panel.save_button)
    shows, totals = [], []
    for i in range(clicks):
        if panel.state.current is None:
            break
        if look:
            panel.prefetcher.wait()
        start = time.perf_counter()
        buttons[i % 3].click()
        totals.append(time.perf_counter() - start)
        shows.append(panel.last_show_seconds)
        if panel.errors.messages:
            raise SystemExit(f"the panel reported an error: {panel.errors.messages[-1]}")
    return shows, totals


def _report(label: str, panel, shows: list[float], totals: list[float]) -> None:  # type: ignore[no-untyped-def]
    within = sum(s < 0.1 for s in shows) / max(1, len(shows))
    print(
        f"-- {label}: prefetch hits {panel.prefetcher.hits}, misses {panel.prefetcher.misses}; "
        f"{within:.0%} shown in < 100 ms"
    )
    print(_figures("   click -> next candidate shown", shows))
    print(_figures("   whole click handler", totals))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=300)
    parser.add_argument("--candidates", type=int, default=300)
    parser.add_argument("--clicks", type=int, default=60)
    parser.add_argument("--prefetch", type=int, default=2)
    args = parser.parse_args()

    from widgets import VettingPanel
    from workbench.facade import Workbench
    from workbench.server import LocalServer

    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalServer(
            sources=args.sources, candidates=args.candidates, seed=11, token=str(uuid.uuid4())
        ) as server,
    ):
        cache = Path(tmp) / "bench.duckdb"
        # A loopback server of our own: no need to pace requests (not what is measured).
        wb = Workbench.open(server.url, server.token, cache, rate_limit=None)
        start = time.perf_counter()
        wb.sync()
        print(
            f"sync of {args.sources} sources + {args.candidates} candidates: "
            f"{time.perf_counter() - start:.1f} s"
        )
        group_id = int(wb.groups()["id"].iloc[0])

        start = time.perf_counter()
        panel = VettingPanel(wb, prefetch=args.prefetch)
        print(
            f"panel opened (queue {len(panel.state.queue)}, first candidate read cold): "
            f"{time.perf_counter() - start:.2f} s; cold show {panel.last_show_seconds * 1000:.1f} ms"
        )
        for label, look in (
            ("online, scanner looks", True),
            ("online, rapid clicks", False),
        ):
            _report(label, panel, *_click_through(panel, args.clicks, group_id, look=look))
        panel.close()

        offline = Workbench.open(cache=cache, offline=True)
        for label, background, look in (
            ("offline, scanner looks", True, True),
            ("offline, rapid clicks", True, False),
            ("offline, no worker thread", False, False),
        ):
            panel = VettingPanel(offline, prefetch=args.prefetch, background=background)
            _report(label, panel, *_click_through(panel, args.clicks, group_id, look=look))
            panel.close()
        print(f"outbox after all runs: {wb.status()['outbox']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
