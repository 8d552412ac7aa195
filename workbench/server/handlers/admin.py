"""``/_workbench/``: switch behaviours, read counters and simulate other users over HTTP.

Token-protected with the server's token (whatever ``auth`` says), never rate limited,
never faulted and not counted in the stats, so a test can drive a server in another
process without disturbing what it measures.
"""

from __future__ import annotations

import json

from ...errors import ConfigError
from .. import mutate
from .base import MSG_401, MSG_401_MALFORMED, BaseHandler


class AdminHandler(BaseHandler):
    """Base of the admin endpoints."""

    async def prepare(self) -> None:
        problem = self._auth_problem()
        if problem:
            self.fail(problem if problem == MSG_401 else MSG_401_MALFORMED, 401)

    def on_finish(self) -> None:
        return None


class HealthHandler(AdminHandler):
    """GET ``/_workbench/health``: public liveness probe with the seed sizes."""

    async def prepare(self) -> None:
        return None

    async def get(self) -> None:
        b = self.ctx.behaviour
        limit = {"rate": b.rate, "burst": b.burst} if b.rate_limit else None
        await self.success(
            {"ok": True, "seed": self.store.seed, "sizes": self.store.sizes, "rate_limit": limit},
            profile="none",
        )


class BehaviourHandler(AdminHandler):
    """GET the switches; PUT ``{"rate_limit": true, "faults": [...], ...}`` to change them."""

    async def get(self) -> None:
        await self.success(self.ctx.behaviour.to_dict(), profile="none")

    async def put(self) -> None:
        try:
            self.ctx.behaviour.update(**self.json_body())
        except (ConfigError, TypeError) as exc:
            self.fail(f"Invalid behaviour: {exc}", 400)
            return
        await self.success(self.ctx.behaviour.to_dict(), profile="none")

    post = put


class StatsHandler(AdminHandler):
    """GET counters; DELETE resets them."""

    async def get(self) -> None:
        await self.success(self.ctx.stats.to_dict(), profile="none")

    async def delete(self) -> None:
        self.ctx.stats.reset()
        await self.success(profile="none")


class MutateHandler(AdminHandler):
    """POST ``{"action": "unsave", "n": 20, "seed": 1}``; GET lists the actions."""

    async def get(self) -> None:
        await self.success(
            {"actions": sorted(mutate.ACTIONS), "counts": self.store.counts()}, profile="none"
        )

    async def post(self) -> None:
        body = self.json_body()
        action = body.pop("action", None)
        try:
            result = mutate.mutate(
                self.store,
                str(action),
                int(body.pop("n", 1)),
                seed=int(body.pop("seed", 0)),
                **body,
            )
        except (ValueError, KeyError, TypeError) as exc:
            self.fail(f"Invalid mutation: {exc}", 400)
            return
        await self.success(json.loads(json.dumps(result, default=str)), profile="none")
