"""Seeded classifications and spectrum metadata (materialised as columns at start-up,
because ``/api/classification`` and ``/api/spectra`` list them globally by date)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .columns import Columns
from .sky import ANCHOR_US, KINDS, N_NAMED
from .timeutil import US_PER_DAY, parse_time

CLASS_BY_KIND = {
    "Ia": ["Ia", "Ia-norm", "Ia-91T"],
    "II": ["Type II", "IIP", "IIn"],
    "Ibc": ["Ib", "Ic", "Ic-BL"],
    "periodic": ["RR Lyrae", "Delta Scuti", "Algol"],
    "agn": ["AGN", "QSO"],
    "tde": ["Tidal Disruption Event"],
    "bogus": ["bogus"],
    "afterglow": ["GRB"],  # the GW event's planted counterpart (tdtax has no kilonova)
}


def seed_classifications(store) -> Columns:
    """Classifications of the seed: the captures' three, then ~35% of saved sources."""
    rng = np.random.default_rng([store.seed, 3])
    rows: list[tuple] = [
        (4, 1, "Time-domain Source", 0.9, True, "SCoPe", "2018-05-02T11:20:04.349890"),
        (4, 2, "variable", 0.02, False, None, "2018-05-02T11:20:04.524888"),
        (3, 1, "Type II", 1.0, False, None, "2021-04-03T12:10:44.911301"),
    ]
    named = [(o, t, c, p, ml, orig, parse_time(w), 1) for o, t, c, p, ml, orig, w in rows]
    gen = np.arange(N_NAMED, store.n_seeded)
    saved = (store.saved_at[gen] >= 0).any(axis=1)
    gen = gen[saved]
    first = gen[rng.random(len(gen)) < 0.35]
    second = first[rng.random(len(first)) < 0.3]
    objs = np.concatenate([first, second])
    created = store.objs["created"][objs] + rng.integers(
        US_PER_DAY // 10, 40 * US_PER_DAY, len(objs)
    )
    created = np.minimum(created, ANCHOR_US - rng.integers(1, US_PER_DAY, len(objs)))
    out = {
        k: []
        for k in (
            "obj",
            "taxonomy_id",
            "classification",
            "probability",
            "ml",
            "origin",
            "created",
            "author_id",
        )
    }
    for rec in named:
        for key, value in zip(out, rec, strict=True):
            out[key].append(value)
    kinds = store.objs["kind"][objs]
    choice = rng.random(len(objs))
    ml = rng.random(len(objs)) < 0.3
    for j, obj in enumerate(objs):
        names = CLASS_BY_KIND[KINDS[kinds[j]]]
        name = names[int(choice[j] * len(names))]
        taxonomy = 2 if name in ("bogus",) else 1
        out["obj"].append(int(obj))
        out["taxonomy_id"].append(taxonomy)
        out["classification"].append(name)
        out["probability"].append(round(float(0.5 + 0.5 * choice[j]), 3))
        out["ml"].append(bool(ml[j]))
        out["origin"].append("SCoPe" if ml[j] else None)
        out["created"].append(int(created[j]))
        out["author_id"].append(1 if choice[j] < 0.7 else int(2 + (j % 3)))
    m = len(out["obj"])
    return Columns(
        {
            "id": np.arange(1, m + 1, dtype=np.int64),
            "obj": np.array(out["obj"], dtype=np.int64),
            "taxonomy_id": np.array(out["taxonomy_id"], dtype=np.int64),
            "classification": np.array(out["classification"], dtype=object),
            "probability": np.array(out["probability"], dtype=np.float64),
            "ml": np.array(out["ml"], dtype=bool),
            "origin": np.array(out["origin"], dtype=object),
            "author_id": np.array(out["author_id"], dtype=np.int64),
            "created": np.array(out["created"], dtype=np.int64),
            "modified": np.array(out["created"], dtype=np.int64),
            "deleted": np.zeros(m, dtype=bool),
            "group_ids": np.array([None] * m, dtype=object),
        }
    )


def seed_spectra(store) -> Columns:
    """Spectrum metadata of the seed: ids 1-3 as captured, then ~15% of transients."""
    rng = np.random.default_rng([store.seed, 5])
    named = [
        (1, 2, "2019-10-24T05:23:14", "demo_data"),
        (2, 2, "2019-08-24T06:18:53", "demo_data"),
        (3, 9, "2021-04-03T02:28:19.921000", None),
    ]
    objs = [o for o, *_ in named]
    inst = [i for _, i, *_ in named]
    observed = [parse_time(w) for *_, w, _ in named]
    origin: list[Any] = [orig for *_, orig in named]
    gen = np.arange(N_NAMED, store.n_seeded)
    transient = np.isin(store.objs["kind"][gen], [0, 1, 2, 5])
    pick = gen[transient & (rng.random(len(gen)) < 0.15)]
    delay = rng.integers(2 * US_PER_DAY, 30 * US_PER_DAY, len(pick))
    objs += pick.tolist()
    inst += rng.choice([3, 3, 2, 4, 9], len(pick)).tolist()
    observed += np.minimum(store.objs["created"][pick] + delay, ANCHOR_US - US_PER_DAY).tolist()
    origin += [None] * len(pick)
    observed_arr = np.array(observed, dtype=np.int64)
    created = observed_arr + rng.integers(3_600_000_000, 2 * US_PER_DAY, len(objs))
    created = np.minimum(created, ANCHOR_US)
    m = len(objs)
    return Columns(
        {
            "id": np.arange(1, m + 1, dtype=np.int64),
            "obj": np.array(objs, dtype=np.int64),
            "instrument_id": np.array(inst, dtype=np.int64),
            "observed_at": observed_arr,
            "created": created,
            "modified": created.copy(),
            "origin": np.array(origin, dtype=object),
            "type": np.array(["source"] * m, dtype=object),
            "label": np.array([None] * m, dtype=object),
            "altdata": np.array([None] * m, dtype=object),
            "units": np.array(["erg/s/cm/cm/AA"] * m, dtype=object),
            "owner_id": np.ones(m, dtype=np.int64),
            "deleted": np.zeros(m, dtype=bool),
            "arrays": np.array([None] * m, dtype=object),
            "group_ids": np.array([None] * m, dtype=object),
        }
    )
