"""``/api/sysinfo`` (public), ``/api/config``, ``/api/groups``, ``/api/taxonomy``."""

from __future__ import annotations

from .. import records, refdata
from ..timeutil import iso
from .base import ApiError, BaseHandler
from .classifications import taxonomy_record

# What SkyPortal grants a super admin (the token's user here); profile ACLs and permissions.
ADMIN_ACLS = (
    "System admin",
    "Annotate",
    "Comment",
    "Classify",
    "Upload data",
    "Manage sources",
    "Manage groups",
    "Post taxonomy",
)


class SysInfoHandler(BaseHandler):
    """GET ``/api/sysinfo``: public, an unknown token is ignored."""

    public = True

    async def get(self) -> None:
        await self.success(refdata.sysinfo())


class ProfileHandler(BaseHandler):
    """GET ``/api/internal/profile``: the token's user (an admin) with roles and ACLs.

    SkyPortal also lists the user's tokens, whose ids are the secrets themselves; this
    server leaves them out so no response ever carries a token.
    """

    async def get(self) -> None:
        profile = records.user(refdata.ADMIN_ID, gravatar=True)
        profile.update(
            {
                "roles": ["Super admin"],
                "acls": list(ADMIN_ACLS),
                "permissions": list(ADMIN_ACLS),
                "preferences": {},
                "tokens": [],
            }
        )
        await self.success(profile)


class ConfigHandler(BaseHandler):
    """GET ``/api/config``."""

    async def get(self) -> None:
        await self.success(refdata.config())


def _with_streams(store, gid: int, *, brief: bool) -> dict:
    rec = records.group(store, gid)
    streams = refdata.GROUP_STREAMS.get(gid)
    if streams is not None:
        rec["streams"] = [
            refdata.stream_record(refdata.STREAMS[s - 1], iso, brief=brief) for s in streams
        ]
    elif not store.groups[gid]["single_user_group"]:
        rec["streams"] = []
    return rec


def _by_name(store, ids):
    return sorted(ids, key=lambda g: store.groups[g]["name"].lower())


class GroupsHandler(BaseHandler):
    """GET ``/api/groups`` -> ``{user_groups, user_accessible_groups, all_groups}``; POST."""

    async def get(self) -> None:
        store = self.store
        with store.lock:
            shared = [g for g, rec in store.groups.items() if not rec["single_user_group"]]
            mine = refdata.ADMIN_GROUP_IDS + [g for g in store.groups if g > 8]
            data = {
                "user_groups": [
                    _with_streams(store, g, brief=False)
                    for g in _by_name(store, mine)
                    if g in store.groups
                ],
                "user_accessible_groups": [
                    _with_streams(store, g, brief=False) for g in _by_name(store, shared)
                ],
                "all_groups": [
                    _with_streams(store, g, brief=True) for g in _by_name(store, shared)
                ],
            }
        await self.success(data)

    async def post(self) -> None:
        body = self.json_body()
        name = str(body.get("name") or "").strip()
        if not name:
            raise ApiError("Missing required parameter: name")
        if any(g["name"] == name for g in self.store.groups.values()):
            raise ApiError(f"Group with name {name} already exists.")
        gid = self.store.add_group(name, nickname=body.get("nickname"))
        await self.success({"id": gid})


class GroupHandler(BaseHandler):
    """GET ``/api/groups/{id}``."""

    async def get(self, group_id: str) -> None:
        try:
            gid = int(group_id)
        except ValueError:
            gid = -1
        if gid not in self.store.groups:
            raise ApiError(f"Cannot find group with ID {group_id}", 400)
        await self.success(_with_streams(self.store, gid, brief=False))


class PublicGroupHandler(BaseHandler):
    """GET ``/api/groups/public``: the Sitewide Group."""

    async def get(self) -> None:
        await self.success(records.group(self.store, 1))


class TaxonomyListHandler(BaseHandler):
    """GET ``/api/taxonomy`` (bare list); POST a new taxonomy."""

    async def get(self) -> None:
        await self.success([taxonomy_record(self.store, t) for t in self.store.taxonomies.values()])

    async def post(self) -> None:
        body = self.json_body()
        missing = [k for k in ("name", "hierarchy", "version") if not body.get(k)]
        if missing:
            raise ApiError(f"Missing required parameter(s): {', '.join(missing)}")
        hierarchy = body["hierarchy"]
        if not isinstance(hierarchy, dict) or "class" not in hierarchy:
            raise ApiError("Hierarchy does not validate against the schema.")
        store = self.store
        with store.lock:
            tid = max(store.taxonomies) + 1
            now = store.clock.now()
            store.taxonomies[tid] = {
                "id": tid,
                "name": body["name"],
                "hierarchy": hierarchy,
                "version": body["version"],
                "provenance": body.get("provenance"),
                "isLatest": True,
                "group_ids": body.get("group_ids") or [1],
                "created_at": now,
                "modified": now,
            }
        await self.success({"taxonomy_id": tid})


class TaxonomyHandler(BaseHandler):
    """GET/DELETE ``/api/taxonomy/{id}``."""

    def _tax(self, taxonomy_id: str) -> dict:
        return self.by_id(
            self.store.taxonomies.get, taxonomy_id, f"Taxonomy {taxonomy_id} does not exist."
        )

    async def get(self, taxonomy_id: str) -> None:
        await self.success(taxonomy_record(self.store, self._tax(taxonomy_id)))

    async def delete(self, taxonomy_id: str) -> None:
        tax = self._tax(taxonomy_id)
        with self.store.lock:
            self.store.taxonomies.pop(tax["id"], None)
        await self.success()
