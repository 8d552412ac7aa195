"""Read-side accessors of the cache: the DataFrames the facade returns (named and shaped as
docs/ARCHITECTURE.md's DataFrame conventions say) and the small queries the sync and the
outbox ask. JSON columns come back as JSON text, as in ``cache.sql``.

Queued actions show at once: rows they add carry ``pending=True``; links an ``unsave`` and
classifications a ``classification_delete`` will remove are hidden while the action is live.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import orjson
import pandas as pd

from ..errors import CacheError
from .bulk import utc_naive
from .local import LIVE_STATUSES

if TYPE_CHECKING:
    # reader.py, not store.py: store imports this module, so imports point store -> views
    from .reader import Reader

_LIVE = ", ".join(f"'{s}'" for s in LIVE_STATUSES)
_UNSAVED = f"""SELECT payload->>'$.obj_id' AS obj_id,
    unnest(CAST(payload->'$.group_ids' AS BIGINT[])) AS group_id
    FROM outbox WHERE kind = 'unsave' AND status IN ({_LIVE})"""
_DELETED = f"""SELECT CAST(payload->>'$.classification_id' AS BIGINT) FROM outbox
    WHERE kind = 'classification_delete' AND status IN ({_LIVE})"""
_HIDDEN = ("raw", "raw_hash", "cached_at")


def _ids(obj_ids: str | Iterable[str] | None) -> list[str] | None:
    if obj_ids is None:
        return None
    ids = [obj_ids] if isinstance(obj_ids, str) else [str(i) for i in obj_ids]
    return ids


def _where_obj(ids: list[str] | None, column: str = "obj_id") -> str:
    return "" if ids is None else f" AND {column} IN (SELECT unnest($ids))"


class ViewsMixin:
    """DataFrame accessors and sync/outbox queries over ``self.read()``."""

    def read(self) -> AbstractContextManager[Reader]:  # provided by Cache
        raise NotImplementedError

    def _frame(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        with self.read() as r:
            return r.sql(sql, params or None)

    def _rows(self, sql: str, params: list | dict | None = None) -> list[tuple]:
        with self.read() as r:
            return r.rows(sql, params)

    # -- DataFrames -----------------------------------------------------------------------
    def sources_frame(self, group_id: int | None = None) -> pd.DataFrame:
        """Saved sources, one row per obj: the obj's columns (ra/dec in degrees), its
        ``group_ids`` (JSON list), latest ``saved_at`` and ``pending`` (a queued save)."""
        where = (
            ""
            if group_id is None
            else (" WHERE a.obj_id IN (SELECT obj_id FROM live WHERE group_id = $group)")
        )
        sql = f"""
            WITH live AS (SELECT * FROM sources s WHERE NOT EXISTS (SELECT 1 FROM ({_UNSAVED}) u
                          WHERE u.obj_id = s.obj_id AND u.group_id = s.group_id)),
                 a AS (SELECT obj_id, to_json(list(group_id ORDER BY group_id)) AS group_ids,
                              max(saved_at) AS saved_at, bool_or(action_id IS NOT NULL) AS pending
                       FROM live GROUP BY obj_id)
            SELECT o.* EXCLUDE ({", ".join(_HIDDEN)}), a.group_ids, a.saved_at, a.pending
            FROM objs o JOIN a ON a.obj_id = o.id{where}
            ORDER BY a.saved_at DESC NULLS LAST, o.id"""
        return self._frame(sql, None if group_id is None else {"group": int(group_id)})

    def candidates_frame(self, *, include_vetted: bool = True) -> pd.DataFrame:
        """Candidates, best ``score`` first: ``id`` (the obj id), ra/dec (degrees), filters,
        passing/saved groups (JSON lists), ``passed_at``, and the latest local vetting
        ``decision`` (save/reject/skip, None after an undo) with ``decided_at``. Without
        ``include_vetted``, candidates saved or rejected here are left out."""
        where = (
            "" if include_vetted else " WHERE coalesce(l.decision, '') NOT IN ('save', 'reject')"
        )
        sql = f"""
            WITH l AS (SELECT obj_id, CASE WHEN decision = 'undo' THEN NULL ELSE decision END
                              AS decision, decided_at FROM vetting
                       QUALIFY row_number() OVER (PARTITION BY obj_id
                                                  ORDER BY decided_at DESC, id DESC) = 1)
            SELECT c.obj_id AS id, o.ra, o.dec, o.redshift, o.origin, o.alias, o.tns_name,
                   c.filter_id, c.filter_ids, c.passing_group_ids, c.saved_group_ids,
                   c.passed_at, c.last_detected_at, c.is_source, c.score, o.created_at,
                   o.modified, l.decision, l.decided_at
            FROM candidates c LEFT JOIN objs o ON o.id = c.obj_id
            LEFT JOIN l ON l.obj_id = c.obj_id{where}
            ORDER BY c.score DESC NULLS LAST,
                     coalesce(c.passed_at, c.last_detected_at) DESC NULLS LAST, c.obj_id"""
        return self._frame(sql)

    def photometry_frame(self, obj_ids: str | Iterable[str] | None = None) -> pd.DataFrame:
        """Photometry: ``mjd``, AB ``mag``/``magerr``/``limiting_mag`` (mag NaN for a
        non-detection), ``flux``/``fluxerr`` in microJansky (zp 23.9), ``filter``..."""
        ids = _ids(obj_ids)
        sql = f"""SELECT id, obj_id, mjd, mag, magerr, limiting_mag, flux, fluxerr, zp, magsys,
                         filter, instrument_name, origin, ra, dec, snr, instrument_id, created_at
                  FROM photometry WHERE true{_where_obj(ids)} ORDER BY obj_id, mjd, id"""
        return self._frame(sql, None if ids is None else {"ids": ids})

    def spectra_frame(self, obj_ids: str | Iterable[str] | None = None) -> pd.DataFrame:
        """Spectra with their arrays (``wavelengths`` in Angstrom, ``fluxes``/``errors`` in
        ``units``); arrays are missing (NA) until the sync fetched them."""
        ids = _ids(obj_ids)
        sql = f"""SELECT id, obj_id, observed_at, instrument_name, telescope_name, type, label,
                         units, origin, wavelengths, fluxes, errors, altdata, created_at,
                         modified, action_id IS NOT NULL AS pending
                  FROM spectra WHERE true{_where_obj(ids)} ORDER BY obj_id, observed_at, id"""
        return self._frame(sql, None if ids is None else {"ids": ids})

    def classifications_frame(self, obj_ids: str | Iterable[str] | None = None) -> pd.DataFrame:
        """Classifications, queued local ones included (``pending``, negative ``id`` until
        the server gives theirs); ones a queued deletion removes are left out."""
        ids = _ids(obj_ids)
        sql = f"""SELECT id, obj_id, classification, taxonomy_id, probability, ml, origin,
                         author_id, author_name, created_at, modified, action_id,
                         action_id IS NOT NULL AS pending
                  FROM classifications WHERE id NOT IN ({_DELETED}){_where_obj(ids)}
                  ORDER BY obj_id, created_at, id"""
        return self._frame(sql, None if ids is None else {"ids": ids})

    def comments_frame(self, obj_id: str) -> pd.DataFrame:
        """An obj's comments, oldest first, queued ones included (``pending``)."""
        return self._frame(
            """SELECT id, obj_id, text, author, author_id, bot, origin, attachment_name,
                      group_ids, created_at, modified, action_id IS NOT NULL AS pending
               FROM comments WHERE obj_id = $obj ORDER BY created_at, id""",
            {"obj": obj_id},
        )

    def annotations_frame(self, obj_id: str) -> pd.DataFrame:
        """An obj's annotations (``data`` as JSON text), by origin."""
        return self._frame(
            """SELECT id, obj_id, origin, author_id, data, group_ids, created_at, modified
               FROM annotations WHERE obj_id = $obj ORDER BY origin NULLS LAST, id""",
            {"obj": obj_id},
        )

    def thumbnails_of(self, obj_id: str) -> dict[str, bytes]:
        """The cached cutout images of an obj: ``{"new": png, "ref": png, "sub": png}``."""
        rows = self._rows(
            "SELECT type, png FROM thumbnails WHERE obj_id = ? AND png IS NOT NULL ORDER BY type",
            [obj_id],
        )
        return {kind: bytes(png) for kind, png in rows}

    def galaxies_frame(self, catalog: str | None = None) -> pd.DataFrame:
        """Galaxies (ra/dec degrees, ``distmpc`` Mpc) of one catalog or all."""
        where = "" if catalog is None else " WHERE catalog_name = $catalog"
        return self._frame(
            f"SELECT * EXCLUDE ({', '.join(_HIDDEN)}) FROM galaxies{where} "
            f"ORDER BY catalog_name, id",
            None if catalog is None else {"catalog": catalog},
        )

    def gcn_events_frame(self) -> pd.DataFrame:
        """GCN events, newest first, with the names of their cached ``localizations``."""
        return self._frame(
            """SELECT e.dateobs, e.id, e.aliases, e.tags, e.trigger_id, e.created_at, e.modified,
                      (SELECT to_json(list(l.localization_name ORDER BY l.created_at, l.id))
                       FROM localizations l WHERE l.dateobs = e.dateobs) AS localizations
               FROM gcn_events e ORDER BY e.dateobs DESC"""
        )

    def taxonomies_frame(self) -> pd.DataFrame:
        """Taxonomies, ``hierarchy`` as JSON text."""
        return self._frame(f"SELECT * EXCLUDE ({', '.join(_HIDDEN)}) FROM taxonomies ORDER BY id")

    def groups_frame(self) -> pd.DataFrame:
        """Groups, with whether the user is a member and may access them."""
        return self._frame(f"SELECT * EXCLUDE ({', '.join(_HIDDEN)}) FROM groups ORDER BY id")

    def localization(self, dateobs: Any, name: str | None = None) -> dict[str, Any] | None:
        """A cached localization as SkyPortal's JSON: ``uniq``, ``probdensity`` (per sr) and,
        if present, ``distmu``/``distsigma`` (Mpc), ``distnorm``; null distmu (no distance
        information) as None. Without ``name``, the event's latest. None if not cached."""
        when = utc_naive(dateobs)
        with self.read() as r:
            meta = r.rows(
                "SELECT localization_name, raw, has_distance FROM localizations "
                "WHERE dateobs = ? AND n_pixels IS NOT NULL"
                + ("" if name is None else " AND localization_name = ?")
                + " ORDER BY created_at DESC NULLS LAST, id DESC LIMIT 1",
                [when] if name is None else [when, name],
            )
            if not meta:
                return None
            loc_name, raw, has_distance = meta[0]
            cols = "uniq, probdensity" + (", distmu, distsigma, distnorm" if has_distance else "")
            table = r.arrow(
                f"SELECT {cols} FROM localization_pixels WHERE dateobs = ? AND "
                f"localization_name = ? ORDER BY uniq",
                [when, loc_name],
            )
        out = orjson.loads(raw) if raw else {}
        out.update({k: table.column(k).to_pylist() for k in table.column_names})
        out.setdefault("dateobs", when.isoformat())
        out["localization_name"] = loc_name
        return out

    # -- what the sync and the outbox ask ------------------------------------------------
    def outbox_actions(
        self, statuses: str | Iterable[str] | None = None, *, ids: Iterable[int] | None = None
    ) -> list[dict[str, Any]]:
        """Outbox actions as dicts (``payload`` decoded), oldest first; filtered by status(es)
        and/or ids."""
        clauses, params = [], {}
        if statuses is not None:
            params["st"] = [statuses] if isinstance(statuses, str) else list(statuses)
            clauses.append("status IN (SELECT unnest($st))")
        if ids is not None:
            params["ids"] = [int(i) for i in ids]
            clauses.append("id IN (SELECT unnest($ids))")
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        with self.read() as r:
            frame = r.arrow(f"SELECT * FROM outbox{where} ORDER BY id", params or None)
        actions = frame.to_pylist()
        for action in actions:
            action["payload"] = orjson.loads(action["payload"])
        return actions

    def sync_overview(self) -> dict[str, str]:
        """One line per synced resource (``name`` or ``name[scope]``): status, watermark, when."""
        out = {}
        for resource, scope, status, watermark, updated, error in self._rows(
            "SELECT resource, scope, status, watermark, updated_at, error FROM sync_state "
            "ORDER BY resource, scope"
        ):
            key = f"{resource}[{scope}]" if scope else resource
            parts = [
                status or "?",
                f"watermark {watermark:%Y-%m-%d %H:%M:%S}" if watermark else "no watermark",
                f"at {updated:%Y-%m-%d %H:%M:%S} UTC",
            ]
            if error:
                parts.append(f"error: {error}")
            out[key] = "; ".join(parts)
        return out

    def count_listed(
        self,
        resource: str,
        group_ids: Iterable[int] | None = None,
        obj_ids: Iterable[str] | None = None,
    ) -> int:
        """How many rows of a listing the cache holds, to compare with ``totalMatches``:
        ``sources`` (objs saved to any of ``group_ids``) or ``candidates``; with
        ``obj_ids`` (a GCN event's objs, for a listing scoped to it) only those objs'."""
        groups = [int(g) for g in group_ids or ()]
        params: dict[str, Any] = {"g": groups} if groups else {}
        clauses = []
        if resource == "sources":
            sql = "SELECT count(DISTINCT obj_id) FROM sources"
            clauses.append("action_id IS NULL")
            if groups:
                clauses.append("group_id IN (SELECT unnest($g))")
        elif resource == "candidates":
            sql = "SELECT count(*) FROM candidates"
            if groups:
                clauses.append("list_has_any(CAST(passing_group_ids AS BIGINT[]), $g)")
        else:
            raise CacheError(f"count_listed: unknown resource {resource!r}; sources or candidates")
        if obj_ids is not None:
            params["objs"] = [str(o) for o in obj_ids]
            clauses.append("obj_id IN (SELECT unnest($objs::VARCHAR[]))")
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        return int(self._rows(sql, params or None)[0][0])

    def galaxy_catalog_counts(self) -> dict[str, int]:
        """Galaxies cached per catalog."""
        return {
            name: int(n)
            for name, n in self._rows(
                "SELECT catalog_name, count(*) FROM galaxies GROUP BY 1 ORDER BY 1"
            )
        }

    def objs_needing_photometry(self) -> list[str]:
        """Objs whose ``modified`` moved since their photometry was last fetched (or never
        fetched); posting photometry moves a source's ``modified``."""
        return [
            r[0]
            for r in self._rows(
                """SELECT o.id FROM objs o LEFT JOIN obj_sync s ON s.obj_id = o.id
               WHERE s.obj_id IS NULL OR o.modified > s.photometry_modified
                  OR (o.modified IS NOT NULL AND s.photometry_modified IS NULL)
               ORDER BY o.id"""
            )
        ]

    def spectra_versions(self) -> dict[int, str]:
        """``{spectrum id: the server's modified string}`` of spectra whose arrays are cached."""
        return {
            int(i): m
            for i, m in self._rows(
                "SELECT id, raw->>'$.modified' FROM spectra WHERE wavelengths IS NOT NULL "
                "AND action_id IS NULL"
            )
        }

    def thumbnails_to_fetch(
        self, limit: int | None = None, *, candidates_only: bool = True, obj_id: str | None = None
    ) -> list[tuple[str, str, str]]:
        """``(obj_id, type, url)`` of thumbnails whose image is not cached, newest candidates
        first; at most ``limit``. ``candidates_only`` (the default) keeps the vetting queue's
        cutouts: every saved source has three too, fetched on demand (``obj_id``) instead."""
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 0
        ):
            raise CacheError(f"thumbnails_to_fetch: limit must be an int >= 0, got {limit!r}")
        join = "JOIN" if candidates_only and obj_id is None else "LEFT JOIN"
        where = "" if obj_id is None else " AND t.obj_id = $obj"
        rows = self._rows(
            f"""SELECT t.obj_id, t.type, t.public_url FROM thumbnails t
               {join} candidates c ON c.obj_id = t.obj_id
               WHERE t.png IS NULL AND t.public_url IS NOT NULL{where}
               ORDER BY coalesce(c.passed_at, c.last_detected_at) DESC NULLS LAST,
                        t.created_at DESC NULLS LAST, t.obj_id, t.type"""
            + ("" if limit is None else f" LIMIT {int(limit)}"),
            None if obj_id is None else {"obj": obj_id},
        )
        return [tuple(r) for r in rows]

    def localizations_to_fetch(self, gcn_event: Any = None) -> list[tuple[str, str]]:
        """``(dateobs, name)`` of localizations whose pixels are not cached or are older than
        the event's record of them; ``dateobs`` as the server writes it in URLs."""
        where, params = "", []
        if gcn_event is not None:
            where, params = " AND dateobs = ?", [utc_naive(gcn_event)]
        rows = self._rows(
            "SELECT coalesce(raw->>'$.dateobs', strftime(dateobs, '%Y-%m-%dT%H:%M:%S')), "
            "localization_name FROM localizations WHERE (n_pixels IS NULL OR "
            f"modified > pixels_modified){where} ORDER BY dateobs DESC, localization_name",
            params,
        )
        return [tuple(r) for r in rows]
