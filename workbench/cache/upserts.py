"""The ``upsert_*`` methods of a write transaction: server records into the cache's tables.

Every method takes the server's records exactly as SkyPortal returns them, writes them in
bulk (see :mod:`.bulk`) and returns an :class:`UpsertResult` counting the records that were
new, changed, unchanged (and rows deleted by a replacement).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import orjson

from ..errors import CacheError
from . import records as rec
from .bulk import Outcome, Page, load_stored, merge_page
from .tables import (
    ANNOTATIONS,
    CANDIDATES,
    CLASSIFICATIONS,
    COMMENTS,
    OBJS,
    PHOTOMETRY,
    SOURCES,
    THUMBNAILS,
    TableSpec,
)


@dataclass(frozen=True)
class UpsertResult:
    """Counts of one upsert: records ``new`` to the cache, ``updated`` (something stored
    changed), ``unchanged``, and rows ``deleted`` because a replacement no longer had them."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    @property
    def total(self) -> int:
        """Records seen (new + updated + unchanged)."""
        return self.new + self.updated + self.unchanged

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            self.new + other.new,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.deleted + other.deleted,
        )

    @classmethod
    def of(cls, out: Outcome) -> UpsertResult:
        return cls(out.new, out.updated, out.unchanged, out.deleted)


def _check_names(names: Iterable[str], allowed: Sequence[str], what: str) -> set[str]:
    names = {names} if isinstance(names, str) else set(names)
    unknown = names - set(allowed)
    if unknown:
        raise CacheError(f"{what}: unknown {sorted(unknown)}; choose from {list(allowed)}")
    return names


def _obj_ids(obj_ids: str | Iterable[str], what: str) -> list[str]:
    ids = [obj_ids] if isinstance(obj_ids, str) else list(obj_ids)
    bad = [i for i in ids if not isinstance(i, str) or not i]
    if bad:
        raise CacheError(f"{what}: obj ids must be non-empty strings, got {bad[:3]!r}")
    return list(dict.fromkeys(ids))


# Typed values computed from the (merged) records rather than read by column name.
_DERIVED = {
    COMMENTS.name: rec.child_values,
    ANNOTATIONS.name: rec.child_values,
    PHOTOMETRY.name: rec.photometry_values,
}


class UpsertMixin:
    """Upserts over ``self._con`` (one open transaction) at time ``self._now``."""

    _con: duckdb.DuckDBPyConnection
    _now: datetime

    # -- helpers -------------------------------------------------------------------------
    def _merge_for_objs(
        self, page: Page, scope_ids: Iterable[str] | None, scope_stored: set[str] | None
    ) -> Outcome:
        """Merge a page of rows keyed by obj_id; with ``scope_ids``, stored rows of those
        objs that the page no longer holds are removed (``scope_stored``: the objs known
        to have rows, when already read)."""
        scope = ("obj_id", scope_ids) if scope_ids is not None else None
        return merge_page(
            self._con,
            page,
            now=self._now,
            scope=scope,
            track="obj_id",
            scope_stored=scope_stored,
        )

    def _merged_page(
        self,
        spec: TableSpec,
        raws: list[dict],
        values: dict[str, list],
        extra: tuple[str, ...] = (),
        none_stored: bool = False,
    ) -> tuple[Page, list[tuple | None]]:
        """A page whose raw JSON is merged into what is stored (partial views of one
        entity); returns it with each row's stored ``extra`` columns (None when new).
        ``none_stored``: the caller knows no row of the page is stored (nothing is read)."""
        page = Page(spec, raws, values)
        if none_stored:
            page.stored_hashes = {}
            return page, [None] * len(raws)
        keys = list(zip(*(page.column(k) for k in spec.keys), strict=True))
        # The stored hash comes with the stored JSON, so merge_page need not look it up
        # (one statement less a table a page); only for keys that compare equal as Python
        # values (a timestamp key is a string here, a datetime there).
        exact = all(c.kind in ("str", "int") for c in spec.cols if c.name in spec.keys)
        stored = load_stored(self._con, spec, keys, (*extra, "raw_hash") if exact else extra)
        if exact:
            page.stored_hashes = {key: old[-1] or 0 for key, old in stored.items()}
            stored = {key: old[:-1] for key, old in stored.items()}
        if not stored:  # a first sync: nothing to merge into
            return page, [None] * len(raws)
        merged, olds = [], []
        for key, raw in zip(keys, raws, strict=True):
            old = stored.get(key)
            if old is None:
                merged.append(raw)
                olds.append(None)
                continue
            base = orjson.loads(old[0]) if old[0] else {}
            merged.append({**base, **raw})
            olds.append((base, *old[1:]))
        page.raws = merged
        return page, olds

    def _upsert_objs(self, parts: list[dict], stored: set[str] | None = None) -> Outcome:
        """Obj rows; ``stored``: which of them are in ``objs``, when already read."""
        none = stored is not None and stored.isdisjoint(p["id"] for p in parts)
        page, _ = self._merged_page(OBJS, parts, {}, none_stored=none)
        return merge_page(self._con, page, now=self._now, track="id")

    def _children(
        self,
        spec: TableSpec,
        rows: list[dict],
        parents: list[str | None],
        scope_ids: list[str] | None,
        scope_stored: set[str] | None = None,
    ) -> Outcome:
        """Rows of an obj's child table; with ``scope_ids``, replace those objs' rows
        (``scope_stored``: those of them known to have rows, when already read)."""
        if spec is THUMBNAILS:
            return self._thumbnail_rows(rows, parents, scope_ids, scope_stored)
        obj_ids = [r.get("obj_id") or p for r, p in zip(rows, parents, strict=True)]
        missing = [i for i, o in enumerate(obj_ids) if not o]
        if missing:
            raise CacheError(
                f"{spec.name}: record #{missing[0]} has no obj_id; pass the server's records "
                f"unchanged, or give the obj ids (replace_for=...)."
            )
        if spec.merge:  # e.g. an annotation embedded in a candidate vs in a source
            page, _ = self._merged_page(spec, rows, {"obj_id": obj_ids})
        else:
            page = Page(spec, rows, {"obj_id": obj_ids})
        derive = _DERIVED.get(spec.name)
        if derive is not None:
            page.values.update(derive(page.raws))
        return self._merge_for_objs(page, scope_ids, scope_stored)

    @staticmethod
    def _held(records: list[dict], complete: set[str]) -> list[str]:
        """The embedded collections some record carries (or the request asked for)."""
        return [
            name for name in rec.COLLECTIONS if name in complete or any(name in r for r in records)
        ]

    def _stored_obj_ids(self, tables: Iterable[str], ids: list[str]) -> dict[str, set[str]]:
        """Which of ``ids`` have rows in each of ``tables`` (each with an ``obj_id``;
        ``objs`` by its ``id``), in one statement: a statement costs ~2 ms here, and a page
        asked this of up to seven tables (stored objs, new sources or candidates, which
        embedded collections may need deletions)."""
        tables = list(dict.fromkeys(tables))
        found: dict[str, set[str]] = {t: set() for t in tables}
        if not ids or not tables:
            return found
        query = " UNION ALL ".join(
            f"SELECT DISTINCT '{t}', {c} FROM {t} WHERE {c} IN (SELECT unnest($ids))"
            for t, c in ((t, "id" if t == "objs" else "obj_id") for t in tables)
        )
        for table, obj_id in self._con.execute(query, {"ids": ids}).fetchall():
            found[table].add(obj_id)
        return found

    def _embedded(
        self,
        records: list[dict],
        complete: set[str],
        stored: dict[str, set[str]] | None = None,
    ) -> set[str]:
        """Upsert the collections embedded in obj records; the obj ids that changed.

        A record carrying a collection's key holds that obj's complete set of it (so rows no
        longer listed are deleted); a missing key leaves the stored rows alone, unless the
        caller says the request asked for it (``complete``), which means "none".
        ``stored``: :meth:`_stored_obj_ids` of the collections' tables, when already read."""
        changed: set[str] = set()
        specs = {
            "comments": COMMENTS,
            "classifications": CLASSIFICATIONS,
            "annotations": ANNOTATIONS,
            "thumbnails": THUMBNAILS,
            "photometry": PHOTOMETRY,
        }
        for name, spec in specs.items():
            holders = [r for r in records if name in r or name in complete]
            if not holders:
                continue
            rows, parents = [], []
            for r in holders:
                items = r.get(name) or []
                rows.extend(items)
                parents.extend([r["id"]] * len(items))
            if not all(type(row) is dict for row in rows):  # the ABC check only if needed
                for i, row in enumerate(rows):
                    if not isinstance(row, Mapping):
                        raise CacheError(f"{name} of {parents[i]}: an entry is not a JSON object")
            known = None if stored is None else stored.get(spec.name)
            out = self._children(spec, rows, parents, [r["id"] for r in holders], known)
            changed |= out.changed
        return changed

    @staticmethod
    def _per_record(ids: list[str], before: set, changed: set) -> UpsertResult:
        distinct = list(dict.fromkeys(ids))
        new = sum(1 for i in distinct if i not in before)
        updated = sum(1 for i in distinct if i in before and i in changed)
        return UpsertResult(new, updated, len(distinct) - new - updated)

    # -- objs and their children ---------------------------------------------------------
    def upsert_sources(
        self, records: Iterable[dict], *, complete: Iterable[str] = ()
    ) -> UpsertResult:
        """Source records (``/api/sources`` pages or one ``/api/sources/{id}``).

        Each splits into its obj, its group links (``groups``: replaced, so an unsave is
        seen) and the embedded collections it carries. ``complete`` names collections the
        request asked for (e.g. ``("comments",)`` with ``includeComments=true``): SkyPortal
        omits the key when there are none, so a missing key then means "none".
        Counts are per source: new = not a source in the cache before.
        """
        records = rec.check_records(records, "upsert_sources")
        complete = _check_names(complete, rec.COLLECTIONS, "upsert_sources(complete=...)")
        ids = [r["id"] for r in records]
        stored = self._stored_obj_ids(("objs", "sources", *self._held(records, complete)), ids)
        before = stored["sources"]
        changed = self._upsert_objs([rec.obj_part(r, ()) for r in records], stored["objs"]).changed
        holders = [r for r in records if "groups" in r]
        raws, values = [], {k: [] for k in ("obj_id", "group_id", "saved_by_id", "saved_by")}
        for r in holders:
            link_raws, link_values = rec.source_links(r["id"], r["groups"])
            raws.extend(link_raws)
            for k, v in link_values.items():
                values[k].extend(v)
        links = Page(SOURCES, raws, values)
        if before.isdisjoint(values["obj_id"]):
            links.stored_hashes = {}  # keyed by obj_id: none of these objs has a link stored
        out = merge_page(
            self._con,
            links,
            now=self._now,
            scope=("obj_id", [r["id"] for r in holders]),
            track="obj_id",
            scope_stored=before,
        )
        changed |= out.changed | self._embedded(records, complete, stored)
        return self._per_record(ids, before, changed)

    def upsert_candidates(
        self, records: Iterable[dict], *, complete: Iterable[str] = ()
    ) -> UpsertResult:
        """Candidate records (``/api/candidates`` pages or one ``/api/candidates/{id}``):
        the obj, its ``candidates`` row (filters, passing groups, saved groups, score) and
        embedded classifications/annotations/thumbnails (comments, photometry if present).
        Counts are per candidate: new = not a candidate in the cache before."""
        records = rec.check_records(records, "upsert_candidates")
        complete = _check_names(complete, rec.COLLECTIONS, "upsert_candidates(complete=...)")
        ids = [r["id"] for r in records]
        stored = self._stored_obj_ids(("objs", "candidates", *self._held(records, complete)), ids)
        before = stored["candidates"]
        obj_parts = [rec.obj_part(r, rec.CANDIDATE_KEYS) for r in records]
        changed = self._upsert_objs(obj_parts, stored["objs"]).changed
        parts = [{k: r[k] for k in rec.CANDIDATE_KEYS if k in r} for r in records]
        page, olds = self._merged_page(
            CANDIDATES,
            parts,
            {"obj_id": ids},
            extra=("score",),
            none_stored=before.isdisjoint(ids),  # keyed by obj_id: exact
        )
        values: dict[str, list] = {}
        for merged, r, old in zip(page.raws, records, olds, strict=True):
            # the single-candidate answer lacks some keys: the merged view has them all
            vals = rec.candidate_row(
                {
                    **merged,
                    "id": r["id"],
                    "score": r.get("score"),
                    "annotations": r.get("annotations"),
                }
            )
            if vals["score"] is None and "annotations" not in r and old is not None:
                vals["score"] = old[1]
            for k, v in vals.items():
                values.setdefault(k, []).append(v)
        page.values = values
        changed |= merge_page(self._con, page, now=self._now, track="obj_id").changed
        changed |= self._embedded(records, complete, stored)
        return self._per_record(ids, before, changed)

    def upsert_photometry(
        self, obj_ids: str | Iterable[str], records: Iterable[dict]
    ) -> UpsertResult:
        """Photometry of ``obj_ids``, which it REPLACES: points of those objs missing from
        ``records`` are deleted. With ``obj_ids=[]`` the points are only upserted by id
        (e.g. ``/api/photometry/range`` windows). Either format (mag or flux) is accepted;
        the cache keeps both, flux in the zp=23.9 (microJansky) system."""
        ids = _obj_ids(obj_ids, "upsert_photometry")
        records = rec.check_records(records, "upsert_photometry")
        default = ids[0] if len(ids) == 1 else None
        parents = [r.get("obj_id") or default for r in records]
        if ids:
            stray = {p for p in parents if p not in ids}
            if stray:
                raise CacheError(
                    f"upsert_photometry: points of {sorted(map(str, stray))[:3]} are not among "
                    f"the obj ids being replaced {ids[:3]}; pass their ids too."
                )
        elif any(p is None for p in parents):
            raise CacheError("upsert_photometry: a point has no obj_id; pass obj_ids=[its id]")
        out = self._children(PHOTOMETRY, records, parents, ids or None)
        return UpsertResult.of(out)

    def _replace_scope(
        self, replace_for: str | Iterable[str] | None, what: str
    ) -> list[str] | None:
        return None if replace_for is None else _obj_ids(replace_for, what)

    def upsert_classifications(
        self, records: Iterable[dict], *, replace_for: str | Iterable[str] | None = None
    ) -> UpsertResult:
        """Classification records (``/api/classification`` pages or an obj's list). With
        ``replace_for`` the records are those objs' complete set (others are deleted)."""
        records = rec.check_records(records, "upsert_classifications")
        scope = self._replace_scope(replace_for, "upsert_classifications")
        return UpsertResult.of(
            self._children(CLASSIFICATIONS, records, [None] * len(records), scope)
        )

    def upsert_comments(
        self, records: Iterable[dict], *, replace_for: str | Iterable[str] | None = None
    ) -> UpsertResult:
        """Comments on objs (``/api/sources/{id}/comments``); see ``replace_for`` above."""
        records = rec.check_records(records, "upsert_comments")
        scope = self._replace_scope(replace_for, "upsert_comments")
        return UpsertResult.of(self._children(COMMENTS, records, [None] * len(records), scope))

    def upsert_annotations(
        self, records: Iterable[dict], *, replace_for: str | Iterable[str] | None = None
    ) -> UpsertResult:
        """Annotations on objs (``data`` kept as JSON); see ``replace_for`` above."""
        records = rec.check_records(records, "upsert_annotations")
        scope = self._replace_scope(replace_for, "upsert_annotations")
        return UpsertResult.of(self._children(ANNOTATIONS, records, [None] * len(records), scope))

    def _thumbnail_rows(
        self,
        rows: list[dict],
        parents: list[str],
        scope_ids: list[str] | None,
        scope_stored: set[str] | None = None,
    ) -> Outcome:
        values = {"obj_id": [r.get("obj_id") or p for r, p in zip(rows, parents, strict=True)]}
        # keyed by (obj_id, type): none is stored when none of these objs has a thumbnail
        none = (
            scope_stored is not None
            and scope_ids is not None
            and set(values["obj_id"]) <= set(scope_ids)
            and scope_stored.isdisjoint(values["obj_id"])
        )
        page, olds = self._merged_page(THUMBNAILS, rows, values, none_stored=none)
        # Keep the fetched image unless the server now points at a different one.
        page.carry = [
            old is not None and old[0].get("public_url") in (None, r.get("public_url"))
            for r, old in zip(rows, olds, strict=True)
        ]
        return self._merge_for_objs(page, scope_ids, scope_stored)

    def upsert_thumbnails(
        self, records: Iterable[dict], *, replace_for: str | Iterable[str] | None = None
    ) -> UpsertResult:
        """Thumbnail records (metadata: type, public_url...); images come via put_thumbnail."""
        records = rec.check_records(records, "upsert_thumbnails", key="type")
        scope = self._replace_scope(replace_for, "upsert_thumbnails")
        return UpsertResult.of(self._thumbnail_rows(records, [None] * len(records), scope))
