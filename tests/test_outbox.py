"""The outbox: actions reach the server exactly once, through outages and unknown outcomes."""

from __future__ import annotations

import pytest
import requests

from workbench import OutboxError, Workbench

pytestmark = pytest.mark.slow
QUIET = {"progress": False}


@pytest.fixture
def online(make_server, tmp_path):
    """A synced workbench over its own server: ``(server, workbench)``."""
    srv = make_server(sources=40, candidates=15, seed=21)
    wb = Workbench.open(
        url=srv.url, token=srv.token, cache=tmp_path / "c.duckdb", rate_limit=None, backoff=0.01
    )
    wb.sync(resources=["groups", "taxonomies", "sources", "candidates", "classifications"], **QUIET)
    return srv, wb


def server_classifications(srv, obj_id: str) -> list[dict]:
    r = requests.get(
        f"{srv.url}/api/sources/{obj_id}/classifications", headers=srv.headers, timeout=30
    )
    return r.json()["data"]


def a_source(wb) -> str:
    return str(wb.sql("SELECT obj_id FROM sources ORDER BY obj_id LIMIT 1").iloc[0, 0])


def count(rows: list[dict], name: str) -> int:
    return sum(1 for c in rows if c["classification"] == name)


def test_classify_online_lands_once_and_the_cache_knows_its_id(online):
    srv, wb = online
    obj = a_source(wb)
    action = wb.classify(obj, "Ia", probability=0.8)
    row = wb.outbox.list().set_index("id").loc[action]
    assert row["status"] == "sent"
    on_server = [c for c in server_classifications(srv, obj) if c["classification"] == "Ia"]
    assert len(on_server) == 1 and on_server[0]["probability"] == pytest.approx(0.8)
    local = wb.classifications(obj)
    assert int(on_server[0]["id"]) in set(local["id"].astype(int))


def test_unknown_class_is_refused_before_it_is_queued(online):
    _, wb = online
    with pytest.raises(OutboxError, match="not a class"):
        wb.classify(a_source(wb), "Type Iaa")
    assert wb.outbox.list().empty


def test_actions_queue_while_the_server_is_down_and_land_once_after(online):
    srv, wb = online
    obj = a_source(wb)
    before = count(server_classifications(srv, obj), "Ia")
    srv.stop()
    action = wb.classify(obj, "Ia", probability=0.5)
    comment = wb.comment(obj, "queued while offline")
    queued = wb.outbox.list().set_index("id")
    assert queued.loc[action, "status"] == "pending" and queued.loc[action, "last_error"]
    assert queued.loc[comment, "status"] == "pending"
    assert "Ia" in set(wb.classifications(obj)["classification"])  # the local effect is there
    srv.start()
    report = wb.push()
    assert report.ok, report
    assert count(server_classifications(srv, obj), "Ia") == before + 1
    comments = requests.get(
        f"{srv.url}/api/sources/{obj}/comments", headers=srv.headers, timeout=30
    )
    assert sum(c["text"] == "queued while offline" for c in comments.json()["data"]) == 1
    assert wb.push().sent == []  # nothing left, nothing sent twice


def test_a_timed_out_post_is_checked_before_it_is_sent_again(make_server, tmp_path):
    srv = make_server(sources=30, candidates=5, seed=22)
    wb = Workbench.open(
        url=srv.url, token=srv.token, cache=tmp_path / "c.duckdb", rate_limit=None, timeout=(2, 1)
    )
    wb.sync(resources=["taxonomies", "sources"], **QUIET)
    obj = a_source(wb)
    before = count(server_classifications(srv, obj), "IIP")
    # the server takes 2 s to answer and the client waits 1 s: the POST lands anyway
    srv.behaviour.add_fault("slow", path="/api/classification", method="POST", count=1, seconds=2)
    action = wb.classify(obj, "IIP", probability=0.7)
    assert wb.outbox.list().set_index("id").loc[action, "status"] == "unknown"
    import time

    time.sleep(2.5)
    report = wb.push()
    assert report.sent == [action]
    assert count(server_classifications(srv, obj), "IIP") == before + 1
    posts = srv.stats.requests.get("POST /api/classification", 0)
    assert posts == 1  # verified on the server, never re-posted


def test_rejected_action_keeps_the_server_message_and_can_be_fixed_or_dropped(online):
    srv, wb = online
    action = wb.save("ZTF00notreal", [3])
    row = wb.outbox.list().set_index("id").loc[action]
    assert row["status"] == "rejected" and row["last_error"]
    obj = str(wb.sql("SELECT obj_id FROM candidates ORDER BY obj_id LIMIT 1").iloc[0, 0])
    wb.outbox.edit(action, obj_id=obj)
    assert wb.push().sent == [action]
    groups = requests.get(f"{srv.url}/api/sources/{obj}/groups", headers=srv.headers, timeout=30)
    assert 3 in {g["id"] for g in groups.json()["data"]}
    second = wb.comment("ZTF00notreal", "nobody home")
    assert wb.outbox.list().set_index("id").loc[second, "status"] == "rejected"
    wb.outbox.drop(second)
    assert wb.outbox.list().set_index("id").loc[second, "status"] == "dropped"


def test_save_unsave_reject_and_vetting_reach_the_server(online):
    srv, wb = online
    cands = list(wb.sql("SELECT obj_id FROM candidates ORDER BY obj_id LIMIT 2")["obj_id"])
    wb.vet(cands[0], "save", group_ids=[4])
    wb.vet(cands[1], "reject")
    wb.vet(cands[1], "skip")
    groups = requests.get(
        f"{srv.url}/api/sources/{cands[0]}/groups", headers=srv.headers, timeout=30
    )
    assert 4 in {g["id"] for g in groups.json()["data"]}
    wb.unsave(cands[0], [4])
    groups = requests.get(
        f"{srv.url}/api/sources/{cands[0]}/groups", headers=srv.headers, timeout=30
    )
    assert 4 not in {g["id"] for g in groups.json()["data"]}
    vetting = wb.sql("SELECT obj_id, decision FROM vetting ORDER BY id")
    assert list(vetting["decision"]) == ["save", "reject", "skip"]
    assert set(wb.outbox.list()["status"]) == {"sent"}


def test_a_crash_mid_send_is_verified_not_reposted(online):
    """An action left in 'sending' by a killed process is looked up on the server first."""
    srv, wb = online
    obj = a_source(wb)
    wb.client.post(
        "/api/classification",
        json={"obj_id": obj, "classification": "Ib", "taxonomy_id": 1, "probability": 0.3},
    )
    with wb.cache.write() as tx:
        action = tx.enqueue(
            "classification",
            {"obj_id": obj, "classification": "Ib", "taxonomy_id": 1, "probability": 0.3},
        )
        tx.update_action(action, status="sending", attempts=1)
    posts = srv.stats.requests.get("POST /api/classification", 0)
    assert wb.push().sent == [action]
    assert srv.stats.requests.get("POST /api/classification", 0) == posts
    assert count(server_classifications(srv, obj), "Ib") == 1


def test_a_parsed_spectrum_uploads_and_comes_back_with_the_next_sync(online):
    from workbench.spectra import parse_ascii

    _, wb = online
    obj = a_source(wb)
    text = "# OBSERVER: Test\n# EXPTIME = 300.0\n" + "".join(
        f"{4000 + 2 * i} {1e-16 * (1 + 0.01 * i)} {1e-18}\n" for i in range(500)
    )
    parsed = parse_ascii(text, fluxerr_column=2)
    action = wb.upload_spectrum(obj, parsed, instrument_id=1, observed_at="2026-11-20T05:00:00")
    assert wb.outbox.list().set_index("id").loc[action, "status"] == "sent"
    wb.sync(resources=["spectra"], progress=False)
    mine = wb.spectra(obj)
    mine = mine[mine["wavelengths"].map(len) == 500]
    assert len(mine) == 1 and int(mine["id"].iloc[0]) > 0  # the server's copy, not the pending one
    assert mine["wavelengths"].iloc[0][0] == pytest.approx(4000.0)
    assert mine["fluxes"].iloc[0][-1] == pytest.approx(1e-16 * (1 + 0.01 * 499))
    with pytest.raises(OutboxError, match="differ in length"):
        wb.upload_spectrum(
            obj, {"wavelengths": [1, 2], "fluxes": [1]}, instrument_id=1, observed_at="2026-11-20"
        )


def test_a_bad_token_stops_the_push_after_one_request(online, tmp_path):
    srv, wb = online
    obj = a_source(wb)
    srv.stop()
    first = wb.classify(obj, "Ia")
    wb.comment(obj, "also queued")
    srv.start()
    bad = Workbench.open(
        url=srv.url,
        token="00000000-0000-0000-0000-000000000000",
        cache=wb.cache.path,
        rate_limit=None,
    )
    before = srv.stats.total
    report = bad.push()
    assert srv.stats.total - before == 1  # stopped at the first 401
    assert first in report.failed and report.pending == 2
    assert set(wb.outbox.list()["status"]) == {"pending"}
