"""Observing: allocations, assignments, follow-up and photometry requests, facility
messages, and alert filters (including Fritz's Kowalski filter versions)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import NotFound
from .core import BaseClient
from .transport import api_path, as_list, drop_none, new_id, one_of

_FRITZ_HINT = " (/api/filters/{id}/v exists only on Fritz: SkyPortal with its Kowalski extension)"


class ObservingAPI(BaseClient):
    """``/api/allocation``, ``/api/assignment``, ``/api/followup_request``,
    ``/api/photometry_request``, ``/api/facility``, ``/api/filters``."""

    # -- allocations --------------------------------------------------------------

    def list_allocations(self, *, instrument_id: int | None = None) -> list[dict]:
        """Retrieve all allocations, optionally of one instrument (``GET /api/allocation``)."""
        return self.get("/api/allocation", drop_none({"instrument_id": instrument_id}))

    def get_allocation(self, allocation_id: int) -> dict:
        """Retrieve an allocation (``GET /api/allocation/{allocation_id}``).

        SkyPortal 1.4.0 wraps it as ``{"allocation": {...}, "totalMatches": n}`` (``n``
        follow-up requests, listed under the allocation's ``requests``); this returns
        the allocation itself.
        """
        data = self.get(api_path("allocation", allocation_id))
        if isinstance(data, dict) and isinstance(data.get("allocation"), dict):
            return data["allocation"]
        return data

    def post_allocation(
        self, *, group_id: int, instrument_id: int, hours_allocated: float, **fields: Any
    ) -> int:
        """Post a new allocation on a robotic instrument (``POST /api/allocation``); return its id.

        ``hours_allocated`` in hours; ``start_date``/``end_date`` UTC; ``pi``,
        ``proposal_id``, ... pass through ``fields``.
        """
        body = {
            "group_id": group_id,
            "instrument_id": instrument_id,
            "hours_allocated": hours_allocated,
            **fields,
        }
        return new_id(self.post("/api/allocation", body))

    def update_allocation(self, allocation_id: int, **fields: Any) -> Any:
        """Update an allocation (``PUT /api/allocation/{allocation_id}``)."""
        return self.put(api_path("allocation", allocation_id), fields)

    def delete_allocation(self, allocation_id: int) -> Any:
        """Delete an allocation (``DELETE /api/allocation/{allocation_id}``)."""
        return self.delete(api_path("allocation", allocation_id))

    # -- assignments --------------------------------------------------------------

    def list_assignments(self, **params: Any) -> list[dict]:
        """Retrieve all observing-run assignments (``GET /api/assignment``)."""
        return self.get("/api/assignment", params or None)

    def get_assignment(self, assignment_id: int) -> dict:
        """Retrieve an observing-run assignment (``GET /api/assignment/{assignment_id}``)."""
        return self.get(api_path("assignment", assignment_id))

    def post_assignment(self, obj_id: str, run_id: int, priority: str | int, **fields: Any) -> int:
        """Post a new target assignment to an observing run (``POST /api/assignment``).

        ``priority`` "1" (lowest) to "5" (highest); ``comment``, ``status`` pass through.
        """
        priority = one_of(str(priority), ("1", "2", "3", "4", "5"), "priority")
        return new_id(
            self.post(
                "/api/assignment",
                {"obj_id": obj_id, "run_id": run_id, "priority": priority, **fields},
            )
        )

    def update_assignment(self, assignment_id: int, **fields: Any) -> Any:
        """Update an assignment (``PUT /api/assignment/{assignment_id}``)."""
        return self.put(api_path("assignment", assignment_id), fields)

    def delete_assignment(self, assignment_id: int) -> Any:
        """Delete an assignment (``DELETE /api/assignment/{assignment_id}``)."""
        return self.delete(api_path("assignment", assignment_id))

    # -- follow-up ----------------------------------------------------------------

    def post_followup_request(
        self,
        obj_id: str,
        allocation_id: int,
        payload: dict,
        *,
        target_group_ids: Iterable[int] | None = None,
        **fields: Any,
    ) -> int:
        """Submit a follow-up request (``POST /api/followup_request``); return its id."""
        body = drop_none(
            {
                "obj_id": obj_id,
                "allocation_id": allocation_id,
                "payload": payload,
                "target_group_ids": as_list(target_group_ids),
                **fields,
            }
        )
        return new_id(self.post("/api/followup_request", body))

    def update_followup_request(self, request_id: int, **fields: Any) -> Any:
        """Update a follow-up request (``PUT /api/followup_request/{request_id}``)."""
        return self.put(api_path("followup_request", request_id), fields)

    def delete_followup_request(self, request_id: int) -> Any:
        """Delete a follow-up request (``DELETE /api/followup_request/{request_id}``)."""
        return self.delete(api_path("followup_request", request_id))

    def get_followup_schedule(
        self,
        instrument_id: int,
        *,
        output_format: str = "pdf",
        dest: str | os.PathLike | None = None,
        **params: Any,
    ) -> bytes | Path:
        """The follow-up schedule of an instrument as a PDF, PNG or CSV file
        (``GET /api/followup_request/schedule/{instrument_id}``); bytes, or the file
        written when ``dest`` is given. Date filters pass through ``params``."""
        query = {
            "output_format": one_of(output_format, ("pdf", "png", "csv"), "output_format"),
            **params,
        }
        path = api_path("followup_request", "schedule", instrument_id)
        return self.download(path, dest, query) if dest is not None else self.get_bytes(path, query)

    def prioritize_followup_requests(self, **body: Any) -> Any:
        """Reprioritize follow-up requests by their location within a skymap
        (``PUT /api/followup_request/prioritization``), e.g. ``localizationId=..., requestIds=[...]``."""
        return self.put("/api/followup_request/prioritization", body)

    def get_photometry_request(self, request_id: int) -> Any:
        """Get a photometry request's status (``GET /api/photometry_request/{request_id}``)."""
        return self.get(api_path("photometry_request", request_id))

    def post_facility_message(
        self, followup_request_id: int, new_status: str, **fields: Any
    ) -> Any:
        """Post a message from a remote facility about a follow-up request (``POST /api/facility``)."""
        return self.post(
            "/api/facility",
            {"followup_request_id": followup_request_id, "new_status": new_status, **fields},
        )

    # -- filters ------------------------------------------------------------------

    def list_filters(self) -> list[dict]:
        """Retrieve the alert filters visible to the user (``GET /api/filters``)."""
        return self.get("/api/filters")

    def get_filter(self, filter_id: int) -> dict:
        """Retrieve a filter (``GET /api/filters/{filter_id}``)."""
        return self.get(api_path("filters", filter_id))

    def post_filter(self, name: str, stream_id: int, group_id: int) -> int:
        """Post a new filter of a group on an alert stream (``POST /api/filters``); return its id."""
        return new_id(
            self.post("/api/filters", {"name": name, "stream_id": stream_id, "group_id": group_id})
        )

    def update_filter(self, filter_id: int, **fields: Any) -> Any:
        """Update a filter's name (``PATCH /api/filters/{filter_id}``)."""
        return self.patch(api_path("filters", filter_id), fields)

    def delete_filter(self, filter_id: int) -> Any:
        """Delete a filter (``DELETE /api/filters/{filter_id}``)."""
        return self.delete(api_path("filters", filter_id))

    def get_kowalski_filter(self, filter_id: int) -> dict:
        """Retrieve a filter as stored on Kowalski (``GET /api/filters/{filter_id}/v``; Fritz)."""
        return self._fritz("GET", filter_id)

    def post_kowalski_filter_version(
        self, filter_id: int, pipeline: list[dict], **fields: Any
    ) -> Any:
        """POST a new filter version, a Kowalski aggregation ``pipeline`` (``POST /api/filters/{filter_id}/v``; Fritz)."""
        return self._fritz("POST", filter_id, {"pipeline": pipeline, **fields})

    def update_kowalski_filter(self, filter_id: int, **fields: Any) -> Any:
        """Update a filter on Kowalski: ``active``, ``active_fid``, ``autosave``,
        ``update_annotations`` (``PATCH /api/filters/{filter_id}/v``; Fritz)."""
        return self._fritz("PATCH", filter_id, {"filter_id": filter_id, **fields})

    def delete_kowalski_filter(self, filter_id: int) -> Any:
        """Delete a filter on Kowalski (``DELETE /api/filters/{filter_id}/v``; Fritz)."""
        return self._fritz("DELETE", filter_id)

    def _fritz(self, method: str, filter_id: int, body: dict | None = None) -> Any:
        try:
            return self.request(method, api_path("filters", filter_id, "v"), json=body)
        except NotFound as exc:
            raise NotFound(exc.message + _FRITZ_HINT, status=exc.status, url=exc.url) from exc
