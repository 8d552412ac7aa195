"""Table-driven in-memory resources for the rest of the API docs (allocations,
assignments, filters, follow-up requests, observing runs, instruments, telescopes).

One :class:`Spec` per resource says which fields it takes, which are required, which
must reference an existing object/group/instrument/..., and which method updates it;
:class:`Resources` stores the records and enforces that, so every client method can be
exercised for real without a handler class per endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import refdata
from .timeutil import iso


class ResourceError(ValueError):
    """A request the resource table refuses (message for the 400/404 envelope)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Spec:
    """How one resource behaves."""

    label: str
    fields: tuple[str, ...]
    required: tuple[str, ...] = ()
    refs: dict[str, str] = field(default_factory=dict)  # field -> referenced kind
    update: str | None = "PUT"  # PUT, PATCH or None (read-only)
    defaults: dict[str, Any] = field(default_factory=dict)
    list_key: str | None = None  # wrap GET lists as {list_key: [...], totalMatches}
    # requester_id/last_modified_by_id: only the models that have them in SkyPortal 1.4.0
    # (assignments, follow-up requests); allocations, filters and runs do not
    requester: bool = False
    private: tuple[str, ...] = ()  # accepted in a body, dropped like to_dict() drops them


SPECS: dict[str, Spec] = {
    "allocation": Spec(
        "Allocation",
        (
            "group_id",
            "instrument_id",
            "hours_allocated",
            "pi",
            "proposal_id",
            "validity_ranges",
            "types",
            "default_share_group_ids",
            "_altdata",
        ),
        ("group_id", "hours_allocated", "instrument_id"),
        {"group_id": "group", "instrument_id": "instrument"},
        defaults={
            "pi": None,
            "proposal_id": None,
            "validity_ranges": [],
            "types": ["triggered"],
            "default_share_group_ids": None,
        },
        private=("_altdata",),
    ),
    "assignment": Spec(
        "Assignment",
        ("obj_id", "run_id", "priority", "status", "comment"),
        ("obj_id", "priority", "run_id"),
        {"obj_id": "obj", "run_id": "observing_run"},
        defaults={"status": "pending", "comment": None},
        requester=True,
    ),
    "filters": Spec(
        "Filter",
        ("name", "stream_id", "group_id", "broker_id", "altdata", "autosave"),
        ("name", "stream_id", "group_id"),
        {"group_id": "group", "stream_id": "stream"},
        update="PATCH",
        defaults={"broker_id": None, "altdata": None, "autosave": False},
    ),
    "followup_request": Spec(
        "Follow-up request",
        ("obj_id", "allocation_id", "payload", "status", "target_group_ids"),
        ("allocation_id", "obj_id"),
        {"obj_id": "obj", "allocation_id": "allocation"},
        defaults={"payload": {}, "status": "submitted"},
        list_key="followup_requests",
        requester=True,
    ),
    "observing_run": Spec(
        "Observing run",
        ("instrument_id", "pi", "observers", "group_id", "calendar_date", "duration"),
        ("instrument_id", "calendar_date", "pi"),
        {"instrument_id": "instrument", "group_id": "group"},
        defaults={"observers": None, "group_id": None, "duration": 1, "owner_id": 1},
    ),
    "instrument": Spec("Instrument", (), update=None),
    "telescope": Spec("Telescope", (), update=None),
}


class Resources:
    """Records of every generic resource, keyed by name then id."""

    def __init__(self, store) -> None:
        self.store = store
        self.rows: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in SPECS}
        self._seed()

    def _seed(self) -> None:
        for iid in refdata.INSTRUMENTS:
            self.rows["instrument"][iid] = refdata.instrument_record(iid, iso)
        for rec in self.rows["instrument"].values():
            tel = dict(rec["telescope"])
            self.rows["telescope"][tel["id"]] = tel
        stamp = refdata.INSTALLED_US + 5_000_000_000
        seeds = {
            "filters": [
                {
                    "id": fid,
                    "name": name,
                    "group_id": gid,
                    "stream_id": sid,
                    "broker_id": None,
                    "altdata": None,
                    "autosave": False,
                }
                for fid, (gid, sid, name) in refdata.FILTERS.items()
            ],
            "allocation": [
                {
                    "id": 1,
                    "group_id": 3,
                    "instrument_id": 3,
                    "hours_allocated": 100.0,
                    "pi": "Program A PI",
                    "proposal_id": "2026A-001",
                    "validity_ranges": [],
                    "types": ["triggered"],
                    "default_share_group_ids": None,
                },
                {
                    "id": 2,
                    "group_id": 4,
                    "instrument_id": 1,
                    "hours_allocated": 20.0,
                    "pi": "Program B PI",
                    "proposal_id": "2026A-002",
                    "validity_ranges": [],
                    "types": ["forced_photometry"],
                    "default_share_group_ids": None,
                },
            ],
            "observing_run": [
                {
                    "id": 2,
                    "instrument_id": 4,
                    "pi": "Program A PI",
                    "observers": "Two Observers",
                    "group_id": 3,
                    "calendar_date": "2021-04-02",
                    "duration": 1,
                    "owner_id": 1,
                }
            ],
            "assignment": [
                {
                    "id": 1,
                    "obj_id": "ZTF21aaqjmps",
                    "run_id": 2,
                    "priority": "2",
                    "status": "complete",
                    "comment": "Please get 3x100s",
                }
            ],
            "followup_request": [
                {
                    "id": k,
                    "obj_id": obj,
                    "allocation_id": 1,
                    "payload": {"priority": 3, "observation_type": "IFU"},
                    "status": "completed",
                    "target_groups": self._groups([3]),
                }
                for k, obj in ((1, "ZTFrlh6cyjh"), (2, "ZTFe028h94k"), (3, "ZTF21aaqjmps"))
            ],
        }
        for name, records in seeds.items():
            for rec in records:
                when = iso(stamp + rec["id"] * 1_000_000)
                rec.update(created_at=when, modified=when)
                if SPECS[name].requester:
                    rec.update(requester_id=1, last_modified_by_id=1)
                self.rows[name][rec["id"]] = rec

    def _groups(self, ids: Any) -> list[dict[str, Any]]:
        """``target_group_ids`` as the Group records SkyPortal lists under ``target_groups``."""
        from . import records

        return [records.group(self.store, int(g)) for g in ids or []]

    def _stored(self, spec: Spec, body: dict[str, Any]) -> dict[str, Any]:
        """A request body as it is kept: private fields dropped, target groups resolved."""
        out = {k: v for k, v in body.items() if k not in spec.private}
        if "target_group_ids" in out:
            out["target_groups"] = self._groups(out.pop("target_group_ids"))
        return out

    # ---------------------------------------------------------------- operations
    def list(self, name: str) -> list[dict[str, Any]]:
        """Every record of a resource, by id."""
        return [self.rows[name][k] for k in sorted(self.rows[name])]

    def get(self, name: str, rid: Any) -> dict[str, Any]:
        """One record, or ``ResourceError`` (404)."""
        try:
            key = int(rid)
        except (TypeError, ValueError):
            key = None
        rec = self.rows[name].get(key)
        if rec is None:
            raise ResourceError(f"{SPECS[name].label} with ID {rid} not found", 404)
        return rec

    def listing(self, name: str) -> list[dict[str, Any]]:
        """``GET /api/<name>`` as SkyPortal 1.4.0 lists it (allocations and assignments
        carry more than their records)."""
        if name == "allocation":
            return self.allocations()
        if name == "assignment":
            return [self.assignment_dump(rec) for rec in self.list(name)]
        return self.list(name)

    def detail(self, name: str, rid: Any) -> dict[str, Any]:
        """``GET /api/<name>/{id}`` as SkyPortal 1.4.0 answers it, or ``ResourceError``."""
        if name == "allocation":
            return self.allocation_detail(rid)
        rec = self.get(name, rid)
        return self.assignment_dump(rec) if name == "assignment" else rec

    def allocation_detail(self, rid: Any) -> dict[str, Any]:
        """``GET /api/allocation/{id}`` as SkyPortal 1.4.0 wraps it.

        ``{"allocation": {...its record, "instrument", "requests", "telescope"},
        "totalMatches": n}``, with ``n`` its follow-up requests. (The real one adds the
        telescope's ``ephemeris``, computed with astroplan; it is left out here.)
        """
        try:
            rec = dict(self.get("allocation", rid))
        except ResourceError as exc:  # the real handler's message and status
            raise ResourceError("Could not retrieve allocation.", 400) from exc
        requests = [r for r in self.list("followup_request") if r["allocation_id"] == rec["id"]]
        instrument = self.rows["instrument"].get(rec["instrument_id"])
        rec["instrument"] = instrument
        rec["requests"] = requests
        rec["telescope"] = dict(instrument["telescope"]) if instrument else None
        return {"allocation": rec, "totalMatches": len(requests)}

    def allocations(self) -> list[dict[str, Any]]:
        """``GET /api/allocation``: each record with its ``instrument`` (and the instrument's
        telescope) and its ``allocation_users`` (none here), as a live 1.4.0 lists them."""
        return [
            {
                **rec,
                "instrument": self.rows["instrument"].get(rec["instrument_id"]),
                "allocation_users": [],
            }
            for rec in self.list("allocation")
        ]

    def assignments_of(self, obj_id: str) -> list[dict[str, Any]]:
        """A source's ``assignments``: each with its observing ``run`` nested (and the run's
        instrument with its telescope), as SkyPortal's source handler loads them."""
        out = []
        for rec in self.list("assignment"):
            if rec["obj_id"] != obj_id:
                continue
            run = dict(self.rows["observing_run"].get(rec["run_id"]) or {})
            if run:
                instrument = self._run_instrument(run)
                run["instrument"] = instrument
                run["run_end_utc"] = _run_end_utc(run["calendar_date"], instrument)
            out.append({**rec, "run": run or None})
        return out

    def _run_instrument(self, run: dict[str, Any]) -> dict[str, Any] | None:
        """An observing run's Instrument record (its telescope nested), or None."""
        return self.rows["instrument"].get(run.get("instrument_id"))

    def assignment_dump(self, rec: dict[str, Any]) -> dict[str, Any]:
        """An assignment as SkyPortal 1.4.0's ``GET /api/assignment`` answers it: the model
        dumped by marshmallow (``run`` and ``last_modified_by`` as ids, the ids of its
        ``spectra`` and ``photometry``, no timestamps), the ``obj`` and ``requester``
        records, and when the target rises above and sets below 30 degrees on the run's
        night (:func:`.observing.rise_and_set_utc`; None where it does not)."""
        from . import records
        from .observing import rise_and_set_utc

        idx = self.store.find(rec["obj_id"])
        obj = records.obj(self.store, idx) if idx is not None else None
        if obj is not None:  # not in the live answer's obj (a deferred column there)
            obj.pop("internal_key", None)
        run = self.rows["observing_run"].get(rec["run_id"]) or {}
        tel = (self._run_instrument(run) or {}).get("telescope") or {}
        rise = set_ = None
        if obj is not None and run and tel:
            rise, set_ = rise_and_set_utc(
                float(obj["ra"]), float(obj["dec"]), str(run["calendar_date"]),
                float(tel["lat"]), float(tel["lon"]), float(tel.get("elevation") or 0.0),
            )  # fmt: skip
        kept = ("requester_id", "last_modified_by_id", "obj_id", "comment", "status")
        return {
            "requester": records.user(int(rec.get("requester_id") or 1)),
            "last_modified_by": rec.get("last_modified_by_id"),
            "obj": obj,
            "spectra": [],  # spectra taken for the assignment: none here
            "photometry": [],
            "photometric_series": [],
            "run": rec["run_id"],
            **{k: rec.get(k) for k in kept},
            "priority": rec["priority"],
            "run_id": rec["run_id"],
            "id": rec["id"],
            "rise_time_utc": rise,
            "set_time_utc": set_,
        }

    def create(self, name: str, body: dict[str, Any]) -> int:
        """Validate and store a new record; return its id."""
        spec = SPECS[name]
        if spec.update is None:
            raise ResourceError(f"{spec.label} records are read-only here")
        missing = [k for k in spec.required if body.get(k) is None]
        if missing:
            raise ResourceError(
                "Invalid/missing parameters: "
                + str({k: ["Missing data for required field."] for k in missing})
            )
        self._check(spec, body)
        with self.store.lock:
            rid = max(self.rows[name], default=0) + 1
            now = iso(self.store.clock.now())
            rec = {"id": rid, **spec.defaults, **self._stored(spec, body)}
            rec.update(created_at=now, modified=now)
            if spec.requester:
                rec.update(requester_id=1, last_modified_by_id=1)
            if name == "followup_request":
                rec.setdefault("target_groups", [])
            self.rows[name][rid] = rec
        return rid

    def update(self, name: str, rid: Any, body: dict[str, Any], method: str) -> dict[str, Any]:
        """Apply a PUT/PATCH; 405-like refusal when the resource updates another way."""
        spec = SPECS[name]
        if spec.update != method:
            raise ResourceError(
                f"{spec.label} records are updated with {spec.update}, not {method}"
                if spec.update
                else f"{spec.label} is read-only",
                405,
            )
        rec = self.get(name, rid)
        body = {k: v for k, v in body.items() if k != "id"}
        self._check(spec, body)
        with self.store.lock:
            rec.update(self._stored(spec, body))
            rec["modified"] = iso(self.store.clock.now())
        return rec

    def delete(self, name: str, rid: Any) -> None:
        """Remove a record."""
        spec = SPECS[name]
        if spec.update is None:
            raise ResourceError(f"{spec.label} is read-only", 405)
        rec = self.get(name, rid)
        with self.store.lock:
            self.rows[name].pop(rec["id"], None)

    def _check(self, spec: Spec, body: dict[str, Any]) -> None:
        unknown = sorted(set(body) - set(spec.fields))
        if unknown:
            raise ResourceError(
                "Invalid/missing parameters: " + str({k: ["Unknown field."] for k in unknown})
            )
        bad = [g for g in body.get("target_group_ids") or [] if not self._exists("group", g)]
        if bad:
            raise ResourceError(f"Invalid target_group_ids: no group with ID {bad[0]}")
        for key, kind in spec.refs.items():
            if body.get(key) is not None and not self._exists(kind, body[key]):
                raise ResourceError(
                    f"Invalid {key}: no {kind.replace('_', ' ')} with ID {body[key]}"
                )

    def _exists(self, kind: str, value: Any) -> bool:
        store = self.store
        if kind == "obj":
            return store.find(str(value)) is not None
        try:
            key = int(value)
        except (TypeError, ValueError):
            return False
        if kind == "group":
            return key in store.groups
        if kind == "stream":
            return any(s["id"] == key for s in refdata.STREAMS)
        return key in self.rows[kind]


def _run_end_utc(calendar_date: str, instrument: dict[str, Any] | None) -> str:
    """When a run's night ends (UTC), roughly: 06:00 local solar time at the telescope on
    ``calendar_date`` (SkyPortal computes the morning twilight with astroplan)."""
    import datetime as dt

    lon = float(((instrument or {}).get("telescope") or {}).get("lon") or 0.0)  # degrees
    start = dt.datetime.fromisoformat(str(calendar_date)[:10])
    return (start + dt.timedelta(hours=6 - lon / 15)).isoformat(timespec="microseconds")
