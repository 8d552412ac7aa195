"""``/api/photometry`` (post), ``/api/photometry/{id}``, ``/api/photometry/range``."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from .. import photrec
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


class PhotometryRangeHandler(BaseHandler):
    """GET ``/api/photometry/range``: points between ``min_date`` and ``max_date`` (ISO)."""

    latency_profile = "photometry"

    async def get(self) -> None:
        fmt = self.arg("format") or "mag"
        if fmt not in ("mag", "flux"):
            raise ApiError(f"Invalid output format {fmt!r}: use 'mag' or 'flux'.")
        lo, hi = self.time_arg("min_date"), self.time_arg("max_date")
        instruments = self.int_list("instrument_ids")
        store = self.store
        with store.lock:
            o = store.objs
            mask = np.ones(len(o), dtype=bool)
            lo_mjd = -np.inf if lo is None else us_to_mjd(lo)
            hi_mjd = np.inf if hi is None else us_to_mjd(hi)
            gen = o["gen"] & (o["lc_end"] >= lo_mjd) & (o["lc_start"] <= hi_mjd)
            candidates = np.flatnonzero(
                mask & (gen | np.isin(np.arange(len(o)), list(store.phot_added)))
            )
            out = []
            for idx in candidates:
                for p in store.photometry(int(idx)):
                    if lo_mjd <= p["mjd"] <= hi_mjd and (
                        not instruments or p.get("instrument_id", 1) in instruments
                    ):
                        out.append(photrec.record(store, int(idx), p, fmt))
                if len(out) > MAX_RANGE_POINTS:
                    raise ApiError(f"Too many points (> {MAX_RANGE_POINTS}): narrow the range")
        await self.success(out, rows=len(out))
