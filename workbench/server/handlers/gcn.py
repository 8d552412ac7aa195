"""GCN events, localizations (JSON and multi-order FITS) and the galaxy catalog."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import mocmap
from ..timeutil import iso, parse_time
from .base import ApiError, BaseHandler, page_slice

AREA_TAGS = ((200, "< 200 sq. deg."), (500, "< 500 sq. deg."), (1000, "< 1000 sq. deg."))


def _loc_summary(event) -> dict[str, Any]:
    m = event.ensure_map()
    levels = event.levels
    area90 = float(m.area[levels <= 0.9].sum() * (180 / np.pi) ** 2)
    order = np.argsort(-m.probdensity)
    cum_area = np.cumsum(m.area[order]) * (180 / np.pi) ** 2
    prob500 = float(m.prob[order][cum_area <= 500].sum())
    props = {"area_90": area90, "probability_500": prob500}
    if m.distmu is not None:
        props.update(distmean=event.dist[0], diststd=event.dist[1])
    tags = [text for limit, text in AREA_TAGS if area90 < limit]
    if prob500 > 0.9:
        tags.append("> 0.9 in 500 sq. deg.")
    return {"properties": props, "tags": tags}


def _tag_records(event, tags: list[str]) -> list[dict[str, Any]]:
    stamp = iso(event.created + 1_800_000)
    return [
        {
            "localization_id": event.id,
            "sent_by_id": 1,
            "modified": stamp,
            "text": t,
            "id": 10 * event.id + k,
            "created_at": stamp,
        }
        for k, t in enumerate(tags)
    ]


def _contour(event) -> dict[str, Any]:
    ra0, dec0 = event.center
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [ra0, dec0]},
            "properties": {"credible_level": 0},
        }
    ]
    for level in (50, 90):
        radius = event.sigma * np.sqrt(-2 * np.log(1 - level / 100))
        angle = np.linspace(0, 2 * np.pi, 73)
        dec = np.clip(dec0 + radius * np.sin(angle), -90, 90)
        ra = (ra0 + radius * np.cos(angle) / max(np.cos(np.radians(dec0)), 1e-3)) % 360
        features.append(
            {
                "type": "Feature",
                "properties": {"credible_level": level},
                "geometry": {"type": "MultiLineString", "coordinates": [np.c_[ra, dec].tolist()]},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def localization_record(event, *, arrays: bool, dist: bool, full: bool) -> dict[str, Any]:
    """A Localization dict (``arrays``: uniq/probdensity; ``dist``: distance layers too)."""
    stamp = iso(event.created + 400_000)
    out: dict[str, Any] = {
        "sent_by_id": 1,
        "dateobs": event.dateobs,
        "created_at": stamp,
        "modified": iso(event.created + 35_000_000),
        "id": event.id,
        "localization_name": event.loc_name,
        "notice_id": event.id,
    }
    summary = _loc_summary(event)
    if arrays:
        m = event.ensure_map()
        out["uniq"] = m.uniq.tolist()
        out["probdensity"] = m.probdensity.tolist()
        if dist:
            for key in ("distmu", "distsigma", "distnorm"):
                values = getattr(m, key)
                out[key] = None if values is None else values.tolist()
        out["contour"] = _contour(event)
    if full:
        out["properties"] = [
            {
                "localization_id": event.id,
                "modified": stamp,
                "data": summary["properties"],
                "sent_by_id": 1,
                "id": event.id,
                "created_at": stamp,
            }
        ]
    out["tags"] = _tag_records(event, summary["tags"])
    if full:
        from ..cosmo import galactic

        lon, lat = galactic(*event.center)
        out["center"] = {
            "ra": event.center[0],
            "dec": event.center[1],
            "gal_lat": lat,
            "gal_lon": lon,
            "ebv": None,
        }
    return out


VOEVENT = """<?xml version="1.0" ?>
<voe:VOEvent xmlns:voe="http://www.ivoa.net/xml/VOEvent/v2.0" version="2.0" role="observation"
 ivorn="{ivorn}">
  <Who><Date>{date}</Date></Who>
  <WhereWhen><ObsDataLocation><ObservationLocation><AstroCoords>
    <Time><TimeInstant><ISOTime>{date}</ISOTime></TimeInstant></Time>
    <Position2D><Value2><C1>{ra}</C1><C2>{dec}</C2></Value2><Error2Radius>{err}</Error2Radius>
    </Position2D></AstroCoords></ObservationLocation></ObsDataLocation></WhereWhen>
  <What><Param name="skymap_fits" value="{name}"/></What>
</voe:VOEvent>
"""


def _notice(event, *, content: bool = False) -> dict[str, Any]:
    stamp = iso(event.created + 59_000)
    ivorn = f"ivo://local/{event.stream}#{event.dateobs}"
    extra = {}
    if content:
        extra["content"] = VOEVENT.format(
            ivorn=ivorn,
            date=event.dateobs,
            ra=event.center[0],
            dec=event.center[1],
            err=event.sigma,
            name=event.loc_name,
        )
    return {
        **extra,
        "stream": event.stream,
        "dateobs": event.dateobs,
        "has_localization": True,
        "id": event.id,
        "created_at": stamp,
        "ivorn": ivorn,
        "sent_by_id": 1,
        "notice_type": event.notice_type,
        "notice_format": "voevent",
        "date": event.dateobs,
        "localization_ingested": True,
        "modified": stamp,
    }


def event_record(event, *, full: bool, notice_content: bool = True) -> dict[str, Any]:
    """A GcnEvent dict (list form, or ``full`` with the localization arrays)."""
    stamp = iso(event.created)
    out: dict[str, Any] = {
        "trigger_id": None,
        "aliases": event.aliases,
        "id": event.id,
        "event_users_ids": None,
        "modified": stamp,
        "created_at": stamp,
        "dateobs": event.dateobs,
        "tach_id": None,
        "sent_by_id": 1,
    }
    if full:
        out.update({"gracedb_labels": {}, "gracedb_log": {}, "summaries": []})
    out["localizations"] = [localization_record(event, arrays=full, dist=False, full=full)]
    if full:
        out.update(
            {
                "comments": [],
                "detectors": [],
                "gcn_notices": [_notice(event, content=notice_content)],
                "gcn_triggers": [],
                "properties": [
                    {
                        "dateobs": event.dateobs,
                        "modified": stamp,
                        "data": event.properties,
                        "sent_by_id": 1,
                        "id": event.id,
                        "created_at": stamp,
                    }
                ]
                if event.properties
                else [],
                "gcnevent_users": [],
                "tags": event.tags,
                "lightcurve": None,
                "event_users": [],
            }
        )
    else:
        out.update(
            {
                "observationplan_requests": [],
                "gcn_notices": [_notice(event)],
                "gcn_triggers": [],
                "tags": event.tags,
            }
        )
    return out


def find_event(store, dateobs: str):
    """The event with this dateobs (fractions and a trailing Z ignored), or None."""
    try:
        key = iso(parse_time(dateobs))
    except ValueError:
        return None
    return store.events.get(key.split(".")[0])


class GcnEventListHandler(BaseHandler):
    """GET ``/api/gcn_event`` -> ``{events, totalMatches}`` (newest first)."""

    async def get(self) -> None:
        page, per = self.page_args(10, max_per_page=1000)
        start, end = self.time_arg("startDate"), self.time_arg("endDate")
        events = sorted(
            self.store.events.values(),
            key=lambda e: e.dateobs,
            reverse=(self.arg("sortOrder") or "desc").lower() == "desc",
        )
        if start is not None:
            events = [e for e in events if parse_time(e.dateobs) >= start]
        if end is not None:
            events = [e for e in events if parse_time(e.dateobs) <= end]
        keep = self.arg("gcnTagKeep")
        if keep:
            wanted = {t.strip() for t in keep.split(",")}
            events = [e for e in events if wanted & set(e.tags)]
        chosen = events[page_slice(len(events), page, per, past_end_empty=True)]
        await self.success(
            {"events": [event_record(e, full=False) for e in chosen], "totalMatches": len(events)}
        )


class GcnEventHandler(BaseHandler):
    """GET ``/api/gcn_event/{dateobs}``: the event with its localization arrays."""

    async def get(self, dateobs: str) -> None:
        event = find_event(self.store, dateobs)
        if event is None:
            raise ApiError("GCN event not found", 404)
        with self.store.lock:
            rec = event_record(
                event, full=True, notice_content=not self.flag("excludeNoticeContent")
            )
        await self.success(rec)


class LocalizationHandler(BaseHandler):
    """GET ``/api/localization/{dateobs}/name/{name}`` (JSON) and ``.../download`` (FITS)."""

    def _event(self, dateobs: str, name: str):
        event = find_event(self.store, dateobs)
        if event is None or event.loc_name != name:
            raise ApiError("Localization not found", 404)
        return event

    async def get(self, dateobs: str, name: str, download: str | None = None) -> None:
        event = self._event(dateobs, name)
        with self.store.lock:
            if download:
                data = mocmap.to_fits(event.ensure_map(), name=name, dateobs=event.dateobs)
                stem = name[:-8] if name.endswith(".fits.gz") else name
                self.send_bytes(data, "application/fits", f"{stem}.multiorder.fits")
                return
            rec = localization_record(event, arrays=True, dist=True, full=False)
        rec.pop("tags", None)
        await self.success(rec)
