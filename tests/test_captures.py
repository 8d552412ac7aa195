"""Every real SkyPortal 1.4.0 response in ``../shared/reference/skyportal-live`` decodes.

Each capture is served with its captured status, Content-Type and exact bytes by a
loopback Tornado server (``ScriptedServer``), and the client asks for it the way the
capture was made (method, path, query, POST body). Successes must come back as the
capture's ``data``; refusals as the right class of ``workbench.errors`` carrying the
server's message. A few captures are also read through the named endpoint methods.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_client_httpd import Reply, ScriptedServer

from workbench.client import SkyPortalClient
from workbench.errors import AuthError, BadRequest, NotFound

pytestmark = pytest.mark.shared_data

TOKEN = "7d6c5b4a-3928-4170-8f6e-5d4c3b2a1908"  # made up for the tests, not a real token
LIVE = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "skyportal-live"

# The class each captured refusal must raise (SkyPortal's 400s for missing things are NotFound).
EXPECTED_ERRORS = {
    "GET_api_candidates_doesnotexist.json": NotFound,  # 400 "Invalid ID"
    "GET_api_doesnotexist_invalid_endpoint.json": NotFound,  # 400 "Invalid API endpoint"
    "GET_api_galaxy_catalog_catalog_name_doesnotexist.json": NotFound,  # 400 "... not found"
    "GET_api_gcn_event_2000-01-01T00-00-00_notfound.json": NotFound,
    "GET_api_groups_401_bad_token.json": AuthError,
    "GET_api_sources_401_bad_token.json": AuthError,
    "GET_api_sources_401_bearer_scheme.json": AuthError,
    "GET_api_sources_401_malformed_token.json": AuthError,
    "GET_api_sources_doesnotexist.json": NotFound,
    "GET_api_sources_no_token.json": AuthError,
    "GET_api_sources_numPerPage_invalid.json": BadRequest,
    "POST_api_classification_400_bad_classname_response.json": BadRequest,
    "POST_api_classification_400_missing_taxonomy_response.json": BadRequest,
    "POST_api_classification_400_unknown_obj_response.json": NotFound,  # "Cannot find object"
    "POST_api_classification_401_bad_token_response.json": AuthError,
    "POST_api_source_groups_400_already_saved_response.json": BadRequest,
    "POST_api_source_groups_400_missing_params_response.json": BadRequest,
    "POST_api_source_groups_404_unknown_obj_response.json": NotFound,
}


def _index() -> dict[str, dict]:
    path = LIVE / "_index.json"
    return json.loads(path.read_text()) if path.is_file() else {}


INDEX = _index()
CAPTURES = sorted(INDEX)


@pytest.fixture(scope="module")
def replay(shared_dir):
    with ScriptedServer() as server:
        yield server


@pytest.fixture(scope="module")
def client(replay):
    return SkyPortalClient(replay.url, token=TOKEN, rate_limit=None, max_retries=0)


def serve(replay: ScriptedServer, name: str) -> tuple[dict, bytes]:
    """Script the replay server to answer the capture ``name``; return (entry, body)."""
    entry = INDEX[name]
    body = (LIVE / entry["file"]).read_bytes()
    headers = {"Content-Type": entry["response_headers"].get("Content-Type", "application/json")}
    replay.script(entry["method"], entry["path"], Reply(entry["status"], body, headers))
    return entry, body


def request_body(entry: dict) -> dict | None:
    name = entry.get("request_body_file")
    return json.loads((LIVE / name).read_text()) if name else None


def test_every_error_capture_is_listed_with_its_class():
    if not INDEX:
        pytest.skip("../shared is not present")
    refused = {name for name, entry in INDEX.items() if entry["status"] >= 400}
    assert refused == set(EXPECTED_ERRORS)


@pytest.mark.parametrize("name", CAPTURES)
def test_capture_decodes(replay, client, name):
    entry, body = serve(replay, name)
    before = len(replay.seen)
    call = lambda: client.request(  # noqa: E731
        entry["method"], entry["path"], params=entry["query"] or None, json=request_body(entry)
    )
    if entry["status"] >= 400:
        expected = json.loads(body)["message"]
        with pytest.raises(EXPECTED_ERRORS[name]) as info:
            call()
        assert info.value.status == entry["status"]
        assert info.value.message.startswith(expected)
        assert info.value.url.split("?")[0].endswith(entry["path"])
    else:
        assert call() == json.loads(body)["data"]
    seen = replay.seen[before]
    sent_query = {k: v[0] for k, v in seen.query.items()}
    assert sent_query == {k: str(v) for k, v in entry["query"].items()}
    if entry.get("request_body_file"):
        assert json.loads(seen.body) == request_body(entry)


# -- the same bodies through the named methods -----------------------------------------


def test_named_methods_on_captured_bodies(replay, client):
    serve(replay, "GET_api_sources_ZTF21aaqjmps_photometry.json")
    mags = client.get_source_photometry("ZTF21aaqjmps")
    assert len(mags) == 174 and mags["mag"].dtype == "float64"
    assert mags["mag"].isna().sum() > 0 and mags["limiting_mag"].notna().all()  # non-detections
    serve(replay, "GET_api_sources_ZTF21aaqjmps_photometry_flux.json")
    flux = client.get_source_photometry("ZTF21aaqjmps", format="flux")
    assert set(flux["zp"]) == {23.9} and flux["flux"].dtype == "float64"

    serve(replay, "GET_api_taxonomy.json")
    assert {t["name"] for t in client.list_taxonomies()} == {"Demo taxonomy", "Variables Taxonomy"}
    serve(replay, "GET_api_groups.json")
    assert set(client.get_groups()) == {"user_groups", "user_accessible_groups", "all_groups"}
    serve(replay, "GET_api_sources_ZTF21aaqjmps_spectra.json")
    assert all(s["obj_id"] == "ZTF21aaqjmps" for s in client.get_source_spectra("ZTF21aaqjmps"))
    serve(replay, "POST_api_classification_response.json")
    assert client.post_classification("ZTF21aaqjmps", "Ia", 1, probability=0.9) == 3
    serve(replay, "POST_api_source_groups_response.json")
    assert client.save_source("ZTF26abmjjnm", [4]) == {}
    serve(replay, "GET_api_gcn_event_2019-08-14T21-10-39.json")
    event = client.get_gcn_event("2019-08-14T21:10:39")
    assert event["dateobs"].startswith("2019-08-14T21:10:39")
    serve(replay, "GET_api_localization_2019-08-14T21-10-39_name_LALInference.v1.fits.gz.json")
    skymap = client.get_localization("2019-08-14T21:10:39", "LALInference.v1.fits.gz")
    assert len(skymap["uniq"]) == len(skymap["probdensity"]) == len(skymap["distmu"])
    serve(replay, "GET_api_galaxy_catalog_catalogNamesOnly.json")
    assert client.list_galaxy_catalogs()[0]["catalog_name"] == "CLU_mini"
    serve(replay, "GET_api_classification_page2.json")
    page = next(
        client.iter_pages(
            "/api/classification", list_key="classifications", start_page=2, page_size=2
        )
    )
    assert page.total == 4 and page.number == 2 and len(page.records) == 2


def test_candidate_pages_keep_the_query_id(replay, client):
    serve(replay, "GET_api_candidates_page1.json")
    page = next(client.iter_pages("/api/candidates", page_size=2))
    assert page.total == 5 and page.payload["queryID"]
    assert [c["id"] for c in page.records]
