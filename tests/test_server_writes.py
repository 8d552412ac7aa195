"""Writes the outbox needs: everything posted shows up in later reads, with SkyPortal's
errors, and ``modified`` moves the way SkyPortal moves it."""

from __future__ import annotations

import base64

import requests

from workbench.server.timeutil import parse_time


def call(srv, method, path, json=None, params=None):
    return requests.request(
        method, srv.url + path, json=json, params=params, headers=srv.headers, timeout=30
    )


def ok(srv, method, path, json=None, params=None):
    r = call(srv, method, path, json, params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_classification_post_put_delete(make_server):
    srv = make_server()
    before = ok(srv, "GET", "/api/classification", params={"numPerPage": 500})["totalMatches"]
    cid = ok(
        srv,
        "POST",
        "/api/classification",
        {
            "obj_id": "ZTF21aaqjmps",
            "classification": "Ia",
            "taxonomy_id": 1,
            "probability": 0.7,
            "group_ids": [3],
        },
    )["classification_id"]
    per = ok(srv, "GET", "/api/sources/ZTF21aaqjmps/classifications")
    assert [c["classification"] for c in per if c["id"] == cid] == ["Ia"]
    listing = ok(srv, "GET", "/api/classification", params={"numPerPage": 500})
    assert listing["totalMatches"] == before + 1
    mine = next(c for c in listing["classifications"] if c["id"] == cid)
    ok(srv, "PUT", f"/api/classification/{cid}", {"probability": 0.95})
    edited = ok(srv, "GET", f"/api/classification/{cid}")
    assert edited["probability"] == 0.95
    assert parse_time(edited["modified"]) > parse_time(mine["modified"])
    assert parse_time(edited["created_at"]) == parse_time(mine["created_at"])
    r = call(srv, "PUT", f"/api/classification/{cid}", {"classification": "Dragon"})
    assert r.status_code == 400 and "Dragon" in r.json()["message"]
    ok(srv, "DELETE", f"/api/classification/{cid}")
    assert call(srv, "GET", f"/api/classification/{cid}").status_code == 400
    assert call(srv, "DELETE", f"/api/classification/{cid}").status_code == 400


def test_classification_errors_as_captured(server):
    cases = [
        (
            {
                "obj_id": "ZTF21aaqjmps",
                "classification": "NotARealClass",
                "taxonomy_id": 1,
                "probability": 0.5,
            },
            "Error posting classification: That classification (NotARealClass) is not in the "
            "allowed classes for the chosen taxonomy (id=1",
        ),
        (
            {"obj_id": "ZTF21aaqjmps", "classification": "Time-domain Source"},
            "Error posting classification: 'taxonomy_id'",
        ),
        (
            {"obj_id": "doesnotexist", "classification": "Time-domain Source", "taxonomy_id": 1},
            "Error posting classification: Cannot find object with ID doesnotexist.",
        ),
    ]
    for body, message in cases:
        r = call(server, "POST", "/api/classification", body)
        assert r.status_code == 400 and r.json()["message"] == message
    r = call(
        server,
        "POST",
        "/api/classification",
        {"obj_id": "ZTF21aaqjmps", "classification": "Ia", "taxonomy_id": 1, "probability": 3},
    )
    assert r.status_code == 400 and "probability" in r.json()["message"]


def test_source_groups_sequence_as_captured(make_server):
    srv = make_server()
    groups = lambda: {g["id"] for g in ok(srv, "GET", "/api/sources/ZTF26abmjjnm")["groups"]}  # noqa: E731
    assert groups() == {1, 3}
    assert (
        ok(srv, "POST", "/api/source_groups", {"objId": "ZTF26abmjjnm", "inviteGroupIds": [4]})
        == {}
    )
    assert groups() == {1, 3, 4}
    r = call(srv, "POST", "/api/source_groups", {"objId": "ZTF26abmjjnm", "inviteGroupIds": [4]})
    assert (r.status_code, r.json()["message"]) == (400, "Source already saved to group w/ ID 4")
    r = call(srv, "POST", "/api/source_groups", {"objId": "ZTF26abmjjnm"})
    assert r.status_code == 400 and r.json()["message"].startswith("Missing required parameter")
    r = call(srv, "POST", "/api/source_groups", {"objId": "doesnotexist", "inviteGroupIds": [4]})
    assert (r.status_code, r.json()["message"]) == (404, "Obj doesnotexist not found")
    ok(srv, "POST", "/api/source_groups", {"objId": "ZTF26abmjjnm", "unsaveGroupIds": [4]})
    assert groups() == {1, 3}
    in4 = ok(srv, "GET", "/api/sources", params={"group_ids": 4, "numPerPage": 500})
    assert "ZTF26abmjjnm" not in {s["id"] for s in in4["sources"]}


def test_comments_post_edit_delete_and_attachment(make_server):
    srv = make_server()
    body = {
        "text": "Spectrum looks like a IIb",
        "attachment": {"name": "notes.txt", "body": base64.b64encode(b"hello").decode()},
    }
    cid = ok(srv, "POST", "/api/sources/ZTF21aaqjmps/comments", body)["comment_id"]
    listed = ok(srv, "GET", "/api/sources/ZTF21aaqjmps/comments")
    assert any(c["id"] == cid and c["text"] == body["text"] for c in listed)
    assert listed[0]["resourceType"] == "sources"
    raw = requests.get(
        f"{srv.url}/api/sources/ZTF21aaqjmps/comments/{cid}/attachment",
        headers=srv.headers,
        timeout=30,
    )
    assert raw.content == b"hello"
    ok(srv, "PUT", f"/api/sources/ZTF21aaqjmps/comments/{cid}", {"text": "IIb for sure"})
    assert ok(srv, "GET", f"/api/sources/ZTF21aaqjmps/comments/{cid}")["text"] == "IIb for sure"
    ok(srv, "DELETE", f"/api/sources/ZTF21aaqjmps/comments/{cid}")
    assert call(srv, "GET", f"/api/sources/ZTF21aaqjmps/comments/{cid}").status_code == 404
    spec = ok(srv, "POST", "/api/spectra/3/comments", {"text": "nice spectrum"})["comment_id"]
    assert [c["id"] for c in ok(srv, "GET", "/api/spectra/3/comments")] == [spec]
    assert call(srv, "POST", "/api/sources/nope/comments", {"text": "x"}).status_code == 404
    assert call(srv, "POST", "/api/sources/ZTF21aaqjmps/comments", {"text": ""}).status_code == 400


def test_listing_rejects_candidates(make_server):
    srv = make_server()
    first = ok(srv, "GET", "/api/candidates", params={"numPerPage": 100})
    target = first["candidates"][0]["id"]
    lid = ok(
        srv,
        "POST",
        "/api/listing",
        {"user_id": 1, "obj_id": target, "list_name": "rejected_candidates"},
    )["id"]
    lists = ok(srv, "GET", "/api/listing/1", params={"listName": "rejected_candidates"})
    assert [(x["id"], x["obj_id"]) for x in lists] == [(lid, target)]
    kept = ok(
        srv,
        "GET",
        "/api/candidates",
        params={"numPerPage": 100, "listNameReject": "rejected_candidates"},
    )
    assert kept["totalMatches"] == first["totalMatches"] - 1
    assert target not in {c["id"] for c in kept["candidates"]}
    again = call(
        srv,
        "POST",
        "/api/listing",
        {"user_id": 1, "obj_id": target, "list_name": "rejected_candidates"},
    )
    assert again.status_code == 400
    bad = call(srv, "POST", "/api/listing", {"obj_id": target, "list_name": "-x"})
    assert bad.status_code == 400


def test_posting_photometry_or_candidate_moves_modified(make_server):
    srv = make_server()
    before = ok(srv, "GET", "/api/sources/ZTF18aabcvnq")["modified"]
    ids = ok(
        srv,
        "POST",
        "/api/photometry",
        {
            "obj_id": "ZTF18aabcvnq",
            "mjd": [60000.1, 60001.2],
            "mag": [18.1, None],
            "magerr": [0.05, None],
            "limiting_mag": [20.5, 20.7],
            "filter": "ztfr",
            "instrument_id": 1,
            "magsys": "ab",
        },
    )["ids"]
    assert len(ids) == 2
    after = ok(srv, "GET", "/api/sources/ZTF18aabcvnq")["modified"]
    assert parse_time(after) > parse_time(before)
    changed = ok(srv, "GET", "/api/sources", params={"createdOrModifiedAfter": before})
    assert "ZTF18aabcvnq" in {s["id"] for s in changed["sources"]}
    points = {p["id"]: p for p in ok(srv, "GET", "/api/sources/ZTF18aabcvnq/photometry")}
    assert points[ids[0]]["mag"] == 18.1 and points[ids[1]]["mag"] is None
    flux = ok(srv, "GET", f"/api/photometry/{ids[0]}", params={"format": "flux"})
    assert abs(flux["flux"] - 10 ** (-0.4 * (18.1 - 23.9))) < 1e-6
    r = call(srv, "POST", "/api/photometry", {"obj_id": "ZTF18aabcvnq", "filter": "ztfg"})
    assert r.status_code == 400 and "mjd" in r.json()["message"]
    # a new candidate row on an existing object moves it too; on a new object creates it
    mid = ok(srv, "GET", "/api/sources/ZTF18aabcvnq")["modified"]
    ok(
        srv,
        "POST",
        "/api/candidates",
        {"id": "ZTF18aabcvnq", "filter_ids": [1], "passed_at": "2026-11-20T00:00:00"},
    )
    assert parse_time(ok(srv, "GET", "/api/sources/ZTF18aabcvnq")["modified"]) > parse_time(mid)
    new = ok(
        srv,
        "POST",
        "/api/candidates",
        {
            "id": "ZTF26newcand",
            "ra": 10.0,
            "dec": 20.0,
            "filter_ids": [2],
            "passed_at": "2026-11-20",
        },
    )
    assert len(new["ids"]) == 1
    assert ok(srv, "GET", "/api/candidates/ZTF26newcand")["id"] == "ZTF26newcand"
    assert call(srv, "GET", "/api/sources/ZTF26newcand").status_code == 404  # not saved


def test_post_source_then_patch(make_server):
    srv = make_server()
    assert ok(
        srv,
        "POST",
        "/api/sources",
        {"id": "ZTF26mynewone", "ra": 150.0, "dec": 2.2, "group_ids": [3]},
    ) == {"id": "ZTF26mynewone"}
    src = ok(srv, "GET", "/api/sources/ZTF26mynewone")
    assert [g["id"] for g in src["groups"]] == [3] and src["ra"] == 150.0
    ok(srv, "PATCH", "/api/sources/ZTF26mynewone", {"redshift": 0.05, "alias": ["SN 2026x"]})
    src2 = ok(srv, "GET", "/api/sources/ZTF26mynewone")
    assert src2["redshift"] == 0.05 and src2["alias"] == ["SN 2026x"]
    assert parse_time(src2["modified"]) > parse_time(src["modified"])
    assert (
        call(srv, "POST", "/api/sources", {"id": "has space", "ra": 1, "dec": 1}).status_code == 400
    )
    assert (
        call(srv, "POST", "/api/sources", {"id": "ZTF26noradec"}).json()["message"]
        == "RA/Declination must not be null for a new Obj"
    )


def test_spectra_post_json_and_ascii(make_server):
    srv = make_server()
    sid = ok(
        srv,
        "POST",
        "/api/spectra",
        {
            "obj_id": "ZTF21aaqjmps",
            "instrument_id": 3,
            "observed_at": "2021-04-05T03:00:00",
            "wavelengths": [4000, 5000, 6000],
            "fluxes": [1e-16, 2e-16, 1.5e-16],
        },
    )["id"]
    got = ok(srv, "GET", f"/api/spectra/{sid}")
    assert got["wavelengths"] == [4000, 5000, 6000] and got["instrument_name"] == "SEDM"
    text = "# wavelength flux err\n4000 1.0e-16 1e-18\n4010 1.1e-16 1e-18\n4020 1.2e-16 1e-18\n"
    aid = ok(
        srv,
        "POST",
        "/api/spectra/ascii",
        {
            "obj_id": "ZTF21aaqjmps",
            "instrument_id": 2,
            "observed_at": "2021-04-06",
            "ascii": text,
            "filename": "x.ascii",
            "fluxerr_column": 2,  # as in SkyPortal, errors only from a named column
        },
    )["id"]
    assert ok(srv, "GET", f"/api/spectra/{aid}")["errors"] == [1e-18] * 3
    minimal = ok(srv, "GET", "/api/spectra", params={"minimalPayload": "true"})
    assert {sid, aid} <= {s["id"] for s in minimal}
    bad = call(
        srv,
        "POST",
        "/api/spectra",
        {
            "obj_id": "ZTF21aaqjmps",
            "instrument_id": 3,
            "observed_at": "2021-04-05",
            "wavelengths": [1, 2],
            "fluxes": [1],
        },
    )
    assert bad.status_code == 400
    garbage = call(
        srv,
        "POST",
        "/api/spectra/ascii",
        {
            "obj_id": "ZTF21aaqjmps",
            "instrument_id": 2,
            "observed_at": "2021-04-06",
            "ascii": "not a spectrum",
        },
    )
    assert garbage.status_code == 400


def test_malformed_bodies_are_400(server):
    r = requests.post(
        server.url + "/api/classification", data=b"{not json", headers=server.headers, timeout=30
    )
    assert r.status_code == 400 and "JSON" in r.json()["message"]
    r = requests.post(
        server.url + "/api/classification", json=[1, 2], headers=server.headers, timeout=30
    )
    assert r.status_code == 400


def test_the_spectrum_family_answers_under_api_spectrum_too(make_server):
    """SkyPortal 1.4.0 routes /api/spectrum... to the same handlers as /api/spectra..."""
    srv = make_server()
    body = {
        "obj_id": "ZTF21aaqjmps",
        "instrument_id": 3,
        "observed_at": "2021-04-05T03:00:00",
        "wavelengths": [4000, 5000, 6000],
        "fluxes": [1e-16, 2e-16, 1.5e-16],
    }
    sid = ok(srv, "POST", "/api/spectrum", body)["id"]
    assert ok(srv, "GET", f"/api/spectrum/{sid}") == ok(srv, "GET", f"/api/spectra/{sid}")
    ok(srv, "PUT", f"/api/spectrum/{sid}", {"label": "relabelled"})
    assert ok(srv, "GET", f"/api/spectra/{sid}")["label"] == "relabelled"
    listed = ok(srv, "GET", "/api/spectrum", params={"minimalPayload": "true"})
    assert sid in {s["id"] for s in listed}
    text = "# wavelength flux\n4000 1.0e-16\n4010 1.1e-16\n4020 1.2e-16\n"
    ascii_body = {"ascii": text, "filename": "x.ascii"}
    assert ok(srv, "POST", "/api/spectrum/parse/ascii", ascii_body) == ok(
        srv, "POST", "/api/spectra/parse/ascii", ascii_body
    )
    upload = dict(ascii_body, obj_id="ZTF21aaqjmps", instrument_id=2, observed_at="2021-04-06")
    aid = ok(srv, "POST", "/api/spectrum/ascii", upload)["id"]
    window = {"min_date": "2021-04-04", "max_date": "2021-04-07"}
    assert {sid, aid} <= {s["id"] for s in ok(srv, "GET", "/api/spectrum/range", params=window)}
    ok(srv, "DELETE", f"/api/spectrum/{sid}")
    assert call(srv, "GET", f"/api/spectra/{sid}").status_code in (400, 404)
