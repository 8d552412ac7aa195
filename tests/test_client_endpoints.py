"""Every named endpoint method sends the documented method, path, query and body.

The table below is the contract with ``seed-endpoints.md``: one row per method of the
``*API`` classes (a test checks none is missing), each run against a loopback server
that records the request and answers with a body of the shape the real server uses.
"""

from __future__ import annotations

import base64
import inspect
import json

import pytest
from test_client_httpd import Reply, ScriptedServer, Seen, err, ok

from workbench.client import SkyPortalClient
from workbench.client.api_candidates import CandidatesAPI
from workbench.client.api_comments import CommentsAPI
from workbench.client.api_gcn import GcnAPI
from workbench.client.api_observing import ObservingAPI
from workbench.client.api_sources import SourcesAPI
from workbench.client.api_spectra import SpectraAPI
from workbench.client.api_system import SystemAPI
from workbench.errors import BadRequest, NotFound

TOKEN = "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f"  # made up for the tests, not a real token
PDF = b"%PDF-1.4\n%binary\xff\xfe"
PAGE = {"totalMatches": 0, "pageNumber": 1, "numPerPage": 100}

# (method name, call, HTTP method, path, answer data or Reply, expected query, expected body)
ROWS = [
    # sources
    ("list_sources", lambda c: c.list_sources(group_ids=[3, 4], saved_after="2024-01-01", sort_by="saved_at"),
     "GET", "/api/sources", {"sources": [], **PAGE},
     {"group_ids": "3,4", "savedAfter": "2024-01-01", "sortBy": "saved_at", "pageNumber": "1", "numPerPage": "500"}, None),
    ("get_source", lambda c: c.get_source("ZTF21aaqjmps", includePhotometry=True),
     "GET", "/api/sources/ZTF21aaqjmps", {"id": "ZTF21aaqjmps"}, {"includePhotometry": "true"}, None),
    ("source_exists", lambda c: c.source_exists("ZTF21aaqjmps"), "HEAD", "/api/sources/ZTF21aaqjmps", Reply(200), {}, None),
    ("post_source", lambda c: c.post_source("ZTF99x", 10.5, -20.25, group_ids=[1]),
     "POST", "/api/sources", {"id": "ZTF99x"}, {}, {"id": "ZTF99x", "ra": 10.5, "dec": -20.25, "group_ids": [1]}),
    ("update_source", lambda c: c.update_source("ZTF99x", redshift=0.05),
     "PATCH", "/api/sources/ZTF99x", {}, {}, {"redshift": 0.05}),
    ("get_source_groups", lambda c: c.get_source_groups("ZTF99x"), "GET", "/api/sources/ZTF99x/groups", [], {}, None),
    ("update_source_groups", lambda c: c.update_source_groups("ZTF99x", save_to=[4], unsave_from=[3]),
     "POST", "/api/source_groups", {}, {}, {"objId": "ZTF99x", "inviteGroupIds": [4], "unsaveGroupIds": [3]}),
    ("save_source", lambda c: c.save_source("ZTF99x", [4]),
     "POST", "/api/source_groups", {}, {}, {"objId": "ZTF99x", "inviteGroupIds": [4], "unsaveGroupIds": []}),
    ("unsave_source", lambda c: c.unsave_source("ZTF99x", (4,)),
     "POST", "/api/source_groups", {}, {}, {"objId": "ZTF99x", "inviteGroupIds": [], "unsaveGroupIds": [4]}),
    ("get_source_photometry", lambda c: c.get_source_photometry("ZTF99x", format="flux"),
     "GET", "/api/sources/ZTF99x/photometry", [], {"format": "flux", "magsys": "ab"}, None),
    ("get_photometry", lambda c: c.get_photometry(12), "GET", "/api/photometry/12", {"id": 12},
     {"format": "mag", "magsys": "ab"}, None),
    ("get_photometry_range", lambda c: c.get_photometry_range(min_date="2024-01-01T00:00:00", instrument_ids=[1]),
     "GET", "/api/photometry/range", [],
     {"format": "mag", "magsys": "ab", "min_date": "2024-01-01T00:00:00", "instrument_ids": "1"},
     {"instrument_ids": [1], "min_date": "2024-01-01T00:00:00"}),
    ("post_listing", lambda c: c.post_listing("ZTF99x", "rejected_candidates"),
     "POST", "/api/listing", {"id": 8}, {}, {"obj_id": "ZTF99x", "list_name": "rejected_candidates"}),
    ("list_listings", lambda c: c.list_listings(2, "favorites"), "GET", "/api/listing/2", [], {"listName": "favorites"}, None),
    ("get_offsets", lambda c: c.get_offsets("ZTF99x", num_offset_stars=2),
     "GET", "/api/sources/ZTF99x/offsets", {"facility": "Keck"}, {"facility": "Keck", "num_offset_stars": "2"}, None),
    ("get_finding_chart", lambda c: c.get_finding_chart("ZTF99x", imsize=4.0),
     "GET", "/api/sources/ZTF99x/finder", Reply(200, PDF, {"Content-Type": "application/pdf"}),
     {"type": "pdf", "imsize": "4.0"}, None),
    # candidates and classifications
    ("list_candidates", lambda c: c.list_candidates(group_ids=[3], list_name_reject="rejected_candidates"),
     "GET", "/api/candidates", {"candidates": [], "queryID": "q", **PAGE},
     {"groupIDs": "3", "listNameReject": "rejected_candidates", "pageNumber": "1", "numPerPage": "100"}, None),
    ("get_candidate", lambda c: c.get_candidate("ZTF99x", include_comments=True),
     "GET", "/api/candidates/ZTF99x", {"id": "ZTF99x"}, {"includeComments": "true"}, None),
    ("candidate_exists", lambda c: c.candidate_exists("ZTF99x"), "HEAD", "/api/candidates/ZTF99x", Reply(200), {}, None),
    ("post_candidate", lambda c: c.post_candidate("ZTF99x", 1.0, 2.0, filter_ids=[1], passed_at="2024-01-01"),
     "POST", "/api/candidates", {"ids": [5]}, {},
     {"id": "ZTF99x", "ra": 1.0, "dec": 2.0, "filter_ids": [1], "passed_at": "2024-01-01"}),
    ("delete_candidate", lambda c: c.delete_candidate("ZTF99x", 1), "DELETE", "/api/candidates/ZTF99x/1", {}, {}, None),
    ("list_classifications", lambda c: c.list_classifications(start_date="2024-01-01"),
     "GET", "/api/classification", {"classifications": [], "totalMatches": 0},
     {"startDate": "2024-01-01", "pageNumber": "1", "numPerPage": "500"}, None),
    ("get_classification", lambda c: c.get_classification(3), "GET", "/api/classification/3", {"id": 3}, {}, None),
    ("post_classification", lambda c: c.post_classification("ZTF99x", "Ia", 1, probability=0.7, group_ids=[3]),
     "POST", "/api/classification", {"classification_id": 4}, {},
     {"obj_id": "ZTF99x", "classification": "Ia", "taxonomy_id": 1, "probability": 0.7, "group_ids": [3]}),
    ("update_classification", lambda c: c.update_classification(4, probability=0.9),
     "PUT", "/api/classification/4", {}, {}, {"probability": 0.9}),
    ("delete_classification", lambda c: c.delete_classification(4), "DELETE", "/api/classification/4", {}, {}, None),
    ("get_source_classifications", lambda c: c.get_source_classifications("ZTF99x"),
     "GET", "/api/sources/ZTF99x/classifications", [], {}, None),
    # comments and annotations
    ("list_comments", lambda c: c.list_comments("spectrum", 7), "GET", "/api/spectra/7/comments", [], {}, None),
    ("get_comment", lambda c: c.get_comment("gcn_event", 2, 9), "GET", "/api/gcn_event/2/comments/9", {"id": 9}, {}, None),
    ("post_comment", lambda c: c.post_comment("source", "ZTF99x", "nice", attachment=b"abc", attachment_name="a.txt"),
     "POST", "/api/sources/ZTF99x/comments", {"comment_id": 11}, {},
     {"text": "nice", "attachment": {"body": base64.b64encode(b"abc").decode(), "name": "a.txt"}}),
    ("update_comment", lambda c: c.update_comment("sources", "ZTF99x", 11, text="nicer"),
     "PUT", "/api/sources/ZTF99x/comments/11", {}, {}, {"text": "nicer"}),
    ("delete_comment", lambda c: c.delete_comment("sources", "ZTF99x", 11), "DELETE", "/api/sources/ZTF99x/comments/11", {}, {}, None),
    ("get_comment_attachment", lambda c: c.get_comment_attachment("sources", "ZTF99x", 11),
     "GET", "/api/sources/ZTF99x/comments/11/attachment", Reply(200, PDF, {"Content-Type": "application/pdf"}),
     {"download": "true"}, None),
    ("list_annotations", lambda c: c.list_annotations("sources", "ZTF99x"), "GET", "/api/sources/ZTF99x/annotations", [], {}, None),
    ("get_annotation", lambda c: c.get_annotation("spectra", 7, 2), "GET", "/api/spectra/7/annotations/2", {"id": 2}, {}, None),
    # spectra
    ("list_spectra", lambda c: c.list_spectra(minimal_payload=True, observed_after="2024-01-01"),
     "GET", "/api/spectra", [], {"minimalPayload": "true", "observedAfter": "2024-01-01"}, None),
    ("get_source_spectra", lambda c: c.get_source_spectra("ZTF99x", normalization="median"),
     "GET", "/api/sources/ZTF99x/spectra", {"obj_id": "ZTF99x", "spectra": []}, {"normalization": "median"}, None),
    ("get_spectrum", lambda c: c.get_spectrum(7), "GET", "/api/spectra/7", {"id": 7}, {}, None),
    ("post_spectrum", lambda c: c.post_spectrum("ZTF99x", 1, "2024-01-01T00:00:00", [4000.0, 4001.0], [1.0, 2.0]),
     "POST", "/api/spectra", {"id": 8}, {},
     {"obj_id": "ZTF99x", "instrument_id": 1, "observed_at": "2024-01-01T00:00:00",
      "wavelengths": [4000.0, 4001.0], "fluxes": [1.0, 2.0]}),
    ("update_spectrum", lambda c: c.update_spectrum(8, label="host"), "PUT", "/api/spectra/8", {}, {}, {"label": "host"}),
    ("delete_spectrum", lambda c: c.delete_spectrum(8), "DELETE", "/api/spectra/8", {}, {}, None),
    ("parse_spectrum_ascii", lambda c: c.parse_spectrum_ascii("4000 1\n4001 2\n"),
     "POST", "/api/spectra/parse/ascii", {"wavelengths": [4000, 4001]}, {},
     {"ascii": "4000 1\n4001 2\n", "wave_column": 0, "flux_column": 1, "fluxerr_column": None}),
    ("post_spectrum_ascii", lambda c: c.post_spectrum_ascii("ZTF99x", 1, "2024-01-01", "4000 1\n", "s.txt"),
     "POST", "/api/spectra/ascii", {"id": 9}, {},
     {"obj_id": "ZTF99x", "instrument_id": 1, "observed_at": "2024-01-01", "ascii": "4000 1\n",
      "filename": "s.txt", "wave_column": 0, "flux_column": 1}),
    ("post_synthetic_photometry", lambda c: c.post_synthetic_photometry(8, ["ztfg", "ztfr"]),
     "POST", "/api/spectra/synthphot/8", {"id": 8}, {}, {"filters": ["ztfg", "ztfr"]}),
    ("get_spectra_range", lambda c: c.get_spectra_range(instrument_ids=[1, 2], min_date="2024-01-01"),
     "GET", "/api/spectra/range", [], {"instrument_ids": "1,2", "min_date": "2024-01-01"}, None),
    ("submit_spectrum_tns", lambda c: c.submit_spectrum_tns(8, 3, classifiers="me"),
     "POST", "/api/spectrum/tns/8", {}, {}, {"tnsrobotID": 3, "classifiers": "me"}),
    # GCN, localizations, galaxies
    ("list_gcn_events", lambda c: c.list_gcn_events(start_date="2019-01-01"),
     "GET", "/api/gcn_event", {"events": [], "totalMatches": 0},
     {"startDate": "2019-01-01", "pageNumber": "1", "numPerPage": "100"}, None),
    ("get_gcn_event", lambda c: c.get_gcn_event("2019-08-14T21:10:39"),
     "GET", "/api/gcn_event/2019-08-14T21:10:39", {"dateobs": "2019-08-14T21:10:39"}, {}, None),
    ("get_localization", lambda c: c.get_localization("2019-08-14T21:10:39", "LALInference.v1.fits.gz"),
     "GET", "/api/localization/2019-08-14T21:10:39/name/LALInference.v1.fits.gz", {"uniq": []}, {}, None),
    ("download_localization", lambda c: c.download_localization("2019-08-14T21:10:39", "bayestar.multiorder.fits"),
     "GET", "/api/localization/2019-08-14T21:10:39/name/bayestar.multiorder.fits/download",
     Reply(200, b"SIMPLE  =  T", {"Content-Type": "application/octet-stream"}), {}, None),
    ("list_galaxy_catalogs", lambda c: c.list_galaxy_catalogs(), "GET", "/api/galaxy_catalog", [], {"catalogNamesOnly": "true"}, None),
    ("list_galaxies", lambda c: c.list_galaxies("CLU_mini", localization_dateobs="2019-08-14T21:10:39",
                                                localization_name="m", localization_cumprob=0.9),
     "GET", "/api/galaxy_catalog", {"galaxies": [], "totalMatches": 0, "page": 1, "numPerPage": 1000},
     {"catalog_name": "CLU_mini", "localizationDateobs": "2019-08-14T21:10:39", "localizationName": "m",
      "localizationCumprob": "0.9", "pageNumber": "1", "numPerPage": "1000"}, None),
    ("post_galaxy_catalog", lambda c: c.post_galaxy_catalog("mini", {"name": ["a"], "ra": [1.0], "dec": [2.0]}),
     "POST", "/api/galaxy_catalog", {}, {}, {"catalog_name": "mini", "catalog_data": {"name": ["a"], "ra": [1.0], "dec": [2.0]}}),
    # observing
    ("list_allocations", lambda c: c.list_allocations(instrument_id=2), "GET", "/api/allocation", [], {"instrument_id": "2"}, None),
    ("get_allocation", lambda c: c.get_allocation(5), "GET", "/api/allocation/5", {"id": 5}, {}, None),
    ("post_allocation", lambda c: c.post_allocation(group_id=1, instrument_id=2, hours_allocated=10, pi="Me"),
     "POST", "/api/allocation", {"id": 5}, {}, {"group_id": 1, "instrument_id": 2, "hours_allocated": 10, "pi": "Me"}),
    ("update_allocation", lambda c: c.update_allocation(5, hours_allocated=12), "PUT", "/api/allocation/5", {}, {}, {"hours_allocated": 12}),
    ("delete_allocation", lambda c: c.delete_allocation(5), "DELETE", "/api/allocation/5", {}, {}, None),
    ("list_assignments", lambda c: c.list_assignments(), "GET", "/api/assignment", [], {}, None),
    ("get_assignment", lambda c: c.get_assignment(6), "GET", "/api/assignment/6", {"id": 6}, {}, None),
    ("post_assignment", lambda c: c.post_assignment("ZTF99x", 1, 3, comment="please"),
     "POST", "/api/assignment", {"id": 6}, {}, {"obj_id": "ZTF99x", "run_id": 1, "priority": "3", "comment": "please"}),
    ("update_assignment", lambda c: c.update_assignment(6, status="done"), "PUT", "/api/assignment/6", {}, {}, {"status": "done"}),
    ("delete_assignment", lambda c: c.delete_assignment(6), "DELETE", "/api/assignment/6", {}, {}, None),
    ("post_followup_request", lambda c: c.post_followup_request("ZTF99x", 5, {"priority": 1}),
     "POST", "/api/followup_request", {"id": 7}, {}, {"obj_id": "ZTF99x", "allocation_id": 5, "payload": {"priority": 1}}),
    ("update_followup_request", lambda c: c.update_followup_request(7, status="submitted"),
     "PUT", "/api/followup_request/7", {}, {}, {"status": "submitted"}),
    ("delete_followup_request", lambda c: c.delete_followup_request(7), "DELETE", "/api/followup_request/7", {}, {}, None),
    ("get_followup_schedule", lambda c: c.get_followup_schedule(2, output_format="png"),
     "GET", "/api/followup_request/schedule/2", Reply(200, PDF, {"Content-Type": "image/png"}), {"output_format": "png"}, None),
    ("prioritize_followup_requests", lambda c: c.prioritize_followup_requests(localizationId=3, requestIds=[7]),
     "PUT", "/api/followup_request/prioritization", {}, {}, {"localizationId": 3, "requestIds": [7]}),
    ("get_photometry_request", lambda c: c.get_photometry_request(7), "GET", "/api/photometry_request/7", {}, {}, None),
    ("post_facility_message", lambda c: c.post_facility_message(7, "complete"),
     "POST", "/api/facility", {}, {}, {"followup_request_id": 7, "new_status": "complete"}),
    ("list_filters", lambda c: c.list_filters(), "GET", "/api/filters", [], {}, None),
    ("get_filter", lambda c: c.get_filter(1), "GET", "/api/filters/1", {"id": 1}, {}, None),
    ("post_filter", lambda c: c.post_filter("f", 1, 3), "POST", "/api/filters", {"id": 2}, {}, {"name": "f", "stream_id": 1, "group_id": 3}),
    ("update_filter", lambda c: c.update_filter(2, name="g"), "PATCH", "/api/filters/2", {}, {}, {"name": "g"}),
    ("delete_filter", lambda c: c.delete_filter(2), "DELETE", "/api/filters/2", {}, {}, None),
    ("get_kowalski_filter", lambda c: c.get_kowalski_filter(2), "GET", "/api/filters/2/v", {}, {}, None),
    ("post_kowalski_filter_version", lambda c: c.post_kowalski_filter_version(2, [{"$match": {}}]),
     "POST", "/api/filters/2/v", {"pipeline": []}, {}, {"pipeline": [{"$match": {}}]}),
    ("update_kowalski_filter", lambda c: c.update_kowalski_filter(2, active=False),
     "PATCH", "/api/filters/2/v", {}, {}, {"filter_id": 2, "active": False}),
    ("delete_kowalski_filter", lambda c: c.delete_kowalski_filter(2), "DELETE", "/api/filters/2/v", {}, {}, None),
    # system
    ("get_sysinfo", lambda c: c.get_sysinfo(), "GET", "/api/sysinfo", {}, {}, None),
    ("get_config", lambda c: c.get_config(), "GET", "/api/config", {}, {}, None),
    ("get_db_stats", lambda c: c.get_db_stats(), "GET", "/api/db_stats", {}, {}, None),
    ("list_taxonomies", lambda c: c.list_taxonomies(), "GET", "/api/taxonomy", [], {}, None),
    ("get_groups", lambda c: c.get_groups(include_single_user_groups=True),
     "GET", "/api/groups", {"user_groups": []}, {"includeSingleUserGroups": "true"}, None),
    ("get_public_group", lambda c: c.get_public_group(), "GET", "/api/groups/public", {"id": 1}, {}, None),
    ("local_server_identity", lambda c: c.local_server_identity(), "GET", "/_workbench/health",
     {"ok": True, "seed": 1, "sizes": {}}, {}, None),
]  # fmt: skip

API_CLASSES = (SourcesAPI, CandidatesAPI, CommentsAPI, SpectraAPI, GcnAPI, ObservingAPI, SystemAPI)


@pytest.fixture(scope="module")
def srv():
    with ScriptedServer() as server:
        yield server


@pytest.fixture(scope="module")
def client(srv):
    return SkyPortalClient(srv.url, token=TOKEN, rate_limit=None, max_retries=0)


def test_the_table_covers_every_endpoint_method():
    defined = {
        name
        for cls in API_CLASSES
        for name, member in vars(cls).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }
    assert defined == {row[0] for row in ROWS}
    for cls in API_CLASSES:
        for name, member in vars(cls).items():
            if inspect.isfunction(member) and not name.startswith("_"):
                doc = member.__doc__ or ""
                assert "/api/" in doc or "/_workbench/" in doc, f"{name} documents its endpoint"


@pytest.mark.parametrize("row", ROWS, ids=[row[0] for row in ROWS])
def test_endpoint_method_sends_the_documented_request(srv, client, row):
    _name, call, method, path, answer, query, body = row
    reply = answer if isinstance(answer, Reply) else ok(answer)
    srv.script(method, path, reply)
    before = len(srv.seen)
    result = call(client)
    seen: Seen = srv.seen[before]
    assert (seen.method, seen.path) == (method, path)
    assert {k: v[0] for k, v in seen.query.items()} == query
    if body is not None:
        assert json.loads(seen.body) == body
    if isinstance(answer, Reply) and answer.body:
        assert result == answer.body  # binary endpoints give the bytes back


def test_posts_return_the_new_id(srv, client):
    srv.script("POST", "/api/classification", ok({"classification_id": 42}))
    assert client.post_classification("ZTF1", "Ia", 1) == 42
    srv.script("POST", "/api/sources/ZTF1/comments", ok({"comment_id": 7}))
    assert client.post_comment("sources", "ZTF1", "hi") == 7


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda c: c.get_source_photometry("ZTF1", format="magnitude"), "format must be one of"),
        (lambda c: c.get_source_photometry("ZTF1", magsys="johnson"), "magsys must be one of"),
        (lambda c: c.post_classification("ZTF1", "Ia", 1, probability=1.5), "between 0 and 1"),
        (lambda c: c.list_comments("photometry", 1), "comments can be on"),
        (lambda c: c.list_annotations("gcn_event", 1), "annotations can be on"),
        (lambda c: c.get_source(""), "non-empty identifier"),
        (lambda c: c.get_source(".."), "non-empty identifier"),
        (lambda c: c.post_comment("sources", "ZTF1", "x", attachment=b"raw"), "attachment_name"),
        (lambda c: c.post_assignment("ZTF1", 1, 9), "priority must be one of"),
        (lambda c: c.get_finding_chart("ZTF1", type="jpg"), "type must be one of"),
    ],
)
def test_bad_arguments_are_refused_before_sending(srv, client, call, words):
    before = len(srv.seen)
    with pytest.raises(BadRequest, match=words):
        call(client)
    assert len(srv.seen) == before


def test_ids_are_encoded_into_single_path_segments(srv, client):
    srv.script("GET", "/api/sources/a%2Fb%20c", ok({"id": "a/b c"}))
    assert client.get_source("a/b c") == {"id": "a/b c"}


def test_fritz_only_endpoints_say_so_on_plain_skyportal(srv, client):
    srv.script("GET", "/api/filters/3/v", err(400, "Invalid API endpoint"))
    with pytest.raises(NotFound, match="exists only on Fritz"):
        client.get_kowalski_filter(3)


def test_downloads_to_a_file(srv, client, tmp_path):
    srv.script("GET", "/api/localization/2019-08-14T21:10:39/name/m.fits/download",
               Reply(200, b"SIMPLE  =  T" * 100, {"Content-Type": "application/octet-stream"}))  # fmt: skip
    written = client.download_localization("2019-08-14T21:10:39", "m.fits", dest=tmp_path)
    assert written == tmp_path / "m.fits"
    assert written.read_bytes() == b"SIMPLE  =  T" * 100
