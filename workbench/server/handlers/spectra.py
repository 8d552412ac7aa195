"""``/api/spectra`` (bare list, not paginated), ``/api/spectra/{id}``, uploads, range."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import records, refdata
from ..timeutil import iso, parse_time
from .base import ApiError, BaseHandler
from .common import find_obj

SPECTRUM_GROUPS = (1, 2)
MINIMAL_KEYS = (
    "obj_id",
    "modified",
    "altdata",
    "created_at",
    "origin",
    "original_file_filename",
    "type",
    "owner_id",
    "id",
    "observed_at",
    "label",
    "instrument_id",
    "assignment_id",
    "followup_request_id",
)


def spectrum_record(store, row: int, *, minimal: bool = False) -> dict[str, Any]:
    """A Spectrum dict (``minimal``: the metadata of ``minimalPayload=true``)."""
    s = store.spectra
    sid = int(s["id"][row])
    idx = int(s["obj"][row])
    inst = int(s["instrument_id"][row])
    meta = {
        "obj_id": store.objs["id"][idx],
        "modified": iso(s["modified"][row]),
        "altdata": s["altdata"][row],
        "created_at": iso(s["created"][row]),
        "origin": s["origin"][row],
        "original_file_filename": None,
        "type": s["type"][row],
        "owner_id": int(s["owner_id"][row]),
        "id": sid,
        "observed_at": iso(s["observed_at"][row]),
        "label": s["label"][row],
        "instrument_id": inst,
        "assignment_id": None,
        "followup_request_id": None,
    }
    if minimal:
        return meta
    wave, flux, err = store.spectrum_arrays(row)
    instrument = refdata.instrument_record(inst, iso)
    out = {
        "wavelengths": wave.tolist(),
        **meta,
        "errors": None if err is None else err.tolist(),
        "units": s["units"][row],
        "fluxes": flux.tolist(),
        "reducers": [],
        "observers": [],
        "instrument": instrument,
        "owner": records.user(int(s["owner_id"][row])),
        "groups": [
            records.group(store, g)
            for g in s["group_ids"][row] or SPECTRUM_GROUPS
            if g in store.groups
        ],
        "pis": [],
        "instrument_name": instrument["name"],
        "telescope_id": instrument["telescope_id"],
        "telescope_name": instrument["telescope"]["name"],
        "comments": [
            records.comment(store, "spectra", sid, c) for c in store.comments("spectra", sid)
        ],
        "annotations": [
            records.annotation(store, "spectra", sid, a) for a in store.annotations("spectra", sid)
        ],
    }
    return out


class SpectraHandler(BaseHandler):
    """GET all spectra matching filters (bare list); POST a spectrum from JSON arrays."""

    async def get(self) -> None:
        store = self.store
        minimal = self.flag("minimalPayload")
        with store.lock:
            s = store.spectra
            mask = ~s["deleted"]
            for name, col, op in (
                ("modifiedAfter", "modified", np.greater),
                ("modifiedBefore", "modified", np.less),
                ("observedAfter", "observed_at", np.greater),
                ("observedBefore", "observed_at", np.less),
            ):
                when = self.time_arg(name)
                if when is not None:
                    mask &= op(s[col], when)
            needle = self.arg("objID") or self.arg("obj_id")
            if needle:
                ids = store.objs["id"][s["obj"]]
                mask &= np.fromiter((needle in i for i in ids), bool, len(ids))
            instruments = self.int_list("instrumentIDs")
            if instruments:
                mask &= np.isin(s["instrument_id"], instruments)
            types = self.arg("type")
            if types:
                mask &= np.isin(s["type"], [t.strip() for t in str(types).split(",")])
            rows = np.flatnonzero(mask)
            out = [spectrum_record(store, int(r), minimal=minimal) for r in rows]
        await self.success(out, rows=len(out), profile="spectra_minimal" if minimal else "spectra")

    async def post(self) -> None:
        body = self.json_body()
        sid = _store_spectrum(
            self, body, body.get("wavelengths"), body.get("fluxes"), body.get("errors")
        )
        await self.success({"id": sid})


def _store_spectrum(handler, body: dict[str, Any], wave, flux, err) -> int:
    store = handler.store
    missing = [k for k in ("obj_id", "observed_at", "instrument_id") if body.get(k) is None]
    if wave is None:
        missing.append("wavelengths")
    if flux is None:
        missing.append("fluxes")
    if missing:
        raise ApiError(
            "Invalid/missing parameters: "
            + str({k: ["Missing data for required field."] for k in missing})
        )
    idx = find_obj(
        handler, str(body["obj_id"]), message=f"Invalid obj_id: {body['obj_id']}", status=400
    )
    try:
        wave = np.asarray(wave, dtype=float)
        flux = np.asarray(flux, dtype=float)
        err = None if err is None else np.asarray(err, dtype=float)
        observed = parse_time(str(body["observed_at"]))
        instrument = int(body["instrument_id"])
    except (TypeError, ValueError) as exc:
        raise ApiError(f"Invalid/missing parameters: {exc}") from exc
    if wave.ndim != 1 or wave.shape != flux.shape or (err is not None and err.shape != wave.shape):
        raise ApiError(
            "Invalid/missing parameters: wavelengths, fluxes and errors must be "
            "1-D arrays of the same length"
        )
    if instrument not in refdata.INSTRUMENTS:
        raise ApiError(f"Invalid instrument_id: {instrument}")
    return store.add_spectrum(
        idx,
        wave,
        flux,
        err,
        observed_at=observed,
        instrument_id=instrument,
        type=body.get("type"),
        label=body.get("label"),
        origin=body.get("origin"),
        altdata=body.get("altdata"),
        units=body.get("units"),
        group_ids=body.get("group_ids"),
    )


def parse_ascii(body: dict[str, Any]) -> Any:
    """Parse ``body["ascii"]`` with the columns the request names, as SkyPortal does
    (the workbench's own parser reproduces SkyPortal's on real files); 400 on refusal."""
    from ...errors import SpectrumParseError
    from ...spectra import parse_ascii as parse

    columns = {}
    for key, default in (("wave_column", 0), ("flux_column", 1), ("fluxerr_column", None)):
        value = body.get(key, default)
        columns[key] = None if value is None else int(value)
    try:
        return parse(str(body["ascii"]), **columns)
    except SpectrumParseError as exc:
        raise ApiError(f"Unable to parse spectrum: {exc.message}") from exc


class SpectrumAsciiHandler(BaseHandler):
    """POST ``/api/spectra/ascii``: upload a spectrum given as ASCII text (``ascii``)."""

    async def post(self) -> None:
        body = self.json_body()
        if not body.get("ascii"):
            raise ApiError(
                "Invalid/missing parameters: {'ascii': ['Missing data for required field.']}"
            )
        parsed = parse_ascii(body)
        sid = _store_spectrum(self, body, parsed.wavelengths, parsed.fluxes, parsed.errors)
        await self.success({"id": sid})


class SpectrumParseHandler(BaseHandler):
    """POST ``/api/spectra/parse/ascii``: parse without storing."""

    async def post(self) -> None:
        body = self.json_body()
        if not body.get("ascii"):
            raise ApiError(
                "Invalid/missing parameters: {'ascii': ['Missing data for required field.']}"
            )
        await self.success(parse_ascii(body).to_skyportal())


class SpectrumHandler(BaseHandler):
    """GET/PUT/DELETE ``/api/spectra/{id}``."""

    def _row(self, spectrum_id: str) -> int:
        return self.by_id(
            self.store.spectrum_row,
            spectrum_id,
            f"Could not load spectrum with ID {spectrum_id}",
            404,
        )

    async def get(self, spectrum_id: str) -> None:
        with self.store.lock:
            rec = spectrum_record(self.store, self._row(spectrum_id))
        await self.success(rec)

    async def put(self, spectrum_id: str) -> None:
        body = self.json_body()
        with self.store.lock:
            row = self._row(spectrum_id)
            s = self.store.spectra
            for key in ("type", "label", "origin", "altdata", "units"):
                if key in body:
                    s.set(key, row, body[key])
            if "observed_at" in body:
                s.set("observed_at", row, parse_time(str(body["observed_at"])))
            if "wavelengths" in body or "fluxes" in body:
                wave, flux, err = self.store.spectrum_arrays(row)
                s.set(
                    "arrays",
                    row,
                    (
                        np.asarray(body.get("wavelengths", wave), float),
                        np.asarray(body.get("fluxes", flux), float),
                        None
                        if body.get("errors", err) is None
                        else np.asarray(body.get("errors", err), float),
                    ),
                )
            s.set("modified", row, self.store.clock.now())
        await self.success()

    async def delete(self, spectrum_id: str) -> None:
        with self.store.lock:
            self.store.spectra.set("deleted", self._row(spectrum_id), True)
        await self.success()


class SpectraRangeHandler(BaseHandler):
    """GET ``/api/spectra/range``: spectra observed between ``min_date`` and ``max_date``."""

    async def get(self) -> None:
        store = self.store
        with store.lock:
            s = store.spectra
            mask = ~s["deleted"]
            lo, hi = self.time_arg("min_date"), self.time_arg("max_date")
            if lo is not None:
                mask &= s["observed_at"] >= lo
            if hi is not None:
                mask &= s["observed_at"] <= hi
            instruments = self.int_list("instrument_ids")
            if instruments:
                mask &= np.isin(s["instrument_id"], instruments)
            out = [spectrum_record(store, int(r)) for r in np.flatnonzero(mask)]
        await self.success(out, rows=len(out), profile="spectra")
