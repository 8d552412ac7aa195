"""The remaining operations of the API docs: table-driven resources (:mod:`..resources`)
plus the few endpoints with their own behaviour (facility messages, schedules,
prioritization, offsets, finding charts, synthetic photometry, TNS, db_stats, Kowalski
filter versions)."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from .. import thumbs
from ..resources import SPECS, ResourceError
from ..timeutil import iso
from .base import ApiError, BaseHandler, Context
from .common import find_obj

C_AA = 2.99792458e18  # speed of light in Angstrom/s
BANDS = {"ztfg": (4100.0, 5500.0), "ztfr": (5600.0, 7300.0), "ztfi": (7100.0, 9000.0)}


def _resources(handler):
    return handler.store.resources


class ResourceHandler(BaseHandler):
    """GET/POST a collection, GET/PUT/PATCH/DELETE one record, per :data:`SPECS`."""

    def initialize(self, ctx: Context, name: str) -> None:  # type: ignore[override]
        super().initialize(ctx)
        self.name = name

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except ResourceError as exc:
            raise ApiError(str(exc), exc.status) from exc

    async def get(self, rid: str | None = None) -> None:
        res = _resources(self)
        if rid is not None:
            await self.success(self._call(res.detail, self.name, rid))
            return
        items = res.listing(self.name)
        obj_filter = self.arg("obj_id") or self.arg("sourceID")
        if obj_filter:
            items = [r for r in items if obj_filter in str(r.get("obj_id", ""))]
        key = SPECS[self.name].list_key
        if key:
            await self.success({key: items, "totalMatches": len(items)})
        else:
            await self.success(items)

    async def post(self, rid: str | None = None) -> None:
        if rid is not None:
            raise ApiError("Invalid API endpoint")
        new = self._call(_resources(self).create, self.name, self.json_body())
        await self.success({"id": new})

    async def put(self, rid: str | None = None) -> None:
        await self._update(rid, "PUT")

    async def patch(self, rid: str | None = None) -> None:
        await self._update(rid, "PATCH")

    async def _update(self, rid: str | None, method: str) -> None:
        if rid is None:
            raise ApiError(f"Must provide a {SPECS[self.name].label.lower()} ID")
        self._call(_resources(self).update, self.name, rid, self.json_body(), method)
        await self.success()

    async def delete(self, rid: str | None = None) -> None:
        if rid is None:
            raise ApiError(f"Must provide a {SPECS[self.name].label.lower()} ID")
        self._call(_resources(self).delete, self.name, rid)
        await self.success()


class PhotometryRequestHandler(BaseHandler):
    """GET ``/api/photometry_request/{id}``: a follow-up request on an imaging instrument."""

    async def get(self, request_id: str) -> None:
        try:
            rec = _resources(self).get("followup_request", request_id)
        except ResourceError as exc:
            raise ApiError(str(exc), exc.status) from exc
        await self.success(rec)


class FacilityHandler(BaseHandler):
    """POST ``/api/facility``: a remote facility reports a follow-up request's status."""

    async def post(self) -> None:
        body = self.json_body()
        rid = body.get("followup_request_id")
        status = body.get("new_status") or body.get("status")
        if rid is None or not status:
            raise ApiError(
                "Invalid/missing parameters: followup_request_id and new_status are required"
            )
        try:
            rec = _resources(self).get("followup_request", rid)
        except ResourceError as exc:
            raise ApiError(str(exc), exc.status) from exc
        with self.store.lock:
            rec["status"] = str(status)
            rec["modified"] = iso(self.store.clock.now())
        await self.success()


class ScheduleHandler(BaseHandler):
    """GET ``/api/followup_request/schedule/{instrument_id}`` as PDF, PNG or CSV bytes."""

    async def get(self, instrument_id: str) -> None:
        res = _resources(self)
        fmt = (self.arg("output_format") or "pdf").lower()
        if fmt not in ("pdf", "png", "csv"):
            raise ApiError(f"Invalid output_format {fmt!r}: use pdf, png or csv")
        allocations = {
            a["id"] for a in res.list("allocation") if str(a["instrument_id"]) == instrument_id
        }
        if int(instrument_id) not in res.rows["instrument"]:
            raise ApiError(f"Instrument with ID {instrument_id} not found", 404)
        rows = [r for r in res.list("followup_request") if r["allocation_id"] in allocations]
        status = self.arg("status")
        if status:
            rows = [r for r in rows if status in r["status"]]
        lines = [
            (
                r["id"],
                r["obj_id"],
                *self._radec(r["obj_id"]),
                (r.get("payload") or {}).get("priority"),
                r["status"],
            )
            for r in rows
        ]
        if fmt == "csv":
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow(["request_id", "obj_id", "ra", "dec", "priority", "status"])
            writer.writerows(lines)
            self.send_bytes(buf.getvalue().encode(), "text/csv", f"schedule_{instrument_id}.csv")
            return
        text = [f"Schedule for instrument {instrument_id}"] + [
            f"{i}  {o}  {ra:.5f} {dec:+.5f}  p={p}  {s}" for i, o, ra, dec, p, s in lines
        ]
        self.send_bytes(
            _text_image(text, fmt),
            "application/pdf" if fmt == "pdf" else "image/png",
            f"schedule_{instrument_id}.{fmt}",
        )

    def _radec(self, obj_id: str) -> tuple[float, float]:
        idx = self.store.find(obj_id)
        return float(self.store.objs["ra"][idx]), float(self.store.objs["dec"][idx])


def _text_image(lines: list[str], fmt: str) -> bytes:
    img = Image.new("RGB", (900, 40 + 18 * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    for k, line in enumerate(lines):
        draw.text((20, 20 + 18 * k), line, fill="black")
    buf = io.BytesIO()
    img.save(buf, format="PDF" if fmt == "pdf" else "PNG")
    return buf.getvalue()


class PrioritizationHandler(BaseHandler):
    """PUT ``/api/followup_request/prioritization``: spread priorities by brightness."""

    async def put(self) -> None:
        body = self.json_body()
        ids = body.get("requestIds")
        if not ids:
            raise ApiError("Missing required parameter: requestIds")
        kind = body.get("priorityType", "magnitude")
        if kind not in ("magnitude", "localization"):
            raise ApiError("priorityType must be either localization or magnitude")
        lo, hi = float(body.get("minimumPriority", 1)), float(body.get("maximumPriority", 5))
        res = _resources(self)
        try:
            recs = [res.get("followup_request", i) for i in ids]
        except ResourceError as exc:
            raise ApiError(str(exc), exc.status) from exc
        mags = [self._latest_mag(r["obj_id"]) for r in recs]
        ascending = body.get("magnitudeOrdering", "ascending") == "ascending"
        order = np.argsort(mags if ascending else [-m for m in mags], kind="stable")
        steps = np.linspace(hi, lo, len(recs)) if len(recs) > 1 else [hi]
        with self.store.lock:
            for rank, k in enumerate(order):
                recs[k]["payload"] = dict(
                    recs[k].get("payload") or {}, priority=float(round(steps[rank], 3))
                )
                recs[k]["modified"] = iso(self.store.clock.now())
        await self.success([dict(r) for r in recs])

    def _latest_mag(self, obj_id: str) -> float:
        idx = self.store.find(obj_id)
        det = [p["mag"] for p in self.store.photometry(idx) if p.get("mag") is not None]
        return det[-1] if det else 99.0


class OffsetsHandler(BaseHandler):
    """GET ``/api/sources/{id}/offsets``: synthetic offset stars and a starlist."""

    async def get(self, obj_id: str) -> None:
        idx = find_obj(self, obj_id)
        facility = self.arg("facility") or "Keck"
        if facility not in ("Keck", "Shane", "P200"):
            raise ApiError(f"Invalid facility {facility!r}: use Keck, Shane or P200")
        n = self.int_arg("num_offset_stars", 3)
        if not 0 <= n <= 10:
            raise ApiError("num_offset_stars must be between 0 and 10")
        ra, dec = float(self.store.objs["ra"][idx]), float(self.store.objs["dec"][idx])
        rng = np.random.default_rng([self.store.seed, idx, 53])
        info = [_star(obj_id, ra, dec, ra, dec, None)]
        for k in range(n):
            sra = ra + rng.uniform(-0.02, 0.02) / max(np.cos(np.radians(dec)), 1e-3)
            sdec = dec + rng.uniform(-0.02, 0.02)
            info.append(
                _star(
                    f"{obj_id}_o{k + 1}", sra, sdec, ra, dec, round(float(rng.uniform(14, 18)), 2)
                )
            )
        await self.success(
            {
                "facility": facility,
                "starlist_str": "\n".join(s["str"] for s in info),
                "starlist_info": info,
                "ra": ra,
                "dec": dec,
                "queries_issued": 1,
                "noffsets": n,
                "query": "synthetic offset stars (local server)",
            }
        )


def _sexagesimal(ra: float, dec: float) -> tuple[str, str]:
    h, rem = divmod(ra / 15.0, 1.0)
    m, rem = divmod(rem * 60, 1.0)
    sign = "-" if dec < 0 else "+"
    d, drem = divmod(abs(dec), 1.0)
    dm, drem = divmod(drem * 60, 1.0)
    return (
        f"{int(h):02d} {int(m):02d} {rem * 60:05.2f}",
        f"{sign}{int(d):02d} {int(dm):02d} {drem * 60:04.1f}",
    )


def _star(
    name: str, ra: float, dec: float, ra0: float, dec0: float, mag: float | None
) -> dict[str, Any]:
    sra, sdec = _sexagesimal(ra, dec)
    dra = (ra0 - ra) * np.cos(np.radians(dec0)) * 3600
    ddec = (dec0 - dec) * 3600
    text = f"{name:<16s} {sra} {sdec} 2000.0"
    if mag is not None:
        text += f" raoffset={dra:.2f} decoffset={ddec:.2f} r={mag}"
    return {
        "str": text,
        "ra": ra,
        "dec": dec,
        "name": name,
        "dras": f'{dra:.2f}"E',
        "ddecs": f'{ddec:.2f}"N',
        "mag": mag,
    }


class FinderHandler(BaseHandler):
    """GET ``/api/sources/{id}/finder``: a finding chart as PNG or PDF bytes."""

    async def get(self, obj_id: str) -> None:
        idx = find_obj(self, obj_id)
        kind = (self.arg("type") or "pdf").lower()
        if kind not in ("png", "pdf"):
            raise ApiError(f"Invalid type {kind!r}: use png or pdf")
        imsize = self.float_arg("imsize") or 4.0
        if not 2 <= imsize <= 15:
            raise ApiError("imsize must be between 2 and 15 arcmin")
        stamp = Image.open(io.BytesIO(thumbs.render(self.store.seed, idx, "ref")))
        chart = stamp.resize((600, 600)).convert("RGB")
        draw = ImageDraw.Draw(chart)
        draw.line([(300, 250), (300, 285)], fill="red", width=3)
        draw.line([(250, 300), (285, 300)], fill="red", width=3)
        ra, dec = float(self.store.objs["ra"][idx]), float(self.store.objs["dec"][idx])
        sra, sdec = _sexagesimal(ra, dec)
        draw.text((10, 10), f"{obj_id}  {sra} {sdec}  {imsize:g}' x {imsize:g}'", fill="yellow")
        draw.text((10, 580), "N up, E left", fill="yellow")
        buf = io.BytesIO()
        chart.save(buf, format="PDF" if kind == "pdf" else "PNG")
        self.send_bytes(
            buf.getvalue(),
            "application/pdf" if kind == "pdf" else "image/png",
            f"finder_chart_{obj_id}.{kind}",
        )


class SynthPhotHandler(BaseHandler):
    """POST ``/api/spectra/synthphot/{id}``: AB magnitudes through top-hat ZTF bands."""

    async def post(self, spectrum_id: str) -> None:
        store = self.store
        row = store.spectrum_row(int(spectrum_id))
        if row is None:
            raise ApiError(f"Could not load spectrum with ID {spectrum_id}", 404)
        requested = self.arg("filters") or "ztfg,ztfr"  # query string or JSON body list
        if isinstance(requested, str):
            requested = requested.split(",")
        names = [str(f).strip() for f in requested if str(f).strip()]
        unknown = [f for f in names if f not in BANDS]
        if unknown:
            raise ApiError(f"Unknown filters {unknown}; supported: {sorted(BANDS)}")
        wave, flux, _ = store.spectrum_arrays(row)
        idx = int(store.spectra["obj"][row])
        mjd = float(store.spectra["observed_at"][row]) / 8.64e10 + 40587.0
        points = []
        for band in names:
            lo, hi = BANDS[band]
            sel = (wave >= lo) & (wave <= hi)
            if sel.sum() < 2:
                raise ApiError(f"Spectrum does not cover the {band} band ({lo:.0f}-{hi:.0f} Å)")
            # photon-weighted mean f_nu over a top-hat band
            f_nu = np.trapezoid(flux[sel] * wave[sel], wave[sel]) / np.trapezoid(
                C_AA / wave[sel], wave[sel]
            )
            if f_nu <= 0:
                raise ApiError(f"Non-positive flux in the {band} band")
            mag = -2.5 * np.log10(f_nu) - 48.6
            points.append(
                {
                    "mjd": mjd,
                    "filter": band,
                    "mag": float(mag),
                    "magerr": 0.05,
                    "limiting_mag": float(mag) + 2.0,
                    "origin": "synthphot",
                    "flux": 10 ** (-0.4 * (mag - 23.9)),
                    "fluxerr": 0.05 * 10 ** (-0.4 * (mag - 23.9)) / 1.0857,
                    "snr": 21.7,
                    "instrument_id": 1,
                }
            )
        ids = store.add_photometry(idx, points)
        await self.success({"ids": ids})


class TNSHandler(BaseHandler):
    """POST ``/api/spectrum/tns/{id}`` (Fritz): record a classification-report submission."""

    async def post(self, spectrum_id: str) -> None:
        if self.store.spectrum_row(int(spectrum_id)) is None:
            raise ApiError(f"Could not load spectrum with ID {spectrum_id}", 404)
        body = self.json_body(optional=True)
        with self.store.lock:
            self.store.tns_submissions.append(
                {"spectrum_id": int(spectrum_id), **body, "created_at": iso(self.store.clock.now())}
            )
        await self.success()


class DBStatsHandler(BaseHandler):
    """GET ``/api/db_stats`` (admin): row counts."""

    async def get(self) -> None:
        counts = self.store.counts()
        await self.success(
            {
                "Number of candidates": counts["candidate_rows"],
                "Number of objs": counts["objs"],
                "Number of sources": counts["sources"],
                "Number of photometry": int(self.store.objs["n_phot"].sum())
                + len(self.store.phot_owner),
                "Number of spectra": counts["spectra"],
                "Number of groups": len(self.store.groups),
                "Number of users": 5,
                "Number of tokens": 1,
                "Oldest candidate creation datetime": iso(int(self.store.cands["passed_at"].min())),
                "Newest candidate creation datetime": iso(int(self.store.cands["passed_at"].max())),
            }
        )


class FilterVersionHandler(BaseHandler):
    """``/api/filters/{id}/v`` (Fritz/Kowalski): the filter's pipeline versions."""

    def _state(self, filter_id: str) -> dict[str, Any]:
        try:
            _resources(self).get("filters", filter_id)
        except ResourceError as exc:
            raise ApiError(str(exc), exc.status) from exc
        return self.store.filter_versions.setdefault(
            int(filter_id),
            {
                "filter_id": int(filter_id),
                "active": False,
                "active_fid": None,
                "autosave": False,
                "update_annotations": False,
                "fv": [],
            },
        )

    async def get(self, filter_id: str) -> None:
        await self.success(self._state(filter_id))

    async def post(self, filter_id: str) -> None:
        state = self._state(filter_id)
        pipeline = self.json_body().get("pipeline")
        if not isinstance(pipeline, list):
            raise ApiError("Invalid/missing parameters: pipeline must be a list of stages")
        with self.store.lock:
            fid = f"v{len(state['fv']) + 1}"
            state["fv"].append(
                {"fid": fid, "pipeline": pipeline, "created_at": iso(self.store.clock.now())}
            )
            state.update(active=True, active_fid=fid)
        await self.success(state)

    async def patch(self, filter_id: str) -> None:
        state = self._state(filter_id)
        body = self.json_body()
        # Fritz's docs send the filter_id again in the body; it must agree with the URL
        if "filter_id" in body and str(body.pop("filter_id")) != filter_id:
            raise ApiError("filter_id in the body does not match the URL")
        allowed = {"active", "active_fid", "autosave", "update_annotations"}
        unknown = set(body) - allowed
        if unknown:
            raise ApiError(f"Invalid/missing parameters: unknown fields {sorted(unknown)}")
        if "active_fid" in body and body["active_fid"] not in {v["fid"] for v in state["fv"]}:
            raise ApiError(f"No filter version {body['active_fid']!r}")
        with self.store.lock:
            state.update(body)
        await self.success(state)

    async def delete(self, filter_id: str) -> None:
        state = self._state(filter_id)
        with self.store.lock:
            state.update(active=False, active_fid=None, fv=[])
        await self.success()
