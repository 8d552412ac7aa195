"""The local server's candidate stream carries a hidden real/bogus truth (issue 11):
deterministic from the seed, driving the groups' past saves, never served."""

from __future__ import annotations

import numpy as np
import requests

from workbench.server.refdata import FILTERS
from workbench.server.sky import build_sky
from workbench.server.store import Store


def test_the_truth_is_deterministic_for_a_seed():
    a, b = build_sky(4, 300, 400), build_sky(4, 300, 400)
    assert np.array_equal(a.objs["real"], b.objs["real"])
    assert np.array_equal(a.saved_at, b.saved_at)
    assert np.array_equal(a.cands["filter_id"], b.cands["filter_id"])
    c = build_sky(5, 300, 400)
    assert not np.array_equal(a.objs["real"], c.objs["real"])


def test_the_truth_drives_the_groups_saves_noisily():
    store = Store(sources=400, candidates=1500, seed=2)
    cand = np.unique(store.cands["obj"])
    cand = cand[cand >= 5]  # the generated candidate stream
    real = store.objs["real"][cand]
    assert 0.3 < real.mean() < 0.5
    filter_of = {gid: fid for fid, (gid, _s, _n) in FILTERS.items()}
    for gid in (3, 4):
        saved = store.saved_at[cand, store.group_slot[gid]] >= 0
        # mostly real, but not all real ones are saved: the scanners' noise and taste
        assert real[saved].mean() > 0.85
        assert 0.2 < saved[real].mean() < 0.9
        assert real[~saved].mean() < real.mean()
        # a candidate saved to a group passed that group's filter
        for obj in cand[saved][:50]:
            rows = store.candidate_rows(int(obj))
            assert filter_of[gid] in store.cands["filter_id"][rows]
    # it shows in the light curves, not in the score alone: variables have long histories
    kinds = store.objs["kind"][cand]
    assert set(np.unique(kinds[~real])) <= {3, 4, 6}  # periodic, agn, bogus
    assert (store.objs["lc_start"][cand][~real] < store.objs["lc_start"][cand][real].min()).any()


def test_candidates_are_created_alike_saved_or_not():
    store = Store(sources=300, candidates=1000, seed=3)
    cand = np.unique(store.cands["obj"])
    cand = cand[cand >= 5]
    saved = (store.saved_at[cand] >= 0).any(axis=1)
    created = store.objs["created"][cand]
    # the same window for both (a time split must not be a saved/unsaved split)
    days = (created.max() - created) / 86_400e6
    assert days[saved].max() > 60 and days[~saved].max() > 60
    assert store.objs["n_phot"][cand].max() <= 40


def test_the_truth_is_never_served(make_server):
    srv = make_server(sources=30, candidates=40, seed=3)
    text = requests.get(
        srv.url + "/api/candidates",
        params={"numPerPage": 40, "includeComments": "true"},
        headers=srv.headers,
        timeout=60,
    ).text
    assert '"real"' not in text and "hidden" not in text
