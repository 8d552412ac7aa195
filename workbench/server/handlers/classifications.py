"""``/api/classification`` (list under ``data.classifications``, post) and ``/{id}``.

Quirk (on by default, like SkyPortal 1.4.0): the list query has no ORDER BY, so each
request returns the matching rows in a different order (here: the id order rotated by a
random offset, as a PostgreSQL synchronized sequential scan does), and naive paging
duplicates and misses rows.
"""

from __future__ import annotations

import itertools

import numpy as np

from ...taxonomy import allowed_classes
from .. import records
from .base import ApiError, BaseHandler, page_slice

_requests = itertools.count()


def check_classification(store, taxonomy_id: int, name: str, probability: object) -> None:
    """``ValueError`` with SkyPortal's message unless the taxonomy exists, offers the
    class, and the probability lies in [0, 1]."""
    tax = store.taxonomies.get(taxonomy_id)
    if tax is None:
        raise ValueError(f"Cannot find a taxonomy with ID: {taxonomy_id}.")
    if name not in allowed_classes(tax["hierarchy"]):
        # the real message is cut short in SkyPortal's source, kept as captured
        raise ValueError(
            f"That classification ({name}) is not in the allowed classes "
            f"for the chosen taxonomy (id={taxonomy_id}"
        )
    if probability is not None and not 0 <= float(probability) <= 1:
        raise ValueError("Invalid probability value; must be between 0 and 1.")


class ClassificationListHandler(BaseHandler):
    """GET classifications by ``created_at`` window; POST a classification."""

    latency_profile = "classification"

    async def get(self) -> None:
        store = self.store
        page, per = self.page_args(100)
        start, end = self.time_arg("startDate"), self.time_arg("endDate")
        with store.lock:
            c = store.cls
            mask = ~c["deleted"]
            if start is not None:
                mask &= c["created"] >= start
            if end is not None:
                mask &= c["created"] <= end
            rows = np.flatnonzero(mask)
            if self.ctx.behaviour.quirk("unordered_classifications") and len(rows) > 1:
                rng = np.random.default_rng([store.seed, next(_requests)])
                rows = np.roll(rows, int(rng.integers(0, len(rows))))
            total = len(rows)
            chosen = rows[page_slice(total, page, per, past_end_empty=True)]
            items = [records.classification(store, int(r)) for r in chosen]
            if self.flag("includeTaxonomy"):
                for item in items:
                    tax = store.taxonomies.get(item["taxonomy_id"])
                    item["taxonomy"] = taxonomy_record(store, tax) if tax else None
        await self.success({"classifications": items, "totalMatches": total}, rows=len(items))

    async def post(self) -> None:
        body = self.json_body()
        store = self.store
        try:
            obj_id = body["obj_id"]
            idx = store.find(str(obj_id))
            if idx is None:
                raise ValueError(f"Cannot find object with ID {obj_id}.")
            taxonomy_id = body["taxonomy_id"]
            name = body["classification"]
            prob = body.get("probability")
            check_classification(store, int(taxonomy_id), name, prob)
            groups = body.get("group_ids")
            if groups and any(int(g) not in store.groups for g in groups):
                raise ValueError(f"Invalid group_ids: {groups}")
        except KeyError as exc:
            raise ApiError(f"Error posting classification: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise ApiError(f"Error posting classification: {exc}") from exc
        cid = store.add_classification(
            idx,
            int(taxonomy_id),
            name,
            probability=None if prob is None else float(prob),
            ml=bool(body.get("ml", False)),
            origin=body.get("origin"),
            group_ids=groups,
        )
        await self.success({"classification_id": cid})


class ClassificationHandler(BaseHandler):
    """GET/PUT/DELETE ``/api/classification/{id}``."""

    def _row(self, classification_id: str) -> int:
        return self.by_id(
            self.store.classification_row,
            classification_id,
            f"Cannot find classification with ID: {classification_id}",
        )

    async def get(self, classification_id: str) -> None:
        with self.store.lock:
            rec = records.classification(self.store, self._row(classification_id))
        await self.success(rec)

    async def put(self, classification_id: str) -> None:
        body = self.json_body()
        store = self.store
        with store.lock:
            row = self._row(classification_id)
            tax_id = int(body.get("taxonomy_id", store.cls["taxonomy_id"][row]))
            name = body.get("classification", store.cls["classification"][row])
            try:
                check_classification(store, tax_id, name, body.get("probability"))
            except ValueError as exc:
                raise ApiError(str(exc)) from exc
            store.edit_classification(int(classification_id), body)
        await self.success()

    async def delete(self, classification_id: str) -> None:
        with self.store.lock:
            self._row(classification_id)
            self.store.delete_classification(int(classification_id))
        await self.success()


def taxonomy_record(store, tax: dict) -> dict:
    """A Taxonomy dict as ``/api/taxonomy`` lists it (with its groups)."""
    from ..timeutil import iso

    return {
        "name": tax["name"],
        "isLatest": tax["isLatest"],
        "modified": iso(tax["modified"]),
        "provenance": tax["provenance"],
        "hierarchy": tax["hierarchy"],
        "version": tax["version"],
        "id": tax["id"],
        "created_at": iso(tax["created_at"]),
        "groups": [records.group(store, g) for g in tax["group_ids"] if g in store.groups],
    }
