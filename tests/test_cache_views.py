"""Read accessors, local effects of queued actions, and the sync's helper queries."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from workbench.cache import Cache
from workbench.errors import CacheError, OutboxError


@pytest.fixture
def cache(tmp_path):
    return Cache(tmp_path / "c.duckdb")


def group(gid, saved_at="2026-01-02T03:04:05"):
    return {"id": gid, "name": f"G{gid}", "saved_at": saved_at, "active": True}


def source(obj_id, groups=(1,), modified="2026-01-01T00:00:00", **extra):
    return {
        "id": obj_id,
        "ra": 10.0,
        "dec": -5.0,
        "modified": modified,
        "groups": [group(g) for g in groups],
        **extra,
    }


def classification(cid, obj_id="A", name="Ia"):
    return {
        "id": cid,
        "obj_id": obj_id,
        "classification": name,
        "taxonomy_id": 1,
        "probability": 0.5,
        "created_at": "2026-01-01T00:00:00",
    }


def queue(cache, kind, payload):
    with cache.write() as tx:
        action = tx.enqueue(kind, payload)
        tx.apply_local(kind, payload, action)
    return action


def test_a_queued_classification_shows_survives_syncs_and_takes_the_server_id(cache):
    with cache.write() as tx:
        tx.upsert_sources([source("A", classifications=[classification(10)])])
    payload = {"obj_id": "A", "classification": "Ia", "taxonomy_id": 1, "probability": 0.9}
    action = queue(cache, "classification", payload)
    frame = cache.classifications_frame("A").set_index("id")
    assert frame.loc[-action, "pending"] and frame.loc[-action, "classification"] == "Ia"
    with cache.write() as tx:  # a sync of the source replaces its server classifications only
        tx.upsert_sources([source("A", classifications=[classification(10, name="II")])])
    assert sorted(cache.classifications_frame("A")["id"]) == [-action, 10]
    with cache.write() as tx:
        tx.update_action(action, status="sent", remote_id=55)
        tx.confirm_local("classification", payload, action, 55)
    frame = cache.classifications_frame("A").set_index("id")
    assert sorted(frame.index) == [10, 55] and not frame.loc[55, "pending"]
    # the server's own row then replaces it by id
    with cache.write() as tx:
        tx.upsert_classifications([classification(55, name="Ia")])
    assert sorted(cache.classifications_frame("A")["id"]) == [10, 55]


def test_confirm_when_the_server_row_arrived_first_and_revert(cache):
    payload = {"obj_id": "A", "classification": "Ia", "taxonomy_id": 1}
    first = queue(cache, "classification", payload)
    with cache.write() as tx:
        tx.upsert_classifications([classification(77)])
        tx.confirm_local("classification", payload, first, 77)
    assert cache.classifications_frame("A")["id"].tolist() == [77]
    second = queue(cache, "classification", payload)
    with cache.write() as tx:
        tx.update_action(second, status="dropped")
        tx.revert_local("classification", payload, second)
    assert cache.classifications_frame("A")["id"].tolist() == [77]


def test_save_and_unsave_show_at_once_and_settle_on_confirmation(cache):
    with cache.write() as tx:
        tx.upsert_sources([source("A", groups=(1,))])
    save = {"obj_id": "A", "group_ids": [3]}
    action = queue(cache, "save", save)
    row = cache.sources_frame().set_index("id").loc["A"]
    assert json.loads(row["group_ids"]) == [1, 3] and row["pending"]
    assert cache.sources_frame(3)["id"].tolist() == ["A"]
    with cache.write() as tx:  # a sync before the push keeps the queued link
        tx.upsert_sources([source("A", groups=(1,))])
    assert json.loads(cache.sources_frame()["group_ids"][0]) == [1, 3]
    assert cache.count_listed("sources", [3]) == 0  # queued links are not the server's
    with cache.write() as tx:
        tx.confirm_local("save", save, action)
    assert not cache.sources_frame()["pending"][0] and cache.count_listed("sources", [3]) == 1

    unsave = {"obj_id": "A", "group_ids": [1, 3]}
    action = queue(cache, "unsave", unsave)
    assert cache.sources_frame().empty  # hidden while the action is live
    with cache.write() as tx:
        tx.update_action(action, status="rejected", last_error="not allowed")
    assert json.loads(cache.sources_frame()["group_ids"][0]) == [1, 3]
    with cache.write() as tx:
        tx.update_action(action, status="sent")
        tx.confirm_local("unsave", unsave, action)
    assert cache.counts()["sources"] == 0


def test_classification_edit_and_delete(cache):
    with cache.write() as tx:
        tx.upsert_classifications([classification(10), classification(11)])
    edit = {"classification_id": 10, "changes": {"probability": 0.1, "bogus": 1}}
    action = queue(cache, "classification_edit", edit)
    frame = cache.classifications_frame().set_index("id")
    assert frame.loc[10, "probability"] == 0.1 and frame.loc[10, "pending"]
    with cache.write() as tx:
        tx.revert_local("classification_edit", edit, action)
    assert cache.classifications_frame().set_index("id").loc[10, "probability"] == 0.5
    gone = {"classification_id": 11}
    action = queue(cache, "classification_delete", gone)
    assert cache.classifications_frame()["id"].tolist() == [10]
    assert cache.counts()["classifications"] == 2  # removed only when confirmed
    with cache.write() as tx:
        tx.confirm_local("classification_delete", gone, action)
    assert cache.counts()["classifications"] == 1


def test_comment_and_spectrum_actions(cache):
    note = {"resource": "sources", "resource_id": "A", "text": "nice", "group_ids": [3]}
    action = queue(cache, "comment", note)
    comments = cache.comments_frame("A")
    assert comments["text"].tolist() == ["nice"] and comments["pending"][0]
    with cache.write() as tx:
        tx.confirm_local("comment", note, action, 9)
    assert cache.comments_frame("A")["id"].tolist() == [9]
    spec = {
        "obj_id": "A",
        "wavelengths": [4000.0, 5000.0],
        "fluxes": [1.0, 2.0],
        "observed_at": "2026-01-01T00:00:00",
        "units": "erg/s/cm/cm/AA",
    }
    action = queue(cache, "spectrum", spec)
    frame = cache.spectra_frame("A")
    assert frame["id"].tolist() == [-action] and list(frame["wavelengths"][0]) == [4000.0, 5000.0]
    assert cache.spectra_versions() == {}  # queued spectra are not the server's
    with pytest.raises(OutboxError, match="needs obj_id"), cache.write() as tx:
        tx.apply_local("classification", {"classification": "Ia"}, 1)
    with pytest.raises(OutboxError, match="no local effect"), cache.write() as tx:
        tx.apply_local("teleport", {}, 1)
    queue(cache, "reject", {"obj_id": "A"})  # no row of its own: a vetting decision shows it


def test_retain_deletes_what_the_server_no_longer_lists(cache):
    with cache.write() as tx:
        tx.upsert_sources(
            [source("A", groups=(1, 3)), source("B", groups=(3,)), source("C", groups=(1,))]
        )
        tx.upsert_candidates(
            [{"id": "A", "passing_group_ids": [3]}, {"id": "C", "passing_group_ids": [1]}]
        )
        tx.upsert_classifications([classification(1), classification(2)])
    queue(cache, "save", {"obj_id": "B", "group_ids": [1]})
    with cache.write() as tx:
        assert tx.retain("sources", ["A"], group_ids=[3]) == 1  # B left group 3
        assert tx.retain("sources", ["A", "C"]) == 0  # B's queued save to group 1 stays
        assert tx.retain("candidates", [], group_ids=[3]) == 1
        assert tx.retain("classifications", [2]) == 1
    assert cache.sql("SELECT obj_id, group_id FROM sources ORDER BY 1, 2").values.tolist() == [
        ["A", 1],
        ["A", 3],
        ["B", 1],
        ["C", 1],
    ]
    assert cache.sql("SELECT obj_id FROM candidates")["obj_id"].tolist() == ["C"]
    with pytest.raises(CacheError, match="unknown resource"), cache.write() as tx:
        tx.retain("photometry", [])


def test_photometry_markers(cache):
    with cache.write() as tx:
        tx.upsert_sources([source("A"), source("B")])
    assert cache.objs_needing_photometry() == ["A", "B"]
    with cache.write() as tx:
        tx.mark_photometry_synced(["A", "B"])
    assert cache.objs_needing_photometry() == []
    with cache.write() as tx:  # new photometry on the server moves the source's modified
        tx.upsert_sources([source("B", modified="2026-02-01T00:00:00")])
    assert cache.objs_needing_photometry() == ["B"]


def test_fetch_lists_for_spectra_thumbnails_and_localizations(cache):
    spectrum = {
        "id": 1,
        "obj_id": "A",
        "modified": "2026-01-01T00:00:00.123456",
        "wavelengths": [1.0],
        "fluxes": [2.0],
    }
    with cache.write() as tx:
        tx.upsert_spectra([spectrum, {"id": 2, "obj_id": "A", "modified": "2026-01-01T00:00:00"}])
        tx.upsert_candidates(
            [
                {
                    "id": "OLD",
                    "passed_at": "2026-01-01T00:00:00",
                    "thumbnails": [
                        {"type": t, "public_url": f"/t/old_{t}.png"} for t in ("new", "ref")
                    ],
                },
                {
                    "id": "NEW",
                    "passed_at": "2026-03-01T00:00:00",
                    "thumbnails": [{"type": "new", "public_url": "/t/new_new.png"}],
                },
            ]
        )
        tx.put_thumbnail("OLD", "ref", "http://h/t/old_ref.png", b"\x89PNG\r\n\x1a\nxx")
        tx.upsert_gcn_events(
            [
                {
                    "dateobs": "2019-08-14T21:10:39",
                    "modified": "2026-01-01T00:00:00",
                    "localizations": [
                        {"localization_name": "a", "id": 1, "modified": "2026-01-01T00:00:00"}
                    ],
                }
            ]
        )
    assert cache.spectra_versions() == {1: "2026-01-01T00:00:00.123456"}
    assert cache.thumbnails_to_fetch() == [
        ("NEW", "new", "/t/new_new.png"),
        ("OLD", "new", "/t/old_new.png"),
    ]
    assert cache.thumbnails_to_fetch(limit=1) == [("NEW", "new", "/t/new_new.png")]
    assert cache.thumbnails_of("OLD") == {"ref": b"\x89PNG\r\n\x1a\nxx"}
    assert cache.localizations_to_fetch() == [("2019-08-14T21:10:39", "a")]
    pixels = {
        "uniq": [16, 17, 18],
        "probdensity": [0.1, 0.2, 0.3],
        "modified": "2026-01-01T00:00:00",
        "distmu": [10.0, None, 30.0],
        "distsigma": [1.0, 1.0, 1.0],
        "distnorm": [1e-3] * 3,
    }
    with cache.write() as tx:
        tx.put_localization("2019-08-14T21:10:39", "a", pixels)
    assert cache.localizations_to_fetch("2019-08-14T21:10:39") == []
    loc = cache.localization("2019-08-14T21:10:39")
    assert loc["uniq"] == [16, 17, 18] and loc["distmu"] == [10.0, None, 30.0]
    assert loc["localization_name"] == "a"
    assert cache.localization("2019-08-14T21:10:39", "b") is None
    with cache.write() as tx:  # the event says the map changed since
        tx.upsert_gcn_events(
            [
                {
                    "dateobs": "2019-08-14T21:10:39",
                    "localizations": [
                        {"localization_name": "a", "modified": "2026-02-01T00:00:00"}
                    ],
                }
            ]
        )
    assert cache.localizations_to_fetch() == [("2019-08-14T21:10:39", "a")]
    np.testing.assert_array_equal(
        cache.localization("2019-08-14T21:10:39")["probdensity"], [0.1, 0.2, 0.3]
    )


def test_candidates_frame_orders_by_score_with_vetting(cache):
    with cache.write() as tx:
        tx.upsert_candidates(
            [
                {"id": "A", "ra": 1.0, "dec": 2.0, "score": 0.2},
                {"id": "B", "ra": 3.0, "dec": 4.0, "score": 0.9},
                {"id": "C", "ra": 5.0, "dec": 6.0},
            ]
        )
        tx.record_vetting("B", "reject")
        tx.record_vetting("A", "save", group_ids=[3])
        tx.record_vetting("A", "undo")
    frame = cache.candidates_frame()
    assert frame["id"].tolist() == ["B", "A", "C"]
    assert frame.set_index("id").loc["B", "decision"] == "reject"
    assert pd.isna(frame.set_index("id").loc["A", "decision"])
    assert cache.candidates_frame(include_vetted=False)["id"].tolist() == ["A", "C"]


def test_small_accessors(cache):
    with cache.write() as tx:
        tx.upsert_galaxies([{"id": 1, "name": "g", "ra": 1.0, "dec": 2.0, "distmpc": 40.0}], "CLU")
        tx.upsert_groups([{"id": 3, "name": "Program A"}])
        tx.upsert_taxonomies([{"id": 1, "name": "t", "hierarchy": {"class": "x"}}])
        first = tx.enqueue("reject", {"obj_id": "A"})
        second = tx.enqueue("save", {"obj_id": "A", "group_ids": [3]})
        tx.update_action(second, status="sent")
        tx.set_sync_state("sources", "", status="complete", watermark="2026-01-01T00:00:00")
        tx.set_sync_state("sources", "g3", status="running", error="HTTP 500")
    assert cache.galaxy_catalog_counts() == {"CLU": 1}
    assert cache.galaxies_frame("CLU")["distmpc"].tolist() == [40.0]
    assert cache.galaxies_frame("other").empty
    assert json.loads(cache.taxonomies_frame()["hierarchy"][0]) == {"class": "x"}
    assert cache.groups_frame()["name"].tolist() == ["Program A"]
    assert [a["id"] for a in cache.outbox_actions()] == [first, second]
    pending = cache.outbox_actions(("pending", "unknown"))
    assert [a["payload"] for a in pending] == [{"obj_id": "A"}]
    assert cache.outbox_actions("sent", ids=[first]) == []
    overview = cache.sync_overview()
    assert overview["sources"].startswith("complete; watermark 2026-01-01 00:00:00")
    assert "error: HTTP 500" in overview["sources[g3]"]
    with pytest.raises(CacheError, match="unknown resource"):
        cache.count_listed("spectra")
    with pytest.raises(CacheError, match="limit"):
        cache.thumbnails_to_fetch(limit=-1)
