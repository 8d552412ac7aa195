"""How fast records from the server get into the DuckDB cache, by approach, side by side.

Run: ``.venv/bin/python benchmarks/bench_ingest.py [--sources N] [--points N]``

Records are built here in the shapes SkyPortal returns (``/api/sources`` rows, photometry
points of ``/api/sources/{id}/photometry``). Printed figures (rows/s) compare:

1. ingest of fresh rows: Python columns -> Arrow (the cache's path, without the upsert
   bookkeeping); DuckDB parsing the JSON itself (``from_json`` with a struct);
   ``pandas.DataFrame.from_records``; ``executemany`` (on a small sample);
2. re-upsert of rows already stored: DELETE + INSERT of a staged page, ``INSERT OR
   REPLACE`` and ``MERGE INTO``, with ``alias`` as JSON and as ``VARCHAR[]``;
3. the cache itself end to end (``tx.upsert_sources`` / ``tx.upsert_photometry``), new
   rows, unchanged rows and changed rows, 500-record pages;
4. the cost of opening and closing a connection per operation.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import orjson
import pandas as pd
import pyarrow as pa

from workbench.cache import Cache
from workbench.cache.bulk import Page, column_array
from workbench.cache.tables import OBJS, PHOTOMETRY

PAGE = 500
SRC_COLS = [
    "id",
    "ra",
    "dec",
    "redshift",
    "origin",
    "alias",
    "score",
    "healpix",
    "created_at",
    "modified",
]


def make_sources(n: int, seed: int = 1, modified: str = "2026-11-24T04:03:01.785710") -> list[dict]:
    """``n`` records shaped like ``GET /api/sources`` rows (two group links each)."""
    rng = random.Random(seed)
    user = {
        "username": "provisioned-admin",
        "id": 1,
        "first_name": "provisioned",
        "last_name": "admin",
        "affiliations": [],
        "is_bot": False,
        "created_at": "2026-11-24T04:02:03.106257",
    }
    out = []
    for i in range(n):
        groups = [
            {
                "name": f"Program {g}",
                "nickname": None,
                "private": False,
                "id": g,
                "single_user_group": False,
                "active": True,
                "requested": False,
                "saved_at": f"2026-11-{1 + i % 28:02d}T04:03:01.785710",
                "saved_by": user,
                "created_at": "2026-11-24T04:02:03.106257",
                "modified": "2026-11-24T04:02:03.106257",
            }
            for g in (1, 3)
        ]
        out.append(
            {
                "id": f"ZTF{21 + i % 5}{i:07d}",
                "ra": rng.uniform(0, 360),
                "dec": rng.uniform(-30, 90),
                "ra_err": None,
                "dec_err": None,
                "redshift": rng.choice([None, rng.uniform(0, 0.2)]),
                "redshift_error": None,
                "origin": "ZTF",
                "alias": [f"SN 2021{i}"],
                "tns_name": None,
                "internal_key": f"{rng.getrandbits(128):032x}",
                "score": None,
                "t0": None,
                "transient": False,
                "varstar": False,
                "is_roid": False,
                "healpix": rng.getrandbits(62),
                "gal_lon": rng.uniform(0, 360),
                "gal_lat": rng.uniform(-90, 90),
                "luminosity_distance": None,
                "dm": None,
                "angular_diameter_distance": None,
                "host_id": None,
                "altdata": None,
                "offset": 0.0,
                "summary": None,
                "mpc_name": None,
                "tns_info": None,
                "created_at": "2026-11-24T04:03:01.785710",
                "modified": modified,
                "groups": groups,
                "classifications": [],
                "annotations": [],
                "tags": [],
            }
        )
    return out


def make_points(n: int, per_obj: int = 100, seed: int = 2) -> list[dict]:
    """``n`` photometry points shaped like ``GET /api/sources/{id}/photometry`` (mag format)."""
    rng = random.Random(seed)
    groups = [{"id": 3, "name": "Program A", "nickname": None, "single_user_group": False}]
    out = []
    for i in range(n):
        detected = rng.random() < 0.7
        mag = rng.uniform(17, 21) if detected else None
        out.append(
            {
                "obj_id": f"ZTF21{i // per_obj:07d}",
                "ra": None,
                "dec": None,
                "filter": rng.choice(["ztfg", "ztfr", "ztfi"]),
                "mjd": 59000 + rng.uniform(0, 400),
                "snr": None,
                "instrument_id": 1,
                "instrument_name": "ZTF",
                "ra_unc": None,
                "dec_unc": None,
                "origin": "None",
                "id": i + 1,
                "altdata": None,
                "created_at": "2026-11-24T04:03:14.010217",
                "groups": groups,
                "mag": mag,
                "magerr": rng.uniform(0.02, 0.3) if detected else None,
                "magsys": "ab",
                "limiting_mag": rng.uniform(19.5, 21),
            }
        )
    return out


def rate(label: str, n: int, fn: Callable[[], object], width: int = 58) -> float:
    t0 = time.perf_counter()
    fn()
    dt = time.perf_counter() - t0
    print(f"  {label:<{width}} {n / dt:>10,.0f} rows/s  ({dt:6.2f} s, {n:,} rows)")
    return n / dt


def pages(records: list[dict]) -> list[list[dict]]:
    return [records[i : i + PAGE] for i in range(0, len(records), PAGE)]


# -- 1. ingest of fresh rows ---------------------------------------------------------------
def ingest_approaches(label: str, spec, records: list[dict], cols: list[str]) -> None:
    print(f"\n[1] fresh {label}: parse + load into an empty table, {PAGE}-row pages")
    con = duckdb.connect()
    schema = ", ".join(f'"{c.name}" {_duck(c.kind)}' for c in spec.cols if c.name in cols)
    con.execute(f"CREATE TABLE t ({schema}, raw JSON)")
    picked = [c for c in spec.cols if c.name in cols]

    def arrow_path():
        for page in pages(records):
            p = Page(spec, page)
            table = pa.table(
                {
                    **{c.name: column_array(c, p.column(c.name), "t") for c in picked},
                    "raw": pa.array([orjson.dumps(r).decode() for r in page]),
                }
            )
            con.register("s", table)
            con.execute("INSERT INTO t SELECT * FROM s")
            con.unregister("s")

    struct = "{" + ", ".join(f'"{c.name}": "{_duck(c.kind, for_json=True)}"' for c in picked) + "}"

    def duckdb_json():
        for page in pages(records):
            table = pa.table({"raw": pa.array([orjson.dumps(r).decode() for r in page])})
            con.register("s", table)
            names = ", ".join(f'j."{c.name}"' for c in picked)
            con.execute(
                f"INSERT INTO t SELECT {names}, raw FROM "
                f"(SELECT from_json(raw, '{struct}') AS j, raw FROM s)"
            )
            con.unregister("s")

    def pandas_path():
        for page in pages(records):
            frame = pd.DataFrame.from_records(page, columns=cols)
            for c in picked:
                if c.kind == "json":
                    frame[c.name] = [
                        None if v is None else orjson.dumps(v).decode() for v in frame[c.name]
                    ]
                elif c.kind == "ts":
                    frame[c.name] = pd.to_datetime(frame[c.name])
            frame["raw"] = [orjson.dumps(r).decode() for r in page]
            con.register("s", frame)
            con.execute("INSERT INTO t SELECT * FROM s")
            con.unregister("s")

    sample = records[:2000]

    def executemany():
        con.executemany(
            f"INSERT INTO t VALUES ({', '.join('?' * (len(picked) + 1))})",
            [
                [
                    r.get(c.name) if c.kind != "json" else orjson.dumps(r.get(c.name)).decode()
                    for c in picked
                ]
                + [orjson.dumps(r).decode()]
                for r in sample
            ],
        )

    for name, fn, n in (
        ("Python columns -> Arrow (the cache's path)", arrow_path, len(records)),
        ("DuckDB parses the JSON (from_json with a struct)", duckdb_json, len(records)),
        ("pandas.DataFrame.from_records", pandas_path, len(records)),
        ("executemany (2,000-row sample)", executemany, len(sample)),
    ):
        con.execute("DELETE FROM t")
        rate(name, n, fn)
    con.close()


def _duck(kind: str, for_json: bool = False) -> str:
    return {
        "str": "VARCHAR",
        "float": "DOUBLE",
        "int": "BIGINT",
        "bool": "BOOLEAN",
        "ts": "TIMESTAMP",
        "json": "JSON",
        "hash": "UBIGINT",
    }[kind]


# -- 2. re-upsert strategies ---------------------------------------------------------------
def reupsert_strategies(records: list[dict], path: Path) -> None:
    print(f"\n[2] re-upsert {len(records):,} stored source rows, {PAGE}-row pages, by statement")
    for alias_type in ("JSON", "VARCHAR[]"):
        con = duckdb.connect(str(path / f"re_{alias_type[:4]}.duckdb"))
        con.execute(
            f"CREATE TABLE t (id VARCHAR PRIMARY KEY, ra DOUBLE, dec DOUBLE, "
            f"alias {alias_type}, modified TIMESTAMP, raw JSON)"
        )
        alias = (lambda a: orjson.dumps(a).decode()) if alias_type == "JSON" else (lambda a: a)
        tables = [
            pa.table(
                {
                    "id": [r["id"] for r in page],
                    "ra": [r["ra"] for r in page],
                    "dec": [r["dec"] for r in page],
                    "alias": [alias(r["alias"]) for r in page],
                    "modified": pa.array([r["modified"] for r in page]).cast(pa.timestamp("us")),
                    "raw": [orjson.dumps(r).decode() for r in page],
                }
            )
            for page in pages(records)
        ]
        for table in tables:
            con.register("s", table)
            con.execute("INSERT INTO t SELECT * FROM s")
            con.unregister("s")

        def run(sql_list, con=con, tables=tables):
            return lambda: _per_page(con, tables, sql_list)

        strategies = {
            "stage + DELETE + INSERT": run(
                ["DELETE FROM t USING s WHERE t.id = s.id", "INSERT INTO t SELECT * FROM s"]
            ),
            "INSERT OR REPLACE": run(["INSERT OR REPLACE INTO t SELECT * FROM s"]),
            "MERGE INTO": run(
                [
                    "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE "
                    "SET ra = s.ra, dec = s.dec, alias = s.alias, modified = s.modified, "
                    "raw = s.raw WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.ra, s.dec, "
                    "s.alias, s.modified, s.raw)"
                ]
            ),
        }
        for name, fn in strategies.items():
            rate(f"{name} (alias {alias_type})", len(records), fn)
        con.close()


def _per_page(con: duckdb.DuckDBPyConnection, tables: list[pa.Table], sql_list: list[str]) -> None:
    for table in tables:
        con.register("s", table)
        con.execute("BEGIN")
        for sql in sql_list:
            con.execute(sql)
        con.execute("COMMIT")
        con.unregister("s")


# -- 3. the cache end to end -----------------------------------------------------------------
def cache_end_to_end(sources: list[dict], points: list[dict], path: Path) -> None:
    print(f"\n[3] the cache end to end, one transaction per {PAGE}-record page")
    cache = Cache(path / "cache.duckdb")

    def upsert_sources(records):
        def go():
            for page in pages(records):
                with cache.write() as tx:
                    tx.upsert_sources(page)

        return go

    changed = [{**r, "modified": "2026-12-01T00:00:00", "redshift": 0.1} for r in sources]
    rate("upsert_sources: new", len(sources), upsert_sources(sources))
    more = [{**r, "id": r["id"] + "b"} for r in sources]

    def five_pages_a_transaction():
        for i in range(0, len(more), 5 * PAGE):
            with cache.write() as tx:
                for page in pages(more[i : i + 5 * PAGE]):
                    tx.upsert_sources(page)

    rate("upsert_sources: new, 5 pages a transaction", len(more), five_pages_a_transaction)
    rate("upsert_sources: unchanged (same records again)", len(sources), upsert_sources(sources))
    rate("upsert_sources: every record changed", len(sources), upsert_sources(changed))

    by_obj: dict[str, list[dict]] = {}
    for p in points:
        by_obj.setdefault(p["obj_id"], []).append(p)
    groups = list(by_obj.items())
    per_tx = max(1, 5000 // max(1, len(groups[0][1])))

    def upsert_points(mutate):
        def go():
            for i in range(0, len(groups), per_tx):
                chunk = groups[i : i + per_tx]
                with cache.write() as tx:
                    tx.upsert_photometry(
                        [o for o, _ in chunk], [mutate(p) for _, pts in chunk for p in pts]
                    )

        return go

    label = f"({per_tx} objs, ~5,000 points a transaction)"
    rate(f"upsert_photometry: new {label}", len(points), upsert_points(lambda p: p))
    rate(f"upsert_photometry: unchanged {label}", len(points), upsert_points(lambda p: p))
    rate(
        f"upsert_photometry: changed {label}",
        len(points),
        upsert_points(lambda p: {**p, "magsys": "ab", "origin": "fp"}),
    )
    big = [{**p, "id": p["id"] + 10_000_000} for p in points]
    rate("upsert_photometry: new, one transaction for all", len(big), lambda: _one_tx(cache, big))


def _one_tx(cache: Cache, points: list[dict]) -> None:
    with cache.write() as tx:
        tx.upsert_photometry([], points)


# -- 4. open/close overhead --------------------------------------------------------------------
def overhead(path: Path) -> None:
    print("\n[4] per-operation open/close overhead (median of 30, ms)")
    cache = Cache(path / "cache.duckdb")
    con_path = str(cache.path)

    def median_ms(fn, n=30):
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        return sorted(times)[n // 2]

    def empty_write():
        with cache.write():
            pass

    def one_row_write():
        with cache.write() as tx:
            tx.set_sync_state("bench", "", last_page=1)

    with cache.read() as r:
        held = lambda: r.rows("SELECT count(*) FROM objs")  # noqa: E731
        warm = median_ms(held)
    figures = {
        "duckdb.connect(read_only) + close, no query": lambda: duckdb.connect(
            con_path, read_only=True
        ).close(),
        "cache.sql('SELECT count(*) FROM objs') (open, query, close)": lambda: cache.sql(
            "SELECT count(*) FROM objs"
        ),
        "same query on an already open connection (cache.read())": None,
        "cache.write(): empty transaction (open rw, commit, close)": empty_write,
        "cache.write(): one checkpoint row": one_row_write,
        "cache.counts() (18 tables, one connection)": cache.counts,
    }
    for label, fn in figures.items():
        ms = warm if fn is None else median_ms(fn)
        print(f"  {label:<62} {ms:7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sources", type=int, default=50_000)
    parser.add_argument("--points", type=int, default=200_000)
    args = parser.parse_args()
    sources = make_sources(args.sources)
    points = make_points(args.points)
    src_cols = [c.name for c in OBJS.cols if c.name in SRC_COLS]
    phot_cols = [
        "id",
        "obj_id",
        "mjd",
        "mag",
        "magerr",
        "limiting_mag",
        "magsys",
        "filter",
        "instrument_name",
        "origin",
        "created_at",
    ]
    print(f"duckdb {duckdb.__version__}, pyarrow {pa.__version__}, pandas {pd.__version__}")
    ingest_approaches("source-shaped rows", OBJS, sources, src_cols)
    ingest_approaches("photometry-shaped rows", PHOTOMETRY, points, phot_cols)
    with tempfile.TemporaryDirectory() as tmp:
        reupsert_strategies(sources[: min(len(sources), 20_000)], Path(tmp))
        cache_end_to_end(sources, points, Path(tmp))
        overhead(Path(tmp))


if __name__ == "__main__":
    main()
