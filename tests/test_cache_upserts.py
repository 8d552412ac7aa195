"""Upserts of every record kind: counts, replace semantics, raw JSON, typed columns."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from workbench.cache import Cache, UpsertResult
from workbench.errors import CacheError, SkymapError

LIVE = "reference/skyportal-live"


@pytest.fixture
def cache(tmp_path):
    return Cache(tmp_path / "c.duckdb")


@pytest.fixture
def live(shared_dir):
    def load(name):
        return json.loads((shared_dir / LIVE / name).read_text())["data"]

    return load


def group(gid, saved_at="2026-01-02T03:04:05.123456", **extra):
    return {
        "id": gid,
        "name": f"G{gid}",
        "saved_at": saved_at,
        "active": True,
        "requested": False,
        "saved_by": {"id": 7, "username": "alice"},
        **extra,
    }


def source(obj_id, ra=10.0, dec=-5.0, groups=(1,), **extra):
    return {
        "id": obj_id,
        "ra": ra,
        "dec": dec,
        "redshift": None,
        "alias": ["SN x"],
        "created_at": "2026-01-01T00:00:00",
        "modified": "2026-01-01T00:00:00",
        "groups": [group(g) for g in groups],
        "classifications": [],
        **extra,
    }


def point(pid, obj_id="ZTFa", mag=18.5, **extra):
    return {
        "id": pid,
        "obj_id": obj_id,
        "mjd": 59000.0 + pid,
        "mag": mag,
        "magerr": 0.1,
        "limiting_mag": 20.0,
        "magsys": "ab",
        "filter": "ztfg",
        "instrument_id": 1,
        "instrument_name": "ZTF",
        "origin": "None",
        "created_at": "2026-01-01T00:00:00",
        **extra,
    }


def test_sources_from_captures_count_and_keep_raw(cache, live):
    page1 = live("GET_api_sources_page1.json")["sources"]
    page2 = live("GET_api_sources_page2.json")["sources"]
    with cache.write() as tx:
        assert tx.upsert_sources(page1) == UpsertResult(new=2)
        assert tx.upsert_sources(page2) == UpsertResult(new=2)
    with cache.write() as tx:
        assert tx.upsert_sources(page1 + page2) == UpsertResult(unchanged=4)
    objs = cache.sql("SELECT * FROM objs ORDER BY id")
    assert len(objs) == 4
    row = objs.set_index("id").loc["TIC_114807149"]
    assert row["ra"] == pytest.approx(359.98824711158005)
    raw = json.loads(row["raw"])
    assert raw["internal_key"] == "3be32b62-19ec-4ba8-b3bc-34f4fbce10f8"
    assert "groups" not in raw  # the links live in `sources`
    links = cache.sql(
        "SELECT group_id, saved_by FROM sources WHERE obj_id = 'TIC_114807149' ORDER BY group_id"
    )
    assert links["group_id"].tolist() == [1, 2]
    assert set(links["saved_by"]) == {"provisioned-admin"}
    assert str(cache.sql("SELECT created_at FROM objs LIMIT 1").dtypes.iloc[0]).startswith(
        "datetime64"
    )


def test_unsave_is_seen_group_links_replaced(cache):
    with cache.write() as tx:
        assert tx.upsert_sources([source("A", groups=(1, 3)), source("B", groups=(1,))]).new == 2
    with cache.write() as tx:
        result = tx.upsert_sources([source("A", groups=(3,)), source("B", groups=(1,))])
    assert result == UpsertResult(updated=1, unchanged=1)
    assert cache.sql("SELECT obj_id, group_id FROM sources ORDER BY 1, 2").values.tolist() == [
        ["A", 3],
        ["B", 1],
    ]


def test_full_source_embeds_and_partial_views_merge(cache, live):
    full = live("GET_api_sources_ZTF21aaqjmps_full.json")
    with cache.write() as tx:
        assert tx.upsert_sources([full]).new == 1
    counts = cache.counts()
    assert counts["photometry"] == len(full["photometry"]) == 87
    assert counts["comments"] == 3 and counts["annotations"] == 1 and counts["thumbnails"] == 3
    # a list row of the same source lacks photstats/ebv: the stored fields stay
    listed = {
        k: v
        for k, v in full.items()
        if k not in ("photstats", "ebv", "photometry", "thumbnails", "comments")
    }
    with cache.write() as tx:
        assert tx.upsert_sources([listed]) == UpsertResult(unchanged=1)
    raw = json.loads(cache.sql("SELECT raw FROM objs")["raw"][0])
    assert raw["photstats"][0]["num_obs_global"] == 174
    assert cache.counts()["photometry"] == 87  # no 'photometry' key: points untouched
    with cache.write() as tx:
        assert tx.upsert_sources([{**listed, "redshift": 0.03}]) == UpsertResult(updated=1)
    assert cache.sql("SELECT redshift FROM objs")["redshift"][0] == 0.03


def test_complete_collection_missing_key_means_none(cache):
    comment = {
        "id": 5,
        "obj_id": "A",
        "text": "hi",
        "author": {"username": "bob"},
        "created_at": "2026-01-01T00:00:00",
        "groups": [{"id": 3}, {"id": 1}],
    }
    with cache.write() as tx:
        tx.upsert_sources([source("A", comments=[comment])])
    row = cache.sql("SELECT author, group_ids FROM comments").iloc[0]
    assert row["author"] == "bob" and json.loads(row["group_ids"]) == [1, 3]
    with cache.write() as tx:  # a list page without includeComments: leave comments alone
        assert tx.upsert_sources([source("A")]) == UpsertResult(unchanged=1)
    assert cache.counts()["comments"] == 1
    with cache.write() as tx:  # includeComments=true and no key: SkyPortal's "no comments"
        assert tx.upsert_sources([source("A")], complete=["comments"]) == UpsertResult(updated=1)
    assert cache.counts()["comments"] == 0
    with pytest.raises(CacheError, match="unknown"), cache.write() as tx:
        tx.upsert_sources([source("A")], complete=["commments"])


def test_candidates_from_captures(cache, live):
    with cache.write() as tx:
        assert tx.upsert_candidates(live("GET_api_candidates_page1.json")["candidates"]).new == 2
        assert tx.upsert_candidates(live("GET_api_candidates_page2.json")["candidates"]).new == 2
        single = live("GET_api_candidates_ZTF21aaqjmps.json")
        assert tx.upsert_candidates([single]).total == 1
    cands = cache.sql("SELECT * FROM candidates ORDER BY obj_id").set_index("obj_id")
    assert len(cands) == 4
    row = cands.loc["ZTF21aaqjmps"]
    assert json.loads(row["passing_group_ids"]) == [3, 4]  # the server repeats them
    assert bool(row["is_source"]) is True  # the single-candidate answer says 3
    raw = json.loads(row["raw"])
    assert "passing_group_ids" in raw and "ra" not in raw  # obj fields live in objs
    assert cache.counts()["objs"] == 4
    assert cache.sql("SELECT count(*) n FROM thumbnails WHERE obj_id = 'ZTF21aaqjmps'")["n"][0] == 3


def test_candidate_score_and_filters_from_built_records(cache):
    ann = [
        {"id": 2, "origin": "kowalski", "data": {"acai_h": 0.2, "drb": 0.97}},
        {"id": 1, "origin": "aaa", "data": {"braai": 0.5, "drb": "high"}},
    ]
    records = [
        {
            "id": "C1",
            "ra": 1.0,
            "dec": 2.0,
            "annotations": ann,
            "filter_ids": [4, 2, 4],
            "passed_at": "2026-05-01T10:00:00+02:00",
            "passing_group_ids": [1, 1],
            "saved_groups": [],
            "is_source": False,
        },
        {
            "id": "C2",
            "ra": 3.0,
            "dec": 4.0,
            "score": 0.3,
            "filter_id": 9,
            "passed_at": "2026-05-02T00:00:00",
        },
    ]
    with cache.write() as tx:
        assert tx.upsert_candidates(records).new == 2
    c = cache.sql("SELECT * FROM candidates ORDER BY obj_id")
    assert c["score"].tolist() == [0.97, 0.3]
    assert c["filter_id"].tolist() == [2, 9] and json.loads(c["filter_ids"][0]) == [2, 4]
    assert str(c["passed_at"][0]) == "2026-05-01 08:00:00"  # UTC offset applied
    assert cache.sql("SELECT count(*) n FROM annotations")["n"][0] == 2


def test_photometry_replaces_an_objects_points(cache):
    with cache.write() as tx:
        assert tx.upsert_photometry("A", [point(i, "A") for i in range(1, 6)]).new == 5
        assert tx.upsert_photometry(["B"], [point(9, "B")]).new == 1
    changed = [point(1, "A"), point(2, "A", mag=17.0), point(3, "A")]
    with cache.write() as tx:
        result = tx.upsert_photometry("A", changed)
    assert result == UpsertResult(updated=1, unchanged=2, deleted=2)
    assert cache.sql("SELECT id FROM photometry ORDER BY id")["id"].tolist() == [1, 2, 3, 9]
    with cache.write() as tx:  # points without obj ids to replace: upsert only
        assert tx.upsert_photometry([], [point(20, "B")]).new == 1
    assert cache.counts()["photometry"] == 5
    with pytest.raises(CacheError, match="not among"), cache.write() as tx:
        tx.upsert_photometry("A", [point(30, "B")])
    with pytest.raises(CacheError, match=r"photometry\.mjd"), cache.write() as tx:
        tx.upsert_photometry("A", [point(31, "A", mjd="yesterday")])


def test_photometry_mag_and_flux_captures_give_the_same_cache(tmp_path, live):
    mags = live("GET_api_sources_ZTF21aaqjmps_photometry.json")
    fluxes = live("GET_api_sources_ZTF21aaqjmps_photometry_flux.json")
    frames = []
    for name, records in (("m", mags), ("f", fluxes)):
        c = Cache(tmp_path / f"{name}.duckdb")
        with c.write() as tx:
            assert tx.upsert_photometry("ZTF21aaqjmps", records).new == 174
        frames.append(c.sql("SELECT * FROM photometry ORDER BY id"))
    m, f = frames
    for col in ("mag", "magerr", "limiting_mag", "flux", "fluxerr"):
        np.testing.assert_allclose(
            m[col].to_numpy(float), f[col].to_numpy(float), rtol=1e-12, equal_nan=True, err_msg=col
        )
    assert m["mag"].isna().sum() == 48 and (m["zp"] == 23.9).all()
    by_id = {r["id"]: r for r in fluxes}
    row = m[m["mag"].notna()].iloc[0]
    assert row["flux"] == pytest.approx(by_id[row["id"]]["flux"], rel=1e-12)


def test_photometry_flux_records_rescaled_to_zp_23_9(cache):
    rec = {
        "id": 1,
        "obj_id": "A",
        "mjd": 59000.0,
        "flux": 1000.0,
        "fluxerr": 10.0,
        "zp": 25.0,
        "magsys": "ab",
        "filter": "ztfr",
    }
    vega = {
        "id": 2,
        "obj_id": "A",
        "mjd": 59001.0,
        "mag": 18.0,
        "magerr": 0.1,
        "limiting_mag": 20.0,
        "magsys": "vega",
        "filter": "ztfr",
    }
    with cache.write() as tx:
        tx.upsert_photometry("A", [rec, vega])
    p = cache.sql("SELECT * FROM photometry ORDER BY id")
    assert p["flux"][0] == pytest.approx(1000.0 * 10 ** (-0.4 * 1.1))
    assert p["mag"][0] == pytest.approx(25.0 - 2.5 * math.log10(1000.0))
    assert p["snr"][0] == pytest.approx(100.0)
    assert p["mag"][1] == 18.0 and math.isnan(p["flux"][1])  # no AB zero point for Vega


def test_spectra_arrays_kept_or_cleared(cache, live):
    full = live("GET_api_spectra_1.json")
    minimal = next(s for s in live("GET_api_spectra_minimal.json") if s["id"] == 1)
    with cache.write() as tx:
        assert tx.upsert_spectra([full]).new == 1
        assert tx.upsert_spectra([minimal]) == UpsertResult(unchanged=1)
    s = cache.sql("SELECT * FROM spectra").iloc[0]
    assert len(s["wavelengths"]) == len(full["wavelengths"]) == 1197
    assert s["fluxes"][0] == full["fluxes"][0] and pd.isna(s["errors"])
    assert s["instrument_name"] == "ALFOSC" and "wavelengths" not in json.loads(s["raw"])
    with cache.write() as tx:
        result = tx.upsert_spectra([{**minimal, "modified": "2026-12-01T00:00:00"}])
    assert result == UpsertResult(updated=1)
    assert cache.sql("SELECT wavelengths IS NULL AS stale FROM spectra")["stale"][0]
    with pytest.raises(CacheError, match="one length"), cache.write() as tx:
        tx.upsert_spectra([{**full, "fluxes": full["fluxes"][:-1]}])


def test_classifications_comments_annotations_replace_for(cache, live):
    with cache.write() as tx:
        assert (
            tx.upsert_classifications(
                live("GET_api_classification_page1_after_POST.json")["classifications"]
            ).new
            == 2
        )
        per_obj = live("GET_api_sources_ZTF18aabcvnq_classifications.json")
        assert tx.upsert_classifications(per_obj, replace_for="ZTF18aabcvnq").total == 2
        assert tx.upsert_comments(live("GET_api_sources_ZTF21aaqjmps_comments.json")).new == 3
        assert tx.upsert_annotations(live("GET_api_sources_ZTF21aaqjmps_annotations.json")).new == 1
    with cache.write() as tx:
        result = tx.upsert_classifications(per_obj[:1], replace_for=["ZTF18aabcvnq"])
    assert result.deleted == 1
    ann = cache.sql("SELECT data FROM annotations")["data"][0]
    assert json.loads(ann)["numeric_field"] == 0.11235813
    with pytest.raises(CacheError, match="obj_id"), cache.write() as tx:
        tx.upsert_classifications([{"id": 99, "classification": "Ia"}])


def test_groups_payload_replaces_and_marks_membership(cache, live):
    payload = live("GET_api_groups.json")
    with cache.write() as tx:
        assert tx.upsert_groups(payload).new == 4
    g = cache.sql("SELECT id, is_member, is_accessible FROM groups ORDER BY id")
    assert g["id"].tolist() == [1, 2, 3, 4]
    members = {e["id"] for e in payload["user_groups"]}
    assert set(g[g["is_member"]]["id"]) == members
    smaller = {k: [e for e in v if e["id"] != 4] for k, v in payload.items()}
    with cache.write() as tx:
        result = tx.upsert_groups(smaller)
    assert result.deleted == 1 and result.unchanged == 3
    with pytest.raises(CacheError, match="all_groups"), cache.write() as tx:
        tx.upsert_groups({"status": "success"})


def test_taxonomies_galaxies_events_localizations(cache, live):
    with cache.write() as tx:
        assert tx.upsert_taxonomies(live("GET_api_taxonomy.json")).new == 2
        galaxies = live("GET_api_galaxy_catalog.json")["galaxies"]
        assert tx.upsert_galaxies(galaxies, "CLU_mini").new == len(galaxies)
        assert tx.upsert_gcn_events(live("GET_api_gcn_event.json")["events"]).new == 4
        loc = live("GET_api_localization_2019-08-14T21-10-39_name_LALInference.v1.fits.gz.json")
        assert tx.put_localization(loc["dateobs"], loc["localization_name"], loc).updated == 1
    tax = cache.sql("SELECT * FROM taxonomies ORDER BY id")
    assert json.loads(tax["hierarchy"][1])["class"] == "Variable Taxonomy"
    assert set(cache.sql("SELECT catalog_name FROM galaxies")["catalog_name"]) == {"CLU_mini"}
    pix = cache.sql("SELECT * FROM localization_pixels ORDER BY uniq")
    assert len(pix) == 1056
    # JSON has no infinity: SkyPortal's null distmu (no distance there) stays NULL
    known = sum(v is not None for v in loc["distmu"])
    assert 0 < known < 1056
    assert cache.sql("SELECT count(distmu) n FROM localization_pixels")["n"][0] == known
    np.testing.assert_array_equal(pix["uniq"], np.sort(loc["uniq"]))
    meta = cache.sql("SELECT * FROM localizations WHERE n_pixels IS NOT NULL").iloc[0]
    assert bool(meta["has_distance"]) and "contour" in json.loads(meta["raw"])
    with cache.write() as tx:  # the event list again keeps the pixels and their count
        assert tx.upsert_gcn_events(live("GET_api_gcn_event.json")["events"]).unchanged == 4
        assert tx.put_localization(loc["dateobs"], loc["localization_name"], loc).unchanged == 1
        two_d = {k: v for k, v in loc.items() if not k.startswith("dist")}
        assert tx.put_localization(loc["dateobs"], loc["localization_name"], two_d).updated == 1
    assert cache.sql("SELECT count(distmu) n FROM localization_pixels")["n"][0] == 0
    for bad, match in (
        ({**loc, "probdensity": loc["probdensity"][:-1]}, "length"),
        ({**loc, "uniq": [0] * len(loc["uniq"])}, "NUNIQ"),
        ({k: v for k, v in loc.items() if k != "distnorm"}, "together"),
        ({"dateobs": loc["dateobs"]}, "uniq"),
    ):
        with pytest.raises(SkymapError, match=match), cache.write() as tx:
            tx.put_localization(loc["dateobs"], "bad", bad)
    with pytest.raises(CacheError, match="catalog_name"), cache.write() as tx:
        tx.upsert_galaxies(galaxies, "")


def test_thumbnail_bytes_survive_metadata_until_the_image_changes(cache):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
    meta = {"obj_id": "A", "type": "new", "id": 1, "public_url": "/static/a_new.png"}
    with cache.write() as tx:
        tx.put_thumbnail("A", "new", "http://h/static/a_new.png", png)
        assert tx.upsert_thumbnails([meta]).updated == 1
    t = cache.sql("SELECT * FROM thumbnails").iloc[0]
    assert bytes(t["png"]) == png and t["content_type"] == "image/png"
    with cache.write() as tx:
        tx.upsert_sources([source("A", thumbnails=[{**meta, "public_url": "/static/v2.png"}])])
    t = cache.sql("SELECT png, public_url FROM thumbnails").iloc[0]
    assert t["public_url"] == "/static/v2.png" and pd.isna(t["png"])
    with pytest.raises(CacheError, match="not a PNG"), cache.write() as tx:
        tx.put_thumbnail("A", "ref", "http://h/x", b"<html>502 Bad Gateway</html>")


def test_unknown_fields_are_kept_in_raw_json(cache):
    with cache.write() as tx:
        tx.upsert_sources([source("A", brand_new_field={"nested": [1, 2]})])
        tx.upsert_photometry("A", [point(1, "A", exotic=True)])
    raw = json.loads(cache.sql("SELECT raw FROM objs")["raw"][0])
    assert raw["brand_new_field"] == {"nested": [1, 2]}
    assert json.loads(cache.sql("SELECT raw FROM photometry")["raw"][0])["exotic"] is True


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"sources": []}, "not the whole envelope"),
        ([{"ra": 1.0}], "has no 'id'"),
        (["ZTF1"], "not a JSON object"),
        ([{"id": "A", "ra": "north"}], "objs.ra"),
        ([{"id": "A", "created_at": "last week"}], "objs.created_at"),
    ],
)
def test_bad_records_are_refused_clearly_and_roll_back(cache, bad, match):
    with pytest.raises(CacheError, match=match), cache.write() as tx:
        tx.upsert_sources([source("OK")])
        tx.upsert_sources(bad)
    assert cache.counts()["objs"] == 0


def test_duplicate_records_in_a_page_keep_the_last(cache):
    with cache.write() as tx:
        result = tx.upsert_sources([source("A", ra=1.0), source("A", ra=2.0)])
    assert result == UpsertResult(new=1)
    assert cache.sql("SELECT ra FROM objs")["ra"].tolist() == [2.0]


def test_delete_rows_cascades(cache, live):
    with cache.write() as tx:
        tx.upsert_sources([source("A"), source("B")])
        tx.upsert_photometry("A", [point(1, "A")])
        loc = live("GET_api_localization_2019-08-14T21-10-39_name_LALInference.v1.fits.gz.json")
        tx.put_localization(loc["dateobs"], loc["localization_name"], loc)
    with cache.write() as tx:
        assert tx.delete_rows("objs", ["A", "nope"]) == 1
        assert tx.delete_rows("localizations", [(loc["dateobs"], loc["localization_name"])]) == 1
        assert tx.delete_rows("sources", [{"obj_id": "B", "group_id": 1}]) == 1
    counts = cache.counts()
    assert counts["objs"] == 1 and counts["photometry"] == 0 and counts["sources"] == 0
    assert counts["localization_pixels"] == 0
    with pytest.raises(CacheError, match="unknown table"), cache.write() as tx:
        tx.delete_rows("objs; DROP TABLE objs", ["A"])


def test_photometry_raw_holds_only_what_no_typed_column_holds(cache):
    """Lean cache: a point's raw JSON drops the keys its typed columns hold as sent; a
    value the cache converted (a flux at zp 25 rescaled to 23.9) stays as the server sent
    it; a change to any key is still seen (the hash covers the whole record)."""
    flux_point = {
        "id": 2,
        "obj_id": "A",
        "mjd": 60001.0,
        "flux": 100.0,
        "fluxerr": 5.0,
        "zp": 25.0,
        "magsys": "ab",
        "filter": "ztfr",
        "instrument_id": 1,
    }
    with cache.write() as tx:
        tx.upsert_photometry("A", [point(1, "A", exotic=True), flux_point])
    raws = {i: json.loads(r) for i, r in cache.sql("SELECT id, raw FROM photometry").values}
    assert "exotic" in raws[1]
    assert not {"id", "obj_id", "mjd", "mag", "filter", "instrument_id"} & set(raws[1])
    assert raws[2]["flux"] == 100.0 and raws[2]["zp"] == 25.0  # as sent, not as stored
    assert not {"id", "obj_id", "mjd", "filter"} & set(raws[2])
    with cache.write() as tx:
        same = tx.upsert_photometry("A", [point(1, "A", exotic=True), flux_point])
        moved = tx.upsert_photometry(
            "A", [point(1, "A", exotic=True), {**flux_point, "filter": "ztfg"}]
        )
    assert same.unchanged == 2 and moved.updated == 1
    assert cache.sql("SELECT filter FROM photometry WHERE id = 2")["filter"][0] == "ztfg"
