"""Annotations, spectra and listings of the store (the rest of an object's children)."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import refdata
from .children import hash_uniform
from .sky import KINDS


class ExtrasMixin:
    """Annotations (generated Kowalski scores + posted), spectra, user listings."""

    # --------------------------------------------------------------- annotations
    def annotations(self, rtype: str, rid: Any) -> list[dict[str, Any]]:
        """Annotations of a resource (internal fields), generated ones first."""
        with self.lock:
            out = []
            if rtype == "sources" and rid < self.n_seeded:
                if rid == 3:
                    when = int(self.objs["created"][3]) + 2_000_000_000
                    out.append(
                        {
                            "id": 2 * rid + 2,
                            "origin": "Program A",
                            "author_id": 1,
                            "created": when,
                            "modified": when,
                            "data": {
                                "class": "SNe II",
                                "some_boolean": True,
                                "numeric_field": 0.11235813,
                            },
                        }
                    )
                if self.cand_seeded[rid]:
                    out.append(self._kowalski(rid))
            out += [dict(a) for a in self.annotations_added.get((rtype, rid), [])]
        return out

    def scores(self, idx: np.ndarray) -> dict[str, np.ndarray]:
        """Real/bogus (``drb``) and ACAI scores of objects, vectorised and deterministic."""
        idx = np.asarray(idx)
        bogus = self.objs["kind"][idx] == KINDS.index("bogus")
        drb = np.where(
            bogus,
            0.3 * hash_uniform(self.seed, idx, 1),
            0.6 + 0.4 * hash_uniform(self.seed, idx, 1) ** 0.3,
        )
        out = {"drb": np.round(drb, 5)}
        for j, key in enumerate(("acai_h", "acai_v", "acai_o", "acai_n", "acai_b")):
            out[key] = np.round(hash_uniform(self.seed, idx, 10 + j), 5)
        out["sgscore1"] = np.round(hash_uniform(self.seed, idx, 20), 4)
        out["distpsnr1"] = np.round(30 * hash_uniform(self.seed, idx, 21), 3)
        return out

    def _kowalski(self, idx: int) -> dict[str, Any]:
        data = {k: float(v[0]) for k, v in self.scores(np.array([idx])).items()}
        if self.kind(idx) == "periodic":
            data["period"] = round(float(self.objs["period"][idx]), 6)  # days
        rows = self.candidate_rows(idx)
        when = (
            int(self.cands["passed_at"][rows].min())
            if len(rows)
            else int(self.objs["created"][idx])
        )
        return {
            "id": 2 * idx + 1,
            "origin": "kowalski",
            "author_id": 1,
            "created": when,
            "modified": when,
            "data": data,
        }

    def add_annotation(
        self,
        rtype: str,
        rid: Any,
        origin: str,
        data: dict[str, Any],
        *,
        author_id: int = refdata.ADMIN_ID,
    ) -> int:
        """Store an annotation; return its id."""
        with self.lock:
            aid = self._next_annotation
            self._next_annotation += 1
            now = self.clock.now()
            self.annotations_added.setdefault((rtype, rid), []).append(
                {
                    "id": aid,
                    "origin": origin,
                    "author_id": author_id,
                    "created": now,
                    "modified": now,
                    "data": data,
                }
            )
            return aid

    # ------------------------------------------------------------------- spectra
    def spectrum_row(self, sid: int) -> int | None:
        """Row number of a live spectrum id, or None."""
        ids = self.spectra["id"]
        pos = int(np.searchsorted(ids, sid))
        if pos < len(ids) and ids[pos] == sid and not self.spectra["deleted"][pos]:
            return pos
        return None

    def spectrum_arrays(self, row: int):
        """(wavelengths [Å], fluxes, errors or None) of a spectrum row."""
        from . import spectrum

        stored = self.spectra["arrays"][row]
        if stored is not None:
            return stored
        idx = int(self.spectra["obj"][row])
        return spectrum.generate(
            self.seed,
            int(self.spectra["id"][row]),
            self.kind(idx),
            float(self.objs["redshift"][idx]),
            int(self.spectra["instrument_id"][row]),
            with_errors=False,
        )

    def add_spectrum(
        self,
        idx: int,
        wavelengths,
        fluxes,
        errors,
        *,
        observed_at: int,
        instrument_id: int,
        **fields: Any,
    ) -> int:
        """Store a posted spectrum; return its id."""
        with self.lock:
            sid = int(self.spectra["id"][-1]) + 1 if len(self.spectra) else 1
            now = self.clock.now()
            arrays = (
                np.asarray(wavelengths, float),
                np.asarray(fluxes, float),
                None if errors is None else np.asarray(errors, float),
            )
            row = {
                "id": sid,
                "obj": idx,
                "instrument_id": instrument_id,
                "observed_at": observed_at,
                "created": now,
                "modified": now,
                "type": fields.get("type") or "source",
                "label": fields.get("label"),
                "origin": fields.get("origin"),
                "altdata": fields.get("altdata"),
                "units": fields.get("units") or "erg/s/cm/cm/AA",
                "owner_id": refdata.ADMIN_ID,
                "deleted": False,
                "arrays": arrays,
                "group_ids": fields.get("group_ids"),
            }
            self.spectra.append([row])
            return sid

    def spectra_of(self, idx: int) -> np.ndarray:
        """Row numbers of the object's live spectra."""
        return np.flatnonzero((self.spectra["obj"] == idx) & ~self.spectra["deleted"])

    # ------------------------------------------------------------------ listings
    def add_listing(
        self, user_id: int, obj_id: str, list_name: str, params: dict[str, Any] | None = None
    ) -> int:
        """Add an object to a user's list (e.g. "rejected_candidates"); return its id."""
        with self.lock:
            lid = self.listings[-1]["id"] + 1 if self.listings else 1
            now = self.clock.now()
            self.listings.append(
                {
                    "id": lid,
                    "user_id": user_id,
                    "obj_id": obj_id,
                    "list_name": list_name,
                    "params": params,
                    "created": now,
                    "modified": now,
                }
            )
            return lid

    def listed(self, user_id: int, list_name: str) -> set[str]:
        """Object ids in one of a user's lists."""
        return {
            x["obj_id"]
            for x in self.listings
            if x["user_id"] == user_id and x["list_name"] == list_name
        }
