"""The kinds of user action the outbox carries, and how each is sent and verified.

Each kind knows three things: how to send it (one write request), how to tell from the
server whether an earlier attempt with an unknown outcome already landed (so it is never
posted twice), and which server refusals mean "already done" (saving a source already
saved is a success, not an error).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest, NotFound

Payload = dict[str, Any]


@dataclass(frozen=True)
class ActionKind:
    name: str
    send: Callable[[Any, Payload], Any]  # (client, payload) -> remote id or None
    verify: Callable[[Any, Payload, dt.datetime], Any]  # -> remote id / True if landed, else None
    already_done: tuple[str, ...] = ()  # fragments of a 4xx message that mean success


def _post_classification(client: Any, p: Payload) -> Any:
    body = {k: p[k] for k in ("obj_id", "classification", "taxonomy_id") if k in p}
    for key in ("probability", "group_ids", "origin", "ml"):
        if p.get(key) is not None:
            body[key] = p[key]
    return client.post("/api/classification", json=body).get("classification_id")


def _find_classification(client: Any, p: Payload, since: dt.datetime) -> Any:
    for c in client.get(f"/api/sources/{p['obj_id']}/classifications"):
        same = (
            c.get("classification") == p["classification"]
            and c.get("taxonomy_id") == p["taxonomy_id"]
            and _close(c.get("probability"), p.get("probability"))
            and _after(c.get("created_at"), since)
        )
        if same:
            return c["id"]
    return None


def _put_classification(client: Any, p: Payload) -> Any:
    client.put(f"/api/classification/{p['classification_id']}", json=p["changes"])
    return p["classification_id"]


def _delete_classification(client: Any, p: Payload) -> Any:
    with contextlib.suppress(NotFound):  # already gone: the goal is reached
        client.delete(f"/api/classification/{p['classification_id']}")
    return p["classification_id"]


def _save(client: Any, p: Payload) -> Any:
    client.post(
        "/api/source_groups", json={"objId": p["obj_id"], "inviteGroupIds": list(p["group_ids"])}
    )
    return True


def _unsave(client: Any, p: Payload) -> Any:
    client.post(
        "/api/source_groups", json={"objId": p["obj_id"], "unsaveGroupIds": list(p["group_ids"])}
    )
    return True


def _saved_group_ids(client: Any, obj_id: str) -> set[int]:
    try:
        return {g["id"] for g in client.get(f"/api/sources/{obj_id}/groups")}
    except NotFound:
        return set()


def _verify_save(client: Any, p: Payload, since: dt.datetime) -> Any:
    return True if set(p["group_ids"]) <= _saved_group_ids(client, p["obj_id"]) else None


def _verify_unsave(client: Any, p: Payload, since: dt.datetime) -> Any:
    return True if not set(p["group_ids"]) & _saved_group_ids(client, p["obj_id"]) else None


def _reject(client: Any, p: Payload) -> Any:
    body = {"obj_id": p["obj_id"], "list_name": p.get("list_name", "rejected_candidates")}
    return client.post("/api/listing", json=body).get("id")


def _verify_reject(client: Any, p: Payload, since: dt.datetime) -> Any:
    user_id = client.get("/api/internal/profile")["id"]
    listings = client.get(
        f"/api/listing/{user_id}", {"listName": p.get("list_name", "rejected_candidates")}
    )
    return next((item["id"] for item in listings if item.get("obj_id") == p["obj_id"]), None)


def _listing_id(client: Any, p: Payload) -> Any:
    """The id of the user's listing of ``obj_id`` in ``list_name`` on the server, or None."""
    return _verify_reject(client, p, dt.datetime.min)


def _unreject(client: Any, p: Payload) -> Any:
    """Take a candidate off the rejected list (DELETE the listing); gone already is done."""
    listing_id = p.get("listing_id") or _listing_id(client, p)
    if listing_id is None:
        return True  # not (or no longer) listed: the goal is reached
    with contextlib.suppress(NotFound):
        client.delete(f"/api/listing/{int(listing_id)}")
    return True


def _verify_unreject(client: Any, p: Payload, since: dt.datetime) -> Any:
    return True if _listing_id(client, p) is None else None


def _post_comment(client: Any, p: Payload) -> Any:
    body = {"text": p["text"]}
    if p.get("group_ids"):
        body["group_ids"] = list(p["group_ids"])
    data = client.post(f"/api/{p['resource']}/{p['resource_id']}/comments", json=body)
    return data.get("comment_id") if isinstance(data, dict) else None


def _find_comment(client: Any, p: Payload, since: dt.datetime) -> Any:
    for c in client.get(f"/api/{p['resource']}/{p['resource_id']}/comments"):
        if c.get("text") == p["text"] and _after(c.get("created_at"), since):
            return c["id"]
    return None


def _upload_spectrum(client: Any, p: Payload) -> Any:
    return client.post("/api/spectra", json=p).get("id")


def _find_spectrum(client: Any, p: Payload, since: dt.datetime) -> Any:
    listed = client.get(f"/api/sources/{p['obj_id']}/spectra").get("spectra", [])
    for s in listed:
        if len(s.get("wavelengths") or []) == len(p["wavelengths"]) and _after(
            s.get("created_at"), since
        ):
            return s["id"]
    return None


def _close(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    return abs(float(a) - float(b)) < 1e-9


def _after(created_at: Any, since: dt.datetime) -> bool:
    """Was a server row created after ``since`` (minus a minute for clock skew)?"""
    if not created_at:
        return True
    created = dt.datetime.fromisoformat(str(created_at).replace("Z", ""))
    return created >= since - dt.timedelta(minutes=1)


KINDS: dict[str, ActionKind] = {
    k.name: k
    for k in (
        ActionKind("classification", _post_classification, _find_classification),
        ActionKind("classification_edit", _put_classification, lambda c, p, s: None),
        ActionKind("classification_delete", _delete_classification, lambda c, p, s: None),
        ActionKind("save", _save, _verify_save, already_done=("already saved",)),
        ActionKind("unsave", _unsave, _verify_unsave, already_done=("not saved",)),
        ActionKind("reject", _reject, _verify_reject, already_done=("already",)),
        # SkyPortal answers 400 "Listing N not found" for a listing deleted already
        ActionKind("unreject", _unreject, _verify_unreject, already_done=("not found",)),
        ActionKind("comment", _post_comment, _find_comment),
        ActionKind("spectrum", _upload_spectrum, _find_spectrum),
    )
}


def is_already_done(kind: ActionKind, exc: BadRequest) -> bool:
    message = (exc.message or "").lower()
    return any(fragment in message for fragment in kind.already_done)
