"""Read endpoints of the local server: pagination, filters, shapes, science content."""

from __future__ import annotations

import io

import numpy as np
import pytest
import requests

from workbench.server.timeutil import iso, parse_time


def get(srv, path, params=None, **kw):
    r = requests.get(srv.url + path, params=params, headers=srv.headers, timeout=30, **kw)
    return r


def data(srv, path, params=None):
    r = get(srv, path, params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def all_pages(srv, path, key, params=None, per=7):
    params = dict(params or {}, numPerPage=per)
    first = data(srv, path, dict(params, pageNumber=1))
    items = list(first[key])
    pages = -(-first["totalMatches"] // per)
    for page in range(2, pages + 1):
        items += data(srv, path, dict(params, pageNumber=page))[key]
    return first["totalMatches"], items


def test_sources_pagination_covers_every_source_once(server):
    total, items = all_pages(server, "/api/sources", "sources")
    ids = [s["id"] for s in items]
    assert total == 60 == len(ids) == len(set(ids))
    for name in ("ZTF21aaqjmps", "ZTF18aabcvnq", "ZTF26abmjjnm", "ZTFrlh6cyjh", "ZTFe028h94k"):
        assert name in ids


def test_past_the_last_page_like_skyportal_1_4(server):
    # 60 sources, 7 per page -> 9 pages; past the end sources answer an empty list
    assert len(data(server, "/api/sources", {"numPerPage": 7, "pageNumber": 9})["sources"]) == 4
    past = data(server, "/api/sources", {"numPerPage": 7, "pageNumber": 10})
    assert past["sources"] == [] and past["totalMatches"] == 60
    assert data(server, "/api/classification", {"pageNumber": 10**4})["classifications"] == []
    assert data(server, "/api/gcn_event", {"pageNumber": 10**4})["events"] == []
    # ... while candidates refuse a page that starts past the end
    r = get(server, "/api/candidates", {"numPerPage": 500, "pageNumber": 10**4})
    assert r.status_code == 400 and r.json()["message"] == "Page number out of range."
    for page in (0, -1):
        r = get(server, "/api/sources", {"numPerPage": 7, "pageNumber": page})
        assert r.status_code == 400
        assert r.json()["message"] == "Page number out of range."
    r = get(server, "/api/sources", {"pageNumber": "x"})
    assert r.status_code == 400 and r.json()["message"] == "Invalid page number value."


def test_default_order_is_latest_save_first(server):
    items = data(server, "/api/sources", {"numPerPage": 60})["sources"]
    latest = [max(g["saved_at"] for g in s["groups"]) for s in items]
    assert latest == sorted(latest, reverse=True)


def test_sort_by_saved_at_ascending_and_by_ra(server):
    items = data(
        server, "/api/sources", {"numPerPage": 60, "sortBy": "saved_at", "sortOrder": "asc"}
    )["sources"]
    latest = [max(g["saved_at"] for g in s["groups"]) for s in items]
    assert latest == sorted(latest)
    ras = [
        s["ra"]
        for s in data(
            server, "/api/sources", {"numPerPage": 60, "sortBy": "ra", "sortOrder": "desc"}
        )["sources"]
    ]
    assert ras == sorted(ras, reverse=True)
    r = get(server, "/api/sources", {"sortBy": "nonsense"})
    assert r.status_code == 400 and "sortBy" in r.json()["message"]


def test_source_filters(server):
    everything = data(server, "/api/sources", {"numPerPage": 500})["sources"]
    cut = sorted(parse_time(s["modified"]) for s in everything)[30]
    after = data(server, "/api/sources", {"numPerPage": 500, "createdOrModifiedAfter": iso(cut)})[
        "sources"
    ]
    expected = {
        s["id"]
        for s in everything
        if parse_time(s["created_at"]) > cut or parse_time(s["modified"]) > cut
    }
    assert {s["id"] for s in after} == expected and 0 < len(expected) < 60
    in3 = data(server, "/api/sources", {"numPerPage": 500, "group_ids": "3"})["sources"]
    assert in3 and all(
        any(g["id"] == 3 for g in s["groups"])
        for s in everything
        if s["id"] in {x["id"] for x in in3}
    )
    assert all(g["id"] == 3 for s in in3 for g in s["groups"])
    only = data(server, "/api/sources", {"sourceID": "aaqjm"})
    assert [s["id"] for s in only["sources"]] == ["ZTF21aaqjmps"]
    saved = sorted(max(parse_time(g["saved_at"]) for g in s["groups"]) for s in everything)
    mid = saved[20]
    newer = data(server, "/api/sources", {"numPerPage": 500, "savedAfter": iso(mid)})
    assert newer["totalMatches"] == sum(t > mid for t in saved)
    r = get(server, "/api/sources", {"createdOrModifiedAfter": "yesterday-ish"})
    assert r.status_code == 400 and "createdOrModifiedAfter" in r.json()["message"]


def test_include_comments_leaves_key_out_when_none(server):
    items = data(
        server,
        "/api/sources",
        {"numPerPage": 60, "includeComments": "true", "includePhotometry": "true"},
    )["sources"]
    with_comments = [s for s in items if "comments" in s]
    assert with_comments and len(with_comments) < len(items)
    assert all(s["comments"] for s in with_comments)
    assert all("photometry" not in s for s in items)  # silently ignored on the list
    assert "thumbnails" not in items[0]
    thumbs = data(server, "/api/sources", {"numPerPage": 2, "includeThumbnails": "true"})
    assert {t["type"] for t in thumbs["sources"][0]["thumbnails"]} == {"new", "ref", "sub"}


def test_source_detail_and_photometry_formats(server):
    src = data(
        server,
        "/api/sources/ZTF21aaqjmps",
        {"includePhotometry": "true", "includeComments": "true"},
    )
    assert src["redshift"] == 0.0246 and src["alias"] == ["SN 2021gvm"]
    assert abs(src["luminosity_distance"] - 111.04) < 0.1  # Planck18, Mpc
    assert {g["id"] for g in src["groups"]} == {1, 3, 4}
    mags = data(server, "/api/sources/ZTF21aaqjmps/photometry")
    fluxes = data(server, "/api/sources/ZTF21aaqjmps/photometry", {"format": "flux"})
    assert len(mags) == len(fluxes) == len(src["photometry"]) == 174
    assert {p["filter"] for p in mags} == {"ztfg", "ztfr"}
    by_id = {p["id"]: p for p in fluxes}
    detections = [p for p in mags if p["mag"] is not None]
    limits = [p for p in mags if p["mag"] is None]
    assert detections and limits
    for p in detections:
        f = by_id[p["id"]]
        assert f["zp"] == 23.9 and f["magsys"] == "ab"
        assert f["flux"] == pytest.approx(10 ** (-0.4 * (p["mag"] - 23.9)), rel=1e-9)
        assert p["limiting_mag"] == pytest.approx(23.9 - 2.5 * np.log10(5 * f["fluxerr"]))
    for p in limits:
        assert by_id[p["id"]]["flux"] is None and p["limiting_mag"] > 17
    peak = min(p["mag"] for p in detections)
    assert 16.5 < peak < 18.0  # an SN II at 111 Mpc
    r = get(server, "/api/sources/ZTF21aaqjmps/photometry", {"format": "jansky"})
    assert r.status_code == 400
    one = data(server, "/api/photometry/1")
    assert one["id"] == 1 and "annotations" in one
    assert get(server, "/api/photometry/99999999").status_code == 400


def test_source_spectra_have_redshifted_halpha(server):
    payload = data(server, "/api/sources/ZTF21aaqjmps/spectra")
    assert payload["obj_id"] == "ZTF21aaqjmps"
    spec = payload["spectra"][0]
    assert spec["id"] == 3 and spec["instrument_name"] == "SPRAT"
    wave, flux = np.array(spec["wavelengths"]), np.array(spec["fluxes"])
    halpha = 6562.8 * (1 + 0.0246)
    near = np.abs(wave - halpha) < 15
    continuum = (np.abs(wave - halpha) > 300) & (np.abs(wave - halpha) < 500)
    assert flux[near].max() > 1.5 * np.median(flux[continuum])  # broad H-alpha emission
    for sid in (1, 2, 3):
        assert data(server, f"/api/spectra/{sid}")["id"] == sid
    assert get(server, "/api/spectra/987654").status_code == 404


def test_spectra_list_is_bare_and_filterable(server):
    minimal = data(server, "/api/spectra", {"minimalPayload": "true"})
    assert isinstance(minimal, list) and len(minimal) >= 3
    assert "wavelengths" not in minimal[0]
    modified = sorted(parse_time(s["modified"]) for s in minimal)
    later = data(
        server, "/api/spectra", {"minimalPayload": "true", "modifiedAfter": iso(modified[1])}
    )
    assert len(later) == sum(m > modified[1] for m in modified)
    full = data(server, "/api/spectra", {"obj_id": "ZTF21aaqjmps"})
    assert [s["id"] for s in full] == [3] and len(full[0]["wavelengths"]) > 100


def test_classifications_per_source_and_list(server):
    per = data(server, "/api/sources/ZTF18aabcvnq/classifications")
    assert [c["classification"] for c in per] == ["Time-domain Source", "variable"]
    assert {"votes", "edits"} <= set(per[0])
    listing = data(server, "/api/classification", {"numPerPage": 2})
    assert set(listing) == {"classifications", "totalMatches"}
    assert len(listing["classifications"]) == 2 and listing["totalMatches"] > 2
    window = data(
        server, "/api/classification", {"startDate": "2018-01-01", "endDate": "2018-12-31"}
    )
    assert {c["obj_id"] for c in window["classifications"]} == {"ZTF18aabcvnq"}


def test_candidates_list_query_id_and_filters(server):
    first = data(server, "/api/candidates", {"numPerPage": 10})
    assert set(first) == {"queryID", "pageNumber", "numPerPage", "totalMatches", "candidates"}
    assert first["totalMatches"] == 30
    cand = first["candidates"][0]
    for key in (
        "passing_group_ids",
        "saved_groups",
        "photstats",
        "thumbnails",
        "is_source",
        "last_detected_at",
        "annotations",
    ):
        assert key in cand
    assert any(a["origin"] == "kowalski" and "drb" in a["data"] for a in cand["annotations"])
    passed_order = [c["id"] for c in first["candidates"]]
    again = data(
        server,
        "/api/candidates",
        {"numPerPage": 10, "pageNumber": 1, "useCache": "true", "queryID": first["queryID"]},
    )
    assert again["queryID"] == first["queryID"]
    assert [c["id"] for c in again["candidates"]] == passed_order
    unsaved = data(
        server, "/api/candidates", {"numPerPage": 100, "savedStatus": "notSavedToAnyAccessible"}
    )
    assert unsaved["totalMatches"] > 0
    assert all(not c["is_source"] for c in unsaved["candidates"])
    window = data(server, "/api/candidates", {"startDate": "2021-03-01", "endDate": "2021-04-01"})
    assert [c["id"] for c in window["candidates"]] == ["ZTF21aaqjmps"]
    program_b = data(server, "/api/candidates", {"numPerPage": 100, "groupIDs": "4"})
    assert all(4 in c["passing_group_ids"] for c in program_b["candidates"])
    ranked = data(
        server,
        "/api/candidates",
        {
            "numPerPage": 100,
            "sortByAnnotationOrigin": "kowalski",
            "sortByAnnotationKey": "drb",
            "sortByAnnotationOrder": "desc",
        },
    )["candidates"]
    drb = [
        next(a["data"]["drb"] for a in c["annotations"] if a["origin"] == "kowalski")
        for c in ranked
    ]
    assert drb == sorted(drb, reverse=True)
    r = get(server, "/api/candidates", {"savedStatus": "maybe"})
    assert r.status_code == 400 and "savedStatus" in r.json()["message"]


def test_candidate_detail_and_head(server):
    cand = data(server, "/api/candidates/ZTF21aaqjmps")
    assert cand["is_source"] == 3  # the single-candidate view counts the saved groups
    assert (
        requests.head(
            f"{server.url}/api/candidates/ZTF21aaqjmps", headers=server.headers
        ).status_code
        == 200
    )
    assert (
        requests.head(f"{server.url}/api/candidates/nope", headers=server.headers).status_code
        == 404
    )


def test_thumbnail_urls_serve_real_pngs(server):
    from PIL import Image

    thumbs = data(server, "/api/sources", {"numPerPage": 1, "includeThumbnails": "true"})[
        "sources"
    ][0]["thumbnails"]
    for thumb in thumbs:
        r = requests.get(server.url + thumb["public_url"], timeout=30)
        assert r.status_code == 200 and r.headers["Content-Type"] == "image/png"
        image = Image.open(io.BytesIO(r.content))
        assert image.size == (63, 63)
    assert requests.get(server.url + "/static/thumbnails/aa/bb/nothing_new.png").status_code == 404


def test_groups_taxonomy_config(server):
    groups = data(server, "/api/groups")
    assert set(groups) == {"user_groups", "user_accessible_groups", "all_groups"}
    assert [g["name"] for g in groups["all_groups"]] == ["Program A", "Program B", "Sitewide Group"]
    assert data(server, "/api/groups/public")["name"] == "Sitewide Group"
    import tdtax

    tax = data(server, "/api/taxonomy")
    assert tax[0]["hierarchy"] == tdtax.taxonomy and tax[0]["version"] == tdtax.__version__
    config = data(server, "/api/config")
    assert "source" in config["allowedSpectrumTypes"]


def test_galaxy_catalog_pages_with_page_number(server):
    names = data(server, "/api/galaxy_catalog", {"catalogNamesOnly": "true"})
    assert names == [{"catalog_name": "CLU_mini", "catalog_count": names[0]["catalog_count"]}]
    page = data(server, "/api/galaxy_catalog", {"catalog_name": "CLU_mini", "numPerPage": 2})
    assert set(page) == {"galaxies", "totalMatches", "page", "numPerPage"}
    assert len(page["galaxies"]) == 2 and page["page"] == 1
    second = data(server, "/api/galaxy_catalog", {"numPerPage": 2, "pageNumber": 2})
    assert second["galaxies"][0]["id"] != page["galaxies"][0]["id"] and second["page"] == 2
    # SkyPortal 1.4.0 ignores ``page``: page=2 is page 1
    ignored = data(server, "/api/galaxy_catalog", {"numPerPage": 2, "page": 2})
    assert ignored["page"] == 1 and ignored["galaxies"] == page["galaxies"]
    past = data(server, "/api/galaxy_catalog", {"numPerPage": 2, "pageNumber": 10**6})
    assert past["galaxies"] == [] and past["totalMatches"] == page["totalMatches"]
    default = data(server, "/api/galaxy_catalog")
    assert default["numPerPage"] == 1000
    assert (
        data(server, "/api/galaxy_catalog/doesnotexist", {"numPerPage": 2})["totalMatches"]
        == page["totalMatches"]
    )  # the path segment is ignored, as in SkyPortal
    r = get(server, "/api/galaxy_catalog", {"catalog_name": "doesnotexist"})
    assert r.status_code == 400
    assert r.json()["message"] == "get_galaxies fails: Catalog with name doesnotexist not found"


def test_gcn_events_and_multiorder_localization(server):
    events = data(server, "/api/gcn_event")
    assert set(events) == {"events", "totalMatches"} and events["totalMatches"] == 4
    loc = data(server, "/api/localization/2019-08-14T21:10:39/name/LALInference.v1.fits.gz")
    uniq = np.array(loc["uniq"])
    order = np.log2(uniq // 4).astype(int) // 2
    assert len(np.unique(order)) >= 3  # genuinely multi-order
    area = 4 * np.pi / (12 * 4.0**order)
    prob = np.array(loc["probdensity"]) * area
    assert prob.sum() == pytest.approx(1.0, abs=1e-9)
    mu, sigma, norm = (np.array(loc[k]) for k in ("distmu", "distsigma", "distnorm"))
    r = np.linspace(0, 2000, 20001)
    i = int(np.argmax(prob))
    integrand = (
        r**2 * np.exp(-0.5 * ((r - mu[i]) / sigma[i]) ** 2) / (sigma[i] * np.sqrt(2 * np.pi))
    )
    assert norm[i] * np.trapezoid(integrand, r) == pytest.approx(1.0, rel=1e-4)
    grb = data(server, "/api/localization/2018-01-16T00:36:53/name/214.74000_28.14000_11.19000")
    assert grb["distmu"] is None
    event = data(server, "/api/gcn_event/2019-08-14T21:10:39")
    assert event["aliases"] == ["LVC#S190814bv"]
    assert "distmu" not in event["localizations"][0]
    assert get(server, "/api/localization/2019-08-14T21:10:39/name/nope").status_code == 404


def test_localization_download_is_a_multiorder_fits(server):
    from astropy.table import Table

    r = get(server, "/api/localization/2019-08-14T21:10:39/name/LALInference.v1.fits.gz/download")
    assert r.status_code == 200 and r.content[:6] == b"SIMPLE"
    table = Table.read(io.BytesIO(r.content), format="fits")
    assert {"UNIQ", "PROBDENSITY", "DISTMU", "DISTSIGMA", "DISTNORM"} <= set(table.colnames)
    assert table.meta["ORDERING"] == "NUNIQ"
    order = np.log2(np.asarray(table["UNIQ"]) // 4).astype(int) // 2
    prob = np.asarray(table["PROBDENSITY"]) * 4 * np.pi / (12 * 4.0**order)
    assert prob.sum() == pytest.approx(1.0, abs=1e-9)


def test_localization_filters_find_the_gw_counterpart_and_galaxies(server):
    loc = {
        "localizationDateobs": "2019-08-14T21:10:39",
        "localizationName": "LALInference.v1.fits.gz",
        "localizationCumprob": 0.9,
    }
    bounds = {"startDate": "2017-01-01", "endDate": "2026-12-31"}
    inside = data(server, "/api/sources", dict(loc, numPerPage=100, **bounds))
    assert inside["totalMatches"] >= 1
    assert all(abs(s["dec"] + 25.2) < 6 for s in inside["sources"])
    galaxies = data(server, "/api/galaxy_catalog", dict(loc, numPerPage=1000))
    assert galaxies["totalMatches"] >= 5
    everything = data(server, "/api/galaxy_catalog", {"numPerPage": 1000})["totalMatches"]
    assert galaxies["totalMatches"] < everything
    tiny = data(
        server,
        "/api/candidates",
        {
            "localizationDateobs": "2026-08-06T23:02:28",
            "localizationCumprob": 0.99,
            "firstDetectionAfter": "2017-01-01",
            "lastDetectionBefore": "2026-12-31",
            "numberDetections": 1,
        },
    )
    assert [c["id"] for c in tiny["candidates"]] == ["ZTF26abmjjnm"]  # EP260806a counterpart


def test_same_seed_same_data(make_server):
    a = make_server(sources=40, candidates=12, seed=7)
    b = make_server(sources=40, candidates=12, seed=7)
    c = make_server(sources=40, candidates=12, seed=8)
    for path, params in (
        ("/api/sources", {"numPerPage": 40, "includeComments": "true"}),
        ("/api/sources/ZTF21aaqjmps/photometry", None),
        ("/api/classification", {"numPerPage": 500}),
        ("/api/spectra", None),
    ):
        da, db = data(a, path, params), data(b, path, params)
        if path == "/api/classification":  # unordered on purpose: compare as sets
            da = sorted(da["classifications"], key=lambda x: x["id"])
            db = sorted(db["classifications"], key=lambda x: x["id"])
        assert da == db, path
    ids = lambda srv: [s["id"] for s in data(srv, "/api/sources", {"numPerPage": 40})["sources"]]  # noqa: E731
    assert ids(a) != ids(c)


def test_localization_queries_need_detection_bounds_like_skyportal_1_4(server):
    loc = {"localizationDateobs": "2019-08-14T21:10:39", "localizationCumprob": 0.9}
    suffix = "when filtering by localizationDateobs or localizationName"
    missing = {
        "/api/sources": f"must specify startDate and endDate {suffix}",
        "/api/candidates": "must specify startDate, endDate and numberDetections when "
        "requireDetections is True and filtering by localizationDateobs or localizationName",
    }
    for path, first, last in (
        ("/api/sources", "startDate", "endDate"),
        ("/api/candidates", "firstDetectionAfter", "lastDetectionBefore"),
    ):
        r = get(server, path, loc)
        assert r.status_code == 400 and r.json()["message"] == missing[path]
        if path == "/api/candidates":  # the bounds alone are not enough
            r = get(server, path, dict(loc, **{first: "2019-01-01", last: "2019-12-31"}))
            assert r.status_code == 400 and r.json()["message"] == missing[path]
            loc = dict(loc, numberDetections=1)
        r = get(server, path, dict(loc, **{first: "2020-01-01", last: "2019-01-01"}))
        assert r.json()["message"] == f"startDate must be before endDate {suffix}"
        r = get(server, path, dict(loc, **{first: "2000-01-01", last: "2019-01-01"}))
        assert r.json()["message"] == (
            f"startDate and endDate must be less than 10 years apart {suffix}"
        )
        r = get(server, path, dict(loc, **{first: "2010-01-01", last: "2019-12-31"}))
        assert r.status_code == 200, r.text
