"""Instance-wide things: system info, configuration, statistics, taxonomies, groups."""

from __future__ import annotations

from typing import Any

from ..errors import AuthError, BadRequest, InvalidResponse, NotFound
from .core import BaseClient
from .transport import drop_none


class SystemAPI(BaseClient):
    """``/api/sysinfo``, ``/api/config``, ``/api/db_stats``, ``/api/taxonomy``, ``/api/groups``."""

    def get_sysinfo(self) -> dict:
        """System/deployment info (``GET /api/sysinfo``; public, no token needed)."""
        return self.get("/api/sysinfo")

    def get_config(self) -> dict:
        """The instance's configuration (``GET /api/config``): allowed spectrum types,
        magnitude systems, bandpasses, thumbnail types, follow-up priorities, ..."""
        return self.get("/api/config")

    def get_db_stats(self) -> dict:
        """Database statistics: numbers of candidates, sources, ... (``GET /api/db_stats``; admin)."""
        return self.get("/api/db_stats")

    def list_taxonomies(self) -> list[dict]:
        """All taxonomies the user can see, with their class hierarchies (``GET /api/taxonomy``)."""
        return self.get("/api/taxonomy")

    def get_groups(
        self, *, name: str | None = None, include_single_user_groups: bool | None = None
    ) -> dict[str, Any]:
        """The user's groups (``GET /api/groups``): ``user_groups``,
        ``user_accessible_groups`` and ``all_groups``, each a list of group records."""
        query = drop_none({"name": name, "includeSingleUserGroups": include_single_user_groups})
        return self.get("/api/groups", query)

    def get_public_group(self) -> dict:
        """The instance's public (sitewide) group (``GET /api/groups/public``)."""
        return self.get("/api/groups/public")

    def local_server_identity(self) -> dict | None:
        """The project's own local server identifies itself: its public
        ``GET /_workbench/health`` answers ``{"ok": true, "seed": ..., "sizes": {...}}``.
        Any other server (a real SkyPortal answers 404 there) gives ``None``, as does an
        answer of another shape. Used to tell a sandbox from a real server, whatever its host."""
        try:
            data = self.get("/_workbench/health")
        except (NotFound, BadRequest, AuthError, InvalidResponse):
            return None
        if isinstance(data, dict) and data.get("ok") is True and {"seed", "sizes"} <= set(data):
            return data
        return None
