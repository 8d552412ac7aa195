"""What hangs off an object: photometry, classifications, comments, annotations, spectra,
listings. Seeded ones are generated from ``(seed, index)``; posted ones are stored.

Id schemes keep generated and posted records apart without materialising the seed:
photometry and comment ids of a seeded object are a contiguous block (``*_base``), and
ids handed out at run time come from counters above every seeded block.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import lightcurve, refdata
from .seeding import CLASS_BY_KIND, seed_classifications, seed_spectra
from .sky import N_NAMED
from .timeutil import mjd_to_us

COMMENT_TEXTS = [
    "Rising fast in g; requesting a spectrum.",
    "Host looks like a face-on spiral, offset ~2 arcsec from the nucleus.",
    "Consistent with a young SN; SEDM classification requested.",
    "Periodic in the ZTF data; folded light curve attached to the annotations.",
    "Likely bogus: close to a bright star, subtraction residual.",
    "Nuclear, slow evolution: AGN flare or TDE?",
    "Reported to TNS.",
]


def hash_uniform(seed: int, idx: np.ndarray, salt: int) -> np.ndarray:
    """Deterministic uniform [0, 1) per (seed, idx, salt), vectorised (splitmix64)."""
    x = np.asarray(idx, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(
        (seed * 1_000_003 + salt) & 0xFFFFFFFFFFFFFFFF
    )
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


class ChildrenMixin:
    """Photometry, classifications, comments, annotations, spectra and listings."""

    # ------------------------------------------------------------------ seeding
    def _seed_children(self) -> None:
        n = self.n_seeded
        self._next_phot = int(self.objs["phot_base"][-1] + self.objs["n_phot"][-1]) + 1
        self._next_comment = int(self.objs["comm_base"][-1] + self.objs["n_comm"][-1]) + 1
        self._next_annotation = 2 * n + 1
        self.cand_seeded = np.zeros(n, dtype=bool)
        self.cand_seeded[self.cands["obj"]] = True
        self.phot_added: dict[int, list[dict[str, Any]]] = {}
        self.phot_owner: dict[int, int] = {}
        self.phot_deleted: set[int] = set()
        self._phot_index = None  # PhotIndex, made by the first /api/photometry/range
        self.comments_added: dict[tuple[str, Any], list[dict[str, Any]]] = {}
        self.comment_edits: dict[int, dict[str, Any]] = {}
        self.comment_deleted: set[int] = set()
        self.annotations_added: dict[tuple[str, Any], list[dict[str, Any]]] = {}
        self.listings: list[dict[str, Any]] = []
        self.cls = seed_classifications(self)
        self.spectra = seed_spectra(self)

    def _reserve_phot(self, count: int) -> int:
        base = self._next_phot - 1
        self._next_phot += count
        return base

    # --------------------------------------------------------------- photometry
    def photometry(self, idx: int) -> list[dict[str, Any]]:
        """Every live point of the object, in MJD order (internal field names)."""
        with self.lock:
            points = self._generated_points(idx) + list(self.phot_added.get(idx, []))
            if self.phot_deleted:
                points = [p for p in points if p["id"] not in self.phot_deleted]
        points.sort(key=lambda p: (p["mjd"], p["id"]))
        return points

    def photometry_index(self):
        """The :class:`~workbench.server.photindex.PhotIndex` of the seeded light curves
        (made on first use; objects created later are not in it)."""
        from .photindex import PhotIndex

        with self.lock:
            if self._phot_index is None:
                self._phot_index = PhotIndex(self)
            return self._phot_index

    def seeded_curve(self, idx: int) -> lightcurve.LightCurve | None:
        """The seeded light curve of object ``idx`` (None: it has none); the same curve
        for the same seed, every time."""
        o = self.objs
        count = int(o["n_phot"][idx])
        if not o["gen"][idx] or count == 0:
            return None
        return lightcurve.generate(
            self.seed,
            idx,
            self.kind(idx),
            count,
            float(o["lc_start"][idx]),
            float(o["lc_end"][idx]),
            float(o["peak_mjd"][idx]),
            float(o["peak_mag"][idx]),
            float(o["period"][idx]),
            i_band=idx >= N_NAMED and idx % 3 == 0,
        )

    def _generated_points(self, idx: int) -> list[dict[str, Any]]:
        curve = self.seeded_curve(idx)
        if curve is None:
            return []
        count = int(self.objs["n_phot"][idx])
        o = self.objs
        base = int(o["phot_base"][idx])
        created = int(o["created"][idx])
        det = curve.detected
        mag, magerr, lim = curve.mag, curve.magerr, curve.limiting_mag
        out = []
        for k in range(count):
            d = bool(det[k])
            out.append(
                {
                    "id": base + k + 1,
                    "mjd": float(curve.mjd[k]),
                    "filter": str(lightcurve.FILTERS[curve.band[k]]),
                    "flux": float(curve.flux[k]) if d else None,
                    "fluxerr": float(curve.fluxerr[k]),
                    "mag": float(mag[k]) if d else None,
                    "magerr": float(magerr[k]) if d else None,
                    "limiting_mag": float(lim[k]),
                    "snr": float(curve.flux[k] / curve.fluxerr[k]) if d else None,
                    "instrument_id": 1,
                    "instrument_name": "ZTF",
                    "origin": "None",
                    "created": created + 1000 * (k + 1),
                    "ra": None,
                    "dec": None,
                    "altdata": None,
                }
            )
        return out

    def photometry_point(self, pid: int) -> tuple[int, dict[str, Any]] | None:
        """(object index, point) of photometry id ``pid``, or None."""
        with self.lock:
            if pid in self.phot_deleted:
                return None
            if pid in self.phot_owner:
                idx = self.phot_owner[pid]
                return idx, next(p for p in self.phot_added[idx] if p["id"] == pid)
            gen = np.flatnonzero(self.objs["gen"])
            bases = self.objs["phot_base"][gen]
            pos = np.searchsorted(bases, pid - 1, side="right") - 1
            if pos < 0:
                return None
            idx = int(gen[pos])
            k = pid - 1 - int(bases[pos])
            if not 0 <= k < int(self.objs["n_phot"][idx]):
                return None
            return idx, self._generated_points(idx)[k]

    def add_photometry(self, idx: int, points: list[dict[str, Any]]) -> list[int]:
        """Store posted points (internal field names); moves the object's ``modified``."""
        with self.lock:
            ids = []
            for point in points:
                pid = self._next_phot
                self._next_phot += 1
                stored = dict(point, id=pid, created=self.clock.now())
                self.phot_added.setdefault(idx, []).append(stored)
                self.phot_owner[pid] = idx
                ids.append(pid)
            self.touch(idx)
            return ids

    def delete_photometry(self, pid: int) -> bool:
        """Delete one point; False when it does not exist."""
        with self.lock:
            found = self.photometry_point(pid)
            if found is None:
                return False
            self.phot_deleted.add(pid)
            self.touch(found[0])
            return True

    # ----------------------------------------------------------- classifications
    def add_classification(
        self,
        idx: int,
        taxonomy_id: int,
        name: str,
        *,
        probability: float | None = None,
        ml: bool = False,
        origin: str | None = None,
        author_id: int = refdata.ADMIN_ID,
        group_ids: list[int] | None = None,
    ) -> int:
        """Store a classification; return its id."""
        with self.lock:
            cid = int(self.cls["id"][-1]) + 1 if len(self.cls) else 1
            now = self.clock.now()
            self.cls.append(
                [
                    {
                        "id": cid,
                        "obj": idx,
                        "taxonomy_id": taxonomy_id,
                        "classification": name,
                        "probability": np.nan if probability is None else probability,
                        "ml": bool(ml),
                        "origin": origin,
                        "author_id": author_id,
                        "created": now,
                        "modified": now,
                        "deleted": False,
                        "group_ids": group_ids,
                    }
                ]
            )
            return cid

    def classification_row(self, cid: int) -> int | None:
        """Row number of a live classification id, or None."""
        ids = self.cls["id"]
        pos = int(np.searchsorted(ids, cid))
        if pos < len(ids) and ids[pos] == cid and not self.cls["deleted"][pos]:
            return pos
        return None

    def edit_classification(self, cid: int, fields: dict[str, Any]) -> bool:
        """Change a classification's fields; ``modified`` moves. False if it does not exist."""
        with self.lock:
            row = self.classification_row(cid)
            if row is None:
                return False
            for key in ("classification", "taxonomy_id", "probability", "ml", "origin"):
                if key in fields:
                    value = fields[key]
                    if key == "probability" and value is None:
                        value = np.nan
                    self.cls.set(key, row, value)
            self.cls.set("modified", row, self.clock.now())
            return True

    def delete_classification(self, cid: int) -> bool:
        """Delete a classification; False if it does not exist."""
        with self.lock:
            row = self.classification_row(cid)
            if row is None:
                return False
            self.cls.set("deleted", row, True)
            return True

    def classifications_of(self, idx: int) -> np.ndarray:
        """Row numbers of the object's live classifications."""
        return np.flatnonzero((self.cls["obj"] == idx) & ~self.cls["deleted"])

    # ------------------------------------------------------------------ comments
    def comments(self, rtype: str, rid: Any) -> list[dict[str, Any]]:
        """Live comments on a resource ("sources" + obj index, "spectra" + id, ...)."""
        with self.lock:
            out = []
            if rtype == "sources" and self.objs["gen"][rid]:
                base = int(self.objs["comm_base"][rid])
                for k in range(int(self.objs["n_comm"][rid])):
                    out.append(self._generated_comment(rid, base + k + 1, k))
            out += [dict(c) for c in self.comments_added.get((rtype, rid), [])]
            out = [
                dict(c, **self.comment_edits.get(c["id"], {}))
                for c in out
                if c["id"] not in self.comment_deleted
            ]
        return out

    def _generated_comment(self, idx: int, cid: int, k: int) -> dict[str, Any]:
        u = hash_uniform(self.seed, np.array([cid]), 17)[0]
        text = COMMENT_TEXTS[int(u * len(COMMENT_TEXTS))]
        if idx == 3:
            text = [
                "Spectrum from LT/SPRAT shows broad H-alpha: a young SN II.",
                "Host is NGC 5147-like spiral; z from host lines.",
                "Reported to TNS.",
            ][k]
        when = int(self.objs["created"][idx]) + (k + 1) * 3_600_000_000 + cid % 997
        return {
            "id": cid,
            "text": text,
            "author_id": 1 + int(u * 1000) % 4,
            "created": when,
            "modified": when,
            "group_ids": [1],
            "attachment_name": None,
            "attachment_bytes": None,
            "bot": False,
        }

    def add_comment(
        self,
        rtype: str,
        rid: Any,
        text: str,
        *,
        author_id: int = refdata.ADMIN_ID,
        group_ids: list[int] | None = None,
        attachment: tuple[str, bytes] | None = None,
    ) -> int:
        """Store a comment on a resource; return its id."""
        with self.lock:
            cid = self._next_comment
            self._next_comment += 1
            now = self.clock.now()
            self.comments_added.setdefault((rtype, rid), []).append(
                {
                    "id": cid,
                    "text": text,
                    "author_id": author_id,
                    "created": now,
                    "modified": now,
                    "group_ids": group_ids or [1],
                    "bot": False,
                    "attachment_name": attachment[0] if attachment else None,
                    "attachment_bytes": attachment[1] if attachment else None,
                }
            )
            return cid

    def find_comment(self, rtype: str, rid: Any, cid: int) -> dict[str, Any] | None:
        """One live comment of a resource, or None."""
        return next((c for c in self.comments(rtype, rid) if c["id"] == cid), None)

    def edit_comment(self, cid: int, fields: dict[str, Any]) -> None:
        """Change a comment's text/groups; ``modified`` moves."""
        with self.lock:
            edit = self.comment_edits.setdefault(cid, {})
            edit.update({k: v for k, v in fields.items() if k in ("text", "group_ids")})
            edit["modified"] = self.clock.now()

    def delete_comment(self, cid: int) -> None:
        """Delete a comment."""
        with self.lock:
            self.comment_deleted.add(cid)


__all__ = ["CLASS_BY_KIND", "ChildrenMixin", "hash_uniform", "mjd_to_us"]
