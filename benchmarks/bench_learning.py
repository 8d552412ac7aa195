"""Does the learned vetting queue beat the score order? And how fast does it refit?

Starts a local server (its seeded candidates carry a hidden real/bogus truth that drives
the groups' past saves), syncs what the queue needs into a fresh cache, and for each group
with candidates trains on the older 75% of its decisions and tests on the newer 25% (a time
split, never a random one). Prints side by side precision at 10, 20 and 50 and the area
under the precision-recall curve for the learned order (both classifiers), the server's
score order and a random order (its expectation: the share wanted). Then fit and predict
times (one thread) for 1e3, 1e4 and 1e5 decisions, resampled from the real feature rows.

    .venv/bin/python benchmarks/bench_learning.py [--sources 1500] [--candidates 5000]
        [--cache PATH]   (keep the synced cache there; reused when it exists)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESOURCES = ("groups", "sources", "candidates", "photometry", "galaxies")
ORDERS = ("learned hgb", "learned logistic", "score", "random")
KEYS = ("precision_at_10", "precision_at_20", "precision_at_50", "auprc")


def _row(name: str, figures: dict) -> str:
    return f"  {name:<18}" + "".join(f"{figures.get(k, float('nan')):>10.3f}" for k in KEYS)


def quality(wb, seed: int) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    """Time-split figures per group; returns each group's feature matrix for the timings."""
    from workbench.learning import candidate_features, group_labels, label_groups
    from workbench.learning.model import time_split_metrics, usable_features

    matrices = {}
    for gid in label_groups(wb):
        labels = group_labels(wb, gid)
        if len(labels) < 50:
            print(f"group {gid}: {len(labels)} decisions, too few")
            continue
        features = candidate_features(wb, labels["obj_id"])
        runs = {
            k: time_split_metrics(features, labels, kind=k, seed=seed) for k in ("hgb", "logistic")
        }
        first = runs["hgb"]
        print(
            f"\ngroup {gid}: {len(labels)} decisions ({int(labels['wanted'].sum())} saved); "
            f"train {first['n_train']} before {first['split_at']}, test {first['n_test']}"
        )
        print(f"  {'order':<18}" + "".join(f"{k.replace('precision_at_', 'P@'):>10}" for k in KEYS))
        print(_row("learned hgb", runs["hgb"]))
        print(_row("learned logistic", runs["logistic"]))
        print(_row("score", first["score"]))
        print(_row("random (expected)", first["random"]))
        x = features.reindex(labels["obj_id"])
        names = usable_features(x)
        matrices[gid] = (x[names].to_numpy(float), labels["wanted"].to_numpy(bool))
    return matrices


def timings(x: np.ndarray, y: np.ndarray, seed: int) -> None:
    """Fit and predict times for 1e3..1e5 decisions (rows resampled, slightly jittered)."""
    from workbench.learning.model import _one_thread, make_estimator

    rng = np.random.default_rng(seed)
    print("\nfit / predict (one thread), rows resampled from the real decisions:")
    # wall clock and this process's CPU time: on a shared machine the wall clock also
    # counts the time other processes held the cores
    print(
        f"  {'decisions':>10} {'kind':<10} {'fit s':>8} {'fit cpu':>8} {'predict s':>10} "
        f"{'pred cpu':>8}"
    )
    for n in (1_000, 10_000, 100_000):
        idx = rng.integers(0, len(x), n)
        xs = x[idx] * (1 + rng.normal(0.0, 1e-3, (n, x.shape[1])))
        for kind in ("hgb", "logistic"):
            est = make_estimator(kind, seed)
            with _one_thread():
                t, c = time.perf_counter(), time.process_time()
                est.fit(xs, y[idx])
                fit_s, fit_cpu = time.perf_counter() - t, time.process_time() - c
                t, c = time.perf_counter(), time.process_time()
                est.predict_proba(xs)
                pred_s, pred_cpu = time.perf_counter() - t, time.process_time() - c
            print(
                f"  {n:>10,} {kind:<10} {fit_s:>8.3f} {fit_cpu:>8.3f} {pred_s:>10.3f} "
                f"{pred_cpu:>8.3f}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", type=int, default=1500)
    ap.add_argument("--candidates", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="keep the synced cache here; if it exists, reuse it (no server)",
    )
    args = ap.parse_args()

    from workbench.facade import Workbench
    from workbench.server import LocalServer

    with tempfile.TemporaryDirectory() as tmp:
        path = args.cache or Path(tmp) / "bench.duckdb"
        if path.exists():
            wb = Workbench.open(cache=path, offline=True)
            print(f"reusing the synced cache {path}")
        else:
            with LocalServer(
                sources=args.sources,
                candidates=args.candidates,
                seed=args.seed,
                token=str(uuid.uuid4()),
            ) as srv:
                wb = Workbench.open(srv.url, srv.token, path, rate_limit=None)
                t = time.perf_counter()
                wb.sync(resources=RESOURCES, progress=False)
                print(
                    f"synced {args.sources} sources, {args.candidates} candidates (seed "
                    f"{args.seed}) in {time.perf_counter() - t:.1f} s"
                )
        t = time.perf_counter()
        matrices = quality(wb, args.seed)
        print(f"\n(figures computed in {time.perf_counter() - t:.1f} s)")
        if matrices:
            x, y = max(matrices.values(), key=lambda m: len(m[0]))
            timings(x, y, args.seed)


if __name__ == "__main__":
    main()
