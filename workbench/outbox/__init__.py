"""Cache outbox -> server: every user action is kept until the server has it, exactly once.

An action is written to the ``outbox`` table in the same transaction as its local effect
(the classification appears in the cache at once, marked pending), then pushed. Its
status moves::

    pending --send--> sending --ok--> sent
                         |--refused (4xx)--> rejected   (edit or drop it)
                         |--not reached (down, 429)--> pending   (retried later)
                         '--maybe applied (timeout after sending, 5xx)--> unknown

``sending`` is committed BEFORE the request goes out, so after a crash mid-send the
action is found in ``sending`` and treated like ``unknown``: the server is asked whether
the action landed (the classification exists, the group holds the source, ...) before
anything is posted again. No action is lost and none is posted twice.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import AuthError, BadRequest, ConnectionFailed, NotFound, OutboxError, SkyPortalError
from .actions import KINDS, ActionKind, is_already_done

RETRYABLE = ("pending", "sending", "unknown")


@dataclass
class PushReport:
    """What one push did; ``pending`` counts what is left to send later."""

    sent: list[int] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    pending: int = 0

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.failed and not self.pending

    def __str__(self) -> str:
        lines = [
            f"sent {len(self.sent)}, rejected {len(self.rejected)}, still pending {self.pending}"
        ]
        lines += [f"  #{i} rejected by the server: {msg}" for i, msg in self.rejected.items()]
        lines += [f"  #{i} not sent yet: {msg}" for i, msg in self.failed.items()]
        return "\n".join(lines)


class Outbox:
    """The user's actions, queued in the cache and pushed to the server."""

    def __init__(self, cache: Any, client: Any | None = None) -> None:
        self.cache = cache
        self.client = client
        # One push at a time: a panel's writer thread and a live poll's sync may both push,
        # and two pushes reading the same pending action would post it twice.
        self._push_lock = threading.RLock()

    def __repr__(self) -> str:
        return f"Outbox(cache={self.cache!r}, online={self.client is not None})"

    def add(self, kind: str, payload: dict[str, Any], *, push: bool = True) -> int:
        """Queue an action with its local effect in one transaction; push it if online.

        Returns the action's id. A push that fails leaves the action queued (see
        :meth:`list`); it never raises for a server that is down.
        """
        with self.cache.write() as tx:
            action_id = self.add_in(tx, kind, payload)
        if push and self.client is not None:
            self.push(only=[action_id])
        return action_id

    @staticmethod
    def add_in(tx: Any, kind: str, payload: dict[str, Any]) -> int:
        """Queue an action with its local effect inside the caller's write transaction
        (with other writes that must happen with it, or not at all); not pushed."""
        if kind not in KINDS:
            raise OutboxError(f"unknown action kind {kind!r}; known: {sorted(KINDS)}")
        action_id = tx.enqueue(kind, payload)
        tx.apply_local(kind, payload, action_id)
        return action_id

    def list(self, status: str | None = None) -> pd.DataFrame:
        """The outbox as a DataFrame (all, or one status: pending/sent/rejected/unknown/dropped)."""
        return self.cache.outbox(status)

    def push(self, only: list[int] | None = None) -> PushReport:
        """Send every action not yet on the server, oldest first."""
        if self.client is None:
            raise OutboxError(
                "no server connection: open the workbench with a URL and token to push"
            )
        with self._push_lock:
            return self._push(only)

    def _push(self, only: list[int] | None) -> PushReport:
        report = PushReport()
        queue = self.cache.outbox_actions(RETRYABLE, ids=only)
        for i, action in enumerate(queue):
            try:
                self._push_one(action, report)
            except (ConnectionFailed, AuthError) as exc:
                report.failed[action["id"]] = str(exc)
                report.pending = len(queue) - i  # the server is unreachable: stop here
                break
        else:
            report.pending = len(self.cache.outbox_actions(RETRYABLE))
        return report

    def _push_one(self, action: dict[str, Any], report: PushReport) -> None:
        kind: ActionKind = KINDS[action["kind"]]
        payload, action_id = action["payload"], action["id"]
        created = _naive(action["created_at"])
        if action["status"] in ("sending", "unknown"):
            remote = kind.verify(self.client, payload, created)
            if remote is not None:
                self._mark_sent(action, remote, report)
                return
        self._update(action_id, status="sending", attempts=int(action["attempts"] or 0) + 1)
        try:
            remote = kind.send(self.client, payload)
        except BadRequest as exc:
            if is_already_done(kind, exc):
                self._mark_sent(action, True, report)
            else:
                self._update(action_id, status="rejected", last_error=exc.message)
                report.rejected[action_id] = exc.message
        except NotFound as exc:
            self._update(action_id, status="rejected", last_error=exc.message)
            report.rejected[action_id] = exc.message
        except SkyPortalError as exc:  # down, 5xx, 429 after retries, garbled answers
            # An error after the request may have been applied is checked on the server
            # before the action is sent again; any other is simply retried later.
            status = "unknown" if exc.outcome_unknown else "pending"
            self._update(action_id, status=status, last_error=str(exc))
            if isinstance(exc, ConnectionFailed | AuthError):
                raise  # every other action would fail alike: push() stops here
            report.failed[action_id] = str(exc)
        else:
            self._mark_sent(action, remote, report)

    def _mark_sent(self, action: dict[str, Any], remote: Any, report: PushReport) -> None:
        remote_id = None if remote is True else remote
        with self.cache.write() as tx:
            tx.update_action(action["id"], status="sent", remote_id=remote_id, last_error=None)
            tx.confirm_local(action["kind"], action["payload"], action["id"], remote_id)
        report.sent.append(action["id"])

    def _update(self, action_id: int, **fields: Any) -> None:
        with self.cache.write() as tx:
            tx.update_action(action_id, **fields)

    def edit(self, action_id: int, **changes: Any) -> None:
        """Change a rejected (or not yet sent) action's payload; it goes back to pending."""
        action = self._get(action_id)
        if action["status"] not in ("rejected", "pending"):
            raise OutboxError(
                f"action #{action_id} is {action['status']}; only rejected or pending ones can be edited"
            )
        payload = {**action["payload"], **changes}
        with self.cache.write() as tx:
            tx.revert_local(action["kind"], action["payload"], action_id)
            tx.update_action(action_id, status="pending", payload=payload, last_error=None)
            tx.apply_local(action["kind"], payload, action_id)

    def drop(self, action_id: int) -> None:
        """Give up an action that was not sent; its local effect is undone."""
        action = self._get(action_id)
        if action["status"] == "sent":
            raise OutboxError(
                f"action #{action_id} is already on the server; undo it with a new action"
            )
        with self.cache.write() as tx:
            tx.update_action(action_id, status="dropped")
            tx.revert_local(action["kind"], action["payload"], action_id)

    def _get(self, action_id: int) -> dict[str, Any]:
        found = self.cache.outbox_actions(None, ids=[action_id])
        if not found:
            raise OutboxError(f"no action #{action_id} in the outbox")
        return found[0]


def _naive(value: Any) -> dt.datetime:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()


__all__ = ["Outbox", "PushReport"]
