"""Spectra: listing, upload (arrays or ASCII), parsing, synthetic photometry, TNS."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .core import BaseClient
from .transport import api_path, as_list, drop_none, new_id


class SpectraAPI(BaseClient):
    """``/api/spectra``, ``/api/sources/{id}/spectra``, ``/api/spectrum/tns``.

    Wavelengths are in Angstrom; fluxes and errors in the spectrum's ``units``
    (F_lambda, erg/s/cm²/Å, unless stated); times are UTC.
    """

    def list_spectra(
        self,
        *,
        minimal_payload: bool | None = None,
        observed_after: str | None = None,
        observed_before: str | None = None,
        obj_id: str | None = None,
        instrument_ids: Iterable[int] | None = None,
        group_ids: Iterable[int] | None = None,
        **params: Any,
    ) -> list[dict]:
        """Retrieve multiple spectra with given criteria (``GET /api/spectra``; not paginated).

        ``minimal_payload=True`` returns metadata without the arrays: much smaller and
        faster; fetch arrays with :meth:`get_spectrum` for the new ones only.
        ``obj_id`` matches partially. Other criteria (``origin``, ``label``, ``type``,
        comment filters) pass through ``params`` under their SkyPortal names.
        """
        query = {
            "minimalPayload": minimal_payload,
            "observedAfter": observed_after,
            "observedBefore": observed_before,
            "objID": obj_id,
            "instrumentIDs": instrument_ids,
            "groupIDs": group_ids,
            **params,
        }
        return self.get("/api/spectra", drop_none(query))

    def get_source_spectra(self, obj_id: str, *, normalization: str | None = None) -> list[dict]:
        """Retrieve all spectra of an object (``GET /api/sources/{obj_id}/spectra``).

        ``normalization="median"`` divides each spectrum by its median flux.
        """
        data = self.get(
            api_path("sources", obj_id, "spectra"), drop_none({"normalization": normalization})
        )
        return data.get("spectra", []) if isinstance(data, dict) else data

    def get_spectrum(self, spectrum_id: int) -> dict:
        """Retrieve a spectrum with its arrays (``GET /api/spectra/{spectrum_id}``)."""
        return self.get(api_path("spectra", spectrum_id))

    def post_spectrum(
        self,
        obj_id: str,
        instrument_id: int,
        observed_at: str,
        wavelengths: Sequence[float],
        fluxes: Sequence[float],
        *,
        errors: Sequence[float] | None = None,
        units: str | None = None,
        group_ids: Iterable[int] | str | None = None,
        **fields: Any,
    ) -> int:
        """Upload a spectrum (``POST /api/spectra``); return its id.

        ``wavelengths`` in Angstrom, ``fluxes``/``errors`` in ``units`` (``erg/s/cm/cm/AA``,
        ``Jy`` or ``AB``); arrays may be numpy arrays. Other fields (``type``, ``label``,
        ``origin``, ``altdata``, ...) pass through ``fields``.
        """
        body = {
            "obj_id": obj_id,
            "instrument_id": instrument_id,
            "observed_at": observed_at,
            "wavelengths": wavelengths,
            "fluxes": fluxes,
            "errors": errors,
            "units": units,
            "group_ids": group_ids if isinstance(group_ids, str) else as_list(group_ids),
            **fields,
        }
        return new_id(self.post("/api/spectra", drop_none(body)))

    def update_spectrum(self, spectrum_id: int, **fields: Any) -> Any:
        """Update a spectrum (``PUT /api/spectra/{spectrum_id}``)."""
        return self.put(api_path("spectra", spectrum_id), fields)

    def delete_spectrum(self, spectrum_id: int) -> Any:
        """Delete a spectrum (``DELETE /api/spectra/{spectrum_id}``)."""
        return self.delete(api_path("spectra", spectrum_id))

    def parse_spectrum_ascii(
        self,
        ascii: str,
        *,
        wave_column: int = 0,
        flux_column: int = 1,
        fluxerr_column: int | None = None,
    ) -> dict:
        """Parse an ASCII spectrum on the server (``POST /api/spectra/parse/ascii``).

        Columns are 0-based; returns ``wavelengths`` (Angstrom), ``fluxes``, ``errors``
        and the parsed header in ``altdata``, without storing anything.
        """
        body = {
            "ascii": ascii,
            "wave_column": wave_column,
            "flux_column": flux_column,
            "fluxerr_column": fluxerr_column,
        }
        return self.post("/api/spectra/parse/ascii", body)

    def post_spectrum_ascii(
        self,
        obj_id: str,
        instrument_id: int,
        observed_at: str,
        ascii: str,
        filename: str,
        *,
        wave_column: int = 0,
        flux_column: int = 1,
        fluxerr_column: int | None = None,
        group_ids: Iterable[int] | None = None,
        **fields: Any,
    ) -> int:
        """Upload a spectrum from ASCII text (``POST /api/spectra/ascii``); return its id.

        ``filename`` is kept for bookkeeping; columns are 0-based as in
        :meth:`parse_spectrum_ascii`.
        """
        body = {
            "obj_id": obj_id,
            "instrument_id": instrument_id,
            "observed_at": observed_at,
            "ascii": ascii,
            "filename": filename,
            "wave_column": wave_column,
            "flux_column": flux_column,
            "fluxerr_column": fluxerr_column,
            "group_ids": as_list(group_ids),
            **fields,
        }
        return new_id(self.post("/api/spectra/ascii", drop_none(body)))

    def post_synthetic_photometry(self, spectrum_id: int, filters: Iterable[str]) -> Any:
        """Create synthetic photometry from a spectrum in the given bandpasses
        (``POST /api/spectra/synthphot/{spectrum_id}``), e.g. ``["ztfg", "ztfr"]``."""
        return self.post(
            api_path("spectra", "synthphot", spectrum_id), {"filters": as_list(filters)}
        )

    def get_spectra_range(
        self,
        *,
        instrument_ids: Iterable[int] | None = None,
        min_date: str | None = None,
        max_date: str | None = None,
    ) -> Any:
        """Spectra of given instruments within a UTC date range (``GET /api/spectra/range``)."""
        query = {"instrument_ids": instrument_ids, "min_date": min_date, "max_date": max_date}
        return self.get("/api/spectra/range", drop_none(query))

    def submit_spectrum_tns(
        self,
        spectrum_id: int,
        tnsrobot_id: int,
        *,
        classification_id: str | None = None,
        classifiers: str | None = None,
        spectrum_type: str | None = None,
        spectrum_comment: str | None = None,
        classification_comment: str | None = None,
    ) -> Any:
        """Submit a (classification) spectrum to TNS (``POST /api/spectrum/tns/{spectrum_id}``).

        A Fritz endpoint: plain SkyPortal servers answer "Invalid API endpoint" (NotFound).
        """
        body = {
            "tnsrobotID": tnsrobot_id,
            "classificationID": classification_id,
            "classifiers": classifiers,
            "spectrumType": spectrum_type,
            "spectrumComment": spectrum_comment,
            "classificationComment": classification_comment,
        }
        return self.post(api_path("spectrum", "tns", spectrum_id), drop_none(body))
