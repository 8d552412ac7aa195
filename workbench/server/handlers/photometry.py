"""``/api/photometry`` (post), ``/api/photometry/{id}``, ``/api/photometry/range``."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from .. import photindex, photrec
from ..timeutil import us_to_mjd
from .base import ApiError, BaseHandler
from .common import find_obj

MAX_RANGE_POINTS = 100_000


def _columns_to_items(body: dict[str, Any]) -> list[dict[str, Any]]:
    """SkyPortal accepts scalars or equal-length lists per field; return one dict per point."""
    lengths = {len(v) for v in body.values() if isinstance(v, list)}
    if len(lengths) > 1:
        raise ApiError("Invalid/missing parameters: list-valued fields must have equal length")
    n = lengths.pop() if lengths else 1
    return [{k: (v[i] if isinstance(v, list) else v) for k, v in body.items()} for i in range(n)]


class PhotometryPostHandler(BaseHandler):
    """POST (and PUT) photometry in mag or flux form; moves each object's ``modified``."""

    async def post(self) -> None:
        body = self.json_body()
        items = _columns_to_items(body)
        by_obj: dict[int, list[dict[str, Any]]] = {}
        for item in items:
            if "obj_id" not in item:
                raise ApiError(
                    "Invalid/missing parameters: {'obj_id': ['Missing data for required field.']}"
                )
            idx = find_obj(
                self, str(item["obj_id"]), message=f"Invalid obj_id: {item['obj_id']}", status=400
            )
            try:
                by_obj.setdefault(idx, []).append(photrec.from_post(item))
            except (TypeError, ValueError) as exc:
                raise ApiError(f"Invalid/missing parameters: {exc}") from exc
        ids: list[int] = []
        with self.store.lock:
            for idx, points in by_obj.items():
                ids += self.store.add_photometry(idx, points)
        await self.success({"ids": ids, "upload_id": str(uuid.uuid4())})

    put = post


class PhotometryHandler(BaseHandler):
    """GET/DELETE ``/api/photometry/{id}`` (``format=mag|flux``)."""

    def _point(self, photometry_id: str):
        return self.by_id(
            self.store.photometry_point,
            photometry_id,
            f"Cannot find photometry point with ID: {photometry_id}.",
        )

    async def get(self, photometry_id: str) -> None:
        fmt = self.arg("format") or "mag"
        if fmt not in ("mag", "flux"):
            raise ApiError(f"Invalid output format {fmt!r}: use 'mag' or 'flux'.")
        idx, point = self._point(photometry_id)
        await self.success(photrec.record(self.store, idx, point, fmt, annotations=True))

    async def delete(self, photometry_id: str) -> None:
        self._point(photometry_id)
        self.store.delete_photometry(int(photometry_id))
        await self.success()


def range_records(
    store, lo: int | None, hi: int | None, instruments: list[int] | None, fmt: str
) -> list[dict[str, Any]]:
    """Records of ``/api/photometry/range``: every point with ``lo <= mjd <= hi`` (epoch
    µs, None: unbounded; each point by its own date), by object then (MJD, id); 400 beyond
    :data:`MAX_RANGE_POINTS`.

    Seeded points come from the store's :class:`~workbench.server.photindex.PhotIndex`;
    objects with posted points and objects created after the index take the per-object
    path, whose answer the index's reproduces. Call with ``store.lock`` held.
    """
    o = store.objs
    lo_mjd = -np.inf if lo is None else us_to_mjd(lo)
    hi_mjd = np.inf if hi is None else us_to_mjd(hi)
    index = store.photometry_index()
    fast: tuple[np.ndarray, ...] | None = None
    if not instruments or 1 in instruments:  # every seeded point is instrument 1 (ZTF)
        fast = index.window(store, lo_mjd, hi_mjd)
    late = np.arange(index.covered, len(o))
    margin = photindex.POINT_MARGIN_DAYS  # objects near the window; points by their own date
    near = (o["lc_end"][late] >= lo_mjd - margin) & (o["lc_start"][late] <= hi_mjd + margin)
    late = late[o["gen"][late] & near]
    slow = sorted(set(store.phot_added) | set(late.tolist()))
    total = 0 if fast is None else len(fast[0])
    per_object: dict[int, list[dict[str, Any]]] = {}
    for idx in slow:
        per_object[idx] = [
            p
            for p in store.photometry(idx)
            if lo_mjd <= p["mjd"] <= hi_mjd
            and (not instruments or p.get("instrument_id", 1) in instruments)
        ]
        total += len(per_object[idx])
    if total > MAX_RANGE_POINTS:
        raise ApiError(f"Too many points (> {MAX_RANGE_POINTS}): narrow the range")
    if fast is None:
        fast_records, fast_obj = [], np.zeros(0, dtype=np.int64)
    else:
        fast_obj, k, band, mjd, flux, fluxerr = fast
        fast_records = photindex.records(store, fast_obj, k, band, mjd, flux, fluxerr, fmt)
    out: list[dict[str, Any]] = []
    start = 0
    for idx in slow:  # merged in object order, as the per-object loop answered
        cut = int(np.searchsorted(fast_obj, idx, side="left"))
        out += fast_records[start:cut]
        out += [photrec.record(store, idx, p, fmt) for p in per_object[idx]]
        start = cut
    out += fast_records[start:]
    return out


class PhotometryRangeHandler(BaseHandler):
    """GET ``/api/photometry/range``: points between ``min_date`` and ``max_date`` (ISO)."""

    latency_profile = "photometry"

    async def get(self) -> None:
        fmt = self.arg("format") or "mag"
        if fmt not in ("mag", "flux"):
            raise ApiError(f"Invalid output format {fmt!r}: use 'mag' or 'flux'.")
        lo, hi = self.time_arg("min_date"), self.time_arg("max_date")
        instruments = self.int_list("instrument_ids")
        with self.store.lock:
            out = range_records(self.store, lo, hi, instruments, fmt)
        await self.success(out, rows=len(out))
