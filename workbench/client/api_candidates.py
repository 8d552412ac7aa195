"""Candidates (alerts that passed a filter) and classifications."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from ..errors import BadRequest
from .core import BaseClient
from .transport import api_path, as_list, drop_none, new_id

#: Before any classification: where a windowed read of ``/api/classification`` starts.
CLASSIFICATIONS_EPOCH = dt.datetime(2000, 1, 1)


class CandidatesAPI(BaseClient):
    """``/api/candidates``, ``/api/classification``, ``/api/sources/{id}/classifications``."""

    def list_candidates(
        self,
        *,
        group_ids: Iterable[int] | None = None,
        filter_ids: Iterable[int] | None = None,
        saved_status: str | None = None,
        start_date: str | None = None,
        end_date: str | None = None,
        list_name_reject: str | None = None,
        include_photometry: bool | None = None,
        include_comments: bool | None = None,
        page_size: int = 100,
        concurrency: int = 1,
        **params: Any,
    ) -> list[dict]:
        """Retrieve all candidates (every page of ``GET /api/candidates``).

        ``start_date``/``end_date`` filter ``passed_at`` (Arrow-parseable UTC strings);
        ``saved_status`` e.g. ``"notSavedToAnyAccessible"``; ``list_name_reject`` e.g.
        ``"rejected_candidates"`` hides what the user rejected. Candidate pages are slow
        on the server (seconds for 500), hence the smaller default page. Other API
        filters (``classifications``, ``minRedshift``, annotation sorting) pass through
        ``params`` under their SkyPortal names.
        """
        query = {
            "groupIDs": group_ids,
            "filterIDs": filter_ids,
            "savedStatus": saved_status,
            "startDate": start_date,
            "endDate": end_date,
            "listNameReject": list_name_reject,
            "includePhotometry": include_photometry,
            "includeComments": include_comments,
            **params,
        }
        records = self.iter_records(
            "/api/candidates",
            drop_none(query),
            list_key="candidates",
            page_size=page_size,
            concurrency=concurrency,
        )
        return list(records)

    def get_candidate(
        self, obj_id: str, *, include_comments: bool | None = None, **flags: Any
    ) -> dict:
        """Retrieve a candidate (``GET /api/candidates/{obj_id}``)."""
        return self.get(
            api_path("candidates", obj_id),
            drop_none({"includeComments": include_comments, **flags}),
        )

    def candidate_exists(self, obj_id: str) -> bool:
        """Check if a candidate exists (``HEAD /api/candidates/{obj_id}``)."""
        return self.head(api_path("candidates", obj_id))

    def post_candidate(
        self,
        obj_id: str,
        ra: float,
        dec: float,
        *,
        filter_ids: Iterable[int],
        passed_at: str,
        **fields: Any,
    ) -> Any:
        """Create new candidate(s), one per filter (``POST /api/candidates``).

        ``ra``/``dec`` degrees (J2000); ``passed_at`` the UTC time the alert passed the
        filter(s). Returns the server's ``data`` (the new candidate ids).
        """
        body = {
            "id": obj_id,
            "ra": ra,
            "dec": dec,
            "filter_ids": as_list(filter_ids),
            "passed_at": passed_at,
            **fields,
        }
        return self.post("/api/candidates", body)

    def delete_candidate(self, obj_id: str, filter_id: int) -> Any:
        """Delete the candidate of an object passing one filter (``DELETE /api/candidates/{obj_id}/{filter_id}``)."""
        return self.delete(api_path("candidates", obj_id, filter_id))

    # -- classifications ----------------------------------------------------------

    def list_classifications(
        self,
        *,
        start_date: str | None = None,
        end_date: str | None = None,
        page_size: int = 500,
        concurrency: int = 1,
        **params: Any,
    ) -> list[dict]:
        """Retrieve all classifications (``GET /api/classification``), each once.

        ``start_date``/``end_date`` filter ``created_at`` (UTC, ISO 8601). SkyPortal pages
        this list without an ORDER BY (a live 1.4.0 with 1,203 rows, 500 a page, showed 53
        twice and 53 never), so when the pages repeat rows the list is read again in
        ``created_at`` windows, halved until each fits in one page.
        """
        query = drop_none({"startDate": start_date, "endDate": end_date, **params})
        records = list(
            self.iter_records(
                "/api/classification",
                query,
                list_key="classifications",
                page_size=page_size,
                concurrency=concurrency,
            )
        )
        if len({r["id"] for r in records}) == len(records):
            return records
        lo = dt.datetime.fromisoformat(start_date) if start_date else CLASSIFICATIONS_EPOCH
        hi = (
            dt.datetime.fromisoformat(end_date)
            if end_date
            else dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(minutes=1)
        )
        found = self._classifications_between(lo, hi, params, page_size)
        return sorted(found.values(), key=lambda r: r["id"])

    def _classifications_between(
        self, lo: dt.datetime, hi: dt.datetime, params: dict[str, Any], page_size: int
    ) -> dict[int, dict]:
        """Classifications created in ``[lo, hi]`` (both inclusive, naive UTC), by id."""
        bounds = {"startDate": lo.isoformat(timespec="microseconds")}
        bounds["endDate"] = hi.isoformat(timespec="microseconds")
        query = {**params, **bounds, "numPerPage": page_size, "pageNumber": 1}
        data = self.get("/api/classification", query)
        rows = data["classifications"]
        if data["totalMatches"] > len(rows) and hi - lo > dt.timedelta(milliseconds=1):
            mid = lo + (hi - lo) / 2
            return self._classifications_between(
                lo, mid, params, page_size
            ) | self._classifications_between(mid, hi, params, page_size)
        if data["totalMatches"] > len(rows):  # more than a page at one instant: page it
            rows = self.iter_records(
                "/api/classification",
                {**params, **bounds},
                list_key="classifications",
                page_size=page_size,
            )
        return {r["id"]: r for r in rows}

    def get_classification(self, classification_id: int) -> dict:
        """Retrieve a classification (``GET /api/classification/{id}``)."""
        return self.get(api_path("classification", classification_id))

    def post_classification(
        self,
        obj_id: str,
        classification: str,
        taxonomy_id: int,
        *,
        probability: float | None = None,
        group_ids: Iterable[int] | None = None,
        **fields: Any,
    ) -> int:
        """Post a classification of an object (``POST /api/classification``); return its id.

        ``probability`` in [0, 1] or ``None``; ``group_ids`` default to all the user's groups.
        """
        if probability is not None and not 0.0 <= float(probability) <= 1.0:
            raise BadRequest(f"probability must be between 0 and 1, got {probability!r} (not sent)")
        body = drop_none(
            {
                "obj_id": obj_id,
                "classification": classification,
                "taxonomy_id": taxonomy_id,
                "probability": probability,
                "group_ids": as_list(group_ids),
                **fields,
            }
        )
        return new_id(self.post("/api/classification", body), "classification_id")

    def update_classification(self, classification_id: int, **fields: Any) -> Any:
        """Update a classification (``PUT /api/classification/{id}``), e.g. ``probability=0.9``."""
        return self.put(api_path("classification", classification_id), fields)

    def delete_classification(self, classification_id: int) -> Any:
        """Delete a classification (``DELETE /api/classification/{id}``)."""
        return self.delete(api_path("classification", classification_id))

    def get_source_classifications(self, obj_id: str) -> list[dict]:
        """Retrieve an object's classifications (``GET /api/sources/{obj_id}/classifications``)."""
        return self.get(api_path("sources", obj_id, "classifications"))
