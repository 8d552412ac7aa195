"""GCN events as astronomers read them: type, time, FAR, source classes, distance, areas.

:func:`parse_notice` reads one GCN VOEvent notice (LIGO/Virgo/KAGRA, Fermi, Swift, ...) into
a flat dict; :func:`event_table` turns the cache's GCN event records (SkyPortal's JSON,
with their ``gcn_notices``, ``properties`` and ``tags``) and the summaries of their
localizations into one row per event, newest first.

What a row holds comes from the best source available, in this order: the event's
``properties`` (SkyPortal stores the notice's classification there), the content of its
notices (the full event record carries it), then its tags (``"NSBH"``, ``"GRB"``,
``"< 1 per 100 years"``). Values absent from all of them are NaN, never guessed. The event
listing carries only tags; a plain sync adds each event's ``properties`` and its
localizations' (SkyPortal's distance and 90% area) from the single-event record (see
:mod:`workbench.sync.event_details`); the cached map's own figures come first.

Units: ``far`` in Hz (false alarms per second) and ``far_per_year`` (``far_is_bound``: only
an upper bound is known, from a tag such as ``"< 1 per 100 years"``); ``source_class`` the
most probable class (from the probabilities, else SkyPortal's class tag); distances in Mpc;
areas in deg²; times UTC.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from .errors import WorkbenchError

__all__ = ["EVENT_COLUMNS", "cached_event_table", "describe_event", "event_table", "parse_notice"]

SECONDS_PER_YEAR = 365.25 * 86400.0

# Source-class probabilities and properties a GW notice carries (VOEvent Param names).
_CLASSES = {
    "BNS": "bns",
    "NSBH": "nsbh",
    "BBH": "bbh",
    "MassGap": "mass_gap",
    "Terrestrial": "terrestrial",
    "HasNS": "has_ns",
    "HasRemnant": "has_remnant",
    "HasMassGap": "has_mass_gap",
}

EVENT_COLUMNS = (
    "dateobs",
    "name",
    "type",
    "far",
    "far_per_year",
    "far_is_bound",
    "source_class",
    "bns",
    "nsbh",
    "bbh",
    "terrestrial",
    "has_ns",
    "has_remnant",
    "distmean",
    "diststd",
    "area_50",
    "area_90",
    "n_notices",
    "notice_types",
    "localization",
    "localizations",
    "tags",
)

# Event types from words in tags, notice streams or ivorns (first match wins).
_TYPE_WORDS = (
    ("GW", ("gw", "lvc", "lvk", "ligo", "virgo", "kagra", "gwnet")),
    ("GRB", ("grb", "fermi", "swift", "integral", "gbm", "bat", "svom", "konus", "ipn")),
    ("Neutrino", ("neutrino", "icecube", "amon")),
    ("X-ray", ("x-ray", "einstein probe", "maxi", "ep_wxt")),
)


def _number(text: Any) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _strip_ns(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_notice(content: str | bytes) -> dict[str, Any]:
    """One GCN VOEvent notice (XML text) as a flat dict.

    Keys: ``ivorn``, ``role``, ``type`` (GW, GRB, Neutrino, X-ray or None), ``name``
    (GraceID, or a GRB's trigger id), ``dateobs`` (UTC ``Timestamp`` of the event),
    ``packet_type`` (GCN notice type number), ``alert_type``, ``far`` (Hz), ``instruments``,
    ``group``, ``ra``/``dec``/``error_radius`` (degrees, when the notice has a position),
    ``skymap_url``, the class probabilities present (``bns``, ``nsbh``, ``bbh``,
    ``mass_gap``, ``terrestrial``, ``has_ns``, ``has_remnant``) and ``params`` (every
    ``Param`` by name, as text). Raises :class:`WorkbenchError` for text that is not XML.
    """
    try:
        root = ElementTree.fromstring(content)
    except ElementTree.ParseError as exc:
        raise WorkbenchError(f"not a VOEvent notice (malformed XML: {exc})") from exc
    params: dict[str, str] = {}
    for el in root.iter():
        if _strip_ns(el.tag) == "Param" and el.get("name"):
            params.setdefault(el.get("name"), el.get("value"))
    ivorn = root.get("ivorn") or ""
    out: dict[str, Any] = {"ivorn": ivorn, "role": root.get("role"), "params": params}
    texts = {_strip_ns(el.tag): (el.text or "").strip() for el in root.iter()}
    iso = texts.get("ISOTime")
    out["dateobs"] = pd.Timestamp(iso) if iso else None
    out["ra"] = _number(texts.get("C1"))
    out["dec"] = _number(texts.get("C2"))
    out["error_radius"] = _number(texts.get("Error2Radius"))
    out["packet_type"] = (
        int(_number(params.get("Packet_Type"))) if "Packet_Type" in params else None
    )
    out["alert_type"] = params.get("AlertType")
    out["far"] = _number(params.get("FAR"))
    out["instruments"] = params.get("Instruments")
    out["group"] = params.get("Group")
    out["skymap_url"] = params.get("skymap_fits") or params.get("LocationMap_URL")
    for key, col in _CLASSES.items():
        if key in params:
            out[col] = _number(params[key])
    if params.get("GraceID"):
        out["name"] = params["GraceID"]
    elif params.get("TrigID"):
        out["name"] = f"trigger {params['TrigID']}"
    else:
        out["name"] = None
    group = (params.get("Group") or "").upper()
    out["type"] = "GW" if group in ("CBC", "BURST") else _type_from_words([ivorn])
    return out


def _type_from_words(words: Iterable[Any]) -> str | None:
    text = " ".join(str(w).lower() for w in words if w)
    for kind, keys in _TYPE_WORDS:
        for key in keys:
            if re.search(rf"(^|[^a-z]){re.escape(key)}([^a-z]|$)", text):
                return kind
    return None


def _far_from_tags(tags: list[str]) -> float:
    """``"< 1 per 100 years"`` (SkyPortal's FAR tag) as an upper bound in Hz."""
    for tag in tags:
        m = re.match(r"<\s*1\s+per\s+([\d.]+)\s+years?", str(tag))
        if m:
            return 1.0 / (float(m.group(1)) * SECONDS_PER_YEAR)
    return math.nan


def _event_row(record: dict[str, Any]) -> dict[str, Any]:
    tags = [str(t) for t in record.get("tags") or []]
    notices = record.get("gcn_notices") or []
    row: dict[str, Any] = {col: math.nan for col in _CLASSES.values()}
    row["far"] = math.nan
    parsed = []
    for notice in notices:
        content = notice.get("content")
        if content:
            try:
                parsed.append(parse_notice(content))
            except WorkbenchError:
                continue  # a notice we cannot read adds nothing; the others still count
    for info in parsed:  # later notices (updates) override earlier ones
        for key in (*_CLASSES.values(), "far"):
            if not math.isnan(_number(info.get(key))):
                row[key] = float(info[key])
    for prop in record.get("properties") or []:
        data = prop.get("data") if isinstance(prop, dict) else None
        for key, value in (data or {}).items():
            col = _CLASSES.get(key) or ("far" if key.upper() == "FAR" else None)
            if col and not math.isnan(_number(value)):
                row[col] = float(value)
    row["far_is_bound"] = False
    if math.isnan(row["far"]):
        row["far"] = _far_from_tags(tags)
        row["far_is_bound"] = not math.isnan(row["far"])  # "< 1 per N years": at most
    probs = {k: row[k] for k in ("bns", "nsbh", "bbh", "terrestrial") if np.isfinite(row[k])}
    class_tags = [t for t in tags if t.upper() in ("BNS", "NSBH", "BBH", "TERRESTRIAL")]
    if probs:
        row["source_class"] = max(probs, key=probs.get).upper()
    else:  # SkyPortal tags an event with its most probable class
        row["source_class"] = class_tags[0].upper() if class_tags else None
    aliases = [str(a) for a in record.get("aliases") or []]
    name = next((info["name"] for info in parsed if info.get("name")), None)
    row["name"] = aliases[0].split("#")[-1] if aliases else name
    streams = [n.get("stream") for n in notices] + [n.get("ivorn") for n in notices]
    row["type"] = next((i["type"] for i in parsed if i.get("type")), None) or _type_from_words(
        [*tags, *streams]
    )
    row["far_per_year"] = row["far"] * SECONDS_PER_YEAR
    row["n_notices"] = len(notices)
    row["notice_types"] = [n.get("notice_type") for n in notices if n.get("notice_type")]
    row["tags"] = tags
    return row


def event_table(
    records: Iterable[dict[str, Any]],
    localization_summary: Callable[[str, str], dict[str, Any] | None] | None = None,
) -> pd.DataFrame:
    """One row per GCN event (SkyPortal event records), newest first.

    ``localization_summary(dateobs, name)`` gives a localization's figures (a
    :meth:`Skymap.summary` dict: ``distmean``/``diststd`` Mpc, ``area_50``/``area_90``
    deg²) or None; the latest localization of each event is summarised. Columns:
    :data:`EVENT_COLUMNS` (``far`` Hz, ``far_per_year``; class probabilities 0..1).
    """
    rows = []
    for record in records:
        row = _event_row(record)
        row["dateobs"] = pd.Timestamp(record["dateobs"]).tz_localize(None)
        locs = record.get("localizations") or []
        names = [
            (loc.get("localization_name") if isinstance(loc, dict) else str(loc)) for loc in locs
        ]
        names = [n for n in names if n]
        row["localizations"] = names
        row["localization"] = names[-1] if names else None
        summary = None
        if localization_summary is not None and row["localization"]:
            summary = localization_summary(
                row["dateobs"].strftime("%Y-%m-%dT%H:%M:%S"), row["localization"]
            )
        for key in ("distmean", "diststd", "area_50", "area_90"):
            value = _number((summary or {}).get(key))
            row[key] = value if np.isfinite(value) else math.nan
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    return frame.sort_values("dateobs", ascending=False, kind="stable").reset_index(drop=True)


def describe_event(row: dict[str, Any]) -> str:
    """A one-line label: ``S190814bv GW 2019-08-14 21:10:39, NSBH 100%, FAR 6.4e-26/yr,
    267 ± 52 Mpc, 90% 23 deg²`` (parts omitted when unknown)."""
    when = pd.Timestamp(row["dateobs"]).strftime("%Y-%m-%d %H:%M:%S")
    named = [row.get("name"), row.get("type"), when]
    parts = [" ".join(str(p) for p in named if isinstance(p, str) and p)]
    classes = {k: _number(row.get(k)) for k in ("bns", "nsbh", "bbh", "terrestrial")}
    known = {k: v for k, v in classes.items() if np.isfinite(v)}
    if known:
        best = max(known, key=known.get)
        parts.append(f"{best.upper()} {known[best]:.0%}")
    elif isinstance(row.get("source_class"), str):
        parts.append(str(row["source_class"]))
    far = _number(row.get("far_per_year"))
    if np.isfinite(far):
        bound = "< " if row.get("far_is_bound") is True else ""
        parts.append(f"FAR {bound}{far:.2g}/yr")
    mean, std = _number(row.get("distmean")), _number(row.get("diststd"))
    if np.isfinite(mean):
        parts.append(f"{mean:.0f} ± {std:.0f} Mpc" if np.isfinite(std) else f"{mean:.0f} Mpc")
    area = _number(row.get("area_90"))
    if np.isfinite(area):
        parts.append(f"90% {area:,.0f} deg²" if area >= 10 else f"90% {area:.2g} deg²")
    return ", ".join(parts)


def _known(value: Any) -> bool:
    """False for None and NaN (a figure the map does not give)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def cached_event_table(wb: Any) -> pd.DataFrame:
    """:func:`event_table` of every GCN event in a Workbench's cache (offline), with the
    figures of each event's latest cached localization."""
    import orjson

    raw = wb.sql("SELECT raw FROM gcn_events")
    records = [orjson.loads(text) for text in raw["raw"]] if len(raw) else []
    cached = wb.gcn_events()
    # The cache knows which localizations it holds (the record lists the server's).
    held = {
        pd.Timestamp(row["dateobs"]).strftime("%Y-%m-%dT%H:%M:%S"): row["localizations"]
        for row in cached.to_dict("records")
    }
    for record in records:
        key = pd.Timestamp(record["dateobs"]).strftime("%Y-%m-%dT%H:%M:%S")
        names = held.get(key)
        if isinstance(names, str):
            names = orjson.loads(names)
        record["localizations"] = [{"localization_name": n} for n in names or []]

    # SkyPortal's own figures of each localization (distmean/diststd Mpc, area_90 deg²), from
    # the single-event record the sync fetches: they stand in where the map is not cached.
    props: dict[tuple[str, str], dict[str, Any]] = {}
    locs = wb.sql(
        "SELECT strftime(dateobs, '%Y-%m-%dT%H:%M:%S') AS key, localization_name, raw "
        "FROM localizations"
    )
    for key, name, text in zip(locs["key"], locs["localization_name"], locs["raw"], strict=True):
        for prop in (orjson.loads(text) if text else {}).get("properties") or []:
            if isinstance(prop, dict) and isinstance(prop.get("data"), dict):
                props.setdefault((key, name), {}).update(prop["data"])

    def summary(dateobs: str, name: str) -> dict[str, Any] | None:
        figures = dict(props.get((dateobs, name), {}))
        try:
            computed = wb.skymap(dateobs, name).summary()
        except WorkbenchError:
            computed = None
        # the map's exact figures first; SkyPortal's fill what the map lacks
        figures.update({k: v for k, v in (computed or {}).items() if _known(v)})
        return figures or None

    return event_table(records, summary)
