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
            "_altdata": None,
        },
    ),
    "assignment": Spec(
        "Assignment",
        ("obj_id", "run_id", "priority", "status", "comment"),
        ("obj_id", "priority", "run_id"),
        {"obj_id": "obj", "run_id": "observing_run"},
        defaults={"status": "pending", "comment": None},
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
        defaults={"payload": {}, "status": "submitted", "target_group_ids": []},
        list_key="followup_requests",
    ),
    "observing_run": Spec(
        "Observing run",
        ("instrument_id", "pi", "observers", "group_id", "calendar_date", "duration"),
        ("instrument_id", "calendar_date", "pi"),
        {"instrument_id": "instrument", "group_id": "group"},
        defaults={"observers": None, "group_id": None, "duration": 1},
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
                    "_altdata": None,
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
                    "_altdata": None,
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
                    "target_group_ids": [3],
                }
                for k, obj in ((1, "ZTFrlh6cyjh"), (2, "ZTFe028h94k"), (3, "ZTF21aaqjmps"))
            ],
        }
        for name, records in seeds.items():
            for rec in records:
                when = iso(stamp + rec["id"] * 1_000_000)
                rec.update(created_at=when, modified=when, requester_id=1, last_modified_by_id=1)
                self.rows[name][rec["id"]] = rec

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
            rec = {
                "id": rid,
                **spec.defaults,
                **body,
                "created_at": now,
                "modified": now,
                "requester_id": 1,
                "last_modified_by_id": 1,
            }
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
            rec.update(body)
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
