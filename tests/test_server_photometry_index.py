"""The local server's photometry answers from the column index (``photindex``) are the
same bytes the per-object path (``Store.photometry`` + ``photrec.record``) gives:
``/api/photometry/range`` in a sync's windows, both formats, instrument filters, open
bounds, after posted and deleted points and new sources; ``/api/sources/{id}/photometry``.
"""

from __future__ import annotations

import itertools

import numpy as np
import orjson
import pytest
import requests

from workbench.server import photrec
from workbench.server.handlers.base import VERSION
from workbench.server.timeutil import iso, mjd_to_us, parse_time, us_to_mjd


def envelope(data) -> bytes:
    """The success body as ``BaseHandler.success`` writes it."""
    return orjson.dumps(
        {"status": "success", "data": data, "version": VERSION},
        option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
    )


def reference_range(store, lo: str | None, hi: str | None, instruments=None, fmt="mag"):
    """The range answer built object by object: every point in the window by its own
    date (as SkyPortal filters photometry), whatever its light curve's span."""
    o = store.objs
    lo_mjd = -np.inf if lo is None else us_to_mjd(parse_time(lo))
    hi_mjd = np.inf if hi is None else us_to_mjd(parse_time(hi))
    with store.lock:
        added = np.isin(np.arange(len(o)), list(store.phot_added))
        out = []
        for idx in np.flatnonzero(o["gen"] | added).tolist():
            for p in store.photometry(idx):
                if lo_mjd <= p["mjd"] <= hi_mjd and (
                    not instruments or p.get("instrument_id", 1) in instruments
                ):
                    out.append(photrec.record(store, idx, p, fmt))
    return out


def reference_source(store, idx: int, fmt: str = "mag"):
    return [photrec.record(store, idx, p, fmt) for p in store.photometry(idx)]


def get(srv, path, **params):
    return requests.get(srv.url + path, params=params, headers=srv.headers, timeout=60)


def same_range(srv, lo, hi, instruments=None, fmt=None) -> int:
    """Assert the range answer's bytes; return its number of points."""
    params = {k: v for k, v in (("min_date", lo), ("max_date", hi), ("format", fmt)) if v}
    if instruments:
        params["instrument_ids"] = ",".join(map(str, instruments))
    r = get(srv, "/api/photometry/range", **params)
    assert r.status_code == 200, r.text
    ref = reference_range(srv.store, lo, hi, instruments, fmt or "mag")
    assert r.content == envelope(ref), (lo, hi, instruments, fmt)
    return len(ref)


def same_source(srv, idx: int, fmt: str | None = None) -> None:
    name = srv.store.objs["id"][idx]
    r = get(srv, f"/api/sources/{name}/photometry", **({"format": fmt} if fmt else {}))
    assert r.status_code == 200, r.text
    assert r.content == envelope(reference_source(srv.store, idx, fmt or "mag")), (name, fmt)


@pytest.fixture
def srv(make_server):
    return make_server(sources=150, candidates=40, seed=5)


def test_range_windows_of_a_sync_are_the_per_object_answers(srv):
    # windows as the sync walks them (small here, so there are many), then a repeat
    # of the first windows once every light curve is in the index
    o = srv.store.objs
    start, stop = float(o["lc_start"].min()) - 3, float(o["lc_end"].max()) + 3
    edges = [iso(mjd_to_us(t)) for t in np.linspace(start, stop, 40)]
    total = same_range(srv, None, edges[0])
    for lo, hi in itertools.pairwise(edges):
        total += same_range(srv, lo, hi)
    # every point in exactly one window: none lost where a window's edge falls between a
    # light curve's span and a point the night before it (the windows' edges are random
    # instants, so no point sits on one)
    assert total == int(o["n_phot"][o["gen"]].sum())
    for lo, hi in itertools.pairwise(edges[:6]):
        same_range(srv, lo, hi)


def test_range_formats_filters_and_open_bounds(srv):
    o = srv.store.objs
    mid = float(np.median(o["lc_end"]))
    lo, hi = iso(mjd_to_us(mid - 10)), iso(mjd_to_us(mid + 10))
    assert same_range(srv, lo, hi, fmt="flux") > 0
    assert same_range(srv, lo, hi, instruments=[1]) > 0
    assert same_range(srv, lo, hi, instruments=[2, 3]) == 0
    same_range(srv, lo, None)
    same_range(srv, None, hi, fmt="flux")
    same_range(srv, lo, lo)  # one instant


def test_range_and_source_after_posts_deletes_and_new_sources(srv):
    store = srv.store
    same_range(srv, None, None)  # the index is made before the writes
    for action, n in (("add_photometry", 4), ("add_sources", 2), ("add_candidates", 2)):
        store.mutate(action, n, seed=3)
    touched = [*store.phot_added, len(store.objs) - 1, len(store.objs) - 3]
    victim = 7 if 7 not in store.phot_added else 8
    pid = int(store.objs["phot_base"][victim]) + 3
    assert requests.delete(f"{srv.url}/api/photometry/{pid}", headers=srv.headers, timeout=30).ok
    for idx in [*touched, victim]:
        same_source(srv, idx)
        same_source(srv, idx, "flux")
    same_range(srv, None, None)
    same_range(srv, None, None, fmt="flux", instruments=[1])
    lc0, lc1 = float(store.objs["lc_start"][victim]), float(store.objs["lc_end"][victim])
    same_range(srv, iso(mjd_to_us(lc0 - 1)), iso(mjd_to_us(lc1 + 1)))


def test_per_source_photometry_is_the_per_object_answer(srv):
    store = srv.store
    kinds = {}
    for idx in range(len(store.objs)):
        kinds.setdefault(store.kind(idx), idx)
    for idx in sorted({*range(8), *kinds.values()}):  # the named objects, every kind
        same_source(srv, idx)
        same_source(srv, idx, "flux")


def test_range_refuses_too_many_points_as_before(make_server):
    srv = make_server(sources=1500, candidates=10, seed=2)
    r = get(srv, "/api/photometry/range")
    assert r.status_code == 400
    assert r.json()["message"] == "Too many points (> 100000): narrow the range"


def test_a_point_before_its_light_curve_span_is_in_the_window_of_its_date(srv):
    # a visit falls in the night of its draw, so a point can precede its light curve's
    # lc_start by hours; a window ending between the two must still hold it
    store, o = srv.store, srv.store.objs
    for idx in np.flatnonzero(o["gen"]).tolist():
        early = [p for p in store.photometry(idx) if p["mjd"] < float(o["lc_start"][idx]) - 1e-3]
        if early:
            break
    else:
        pytest.skip("no seeded point precedes its light curve's start in this seed")
    point = early[0]
    lo = iso(mjd_to_us(point["mjd"] - 1e-3))
    hi = iso(mjd_to_us(float(o["lc_start"][idx]) - 5e-4))
    r = get(srv, "/api/photometry/range", min_date=lo, max_date=hi)
    assert r.status_code == 200, r.text
    assert point["id"] in {p["id"] for p in r.json()["data"]}
    assert same_range(srv, lo, hi) >= 1
