"""Schema versions and migrations: new files, old files upgraded, newer files refused."""

from __future__ import annotations

import json

import duckdb
import pytest

from workbench.cache import SCHEMA_VERSION, Cache
from workbench.cache import migrations as mig
from workbench.cache.tables import SPECS
from workbench.errors import CacheError, SchemaError

_DUCK_TYPES = {
    "str": "VARCHAR",
    "float": "DOUBLE",
    "int": ("BIGINT", "INTEGER"),
    "bool": "BOOLEAN",
    "ts": "TIMESTAMP",
    "json": "JSON",
    "floats": "DOUBLE[]",
    "blob": "BLOB",
    "hash": "UBIGINT",
}


def make_v1(path):
    """A cache file exactly as a version-1 workbench left it, with some data."""
    con = duckdb.connect(str(path))
    mig.schema_v1(con)
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute("INSERT INTO meta_migrations VALUES (1, '0001_initial', now(), '0.0.1')")
    for obj_id, score in (("A", None), ("B", 0.4), ("C", None)):
        con.execute(
            "INSERT INTO objs (id, ra, dec, score, raw, raw_hash, cached_at) "
            "VALUES (?, 1.5, 2.5, ?, '{}', 1, now())",
            [obj_id, score],
        )
        con.execute(
            "INSERT INTO candidates (obj_id, raw, raw_hash, cached_at) VALUES (?, '{}', 1, now())",
            [obj_id],
        )
    con.execute("""INSERT INTO annotations (id, obj_id, origin, data, raw, raw_hash, cached_at)
        VALUES (1, 'A', 'kowalski', '{"acai_h": 0.1, "drb": 0.93}', '{}', 1, now()),
               (2, 'A', 'aaa', '{"braai": 0.5}', '{}', 1, now()),
               (3, 'C', 'x', '{"drb": true, "rb": "0.9"}', '{}', 1, now())""")
    con.execute(
        "INSERT INTO outbox (kind, payload, created_at, updated_at) "
        "VALUES ('reject', '{\"obj_id\": \"A\"}', now(), now())"
    )
    con.close()


def test_a_new_cache_is_at_the_current_version(tmp_path):
    cache = Cache(tmp_path / "sub" / "new.duckdb")
    assert cache.schema_version == SCHEMA_VERSION
    log = cache.sql("SELECT version, name FROM meta_migrations ORDER BY version")
    assert log["name"].tolist() == [name for name, _ in mig.MIGRATIONS]
    meta = dict(cache.sql("SELECT key, value FROM meta").values.tolist())
    assert meta["schema_version"] == str(SCHEMA_VERSION) and meta["created_by"]
    assert "Cache(" in repr(cache) and f"schema_version={SCHEMA_VERSION}" in repr(cache)


def test_a_version_1_file_opens_and_upgrades_keeping_its_data(tmp_path):
    path = tmp_path / "old.duckdb"
    make_v1(path)
    with pytest.raises(SchemaError, match="needs an upgrade"):
        Cache(path, read_only=True)
    cache = Cache(path)
    assert cache.schema_version == SCHEMA_VERSION
    log = cache.sql("SELECT version, name, workbench_version FROM meta_migrations ORDER BY 1")
    assert log["version"].tolist() == list(range(1, SCHEMA_VERSION + 1))
    assert log["workbench_version"][0] == "0.0.1"
    # the migration that added candidates.score filled it from objs and annotations
    scores = dict(cache.sql("SELECT obj_id, score FROM candidates").values.tolist())
    assert scores["A"] == 0.93 and scores["B"] == 0.4
    assert scores["C"] != scores["C"]  # NaN: a boolean or a string is not a score
    assert cache.counts()["outbox"] == 1 and cache.counts()["vetting"] == 0
    assert Cache(path, read_only=True).schema_version == SCHEMA_VERSION


def test_a_failed_migration_leaves_the_previous_version(tmp_path, monkeypatch):
    path = tmp_path / "old.duckdb"
    make_v1(path)

    def broken(con):
        con.execute("CREATE TABLE half_done (x INTEGER)")
        con.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(mig, "MIGRATIONS", [*mig.MIGRATIONS[:1], ("0002_broken", broken)])
    monkeypatch.setattr(mig, "SCHEMA_VERSION", 2)
    with pytest.raises(SchemaError, match="0002_broken"):
        mig.upgrade(duckdb.connect(str(path)), str(path), "test")
    con = duckdb.connect(str(path), read_only=True)
    assert mig.read_version(con, str(path)) == 1
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert "half_done" not in tables
    con.close()


def test_a_cache_from_a_newer_workbench_is_refused(tmp_path):
    path = tmp_path / "future.duckdb"
    Cache(path)
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    con.close()
    for read_only in (False, True):
        with pytest.raises(SchemaError, match=r"newer than this workbench.*Upgrade the workbench"):
            Cache(path, read_only=read_only)
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("99",)
    con.close()


def test_foreign_or_damaged_files_are_refused(tmp_path):
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE stuff (x INTEGER)")
    con.close()
    with pytest.raises(SchemaError, match="not a workbench cache"):
        Cache(other)
    text = tmp_path / "notes.duckdb"
    text.write_text("not a database at all\n" * 100)
    with pytest.raises(CacheError, match="Cannot open the cache"):
        Cache(text)
    damaged = tmp_path / "damaged.duckdb"
    Cache(damaged)
    con = duckdb.connect(str(damaged))
    con.execute("UPDATE meta SET value = 'three' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(SchemaError, match="damaged"):
        Cache(damaged)


def test_missing_file_read_only_and_bad_arguments(tmp_path):
    with pytest.raises(CacheError, match="no cache at"):
        Cache(tmp_path / "absent.duckdb", read_only=True)
    assert not (tmp_path / "absent.duckdb").exists()
    with pytest.raises(CacheError, match="directory"):
        Cache(tmp_path)
    with pytest.raises(CacheError, match="lock_timeout"):
        Cache(tmp_path / "x.duckdb", lock_timeout=-1)


def test_table_specs_match_the_migrated_tables(tmp_path):
    cache = Cache(tmp_path / "c.duckdb")
    columns = cache.sql("SELECT table_name, column_name, data_type FROM duckdb_columns()")
    types = {(t, c): d for t, c, d in columns.values.tolist()}
    for spec in SPECS.values():
        for col in spec.cols:
            expected = _DUCK_TYPES[col.kind]
            got = types.get((spec.name, col.name))
            assert got in ((expected,) if isinstance(expected, str) else expected), (spec.name, col)
        for std in ("raw", "raw_hash", "cached_at"):
            assert (spec.name, std) in types


def test_a_cache_folder_that_cannot_be_made_says_what_to_do(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(CacheError, match="Cannot create the folder") as caught:
        Cache(blocker / "sub" / "c.duckdb")
    assert "cache=" in str(caught.value) and "--cache" in caught.value.for_cli()


def test_source_links_stored_whole_are_trimmed_and_then_seen_unchanged(tmp_path):
    """Before 0006 a link's JSON held the group's own fields and the saver's profile; the
    upgrade trims them the way the sync now stores links, so the first sync after it finds
    the links unchanged instead of rewriting them all."""
    from workbench.cache.bulk import dumps, hash64

    path = tmp_path / "v5.duckdb"
    con = duckdb.connect(str(path))
    for version, (name, apply) in enumerate(mig.MIGRATIONS[:5], 1):
        apply(con)
        con.execute("INSERT INTO meta_migrations VALUES (?, ?, now(), '0.4')", [version, name])
    con.execute("INSERT INTO meta VALUES ('schema_version', '5')")
    group = {
        "id": 3,
        "name": "Program A",
        "nickname": None,
        "description": None,
        "private": False,
        "single_user_group": False,
        "modified": "2025-01-06T17:42:53",
        "created_at": "2025-01-06T17:42:53",
        "active": True,
        "requested": False,
        "saved_at": "2026-11-01T00:00:00",
        "saved_by": {"id": 1, "username": "admin", "first_name": "A", "bio": None},
    }
    whole = dumps(group)
    con.execute(
        "INSERT INTO sources (obj_id, group_id, saved_at, saved_by_id, saved_by, active, "
        "requested, raw, raw_hash, cached_at) VALUES ('ZTFa', 3, '2026-11-01', 1, 'admin', "
        "true, false, ?, ?, '2020-01-01')",
        [whole.decode(), hash64(whole)],
    )
    con.close()

    cache = Cache(path)
    stored = json.loads(cache.sql("SELECT raw FROM sources").iloc[0, 0])
    assert stored == {
        "id": 3,
        "active": True,
        "requested": False,
        "saved_at": "2026-11-01T00:00:00",
        "saved_by": {"id": 1, "username": "admin"},
    }
    record = {"id": "ZTFa", "ra": 1.0, "dec": 2.0, "groups": [group]}
    with cache.write() as tx:
        tx.upsert_sources([record])
    # the link the upgrade trimmed compares equal: it was not rewritten (nor re-timestamped)
    assert str(cache.sql("SELECT cached_at FROM sources").iloc[0, 0]).startswith("2020-01-01")
    with cache.write() as tx:
        assert tx.upsert_sources([record]).unchanged == 1
