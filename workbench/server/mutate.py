"""Simulated other users writing while a sync reads (``/_workbench/mutate``).

Each action changes ``n`` things chosen by ``numpy.random.default_rng(seed)``, so a test
that passes the same seed to the same server state gets the same changes. The answer
says what changed (object ids, record ids) so a test can check a sync saw it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import refdata
from .children import CLASS_BY_KIND
from .lightcurve import ZP
from .sky import KINDS
from .timeutil import us_to_mjd

OTHER_USERS = (2, 3, 4)


def _saved(store) -> np.ndarray:
    n = len(store.objs)
    return np.flatnonzero((store.saved_at[:n] >= 0).any(axis=1))


def save(store, rng, n: int) -> dict[str, Any]:
    """Save ``n`` (object, group) pairs that were not saved (new rows in the source list)."""
    done = []
    objs = rng.permutation(len(store.objs))
    groups = [g for g, rec in store.groups.items() if not rec["single_user_group"]]
    for idx in objs:
        free = [g for g in groups if store.saved_at[idx, store.group_slot[g]] < 0]
        if free:
            gid = int(free[int(rng.integers(len(free)))])
            store.save(int(idx), gid, user_id=int(rng.choice(OTHER_USERS)))
            done.append([store.objs["id"][idx], gid])
        if len(done) >= n:
            break
    return {"saved": done}


def unsave(store, rng, n: int) -> dict[str, Any]:
    """Unsave ``n`` (object, group) links (removals shift later rows back a page)."""
    done = []
    for idx in rng.permutation(_saved(store)):
        groups = store.saved_groups(int(idx))
        gid = int(groups[int(rng.integers(len(groups)))])
        store.unsave(int(idx), gid)
        done.append([store.objs["id"][idx], gid])
        if len(done) >= n:
            break
    return {"unsaved": done}


def add_sources(store, rng, n: int) -> dict[str, Any]:
    """Create ``n`` new sources (with light curves) saved to the Sitewide Group."""
    ids = []
    for _ in range(n):
        name = _new_name(store, rng)
        kind = KINDS[int(rng.integers(0, 3))]
        ra, dec = float(rng.uniform(0, 360)), float(rng.uniform(-30, 90))
        idx = store.add_obj(
            name,
            ra,
            dec,
            kind=kind,
            generated_photometry=int(rng.integers(8, 40)),
            redshift=float(np.round(rng.uniform(0.01, 0.1), 4)),
            origin="ZTF",
        )
        store.save(idx, 1, user_id=int(rng.choice(OTHER_USERS)))
        ids.append(name)
    return {"sources": ids}


def add_candidates(store, rng, n: int) -> dict[str, Any]:
    """Create ``n`` new (unsaved) objects that pass a filter now."""
    ids = []
    for _ in range(n):
        name = _new_name(store, rng)
        idx = store.add_obj(
            name,
            float(rng.uniform(0, 360)),
            float(rng.uniform(-30, 90)),
            kind=KINDS[int(rng.integers(0, 3))],
            generated_photometry=int(rng.integers(4, 15)),
        )
        store.add_candidate(idx, int(rng.integers(1, 3)), store.clock.now())
        ids.append(name)
    return {"candidates": ids}


def add_classifications(store, rng, n: int) -> dict[str, Any]:
    """Post ``n`` classifications on random saved sources, by other users."""
    ids = []
    saved = _saved(store)
    for idx in rng.choice(saved, size=min(n, len(saved)), replace=False):
        names = CLASS_BY_KIND[store.kind(int(idx))]
        name = names[int(rng.integers(len(names)))]
        ids.append(
            store.add_classification(
                int(idx),
                2 if name == "bogus" else 1,
                name,
                probability=float(np.round(rng.uniform(0.5, 1), 3)),
                author_id=int(rng.choice(OTHER_USERS)),
            )
        )
    return {"classifications": ids}


def edit_classifications(store, rng, n: int) -> dict[str, Any]:
    """Change the probability of ``n`` live classifications (``modified`` moves)."""
    live = store.cls["id"][~store.cls["deleted"]]
    ids = [int(c) for c in rng.choice(live, size=min(n, len(live)), replace=False)]
    for cid in ids:
        store.edit_classification(cid, {"probability": float(np.round(rng.uniform(0, 1), 3))})
    return {"edited": ids}


def delete_classifications(store, rng, n: int) -> dict[str, Any]:
    """Delete ``n`` live classifications."""
    live = store.cls["id"][~store.cls["deleted"]]
    ids = [int(c) for c in rng.choice(live, size=min(n, len(live)), replace=False)]
    for cid in ids:
        store.delete_classification(cid)
    return {"deleted": ids}


def add_photometry(store, rng, n: int, obj_id: str | None = None) -> dict[str, Any]:
    """Add ``n`` new detections to one source (``obj_id`` or a random one)."""
    idx = store.find(obj_id) if obj_id else int(rng.choice(_saved(store)))
    if idx is None:
        raise KeyError(f"unknown obj_id {obj_id}")
    now = us_to_mjd(store.clock.now())
    points = []
    for k in range(n):
        mag = float(rng.uniform(17, 20))
        flux = 10 ** (-0.4 * (mag - ZP))
        points.append(
            {
                "mjd": now - (n - k) * 0.01,
                "filter": str(rng.choice(["ztfg", "ztfr"])),
                "flux": flux,
                "fluxerr": flux / 20,
                "mag": mag,
                "magerr": 0.054,
                "limiting_mag": 20.5,
                "snr": 20.0,
                "instrument_id": 1,
                "origin": "mutate",
            }
        )
    ids = store.add_photometry(idx, points)
    return {"obj_id": store.objs["id"][idx], "photometry": ids}


def add_comments(store, rng, n: int) -> dict[str, Any]:
    """Post ``n`` comments on random sources, by other users."""
    ids = []
    for idx in rng.choice(_saved(store), size=n):
        ids.append(
            store.add_comment(
                "sources",
                int(idx),
                "Looks interesting (other user).",
                author_id=int(rng.choice(OTHER_USERS)),
            )
        )
    return {"comments": ids}


def _new_name(store, rng) -> str:
    while True:
        name = "ZTF26" + "".join(chr(97 + int(c)) for c in rng.integers(0, 26, 7))
        if store.find(name) is None:
            return name


ACTIONS = {
    "save": save,
    "unsave": unsave,
    "add_sources": add_sources,
    "add_candidates": add_candidates,
    "add_classifications": add_classifications,
    "edit_classifications": edit_classifications,
    "delete_classifications": delete_classifications,
    "add_photometry": add_photometry,
    "add_comments": add_comments,
}


def mutate(store, action: str, n: int = 1, *, seed: int = 0, **options: Any) -> dict[str, Any]:
    """Apply one simulated action; ``ValueError`` for an unknown action or bad ``n``."""
    if action not in ACTIONS:
        raise ValueError(f"unknown mutation {action!r}; use one of {sorted(ACTIONS)}")
    if int(n) < 0:
        raise ValueError("n must be >= 0")
    rng = np.random.default_rng(seed)
    with store.lock:
        return ACTIONS[action](store, rng, int(n), **options)


__all__ = ["ACTIONS", "mutate", "refdata"]
