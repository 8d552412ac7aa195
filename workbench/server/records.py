"""JSON records with SkyPortal 1.4.0's keys, built from the store on demand.

Every builder takes the :class:`~.store.Store` and a row index and returns plain Python
values (no numpy scalars, NaN as None) ready for the JSON envelope.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

from . import refdata
from .cosmo import distances
from .timeutil import iso

GROUP_BRIEF_KEYS = ("id", "name", "nickname", "single_user_group")


def num(value: Any) -> Any:
    """A JSON-safe Python number: NaN/inf -> None, numpy scalars -> Python."""
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def group(store, gid: int) -> dict[str, Any]:
    """A Group dict."""
    return refdata.group_record(store.groups[gid], iso)


def group_brief(store, gid: int) -> dict[str, Any]:
    """The short group dict embedded in photometry."""
    full = group(store, gid)
    return {k: full[k] for k in GROUP_BRIEF_KEYS}


def user(uid: int, *, gravatar: bool = False) -> dict[str, Any]:
    """A full User dict."""
    return refdata.user_record(uid, iso, gravatar=gravatar)


def obj(store, idx: int) -> dict[str, Any]:
    """The Obj columns of SkyPortal's ``Obj.to_dict()``."""
    o = store.objs
    z = num(o["redshift"][idx])
    created = int(o["created"][idx])
    out = {
        "offset": 0.0,
        "mag_nearest_source": None,
        "score": None,
        "id": o["id"][idx],
        "t0": None,
        "summary": None,
        "e_mag_nearest_source": None,
        "origin": o["origin"][idx],
        "modified": iso(o["modified"][idx]),
        "redshift": z,
        "transient": False,
        "alias": o["alias"][idx],
        "redshift_error": None,
        "summary_history": None,
        "varstar": store.kind(idx) == "periodic",
        "ra_dis": None,
        "redshift_origin": None,
        "is_roid": False,
        "healpix": int(o["healpix"][idx]),
        "created_at": iso(created),
        "dec_dis": None,
        "redshift_history": None
        if z is None
        else [
            {
                "value": z,
                "set_at_utc": iso(created + 6184) + "+00:00",
                "uncertainty": None,
                "set_by_user_id": 1,
            }
        ],
        "mpc_name": None,
        "dec": num(o["dec"][idx]),
        "ra_err": None,
        "host_id": None,
        "tns_name": None,
        "detect_photometry_count": None,
        "dec_err": None,
        "altdata": o["altdata"][idx],
        "dist_nearest_source": None,
        "tns_info": None,
        "ra": num(o["ra"][idx]),
        "internal_key": store.internal_key(idx),
    }
    out.update(store.overrides.get(idx, {}))
    return out


def derived(store, idx: int) -> dict[str, Any]:
    """Galactic coordinates (deg) and distances (Mpc, mag) SkyPortal adds to objects."""
    from .cosmo import galactic

    o = store.objs
    lon, lat = galactic(float(o["ra"][idx]), float(o["dec"][idx]))
    dl, dm, da = distances(float(o["redshift"][idx]))
    return {
        "gal_lon": lon,
        "gal_lat": lat,
        "luminosity_distance": dl,
        "dm": dm,
        "angular_diameter_distance": da,
    }


def source_groups(store, idx: int, group_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """The ``groups`` of a source: each group with active/requested/saved_at/saved_by."""
    out = []
    for gid in store.saved_groups(idx):
        if group_ids is not None and gid not in group_ids:
            continue
        slot = store.group_slot[gid]
        rec = group(store, gid)
        rec.update(
            {
                "active": True,
                "requested": False,
                "saved_at": iso(store.saved_at[idx, slot]),
                "saved_by": user(int(store.saved_by[idx, slot]) or 1),
            }
        )
        out.append(rec)
    return out


def classification(store, row: int, *, votes: bool = False) -> dict[str, Any]:
    """A Classification dict; ``votes`` adds the per-object list's ``votes`` and ``edits``."""
    c = store.cls
    cid = int(c["id"][row])
    author = int(c["author_id"][row])
    out = {
        "classification": c["classification"][row],
        "origin": c["origin"][row],
        "probability": num(c["probability"][row]),
        "ml": bool(c["ml"][row]),
        "id": cid,
        "created_at": iso(c["created"][row]),
        "taxonomy_id": int(c["taxonomy_id"][row]),
        "author_id": author,
        "author_name": refdata.USERS[author - 1]["username"],
        "obj_id": store.objs["id"][int(c["obj"][row])],
        "modified": iso(c["modified"][row]),
    }
    if votes:
        stamp = iso(c["created"][row])
        out["votes"] = [
            {
                "vote": 1,
                "id": cid,
                "created_at": stamp,
                "classification_id": cid,
                "voter_id": author,
                "modified": stamp,
            }
        ]
        out["edits"] = []
    return out


def comment(
    store,
    rtype: str,
    rid: Any,
    c: dict[str, Any],
    *,
    brief_author: bool = False,
    with_groups: bool = True,
) -> dict[str, Any]:
    """A Comment dict (``brief_author`` for ``/api/sources/{id}/comments``)."""
    key = {"sources": "obj_id", "spectra": "spectrum_id", "gcn_event": "gcn_event_id"}[rtype]
    value = store.objs["id"][rid] if rtype == "sources" else rid
    out = {
        key: value,
        "channel": None,
        "id": c["id"],
        "created_at": iso(c["created"]),
        "attachment_name": c.get("attachment_name"),
        "bot": c.get("bot", False),
        "author_id": c["author_id"],
        "system": False,
        "modified": iso(c["modified"]),
        "text": c["text"],
        "origin": None,
    }
    if rtype == "spectra":
        out["obj_id"] = store.objs["id"][int(store.spectra["obj"][store.spectrum_row(rid)])]
    if brief_author:
        out["author"] = refdata.user_brief(c["author_id"])
        out["resourceType"] = rtype
    else:
        if with_groups:
            out["groups"] = [
                group(store, g) for g in c.get("group_ids") or [1] if g in store.groups
            ]
        out["author"] = user(c["author_id"], gravatar=True)
    return out


def annotation(
    store, rtype: str, rid: Any, a: dict[str, Any], *, author: bool = True, groups: bool = False
) -> dict[str, Any]:
    """An Annotation dict (with its author, or with the groups it is shared with)."""
    out = {"modified": iso(a["modified"]), "data": a["data"], "origin": a["origin"]}
    if rtype == "spectra":
        row = store.spectrum_row(rid)
        out.update({"spectrum_id": rid, "obj_id": store.objs["id"][int(store.spectra["obj"][row])]})
    else:
        out["obj_id"] = store.objs["id"][rid]
    out.update({"id": a["id"], "created_at": iso(a["created"]), "author_id": a["author_id"]})
    if groups:
        out["groups"] = [group(store, g) for g in sorted(store.groups)]
    elif author:
        out["author"] = user(a["author_id"])
        out["type"] = "source" if rtype == "sources" else "spectrum"
    return out


def thumbnails(store, idx: int) -> list[dict[str, Any]]:
    """The new/ref/sub thumbnail records; their PNGs are served at ``public_url``."""
    obj_id = store.objs["id"][idx]
    digest = hashlib.md5(obj_id.encode(), usedforsecurity=False).hexdigest()
    stamp = int(store.objs["created"][idx]) + 25_000_000
    out = []
    for k, kind in enumerate(("new", "ref", "sub")):
        path = f"/static/thumbnails/{digest[:2]}/{digest[2:4]}/{obj_id}_{kind}.png"
        when = iso(stamp + 100_000 * k)
        out.append(
            {
                "file_uri": f"/skyportal{path}",
                "type": kind,
                "origin": None,
                "obj_id": obj_id,
                "id": 3 * idx + k + 1,
                "created_at": when,
                "public_url": path,
                "survey": None,
                "is_grayscale": True,
                "modified": when,
            }
        )
    return out
