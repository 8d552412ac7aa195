"""Listings, thumbnail PNGs, comments and annotations on sources/spectra/GCN events."""

from __future__ import annotations

import base64
import re
from typing import Any

from .. import records, refdata, thumbs
from ..timeutil import iso
from .base import ApiError, BaseHandler

THUMB_RE = re.compile(r"^(?P<obj>.+)_(?P<kind>new|ref|sub)\.png$")
LIST_NAME_RE = re.compile(r"^\w+")


class ListingHandler(BaseHandler):
    """POST ``/api/listing``; GET ``/api/listing[/{user_id}]`` (``listName``; without a user
    id, the current user's, as SkyPortal 1.4.0); DELETE by id."""

    async def post(self) -> None:
        body = self.json_body()
        obj_id, name = body.get("obj_id"), body.get("list_name")
        if not obj_id or not name:
            raise ApiError("Invalid/missing parameters: obj_id and list_name are required")
        if not LIST_NAME_RE.match(str(name)):
            raise ApiError("Input `list_name` must begin with alphanumeric/underscore")
        if self.store.find(str(obj_id)) is None:
            raise ApiError(f"Obj {obj_id} not found")
        user_id = int(body.get("user_id") or 1)
        if any(
            x["user_id"] == user_id and x["obj_id"] == obj_id and x["list_name"] == name
            for x in self.store.listings
        ):
            raise ApiError(
                f"Listing already exists with user_id={user_id}, obj_id={obj_id} "
                f"and list_name={name}"
            )
        lid = self.store.add_listing(user_id, str(obj_id), str(name), body.get("params"))
        await self.success({"id": lid})

    async def get(self, user_id: str | None = None) -> None:
        if user_id is None:
            user_id = str(refdata.ADMIN_ID)  # the token's user
        try:
            uid = int(user_id)
        except ValueError as exc:
            raise ApiError(f"Invalid user_id: {user_id}") from exc
        name = self.arg("listName")
        out = [
            {
                "id": x["id"],
                "user_id": x["user_id"],
                "obj_id": x["obj_id"],
                "list_name": x["list_name"],
                "params": x["params"],
                "created_at": iso(x["created"]),
                "modified": iso(x["modified"]),
            }
            for x in self.store.listings
            if x["user_id"] == uid and (name is None or x["list_name"] == name)
        ]
        await self.success(out)

    async def delete(self, listing_id: str) -> None:
        with self.store.lock:
            before = len(self.store.listings)
            self.store.listings[:] = [x for x in self.store.listings if str(x["id"]) != listing_id]
            if len(self.store.listings) == before:
                raise ApiError(f"Listing {listing_id} not found")
        await self.success()


class ThumbnailHandler(BaseHandler):
    """The PNG behind a thumbnail's ``public_url`` (``/static/thumbnails/..``)."""

    public = True

    async def get(self, path: str) -> None:
        match = THUMB_RE.match(path.rsplit("/", 1)[-1])
        idx = self.store.find(match.group("obj")) if match else None
        if idx is None:
            self.set_status(404)
            self.finish("Not found")
            return
        self.set_header("Cache-Control", "max-age=3600")
        self.send_bytes(thumbs.render(self.store.seed, idx, match.group("kind")), "image/png")


def resource(handler, rtype: str, rid: str) -> Any:
    """The store key of a commentable resource, or 400/404 like SkyPortal."""
    store = handler.store
    if rtype == "sources":
        idx = store.find(rid)
        if idx is None:
            raise ApiError("Source not found", 404)
        return idx
    if rtype == "spectra":
        if not rid.isdigit() or store.spectrum_row(int(rid)) is None:
            raise ApiError(f"Could not find spectrum with ID {rid}", 404)
        return int(rid)
    from .gcn import find_event

    event = find_event(store, rid)
    if event is None:
        raise ApiError("GCN event not found", 404)
    return event.id


class CommentsHandler(BaseHandler):
    """Comments on ``sources``, ``spectra`` and ``gcn_event`` resources."""

    async def get(
        self, rtype: str, rid: str, comment_id: str | None = None, attachment: str | None = None
    ) -> None:
        key = resource(self, rtype, rid)
        if comment_id is None:
            out = [
                records.comment(self.store, rtype, key, c, brief_author=True)
                for c in sorted(self.store.comments(rtype, key), key=lambda c: c["created"])
            ]
            await self.success(out)
            return
        found = self._find(rtype, key, comment_id)
        if attachment:
            if not found.get("attachment_bytes"):
                raise ApiError("Comment has no attachment")
            self.send_bytes(
                found["attachment_bytes"], "application/octet-stream", found["attachment_name"]
            )
            return
        await self.success(records.comment(self.store, rtype, key, found))

    def _find(self, rtype: str, key: Any, comment_id: str) -> dict[str, Any]:
        found = (
            self.store.find_comment(rtype, key, int(comment_id)) if comment_id.isdigit() else None
        )
        if found is None:
            raise ApiError(f"Could not find comment with ID {comment_id}", 404)
        return found

    async def post(self, rtype: str, rid: str, *ignored: Any) -> None:
        key = resource(self, rtype, rid)
        body = self.json_body()
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError("Missing or empty comment text")
        attachment = None
        if body.get("attachment"):
            try:
                raw = base64.b64decode(body["attachment"]["body"], validate=True)
                attachment = (str(body["attachment"]["name"]), raw)
            except (KeyError, TypeError, ValueError) as exc:
                raise ApiError("Invalid attachment: expected {name, body (base64)}") from exc
        groups = body.get("group_ids")
        if groups and any(int(g) not in self.store.groups for g in groups):
            raise ApiError(f"Invalid group_ids: {groups}")
        cid = self.store.add_comment(rtype, key, text, group_ids=groups, attachment=attachment)
        await self.success({"comment_id": cid})

    async def put(
        self, rtype: str, rid: str, comment_id: str | None = None, attachment: str | None = None
    ) -> None:
        self.store.edit_comment(self._existing(rtype, rid, comment_id), self.json_body())
        await self.success()

    async def delete(
        self, rtype: str, rid: str, comment_id: str | None = None, attachment: str | None = None
    ) -> None:
        self.store.delete_comment(self._existing(rtype, rid, comment_id))
        await self.success()

    def _existing(self, rtype: str, rid: str, comment_id: str | None) -> int:
        """The id of a comment that exists on this resource (400/404 otherwise)."""
        if comment_id is None:
            raise ApiError("Must provide a comment ID")
        self._find(rtype, resource(self, rtype, rid), comment_id)
        return int(comment_id)


class AnnotationsHandler(BaseHandler):
    """Annotations on ``sources`` and ``spectra``: GET list/one, POST."""

    async def get(self, rtype: str, rid: str, annotation_id: str | None = None) -> None:
        key = resource(self, rtype, rid)
        anns = self.store.annotations(rtype, key)
        if annotation_id is None:
            await self.success(
                [
                    records.annotation(self.store, rtype, key, a, author=False, groups=True)
                    for a in anns
                ]
            )
            return
        found = next((a for a in anns if str(a["id"]) == annotation_id), None)
        if found is None:
            raise ApiError(f"Could not find annotation with ID {annotation_id}", 404)
        await self.success(records.annotation(self.store, rtype, key, found))

    async def post(self, rtype: str, rid: str, annotation_id: str | None = None) -> None:
        key = resource(self, rtype, rid)
        body = self.json_body()
        if not body.get("origin") or not isinstance(body.get("data"), dict):
            raise ApiError(
                "Invalid/missing parameters: origin (string) and data (object) are required"
            )
        if any(a["origin"] == body["origin"] for a in self.store.annotations(rtype, key)):
            raise ApiError(f"Annotation from origin {body['origin']} already exists")
        aid = self.store.add_annotation(rtype, key, str(body["origin"]), body["data"])
        await self.success({"annotation_id": aid})
