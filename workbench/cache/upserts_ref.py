"""Upserts of spectra, reference data (groups, taxonomies, galaxies) and GCN events with
their localizations, plus the two ``put_*`` methods for binary payloads."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import CacheError, SkymapError
from . import records as rec
from .bulk import Page, hash64, merge_page, utc_naive
from .tables import GALAXIES, GCN_EVENTS, GROUPS, LOCALIZATIONS, SPECTRA, TAXONOMIES
from .upserts import UpsertMixin, UpsertResult

_ARRAYS = ("wavelengths", "fluxes", "errors")
_PIXELS = ("uniq", "probdensity", "distmu", "distsigma", "distnorm")
_DIST = ("distmu", "distsigma", "distnorm")
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"<svg", "image/svg+xml"),
    (b"<?xml", "image/svg+xml"),
)


def _arrays_hash(arrays: Iterable[Any]) -> int:
    parts = [b"-" if a is None else np.asarray(a, dtype=float).tobytes() for a in arrays]
    return hash64(b"|".join(parts))


class ReferenceMixin(UpsertMixin):
    """Spectra, groups, taxonomies, galaxies, GCN events, localizations, thumbnails."""

    def upsert_spectra(
        self, records: Iterable[dict], *, replace_for: str | Iterable[str] | None = None
    ) -> UpsertResult:
        """Spectra, with their arrays (``/api/spectra/{id}``) or without
        (``minimalPayload=true``). Arrays are stored as ``DOUBLE[]`` (wavelengths in
        Angstrom); a record without arrays keeps the stored ones while ``modified`` is
        unchanged, else clears them so a sync knows to fetch them (``wavelengths IS NULL``)."""
        records = rec.check_records(records, "upsert_spectra")
        scope = self._replace_scope(replace_for, "upsert_spectra")
        metas = [{k: v for k, v in r.items() if k not in _ARRAYS} for r in records]
        arrays = [rec.spectrum_arrays(r) for r in records]
        values: dict[str, list] = {name: [a[i] for a in arrays] for i, name in enumerate(_ARRAYS)}
        values["instrument_name"] = [
            r.get("instrument_name") or (r.get("instrument") or {}).get("name") for r in records
        ]
        values["telescope_name"] = [r.get("telescope_name") for r in records]
        page, olds = self._merged_page(SPECTRA, metas, values, extra=("data_hash",))
        carry, data_hash = [], []
        for r, old, arr in zip(records, olds, arrays, strict=True):
            if arr[0] is not None:
                carry.append(False)
                data_hash.append(_arrays_hash(arr))
            elif old is not None and old[0].get("modified") == r.get("modified") and old[1]:
                carry.append(True)
                data_hash.append(old[1])
            else:
                carry.append(False)
                data_hash.append(None)
        page.values["data_hash"] = data_hash
        page.carry = carry
        page.extra_hash = [h or 0 for h in data_hash]
        scope_arg = ("obj_id", scope) if scope is not None else None
        if any(not o for o in page.column("obj_id")):
            raise CacheError("upsert_spectra: a spectrum has no obj_id; pass the server's records")
        return UpsertResult.of(merge_page(self._con, page, now=self._now, scope=scope_arg))

    def upsert_groups(self, payload: Mapping | Iterable[dict]) -> UpsertResult:
        """Groups: the whole ``/api/groups`` payload (``user_groups``,
        ``user_accessible_groups``, ``all_groups``), which REPLACES the table and marks
        ``is_member``/``is_accessible``; or a plain list of groups (e.g. ``/api/groups/public``),
        which is only upserted."""
        if isinstance(payload, Mapping):
            parts = {
                k: rec.check_records(payload.get(k) or [], f"upsert_groups[{k!r}]")
                for k in ("all_groups", "user_accessible_groups", "user_groups")
            }
            if not any(parts.values()):
                raise CacheError(
                    "upsert_groups: the payload has no 'all_groups', 'user_accessible_groups' or "
                    f"'user_groups' (keys: {sorted(payload)[:8]}); pass data of GET /api/groups."
                )
            by_id: dict[Any, dict] = {}
            for k in ("user_groups", "user_accessible_groups", "all_groups"):
                for g in parts[k]:
                    by_id[g["id"]] = {**by_id.get(g["id"], {}), **g}
            members = {g["id"] for g in parts["user_groups"]}
            accessible = {g["id"] for g in parts["user_accessible_groups"]}
            groups = list(by_id.values())
            page = Page(
                GROUPS,
                groups,
                {
                    "is_member": [g["id"] in members for g in groups],
                    "is_accessible": [g["id"] in accessible for g in groups],
                },
            )
            out = merge_page(self._con, page, now=self._now)
            gone = self._con.execute(
                "DELETE FROM groups WHERE id NOT IN (SELECT unnest(?))", [list(by_id)]
            ).fetchall()
            return UpsertResult(out.new, out.updated, out.unchanged, gone[0][0] if gone else 0)
        groups = rec.check_records(payload, "upsert_groups")
        return UpsertResult.of(merge_page(self._con, Page(GROUPS, groups), now=self._now))

    def upsert_taxonomies(self, records: Iterable[dict]) -> UpsertResult:
        """Taxonomies (``/api/taxonomy``), ``hierarchy`` kept as JSON."""
        records = rec.check_records(records, "upsert_taxonomies")
        values = {"group_ids": [rec._ids(r.get("groups")) for r in records]}
        return UpsertResult.of(
            merge_page(self._con, Page(TAXONOMIES, records, values), now=self._now)
        )

    def upsert_galaxies(self, records: Iterable[dict], catalog_name: str) -> UpsertResult:
        """Galaxies of one catalog (``/api/galaxy_catalog`` pages); ra/dec in degrees,
        ``distmpc`` in Mpc. The server's records do not name their catalog: say which."""
        if not isinstance(catalog_name, str) or not catalog_name.strip():
            raise CacheError("upsert_galaxies: give the catalog_name the records belong to")
        records = rec.check_records(records, "upsert_galaxies")
        values = {"catalog_name": [catalog_name] * len(records)}
        return UpsertResult.of(
            merge_page(self._con, Page(GALAXIES, records, values), now=self._now)
        )

    def upsert_gcn_events(self, records: Iterable[dict]) -> UpsertResult:
        """GCN events (``/api/gcn_event`` list or one event). Their ``localizations`` are
        recorded as metadata (name, id, tags, properties...); the pixel arrays are stored
        only by :meth:`put_localization`, which the sync calls per localization."""
        records = rec.check_records(records, "upsert_gcn_events", key="dateobs")
        events = [{k: v for k, v in r.items() if k != "localizations"} for r in records]
        dateobs = [utc_naive(r["dateobs"]) for r in records]
        page, _ = self._merged_page(GCN_EVENTS, events, {"dateobs": dateobs})
        out = merge_page(self._con, page, now=self._now)
        locs = [loc for r in records for loc in r.get("localizations") or []]
        for loc in locs:
            if not isinstance(loc, Mapping) or not loc.get("localization_name"):
                raise CacheError("upsert_gcn_events: a localization has no localization_name")
        if locs:
            metas = [{k: v for k, v in loc.items() if k not in _PIXELS} for loc in locs]
            page, olds = self._merged_page(
                LOCALIZATIONS,
                metas,
                {
                    "dateobs": [
                        utc_naive(loc.get("dateobs") or r["dateobs"])
                        for r in records
                        for loc in r.get("localizations") or []
                    ]
                },
                extra=("pixels_hash",),
            )
            page.carry = [old is not None for old in olds]
            page.extra_hash = [(old[1] or 0) if old is not None else 0 for old in olds]
            merge_page(self._con, page, now=self._now)
        return UpsertResult.of(out)

    def put_localization(self, dateobs: Any, name: str, data: Mapping) -> UpsertResult:
        """Store one localization with its pixels (``/api/localization/{dateobs}/name/{name}``).

        ``data`` holds ``uniq`` (multi-order NESTED pixel ids, ``4 * 4**order + ipix``) and
        ``probdensity`` (per steradian), optionally ``distmu``/``distsigma`` (Mpc) and
        ``distnorm`` (per Mpc²), all of one length; its other keys are kept as metadata.
        Replaces the localization's pixels when they changed.
        """
        if not isinstance(name, str) or not name:
            raise CacheError("put_localization: give the localization's name")
        if not isinstance(data, Mapping):
            raise SkymapError("put_localization: data must be the localization's JSON object")
        when = utc_naive(dateobs)
        pixels = _pixel_columns(data, f"{dateobs} {name}")
        pixels_hash = _arrays_hash(pixels.get(k) for k in _PIXELS)
        meta = {k: v for k, v in data.items() if k not in _PIXELS}
        page, olds = self._merged_page(
            LOCALIZATIONS,
            [meta],
            {
                "dateobs": [when],
                "localization_name": [name],
                "n_pixels": [len(pixels["uniq"])],
                "has_distance": ["distmu" in pixels],
                "pixels_hash": [pixels_hash],
                "pixels_modified": [utc_naive(data.get("modified"))],
            },
            extra=("pixels_hash",),
        )
        page.carry = [False]
        page.extra_hash = [pixels_hash]
        out = merge_page(self._con, page, now=self._now)
        if olds[0] is None or olds[0][1] != pixels_hash:
            self._con.execute(
                "DELETE FROM localization_pixels WHERE dateobs = ? AND localization_name = ?",
                [when, name],
            )
            n = len(pixels["uniq"])
            table = pa.table(
                {
                    "dateobs": pa.array([when] * n, pa.timestamp("us")),
                    "localization_name": pa.array([name] * n, pa.string()),
                    # JSON has no infinity: SkyPortal sends a pixel's distmu=inf
                    # ("no distance there") as null, kept as NULL here
                    **{
                        k: pa.array(pixels[k], from_pandas=True)
                        if k in pixels
                        else pa.nulls(n, pa.float64())
                        for k in _PIXELS
                    },
                }
            )
            self._con.register("_wb_pixels", table)
            try:
                self._con.execute(
                    "INSERT INTO localization_pixels SELECT dateobs, "
                    "localization_name, uniq, probdensity, distmu, distsigma, "
                    "distnorm FROM _wb_pixels ORDER BY uniq"
                )
            finally:
                self._con.unregister("_wb_pixels")
        return UpsertResult.of(out)

    def put_thumbnail(
        self, obj_id: str, type: str, url: str | None, png_bytes: bytes
    ) -> UpsertResult:
        """Store a thumbnail image (PNG, JPEG, GIF or SVG bytes) of ``obj_id``'s cutout
        ``type`` (new/ref/sub...), fetched from ``url``. Counts one image: new (none was
        cached), updated (different bytes) or unchanged."""
        if not isinstance(obj_id, str) or not obj_id or not isinstance(type, str) or not type:
            raise CacheError("put_thumbnail: give the obj id and the thumbnail type")
        if not isinstance(png_bytes, bytes | bytearray | memoryview) or not len(png_bytes):
            raise CacheError(f"put_thumbnail({obj_id}, {type}): the image is empty or not bytes")
        data = bytes(png_bytes)
        head = data[:64].lstrip()
        content_type = next((ct for magic, ct in _MAGIC if head.startswith(magic)), None)
        if content_type is None:
            raise CacheError(
                f"put_thumbnail({obj_id}, {type}): the bytes are not a PNG, JPEG, GIF or SVG "
                f"image (they start {data[:8]!r}); was an error page downloaded instead?"
            )
        before = self._con.execute(
            "SELECT png FROM thumbnails WHERE obj_id = ? AND type = ?", [obj_id, type]
        ).fetchall()
        params = [url, content_type, data, self._now, self._now, obj_id, type]
        if before:
            self._con.execute(
                "UPDATE thumbnails SET url = ?, content_type = ?, png = ?, fetched_at = ?, "
                "cached_at = ? WHERE obj_id = ? AND type = ?",
                params,
            )
        else:
            self._con.execute(
                "INSERT INTO thumbnails (url, content_type, png, fetched_at, cached_at, obj_id, "
                "type) VALUES (?, ?, ?, ?, ?, ?, ?)",
                params,
            )
        old = before[0][0] if before else None
        if old is None:
            return UpsertResult(new=1)
        return UpsertResult(unchanged=1) if bytes(old) == data else UpsertResult(updated=1)


def _pixel_columns(data: Mapping, what: str) -> dict[str, np.ndarray]:
    """The localization's pixel arrays, checked: a malformed map is a SkymapError."""
    if data.get("uniq") is None or data.get("probdensity") is None:
        raise SkymapError(
            f"localization {what}: no 'uniq'/'probdensity' arrays "
            f"(keys: {sorted(data)[:10]}); fetch it from /api/localization/..."
        )
    try:
        out = {
            "uniq": np.asarray(data["uniq"], dtype=np.int64),
            "probdensity": np.asarray(data["probdensity"], dtype=float),
        }
        present = [k for k in _DIST if data.get(k) is not None]
        if present and len(present) != 3:
            raise SkymapError(
                f"localization {what}: distance layers need distmu, distsigma "
                f"and distnorm together; got only {present}"
            )
        for k in present:
            out[k] = np.asarray(data[k], dtype=float)
    except (TypeError, ValueError, OverflowError) as exc:
        raise SkymapError(f"localization {what}: its pixel arrays are not numeric: {exc}") from exc
    n = len(out["uniq"])
    if any(a.ndim != 1 or len(a) != n for a in out.values()):
        raise SkymapError(
            f"localization {what}: the pixel arrays differ in length "
            f"({ {k: a.shape for k, a in out.items()} })"
        )
    if n == 0 or out["uniq"].min() < 4:
        raise SkymapError(
            f"localization {what}: uniq must be NUNIQ pixel ids (>= 4), one per pixel"
        )
    prob = out["probdensity"]
    if not np.all(np.isfinite(prob)) or prob.min() < 0:
        raise SkymapError(f"localization {what}: probdensity must be finite and >= 0 (per sr)")
    return out
