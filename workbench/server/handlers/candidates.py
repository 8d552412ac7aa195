"""``/api/candidates`` (list with ``queryID``, post) and ``/api/candidates/{id}``."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import photrec, queries, records, refdata
from ..timeutil import iso, parse_time
from .base import ApiError, BaseHandler, page_slice
from .common import (
    find_obj,
    full_comments,
    localization_args,
    require_detection_bounds,
)


def candidate_record(
    store, idx: int, rows: np.ndarray, *, comments: bool, photometry: bool, single: bool = False
) -> dict[str, Any]:
    """One candidate: the Obj plus photstats, thumbnails, saved groups, passing groups..."""
    rec = records.obj(store, idx)
    points = store.photometry(idx)
    rec["photstats"] = [photrec.photstats(store, idx, points)]
    rec["thumbnails"] = records.thumbnails(store, idx)
    saved = store.saved_groups(idx)
    rec["is_source"] = len(saved) if single else bool(saved)
    rec["saved_groups"] = [records.group(store, g) for g in saved]
    # bare Classification records: a live 1.4.0's candidates (list and single) carry no
    # groups/votes on them, where its sources list does
    rec["classifications"] = [
        records.classification(store, int(r)) for r in store.classifications_of(idx)
    ]
    filters = store.cands["filter_id"][rows]
    if not single:
        groups = store.filter_groups()
        rec["passing_group_ids"] = [groups[int(f)] for f in filters if int(f) in groups]
    rec["associated_objs"] = []
    rec["annotations"] = [
        records.annotation(store, "sources", idx, a, groups=True)
        for a in sorted(store.annotations("sources", idx), key=lambda a: a["origin"])
    ]
    det = [p for p in points if p.get("mag") is not None]
    from ..timeutil import mjd_to_us

    rec["last_detected_at"] = iso(mjd_to_us(det[-1]["mjd"])) if det else None
    rec.update(records.derived(store, idx))
    if comments:
        rec["comments"] = [
            # SkyPortal's candidate comments carry their author without gravatar_url
            {**{k: v for k, v in c.items() if k != "groups"}, "author": _no_gravatar(c["author"])}
            for c in full_comments(store, idx)
        ]
    if photometry:
        rec["photometry"] = [photrec.record(store, idx, p, annotations=True) for p in points]
    if not single:
        rec["tags"] = []
    return rec


def _no_gravatar(author: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in author.items() if k != "gravatar_url"}


class CandidateListHandler(BaseHandler):
    """GET candidates (paginated, ``queryID`` on every call); POST new candidate rows."""

    latency_profile = "candidates"

    async def get(self) -> None:
        store = self.store
        page, per = self.page_args(25)
        require_detection_bounds(self, "firstDetectionAfter", "lastDetectionBefore")
        with store.lock:
            cached = None
            if self.flag("useCache") and self.arg("queryID"):
                cached = store.query_cache.get(str(self.arg("queryID")))
            if cached is not None:
                objs, qid = cached, str(self.arg("queryID"))
            else:
                objs = self._select()
                qid = store.remember_query(objs)
            total = len(objs)
            chosen = objs[page_slice(total, page, per)]
            filter_ids = self._filter_ids()
            items = []
            for idx in chosen:
                rows = store.candidate_rows(int(idx))
                rows = rows[np.isin(store.cands["filter_id"][rows], filter_ids)]
                items.append(
                    candidate_record(
                        store,
                        int(idx),
                        rows,
                        comments=self.flag("includeComments"),
                        photometry=self.flag("includePhotometry"),
                    )
                )
        data = {
            "queryID": qid,
            "pageNumber": page,
            "numPerPage": per,
            "totalMatches": total,
            "candidates": items,
        }
        await self.success(data, rows=len(items))

    def _filter_ids(self) -> list[int]:
        filter_ids = self.int_list("filterIDs")
        group_ids = self.int_list("groupIDs")
        if filter_ids is None:
            groups = group_ids or list(self.store.groups)
            filter_ids = [f for f, g in self.store.filter_groups().items() if g in groups]
        return filter_ids

    def _select(self) -> np.ndarray:
        store = self.store
        user = refdata.ADMIN_ID
        reject = (
            store.listed(user, self.arg("listNameReject")) if self.arg("listNameReject") else set()
        )
        only = store.listed(user, self.arg("listName")) if self.arg("listName") else None
        try:
            objs, passed = queries.select_candidates(
                store,
                filter_ids=self._filter_ids(),
                start=self.time_arg("startDate"),
                end=self.time_arg("endDate"),
                saved_status=self.arg("savedStatus") or "all",
                group_ids=self.int_list("groupIDs") or list(store.groups),
                reject=reject,
                only=only,
                min_z=self.float_arg("minRedshift"),
                max_z=self.float_arg("maxRedshift"),
                loc=localization_args(self),
            )
        except queries.QueryError as exc:
            raise ApiError(str(exc)) from exc
        key_name = self.arg("sortByAnnotationKey")
        if key_name:
            scores = store.scores(objs)
            if key_name not in scores:
                raise ApiError(
                    f"Cannot sort by annotation key {key_name!r}: known keys are {sorted(scores)}"
                )
            key = scores[key_name]
            if (self.arg("sortByAnnotationOrder") or "asc").lower() == "desc":
                key = -key
            return objs[np.lexsort((objs, key))]
        return objs[np.lexsort((objs, -passed))]

    async def post(self) -> None:
        body = self.json_body()
        store = self.store
        obj_id = str(body.get("id") or "").strip()
        filter_ids = body.get("filter_ids")
        if not obj_id or not filter_ids or body.get("passed_at") is None:
            raise ApiError("Invalid/missing parameters: id, filter_ids and passed_at are required")
        try:
            passed = parse_time(str(body["passed_at"]))
        except ValueError as exc:
            raise ApiError(f"Invalid passed_at: {body['passed_at']!r}") from exc
        bad = [f for f in filter_ids if int(f) not in store.filter_groups()]
        if bad:
            raise ApiError(f"Invalid filter ID(s): {bad}")
        with store.lock:
            idx = store.find(obj_id)
            if idx is None:
                if body.get("ra") is None or body.get("dec") is None:
                    raise ApiError("RA/Declination must not be null for a new Obj")
                idx = store.add_obj(
                    obj_id,
                    float(body["ra"]),
                    float(body["dec"]),
                    redshift=float(body.get("redshift") or "nan"),
                    origin=body.get("origin"),
                    alias=body.get("alias"),
                )
            ids = [store.add_candidate(idx, int(f), passed) for f in filter_ids]
        await self.success({"ids": ids})


class CandidateHandler(BaseHandler):
    """GET/HEAD ``/api/candidates/{obj_id}``; DELETE ``/api/candidates/{obj_id}/{filter}``."""

    def _rows(self, obj_id: str) -> tuple[int, np.ndarray]:
        idx = self.store.find(obj_id)
        rows = self.store.candidate_rows(idx) if idx is not None else np.zeros(0, int)
        if idx is None or len(rows) == 0:
            raise ApiError("Invalid ID", 400)
        return idx, rows

    async def head(self, obj_id: str) -> None:
        idx = self.store.find(obj_id)
        found = idx is not None and len(self.store.candidate_rows(idx)) > 0
        self.set_status(200 if found else 404)
        self.finish()

    async def get(self, obj_id: str) -> None:
        with self.store.lock:
            idx, rows = self._rows(obj_id)
            rec = candidate_record(
                self.store,
                idx,
                rows,
                comments=self.flag("includeComments"),
                photometry=False,
                single=True,
            )
        await self.success(rec, profile="default")

    async def delete(self, obj_id: str, filter_id: str | None = None) -> None:
        store = self.store
        with store.lock:
            idx = find_obj(self, obj_id, message="Invalid ID", status=400)
            rows = store.candidate_rows(idx)
            if filter_id is not None:
                rows = rows[store.cands["filter_id"][rows] == int(filter_id)]
            if len(rows) == 0:
                raise ApiError("Invalid (obj_id, filter_id) pairing - no matching candidates")
            store.cands.set("deleted", rows, True)
        await self.success()
