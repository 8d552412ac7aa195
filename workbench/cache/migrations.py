"""The cache's schema, as a numbered list of named migrations.

Each migration runs in its own transaction together with the ``meta`` update that records
it, so a cache file is always at exactly one version: an interrupted upgrade leaves the
previous version intact and the next open finishes it. ``meta`` holds ``schema_version``;
``meta_migrations`` logs which migration ran when, and under which workbench version.

The DDL below is frozen history: never edit a migration that has shipped, add a new one.
:func:`schema_v1` is the first migration on its own, kept so that tests can build a
genuine version-1 file and watch it upgrade.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import duckdb

from ..errors import SchemaError

Migration = tuple[str, Callable[[duckdb.DuckDBPyConnection], None]]

_V1 = """
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR);
CREATE TABLE meta_migrations (
    version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL,
    workbench_version VARCHAR);
CREATE TABLE objs (
    id VARCHAR PRIMARY KEY, ra DOUBLE, dec DOUBLE, ra_err DOUBLE, dec_err DOUBLE,
    redshift DOUBLE, redshift_error DOUBLE, origin VARCHAR, alias JSON, tns_name VARCHAR,
    internal_key VARCHAR, score DOUBLE, t0 DOUBLE, transient BOOLEAN, varstar BOOLEAN,
    is_roid BOOLEAN, healpix BIGINT, gal_lon DOUBLE, gal_lat DOUBLE, ebv DOUBLE,
    luminosity_distance DOUBLE, dm DOUBLE, angular_diameter_distance DOUBLE,
    host_id BIGINT, altdata JSON, created_at TIMESTAMP, modified TIMESTAMP,
    raw JSON NOT NULL, raw_hash UBIGINT NOT NULL, cached_at TIMESTAMP NOT NULL);
CREATE TABLE sources (
    obj_id VARCHAR NOT NULL, group_id INTEGER NOT NULL, saved_at TIMESTAMP,
    saved_by_id BIGINT, saved_by VARCHAR, active BOOLEAN, requested BOOLEAN,
    raw JSON NOT NULL, raw_hash UBIGINT NOT NULL, cached_at TIMESTAMP NOT NULL,
    PRIMARY KEY (obj_id, group_id));
CREATE TABLE candidates (
    obj_id VARCHAR PRIMARY KEY, filter_id INTEGER, filter_ids JSON, passing_group_ids JSON,
    passed_at TIMESTAMP, last_detected_at TIMESTAMP, is_source BOOLEAN,
    saved_group_ids JSON, raw JSON NOT NULL, raw_hash UBIGINT NOT NULL,
    cached_at TIMESTAMP NOT NULL);
CREATE TABLE photometry (
    id BIGINT PRIMARY KEY, obj_id VARCHAR NOT NULL, mjd DOUBLE, mag DOUBLE, magerr DOUBLE,
    limiting_mag DOUBLE, flux DOUBLE, fluxerr DOUBLE, zp DOUBLE, magsys VARCHAR,
    filter VARCHAR, instrument_id BIGINT, instrument_name VARCHAR, origin VARCHAR,
    ra DOUBLE, dec DOUBLE, ra_unc DOUBLE, dec_unc DOUBLE, snr DOUBLE, altdata JSON,
    created_at TIMESTAMP, raw JSON NOT NULL, raw_hash UBIGINT NOT NULL,
    cached_at TIMESTAMP NOT NULL);
CREATE TABLE spectra (
    id BIGINT PRIMARY KEY, obj_id VARCHAR NOT NULL, observed_at TIMESTAMP,
    instrument_id BIGINT, instrument_name VARCHAR, telescope_name VARCHAR, type VARCHAR,
    label VARCHAR, units VARCHAR, origin VARCHAR, altdata JSON,
    wavelengths DOUBLE[], fluxes DOUBLE[], errors DOUBLE[], data_hash UBIGINT,
    created_at TIMESTAMP, modified TIMESTAMP, raw JSON NOT NULL, raw_hash UBIGINT NOT NULL,
    cached_at TIMESTAMP NOT NULL);
CREATE TABLE classifications (
    id BIGINT PRIMARY KEY, obj_id VARCHAR NOT NULL, classification VARCHAR,
    taxonomy_id BIGINT, probability DOUBLE, ml BOOLEAN, origin VARCHAR, author_id BIGINT,
    author_name VARCHAR, created_at TIMESTAMP, modified TIMESTAMP, raw JSON NOT NULL,
    raw_hash UBIGINT NOT NULL, cached_at TIMESTAMP NOT NULL);
CREATE TABLE taxonomies (
    id BIGINT PRIMARY KEY, name VARCHAR, version VARCHAR, provenance VARCHAR,
    "isLatest" BOOLEAN, hierarchy JSON, group_ids JSON, created_at TIMESTAMP,
    modified TIMESTAMP, raw JSON NOT NULL, raw_hash UBIGINT NOT NULL,
    cached_at TIMESTAMP NOT NULL);
CREATE TABLE groups (
    id BIGINT PRIMARY KEY, name VARCHAR, nickname VARCHAR, description VARCHAR,
    private BOOLEAN, single_user_group BOOLEAN, is_member BOOLEAN, is_accessible BOOLEAN,
    created_at TIMESTAMP, modified TIMESTAMP, raw JSON NOT NULL, raw_hash UBIGINT NOT NULL,
    cached_at TIMESTAMP NOT NULL);
CREATE TABLE comments (
    id BIGINT PRIMARY KEY, obj_id VARCHAR NOT NULL, text VARCHAR, author_id BIGINT,
    author VARCHAR, bot BOOLEAN, origin VARCHAR, attachment_name VARCHAR,
    group_ids JSON, created_at TIMESTAMP, modified TIMESTAMP, raw JSON NOT NULL,
    raw_hash UBIGINT NOT NULL, cached_at TIMESTAMP NOT NULL);
CREATE TABLE annotations (
    id BIGINT PRIMARY KEY, obj_id VARCHAR NOT NULL, origin VARCHAR, author_id BIGINT,
    data JSON, group_ids JSON, created_at TIMESTAMP, modified TIMESTAMP,
    raw JSON NOT NULL, raw_hash UBIGINT NOT NULL, cached_at TIMESTAMP NOT NULL);
CREATE TABLE thumbnails (
    obj_id VARCHAR NOT NULL, type VARCHAR NOT NULL, id BIGINT, public_url VARCHAR,
    file_uri VARCHAR, origin VARCHAR, is_grayscale BOOLEAN, created_at TIMESTAMP,
    modified TIMESTAMP, url VARCHAR, content_type VARCHAR, png BLOB, fetched_at TIMESTAMP,
    raw JSON, raw_hash UBIGINT, cached_at TIMESTAMP NOT NULL,
    PRIMARY KEY (obj_id, type));
CREATE TABLE sync_state (
    resource VARCHAR NOT NULL, scope VARCHAR NOT NULL DEFAULT '', watermark TIMESTAMP,
    last_page INTEGER, pass_id VARCHAR, status VARCHAR, total_matches BIGINT,
    counts JSON, pass_started_at TIMESTAMP, error VARCHAR, extra JSON,
    updated_at TIMESTAMP NOT NULL, PRIMARY KEY (resource, scope));
CREATE SEQUENCE outbox_id_seq START 1;
CREATE TABLE outbox (
    id BIGINT PRIMARY KEY DEFAULT nextval('outbox_id_seq'), kind VARCHAR NOT NULL,
    payload JSON NOT NULL, status VARCHAR NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'rejected', 'unknown',
                          'dropped')),
    attempts INTEGER NOT NULL DEFAULT 0, last_error VARCHAR, remote_id VARCHAR,
    created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL);
"""

_V2 = """
CREATE TABLE galaxies (
    id BIGINT PRIMARY KEY, catalog_name VARCHAR NOT NULL, catalog_id BIGINT, name VARCHAR,
    alt_name VARCHAR, ra DOUBLE, dec DOUBLE, distmpc DOUBLE, distmpc_unc DOUBLE,
    redshift DOUBLE, redshift_error DOUBLE, mstar DOUBLE, magb DOUBLE, magk DOUBLE,
    sfr_fuv DOUBLE, sfr_w4 DOUBLE, healpix BIGINT, created_at TIMESTAMP, modified TIMESTAMP,
    raw JSON NOT NULL, raw_hash UBIGINT NOT NULL, cached_at TIMESTAMP NOT NULL);
CREATE TABLE gcn_events (
    dateobs TIMESTAMP PRIMARY KEY, id BIGINT, aliases JSON, tags JSON, trigger_id VARCHAR,
    created_at TIMESTAMP, modified TIMESTAMP, raw JSON NOT NULL, raw_hash UBIGINT NOT NULL,
    cached_at TIMESTAMP NOT NULL);
CREATE TABLE localizations (
    dateobs TIMESTAMP NOT NULL, localization_name VARCHAR NOT NULL, id BIGINT,
    notice_id BIGINT, n_pixels BIGINT, has_distance BOOLEAN, pixels_hash UBIGINT,
    created_at TIMESTAMP, modified TIMESTAMP, raw JSON NOT NULL, raw_hash UBIGINT NOT NULL,
    cached_at TIMESTAMP NOT NULL, PRIMARY KEY (dateobs, localization_name));
CREATE TABLE localization_pixels (
    dateobs TIMESTAMP NOT NULL, localization_name VARCHAR NOT NULL, uniq BIGINT NOT NULL,
    probdensity DOUBLE NOT NULL, distmu DOUBLE, distsigma DOUBLE, distnorm DOUBLE);
"""

_V3 = """
CREATE SEQUENCE vetting_id_seq START 1;
CREATE TABLE vetting (
    id BIGINT PRIMARY KEY DEFAULT nextval('vetting_id_seq'), obj_id VARCHAR NOT NULL,
    decision VARCHAR NOT NULL, group_ids JSON, note VARCHAR, action_id BIGINT,
    decided_at TIMESTAMP NOT NULL);
ALTER TABLE candidates ADD COLUMN score DOUBLE;
"""

# Local effects of queued actions (rows the outbox added, tagged with its action id), the
# photometry version each obj was last fetched at, and the version of stored skymap pixels.
_V4 = """
CREATE TABLE obj_sync (
    obj_id VARCHAR PRIMARY KEY, photometry_modified TIMESTAMP, photometry_synced_at TIMESTAMP);
ALTER TABLE classifications ADD COLUMN action_id BIGINT;
ALTER TABLE comments ADD COLUMN action_id BIGINT;
ALTER TABLE sources ADD COLUMN action_id BIGINT;
ALTER TABLE spectra ADD COLUMN action_id BIGINT;
ALTER TABLE localizations ADD COLUMN pixels_modified TIMESTAMP;
UPDATE localizations SET pixels_modified = modified WHERE n_pixels IS NOT NULL;
"""

# Vetting models trained on a group's own decisions (workbench.learning): one row per group
# and version; ``model`` is the estimator pickled by this machine's own workbench.
_V5 = """
CREATE TABLE IF NOT EXISTS learning_models (
    group_id BIGINT NOT NULL, version INTEGER NOT NULL, kind VARCHAR NOT NULL,
    trained_at TIMESTAMP NOT NULL, n_decisions BIGINT NOT NULL, n_wanted BIGINT NOT NULL,
    label_from TIMESTAMP, label_to TIMESTAMP, features JSON NOT NULL, metrics JSON,
    library VARCHAR, format INTEGER NOT NULL, model BLOB NOT NULL,
    PRIMARY KEY (group_id, version));
"""

# Machine-learning scores a candidate's annotations commonly carry, best first: the score of
# a candidate is its obj's own `score`, else the first of these found in its annotations.
SCORE_KEYS = ("drb", "braai", "rb", "score")


def _backfill_candidate_score(con: duckdb.DuckDBPyConnection) -> None:
    keys = ", ".join(f"({i}, '{key}')" for i, key in enumerate(SCORE_KEYS))
    con.execute(f"""
        UPDATE candidates SET score = coalesce(
            (SELECT o.score FROM objs o WHERE o.id = candidates.obj_id),
            (SELECT CAST(json_extract(a.data, '$.' || k.key) AS DOUBLE)
               FROM annotations a, (VALUES {keys}) k(i, key)
              WHERE a.obj_id = candidates.obj_id
                AND json_type(a.data, '$.' || k.key) IN ('DOUBLE', 'BIGINT', 'UBIGINT')
              ORDER BY k.i, a.origin NULLS LAST, a.id LIMIT 1))
    """)


def schema_v1(con: duckdb.DuckDBPyConnection) -> None:
    """Create the version-1 tables (the first migration) on an empty database."""
    con.execute(_V1)


def _v2(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_V2)


def _v3(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_V3)
    _backfill_candidate_score(con)


def _v4(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_V4)


def _v5(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_V5)


# The group's own fields that 0006 takes out of each stored source link's JSON (frozen
# here: the list the sync uses may grow, this migration must not change).
_V6_GROUP_KEYS = (
    "name",
    "nickname",
    "description",
    "private",
    "auto_accept_requests",
    "single_user_group",
    "modified",
    "created_at",
)


def _v6(con: duckdb.DuckDBPyConnection) -> None:
    """Source links keep only their own fields (the sync stores them so since 0006): the
    stored JSON is trimmed and rehashed, so the first sync after the upgrade finds the
    links unchanged instead of rewriting every one."""
    import orjson
    import pyarrow as pa

    from .bulk import dumps, hash64

    rows = con.execute(
        "SELECT obj_id, group_id, raw FROM sources WHERE "
        + " OR ".join(f"json_exists(raw, '$.{k}')" for k in _V6_GROUP_KEYS)
        + " OR json_exists(raw, '$.saved_by.first_name')"
    ).fetchall()
    if not rows:
        return
    raws, hashes = [], []
    for _, _, text in rows:
        link = orjson.loads(text)
        for key in _V6_GROUP_KEYS:
            link.pop(key, None)
        by = link.get("saved_by")
        if isinstance(by, dict):
            link["saved_by"] = {"id": by.get("id"), "username": by.get("username")}
        blob = dumps(link)
        raws.append(blob.decode())
        hashes.append(hash64(blob))
    trimmed = pa.table(
        {
            "obj_id": [r[0] for r in rows],
            "group_id": [r[1] for r in rows],
            "raw": raws,
            "raw_hash": pa.array(hashes, pa.uint64()),
        }
    )
    con.register("_wb_v6", trimmed)
    try:
        con.execute(
            "UPDATE sources SET raw = t.raw, raw_hash = t.raw_hash FROM _wb_v6 t "
            "WHERE sources.obj_id = t.obj_id AND sources.group_id = t.group_id"
        )
    finally:
        con.unregister("_wb_v6")


MIGRATIONS: list[Migration] = [
    ("0001_initial", schema_v1),
    ("0002_gcn_events_localizations_galaxies", _v2),
    ("0003_vetting_and_candidate_score", _v3),
    ("0004_local_effects_and_sync_markers", _v4),
    ("0005_learning_models", _v5),
    ("0006_lean_source_links", _v6),
]
SCHEMA_VERSION = len(MIGRATIONS)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def read_version(con: duckdb.DuckDBPyConnection, path: str) -> int:
    """The schema version recorded in the file (0 for an empty database)."""
    tables = {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
    }
    if "meta" not in tables:
        if tables:
            raise SchemaError(
                f"{path} is a DuckDB file but not a workbench cache (it has tables "
                f"{sorted(tables)[:5]} and no 'meta'); point the cache at another path."
            )
        return 0
    rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    row = rows[0] if rows else None
    try:
        return int(row[0])
    except (TypeError, ValueError) as exc:
        raise SchemaError(
            f"The cache {path} is damaged: its schema_version is {row!r}. Move the file "
            f"aside and sync again to rebuild it."
        ) from exc


def check_not_newer(version: int, path: str) -> None:
    """Refuse a cache written by a newer workbench, saying what to do."""
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"The cache {path} has schema version {version}, newer than this workbench "
            f"understands ({SCHEMA_VERSION}). Upgrade the workbench (pip install -U "
            f"skyportal-workbench), or use another cache path for this older version."
        )


def upgrade(con: duckdb.DuckDBPyConnection, path: str, workbench_version: str) -> list[str]:
    """Bring the file up to :data:`SCHEMA_VERSION`; returns the names of migrations run.

    ``con`` must be a read-write connection with no open transaction. Each migration runs
    in its own transaction with the ``meta`` rows that record it.
    """
    ran: list[str] = []
    while True:
        version = -1
        con.execute("BEGIN TRANSACTION")
        try:
            version = read_version(con, path)
            check_not_newer(version, path)
            if version == SCHEMA_VERSION:
                con.execute("ROLLBACK")
                return ran
            name, apply = MIGRATIONS[version]
            apply(con)
            con.execute(
                "INSERT INTO meta_migrations VALUES (?, ?, ?, ?)",
                [version + 1, name, _now(), workbench_version],
            )
            con.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(version + 1)]
            )
            if version == 0:
                con.execute(
                    "INSERT INTO meta VALUES ('created_by', ?), ('created_at', ?)",
                    [workbench_version, _now().isoformat()],
                )
            con.execute("COMMIT")
            ran.append(name)
        except SchemaError:
            con.execute("ROLLBACK")
            raise
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            step = MIGRATIONS[version][0] if 0 <= version < SCHEMA_VERSION else "(reading meta)"
            raise SchemaError(
                f"Upgrading the cache {path} failed in migration {step!r}: {exc}. The file is "
                f"unchanged at version {max(version, 0)}; report this, or move the file aside "
                f"and sync again."
            ) from exc
