"""``/api/sources`` (list, post), ``/api/sources/{id}`` and its sub-resources."""

from __future__ import annotations

from typing import Any

from .. import photindex, photrec, queries, records
from ..timeutil import iso, mjd_to_us, us_to_mjd
from .base import ApiError, BaseHandler, page_slice
from .common import (
    find_obj,
    full_comments,
    list_annotations,
    list_classifications,
    localization_args,
    plain_comments,
    require_detection_bounds,
)
from .spectra import spectrum_record

USER_GROUPS = [1, 2]  # the admin's own groups (where a POSTed source is saved by default)


def list_record(
    store, idx: int, *, comments: bool, thumbnails: bool, group_ids: list[int] | None
) -> dict[str, Any]:
    """One item of ``/api/sources``."""
    rec = records.obj(store, idx)
    rec["groups"] = records.source_groups(store, idx, group_ids)
    rec.update(records.derived(store, idx))
    rec["classifications"] = list_classifications(store, idx)
    rec["annotations"] = list_annotations(store, idx)
    if comments:
        found = plain_comments(store, idx)
        if found:  # SkyPortal leaves the key out when there are none
            rec["comments"] = found
    if thumbnails:
        rec["thumbnails"] = records.thumbnails(store, idx)
    rec["tags"] = []
    return rec


class SourceListHandler(BaseHandler):
    """GET: filtered, paginated sources. POST: create or re-save a source."""

    latency_profile = "sources"

    async def get(self) -> None:
        store = self.store
        page, per = self.page_args(100)
        require_detection_bounds(self, "startDate", "endDate")
        group_ids = self.int_list("group_ids")
        cone = None
        if self.arg("ra") is not None and self.arg("dec") is not None:
            cone = (self.float_arg("ra"), self.float_arg("dec"), self.float_arg("radius") or 1.0)
        with store.lock:
            slots = store.slots(group_ids)
            try:
                idx = queries.select_sources(
                    store,
                    slots=slots,
                    source_id=self.arg("sourceID"),
                    changed_after=self.time_arg("createdOrModifiedAfter"),
                    saved_after=self.time_arg("savedAfter"),
                    saved_before=self.time_arg("savedBefore"),
                    cone=cone,
                    min_z=self.float_arg("minRedshift"),
                    max_z=self.float_arg("maxRedshift"),
                    loc=localization_args(self),
                    has_spectrum=self.flag("hasSpectrum"),
                )
                idx = queries.order_sources(
                    store,
                    idx,
                    slots,
                    self.arg("sortBy"),
                    self.arg("sortOrder"),
                    saved_desc_default=self.ctx.behaviour.quirk("sources_saved_at_desc"),
                )
            except queries.QueryError as exc:
                raise ApiError(str(exc)) from exc
            total = len(idx)
            chosen = idx[page_slice(total, page, per, past_end_empty=True)]
            items = [
                list_record(
                    store,
                    int(i),
                    comments=self.flag("includeComments"),
                    thumbnails=self.flag("includeThumbnails"),
                    group_ids=group_ids,
                )
                for i in chosen
            ]
        data = {"totalMatches": total, "sources": items, "pageNumber": page, "numPerPage": per}
        await self.success(data, rows=len(items))

    async def post(self) -> None:
        body = self.json_body()
        obj_id = str(body.get("id") or "").strip()
        if not obj_id:
            raise ApiError(
                "Invalid/missing parameters: {'id': ['Missing data for required field.']}"
            )
        if " " in obj_id:
            raise ApiError("No spaces allowed in source ID")
        store = self.store
        with store.lock:
            idx = store.find(obj_id)
            if idx is None:
                if body.get("ra") is None or body.get("dec") is None:
                    raise ApiError("RA/Declination must not be null for a new Obj")
                try:
                    idx = store.add_obj(
                        obj_id,
                        float(body["ra"]),
                        float(body["dec"]),
                        redshift=_float_or_nan(body.get("redshift")),
                        origin=body.get("origin"),
                        alias=body.get("alias"),
                    )
                except (TypeError, ValueError) as exc:
                    raise ApiError(f"Invalid/missing parameters: {exc}") from exc
            groups = body.get("group_ids") or USER_GROUPS
            unknown = [g for g in groups if g not in store.groups]
            if unknown:
                raise ApiError(
                    "Invalid group_ids field. Please specify at least one valid "
                    "group ID that you belong to."
                )
            for gid in groups:
                store.save(idx, int(gid))
        await self.success({"id": obj_id})


def _float_or_nan(value: Any) -> float:
    return float("nan") if value is None else float(value)


class SourceHandler(BaseHandler):
    """GET/HEAD/PATCH/DELETE one source."""

    async def head(self, obj_id: str) -> None:
        if self.store.find(obj_id) is None or not self.store.saved_groups(self.store.find(obj_id)):
            self.set_status(404)
        self.finish()

    async def get(self, obj_id: str) -> None:
        store = self.store
        with store.lock:
            idx = find_obj(self, obj_id)
            if not store.saved_groups(idx):
                raise ApiError("Source not found", 404)
            rec = self._record(idx)
        await self.success(rec)

    def _record(self, idx: int) -> dict[str, Any]:
        store = self.store
        rec = records.obj(store, idx)
        points = None
        if self.flag("includeDetectionStats") or self.flag("includePhotometry"):
            points = store.photometry(idx)
        if self.flag("includeDetectionStats"):
            rec["photstats"] = [photrec.photstats(store, idx, points)]
        if self.flag("includeThumbnails"):
            rec["thumbnails"] = records.thumbnails(store, idx)
        rec.update({"followup_requests": [], "galaxies": None, "duplicates": []})
        rec["assignments"] = store.resources.assignments_of(rec["id"])
        if self.flag("includeDetectionStats"):
            det = [p for p in points if p.get("mag") is not None]
            rec["first_detected"] = iso(mjd_to_us(det[0]["mjd"]))[:23] if det else None
            rec["last_detected"] = iso(mjd_to_us(det[-1]["mjd"]))[:23] if det else None
        if self.flag("includeComments"):
            rec["comments"] = full_comments(store, idx)
        if self.flag("includePeriodExists"):
            rec["period_exists"] = any(
                "period" in a["data"] for a in store.annotations("sources", idx)
            )
        rec["annotations"] = [
            records.annotation(store, "sources", idx, a)
            for a in sorted(store.annotations("sources", idx), key=lambda a: a["origin"])
        ]
        rec["classifications"] = list_classifications(store, idx)
        rec.update(records.derived(store, idx))
        rec["ebv"] = None
        if self.flag("includePhotometry"):
            rec["photometry"] = [
                photrec.record(store, idx, p, both=True, annotations=True) for p in points
            ]
        if self.flag("includePhotometryExists"):
            rec["photometry_exists"] = bool(store.photometry(idx))
        if self.flag("includeSpectrumExists"):
            rec["spectrum_exists"] = bool(len(store.spectra_of(idx)))
        if self.flag("includeCommentExists"):
            rec["comment_exists"] = bool(store.comments("sources", idx))
        rec["tags"] = []
        rec["groups"] = records.source_groups(store, idx)
        rec["associated_objs"] = []
        return rec

    async def patch(self, obj_id: str) -> None:
        idx = find_obj(self, obj_id)
        body = self.json_body()
        body.pop("id", None)
        for key in ("ra", "dec", "redshift"):
            if key in body and body[key] is not None:
                try:
                    float(body[key])
                except (TypeError, ValueError) as exc:
                    raise ApiError(
                        f"Invalid/missing parameters: {{'{key}': ['Not a valid number.']}}"
                    ) from exc
        self.store.update_obj(idx, body)
        await self.success()

    async def delete(self, obj_id: str) -> None:
        idx = find_obj(self, obj_id)
        group_id = self.int_arg("group_id")
        with self.store.lock:
            targets = [group_id] if group_id else self.store.saved_groups(idx)
            for gid in targets:
                if gid in self.store.groups:
                    self.store.unsave(idx, gid)
        await self.success()


class SourcePhotometryHandler(BaseHandler):
    """GET ``/api/sources/{id}/photometry`` (bare list, ``format=mag|flux``)."""

    latency_profile = "photometry"

    async def get(self, obj_id: str) -> None:
        fmt = self.arg("format") or "mag"
        if fmt not in ("mag", "flux"):
            raise ApiError(f"Invalid output format {fmt!r}: use 'mag' or 'flux'.")
        idx = find_obj(self, obj_id)
        with self.store.lock:
            out = photindex.object_records(self.store, idx, fmt)
            if out is None:  # posted or deleted points: the per-object path
                out = [photrec.record(self.store, idx, p, fmt) for p in self.store.photometry(idx)]
        await self.success(out, rows=len(out))


class SourceSpectraHandler(BaseHandler):
    """GET ``/api/sources/{id}/spectra`` -> ``{obj_id, spectra}``."""

    async def get(self, obj_id: str) -> None:
        idx = find_obj(self, obj_id)
        with self.store.lock:
            out = []
            for row in self.store.spectra_of(idx):
                rec = spectrum_record(self.store, int(row))
                rec["observed_at_mjd"] = us_to_mjd(float(self.store.spectra["observed_at"][row]))
                out.append(rec)
        await self.success({"obj_id": obj_id, "spectra": out})


class SourceClassificationsHandler(BaseHandler):
    """GET ``/api/sources/{id}/classifications`` (bare list with votes and edits)."""

    async def get(self, obj_id: str) -> None:
        idx = find_obj(self, obj_id)
        with self.store.lock:
            rows = self.store.classifications_of(idx)
            out = [records.classification(self.store, int(r), votes=True) for r in rows]
        await self.success(out)

    async def delete(self, obj_id: str) -> None:
        idx = find_obj(self, obj_id)
        with self.store.lock:
            for row in self.store.classifications_of(idx):
                self.store.delete_classification(int(self.store.cls["id"][row]))
        await self.success()


class SourceGroupsListHandler(BaseHandler):
    """GET ``/api/sources/{id}/groups``: the groups the object is saved to."""

    async def get(self, obj_id: str) -> None:
        idx = find_obj(self, obj_id)
        await self.success([records.group(self.store, g) for g in self.store.saved_groups(idx)])


class SourceGroupsHandler(BaseHandler):
    """POST ``/api/source_groups``: save to / unsave from groups (``objId`` etc.)."""

    async def post(self) -> None:
        body = self.json_body()
        obj_id = body.get("objId")
        invite = body.get("inviteGroupIds") or []
        unsave = body.get("unsaveGroupIds") or []
        if obj_id is None:
            raise ApiError("Missing required parameter: objId")
        if not invite and not unsave:
            raise ApiError(
                "Missing required parameter: one of either unsaveGroupIds or "
                "inviteGroupIds must be provided"
            )
        store = self.store
        with store.lock:
            idx = store.find(str(obj_id))
            if idx is None:
                raise ApiError(f"Obj {obj_id} not found", 404)
            for gid in map(int, invite):
                if gid not in store.groups:
                    raise ApiError(f"Invalid group ID: {gid}")
                if store.saved_at[idx, store.group_slot[gid]] >= 0:
                    raise ApiError(f"Source already saved to group w/ ID {gid}")
            for gid in map(int, unsave):
                if gid not in store.groups:
                    raise ApiError(f"Invalid group ID: {gid}")
            for gid in map(int, invite):
                store.save(idx, gid)
            for gid in map(int, unsave):
                store.unsave(idx, gid)
        await self.success()
