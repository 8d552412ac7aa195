"""Step-3 endpoints of the API docs: table-driven resources and the special ones."""

from __future__ import annotations

import io

import numpy as np
import pytest
import requests
from PIL import Image


def call(srv, method, path, json=None, params=None):
    return requests.request(
        method, srv.url + path, json=json, params=params, headers=srv.headers, timeout=30
    )


def ok(srv, method, path, json=None, params=None):
    r = call(srv, method, path, json, params)
    assert r.status_code == 200, r.text
    return r


@pytest.mark.parametrize(
    "name, body, update, change",
    [
        (
            "allocation",
            {"group_id": 3, "instrument_id": 3, "hours_allocated": 5},
            "PUT",
            {"hours_allocated": 9},
        ),
        (
            "assignment",
            {"obj_id": "ZTF21aaqjmps", "run_id": 2, "priority": "1"},
            "PUT",
            {"status": "complete"},
        ),
        ("filters", {"name": "fast", "stream_id": 1, "group_id": 4}, "PATCH", {"name": "faster"}),
        (
            "followup_request",
            {"obj_id": "ZTF18aabcvnq", "allocation_id": 1, "payload": {"priority": 4}},
            "PUT",
            {"status": "pending"},
        ),
        (
            "observing_run",
            {"instrument_id": 4, "calendar_date": "2026-12-01", "pi": "Me"},
            "PUT",
            {"observers": "Us"},
        ),
    ],
)
def test_crud_resources(make_server, name, body, update, change):
    srv = make_server()

    def one(rid):
        data = ok(srv, "GET", f"/api/{name}/{rid}").json()["data"]
        return data["allocation"] if name == "allocation" else data  # wrapped, as on 1.4.0

    new = ok(srv, "POST", f"/api/{name}", body).json()["data"]["id"]
    got = one(new)
    assert {k: got[k] for k in body} == body
    ok(srv, update, f"/api/{name}/{new}", change)
    assert {k: one(new)[k] for k in change} == change
    wrong = "PATCH" if update == "PUT" else "PUT"
    assert call(srv, wrong, f"/api/{name}/{new}", change).status_code == 405
    listed = ok(srv, "GET", f"/api/{name}").json()["data"]
    items = listed["followup_requests"] if name == "followup_request" else listed
    assert new in {r["id"] for r in items}
    ok(srv, "DELETE", f"/api/{name}/{new}")
    assert call(srv, "GET", f"/api/{name}/{new}").status_code == (
        400 if name == "allocation" else 404  # "Could not retrieve allocation."
    )
    assert call(srv, "DELETE", f"/api/{name}/{new}").status_code == 404


def test_resource_validation_messages(server):
    r = call(server, "POST", "/api/allocation", {"group_id": 3})
    assert r.status_code == 400 and "hours_allocated" in r.json()["message"]
    r = call(
        server,
        "POST",
        "/api/allocation",
        {"group_id": 3, "instrument_id": 3, "hours_allocated": 1, "colour": "red"},
    )
    assert r.status_code == 400 and "colour" in r.json()["message"]
    r = call(server, "POST", "/api/followup_request", {"obj_id": "nope", "allocation_id": 1})
    assert r.status_code == 400 and "obj_id" in r.json()["message"]
    r = call(server, "POST", "/api/instrument", {"name": "x"})
    assert r.status_code == 400
    assert ok(server, "GET", "/api/telescope/5").json()["data"]["nickname"] == "Keck1"


def test_facility_message_and_prioritization(make_server):
    srv = make_server()
    ok(srv, "POST", "/api/facility", {"followup_request_id": 2, "new_status": "observed"})
    assert ok(srv, "GET", "/api/followup_request/2").json()["data"]["status"] == "observed"
    assert call(srv, "POST", "/api/facility", {"new_status": "x"}).status_code == 400
    out = ok(
        srv,
        "PUT",
        "/api/followup_request/prioritization",
        {"requestIds": [1, 2, 3], "minimumPriority": 1, "maximumPriority": 5},
    ).json()
    priorities = sorted(r["payload"]["priority"] for r in out["data"])
    assert priorities == [1.0, 3.0, 5.0]
    assert ok(srv, "GET", "/api/photometry_request/1").json()["data"]["id"] == 1
    assert call(srv, "PUT", "/api/followup_request/prioritization", {}).status_code == 400


def test_schedule_bytes_in_three_formats(server):
    csv_text = ok(
        server, "GET", "/api/followup_request/schedule/3", params={"output_format": "csv"}
    ).text.splitlines()
    assert csv_text[0] == "request_id,obj_id,ra,dec,priority,status" and len(csv_text) >= 4
    png = ok(server, "GET", "/api/followup_request/schedule/3", params={"output_format": "png"})
    assert png.headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).format == "PNG"
    pdf = ok(server, "GET", "/api/followup_request/schedule/3")
    assert pdf.content.startswith(b"%PDF")
    assert call(server, "GET", "/api/followup_request/schedule/77").status_code == 404


def test_offsets_and_finder(server):
    offs = ok(
        server, "GET", "/api/sources/ZTF21aaqjmps/offsets", params={"num_offset_stars": 2}
    ).json()["data"]
    assert offs["noffsets"] == 2 and len(offs["starlist_info"]) == 3
    assert offs["starlist_str"].startswith("ZTF21aaqjmps") and "13 30 01" in offs["starlist_str"]
    assert (
        call(
            server, "GET", "/api/sources/ZTF21aaqjmps/offsets", params={"facility": "Hubble"}
        ).status_code
        == 400
    )
    png = ok(server, "GET", "/api/sources/ZTF21aaqjmps/finder", params={"type": "png"})
    assert Image.open(io.BytesIO(png.content)).size == (600, 600)
    assert ok(server, "GET", "/api/sources/ZTF21aaqjmps/finder").content.startswith(b"%PDF")
    assert (
        call(server, "GET", "/api/sources/ZTF21aaqjmps/finder", params={"imsize": 40}).status_code
        == 400
    )


def test_synthetic_photometry_of_a_flat_fnu_spectrum(make_server):
    srv = make_server()
    wave = np.linspace(3800, 9200, 2000)
    f_nu = 10 ** (-0.4 * (18.0 + 48.6))  # AB 18 everywhere
    f_lambda = f_nu * 2.99792458e18 / wave**2
    sid = ok(
        srv,
        "POST",
        "/api/spectra",
        {
            "obj_id": "ZTF18aabcvnq",
            "instrument_id": 3,
            "observed_at": "2026-10-01T05:00:00",
            "wavelengths": wave.tolist(),
            "fluxes": f_lambda.tolist(),
        },
    ).json()["data"]["id"]
    ids = ok(srv, "POST", f"/api/spectra/synthphot/{sid}", params={"filters": "ztfg,ztfr"}).json()[
        "data"
    ]["ids"]
    for pid in ids:
        point = ok(srv, "GET", f"/api/photometry/{pid}").json()["data"]
        assert point["mag"] == pytest.approx(18.0, abs=1e-3)
    as_body = ok(srv, "POST", f"/api/spectra/synthphot/{sid}", {"filters": ["ztfi"]})
    assert len(as_body.json()["data"]["ids"]) == 1  # SkyPortal's own tests send a JSON list
    assert (
        call(
            srv, "POST", f"/api/spectra/synthphot/{sid}", params={"filters": "johnsonU"}
        ).status_code
        == 400
    )


def test_tns_db_stats_and_filter_versions(make_server):
    srv = make_server()
    ok(srv, "POST", "/api/spectrum/tns/3", {"tnsrobotID": 1})
    assert srv.store.tns_submissions[0]["spectrum_id"] == 3
    assert call(srv, "POST", "/api/spectrum/tns/999").status_code == 404
    stats = ok(srv, "GET", "/api/db_stats").json()["data"]
    assert stats["Number of sources"] == 60
    v = ok(srv, "POST", "/api/filters/1/v", {"pipeline": [{"$match": {"drb": {"$gt": 0.9}}}]})
    assert v.json()["data"]["active_fid"] == "v1"
    ok(srv, "PATCH", "/api/filters/1/v", {"filter_id": 1, "active": False})
    assert call(srv, "PATCH", "/api/filters/1/v", {"filter_id": 2}).status_code == 400
    assert ok(srv, "GET", "/api/filters/1/v").json()["data"]["active"] is False
    assert call(srv, "PATCH", "/api/filters/1/v", {"active_fid": "v9"}).status_code == 400
    assert call(srv, "GET", "/api/filters/99/v").status_code == 404
    # a filter created through the API passes candidates to its group
    fid = ok(srv, "POST", "/api/filters", {"name": "new", "stream_id": 1, "group_id": 1}).json()[
        "data"
    ]["id"]
    ok(
        srv,
        "POST",
        "/api/candidates",
        {"id": "ZTF18aabcvnq", "filter_ids": [fid], "passed_at": "2026-11-01T00:00:00"},
    )
    got = ok(srv, "GET", "/api/candidates", params={"filterIDs": fid}).json()["data"]
    assert [c["id"] for c in got["candidates"]] == ["ZTF18aabcvnq"]
    assert got["candidates"][0]["passing_group_ids"] == [1]


def test_galaxy_catalog_ingest_and_query(make_server):
    srv = make_server()
    body = {
        "catalog_name": "MINI2",
        "catalog_data": {
            "name": ["g1", "g2", "g3"],
            "ra": [10.0, 20.0, 30.0],
            "dec": [0.0, 5.0, -5.0],
            "distmpc": [50.0, None, 150.0],
            "mstar": [1e10, 2e9, None],
        },
    }
    ok(srv, "POST", "/api/galaxy_catalog", body)
    names = ok(srv, "GET", "/api/galaxy_catalog", params={"catalogNamesOnly": "true"}).json()
    assert {c["catalog_name"]: c["catalog_count"] for c in names["data"]}["MINI2"] == 3
    got = ok(
        srv, "GET", "/api/galaxy_catalog", params={"catalog_name": "MINI2", "sortBy": "distmpc"}
    ).json()["data"]
    assert [g["name"] for g in got["galaxies"]] == ["g1", "g3", "g2"]
    assert got["galaxies"][0]["catalog_id"] == 2
    near = ok(
        srv,
        "GET",
        "/api/galaxy_catalog",
        params={"catalog_name": "MINI2", "ra": 20, "dec": 5, "radius": 1},
    ).json()["data"]
    assert [g["name"] for g in near["galaxies"]] == ["g2"]
    bad = dict(body, catalog_data={"name": ["x"], "ra": [1.0]})
    assert call(srv, "POST", "/api/galaxy_catalog", bad).status_code == 400
    ok(srv, "DELETE", "/api/galaxy_catalog/MINI2")
    assert (
        call(srv, "GET", "/api/galaxy_catalog", params={"catalog_name": "MINI2"}).status_code == 400
    )


def test_records_have_the_fields_of_skyportal_1_4_models(make_server):
    """Issue 9: the local server's drift from a real SkyPortal 1.4.0."""
    srv = make_server()
    for name in ("allocation", "filters", "observing_run"):
        for rec in ok(srv, "GET", f"/api/{name}").json()["data"]:
            assert "requester_id" not in rec and "last_modified_by_id" not in rec, name
            assert not [k for k in rec if k.startswith("_")], name
    body = {"group_id": 3, "instrument_id": 3, "hours_allocated": 5, "_altdata": {"k": "v"}}
    new = ok(srv, "POST", "/api/allocation", body).json()["data"]["id"]
    whole = ok(srv, "GET", f"/api/allocation/{new}").json()["data"]
    assert set(whole) == {"allocation", "totalMatches"}
    assert "_altdata" not in whole["allocation"] and whole["allocation"]["requests"] == []
    assert whole["allocation"]["telescope"]["nickname"]
    assert ok(srv, "GET", "/api/allocation/1").json()["data"]["totalMatches"] == 3
    r = call(srv, "GET", "/api/allocation/999")
    assert r.status_code == 400 and r.json()["message"] == "Could not retrieve allocation."
    listed = ok(srv, "GET", "/api/allocation").json()["data"]
    assert all(rec["allocation_users"] == [] for rec in listed)
    # follow-up requests: target_group_ids in, target_groups (Group records) out
    body = {"obj_id": "ZTF18aabcvnq", "allocation_id": 1, "target_group_ids": [3, 4]}
    new = ok(srv, "POST", "/api/followup_request", body).json()["data"]["id"]
    rec = ok(srv, "GET", f"/api/followup_request/{new}").json()["data"]
    assert "target_group_ids" not in rec and [g["id"] for g in rec["target_groups"]] == [3, 4]
    assert rec["requester_id"] == 1 and rec["last_modified_by_id"] == 1
    bad = dict(body, target_group_ids=[999])
    assert call(srv, "POST", "/api/followup_request", bad).status_code == 400


def test_listing_without_a_user_id_is_the_current_users(make_server):
    srv = make_server()
    ok(srv, "POST", "/api/listing", {"obj_id": "ZTF21aaqjmps", "list_name": "favorites"})
    mine = ok(srv, "GET", "/api/listing", params={"listName": "favorites"}).json()["data"]
    assert [x["obj_id"] for x in mine] == ["ZTF21aaqjmps"]
    assert (
        ok(srv, "GET", "/api/listing/1").json()["data"]
        == ok(srv, "GET", "/api/listing").json()["data"]
    )


def test_a_sources_assignments_nest_the_observing_run(make_server):
    srv = make_server()
    listed = ok(srv, "GET", "/api/assignment").json()["data"]
    source = ok(srv, "GET", "/api/sources/ZTF21aaqjmps").json()["data"]
    mine = [a for a in listed if a["obj_id"] == "ZTF21aaqjmps"]
    assert [a["id"] for a in source["assignments"]] == [a["id"] for a in mine] != []
    run = source["assignments"][0]["run"]
    assert run["id"] == mine[0]["run_id"] and run["instrument"]["telescope"]["nickname"]
    assert {"owner_id", "run_end_utc", "calendar_date"} <= set(run)
    assert ok(srv, "GET", "/api/sources/ZTF18aabcvnq").json()["data"]["assignments"] == []
