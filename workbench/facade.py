"""``Workbench``: the one object a notebook needs.

::

    from workbench import Workbench
    wb = Workbench.open()              # URL/token: arguments, env vars, config file
    wb.sync()                          # server -> cache, then pushes queued actions
    wb.candidates()                    # DataFrames from the cache, offline
    wb.classify("ZTF21aaqjmps", "Ia")  # cache + outbox at once; pushed when online

It joins the layers below (client, cache, sync, outbox, skymap, crossmatch) and adds no
logic of its own beyond choosing between them; it works offline on the cache alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from .config import resolve_settings
from .errors import ConfigError, OutboxError, WorkbenchError
from .outbox import Outbox, PushReport
from .sync import Syncer, SyncOptions, SyncSummary


class Workbench:
    """The cache, the outbox and (when online) the server, behind one object."""

    def __init__(self, cache: Any, client: Any | None = None) -> None:
        self.cache = cache
        self.client = client
        self.outbox = Outbox(cache, client)
        self._profile: dict[str, Any] | None = None  # the user, once read (see profile())

    @classmethod
    def open(
        cls,
        url: str | None = None,
        token: str | None = None,
        cache: str | Path | None = None,
        *,
        offline: bool = False,
        read_only: bool = False,
        **client_options: Any,
    ) -> Workbench:
        """Open the cache, and connect to the server unless ``offline`` or unconfigured.

        With no URL or token anywhere (argument, ``SKYPORTAL_URL``/``SKYPORTAL_TOKEN``, the
        config file) the workbench opens offline on the cache, and says so in ``repr``.
        """
        from .cache import Cache
        from .client import SkyPortalClient

        settings = resolve_settings(url=url, token=token, cache_path=cache, require_server=False)
        client = None
        if not offline and settings.url and settings.token:
            client = SkyPortalClient(settings.url, token=settings.token, **client_options)
        return cls(Cache(settings.cache_path, read_only=read_only), client)

    def __repr__(self) -> str:
        where = self.client.url if self.client is not None else "offline"
        return f"Workbench(server={where!r}, cache={str(self.cache.path)!r})"

    # -- server <-> cache ---------------------------------------------------------------
    def sync(
        self, resources: Sequence[str] | None = None, *, background: bool = False, **options: Any
    ) -> SyncSummary:
        """Push queued actions, then bring the cache up to date (see :class:`SyncOptions`).

        With ``background=True`` (scanner first) it returns once the candidates, with
        their photometry and cutouts, are in; the rest continues on a background thread:
        ``summary.still_coming`` names it, ``summary.background.wait()`` waits for it.
        """
        client = self._online("sync")
        if resources is not None:
            options["resources"] = tuple(resources)
        for key in ("group_ids", "filter_ids"):
            if key in options:
                options[key] = tuple(options[key])
        syncer = Syncer(client, self.cache)
        # The file is opened read-write once, before the outbox is read: a read-only open
        # for that one query and then the sync's own cost ~20 ms each.
        with self.cache.keep_open():
            if self.cache.outbox_actions(("pending", "sending", "unknown")):
                self.outbox.push()
            if background:
                summary = syncer.run_scanner_first(SyncOptions(), **options)
                self.background_sync = summary.background
                return summary
            return syncer.run(SyncOptions(), **options)

    def push(self) -> PushReport:
        """Send every queued action to the server now."""
        self._online("push")
        return self.outbox.push()

    def _online(self, what: str) -> Any:
        if self.client is None:
            raise ConfigError(
                f"cannot {what} offline: give Workbench.open a url and token, or set "
                "SKYPORTAL_URL and SKYPORTAL_TOKEN"
            )
        return self.client

    # -- reading the cache ----------------------------------------------------------------
    def sql(self, query: str, params: Any = None) -> pd.DataFrame:
        """Any read-only SQL over the cache's tables, as a DataFrame."""
        return self.cache.sql(query, params)

    def sources(self, group_id: int | None = None) -> pd.DataFrame:
        """Saved sources (one row per object; ``group_ids`` lists its groups); ra/dec in degrees."""
        return self.cache.sources_frame(group_id)

    def candidates(self, *, include_vetted: bool = True) -> pd.DataFrame:
        """Candidates, best score first, with the local vetting decision if any."""
        return self.cache.candidates_frame(include_vetted=include_vetted)

    def photometry(self, obj_id: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Photometry (MJD, AB mag, flux in µJy) of one object, several, or all."""
        return self.cache.photometry_frame(_ids(obj_id))

    def spectra(self, obj_id: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Spectra with their arrays (Angstrom; flux in ``units``)."""
        return self.cache.spectra_frame(_ids(obj_id))

    def classifications(self, obj_id: str | Sequence[str] | None = None) -> pd.DataFrame:
        """Classifications, including local ones still waiting in the outbox (``pending``)."""
        return self.cache.classifications_frame(_ids(obj_id))

    def comments(self, obj_id: str) -> pd.DataFrame:
        return self.cache.comments_frame(obj_id)

    def annotations(self, obj_id: str) -> pd.DataFrame:
        return self.cache.annotations_frame(obj_id)

    def thumbnails(self, obj_id: str) -> dict[str, bytes]:
        """Cutouts of an object: ``{"new": png, "ref": png, "sub": png}``.

        From the cache; when online, cutouts the cache knows of but has not fetched yet are
        downloaded first (the sync fetches only the candidates' ahead of time).
        """
        if self.client is not None:
            from .sync.objects import store_thumbnails, thumbnail_bytes

            wanted = self.cache.thumbnails_to_fetch(obj_id=obj_id)
            if not wanted and not self.cache.thumbnails_of(obj_id):
                self._fetch_thumbnail_records(obj_id)
                wanted = self.cache.thumbnails_to_fetch(obj_id=obj_id)
            if wanted:
                store_thumbnails(
                    self.cache, [(item, thumbnail_bytes(self.client, item[2])) for item in wanted]
                )
        return self.cache.thumbnails_of(obj_id)

    def _fetch_thumbnail_records(self, obj_id: str) -> None:
        """A saved source's cutout records (the sources listing does not carry them)."""
        from .errors import NotFound

        try:
            record = self.client.get(f"/api/sources/{obj_id}", {"includeThumbnails": "true"})
        except NotFound:
            return
        with self.cache.write() as tx:
            tx.upsert_sources([record], complete=("thumbnails",))

    def galaxies(self, catalog: str | None = None) -> pd.DataFrame:
        """Galaxies (ra/dec degrees, distmpc Mpc) of one catalog or all."""
        return self.cache.galaxies_frame(catalog)

    def gcn_events(self) -> pd.DataFrame:
        return self.cache.gcn_events_frame()

    def taxonomies(self) -> pd.DataFrame:
        return self.cache.taxonomies_frame()

    def groups(self) -> pd.DataFrame:
        return self.cache.groups_frame()

    def status(self) -> dict[str, Any]:
        """Rows per table, last sync per resource, and the outbox by status."""
        outbox = self.cache.outbox(None)
        by_status = outbox["status"].value_counts().to_dict() if len(outbox) else {}
        return {
            "server": self.client.url if self.client is not None else None,
            "cache": str(self.cache.path),
            "schema_version": self.cache.schema_version,
            "tables": self.cache.counts(),
            "last_sync": self.cache.sync_overview(),
            "outbox": by_status,
        }

    # -- actions (cache + outbox) ---------------------------------------------------------
    def classify(
        self,
        obj_id: str,
        classification: str,
        *,
        taxonomy: int | str | None = None,
        probability: float = 1.0,
        group_ids: Sequence[int] | None = None,
    ) -> int:
        """Classify an object (a class of the taxonomy; probability 0..1). Returns the action id."""
        if not 0.0 <= probability <= 1.0:
            raise OutboxError(f"probability must be between 0 and 1, got {probability}")
        taxonomy_id = self._taxonomy_for(classification, taxonomy)
        payload = {
            "obj_id": obj_id,
            "classification": classification,
            "taxonomy_id": taxonomy_id,
            "probability": probability,
        }
        if group_ids:
            payload["group_ids"] = list(group_ids)
        return self.outbox.add("classification", self._authored(payload))

    def unclassify(self, classification_id: int) -> int:
        """Delete one of your classifications (by its server id)."""
        return self.outbox.add("classification_delete", {"classification_id": classification_id})

    def save(self, obj_id: str, group_ids: Sequence[int]) -> int:
        """Save an object (a candidate, say) as a source of these groups."""
        payload = {"obj_id": obj_id, "group_ids": list(group_ids)}
        return self.outbox.add("save", self._authored(payload))

    def unsave(self, obj_id: str, group_ids: Sequence[int]) -> int:
        return self.outbox.add("unsave", {"obj_id": obj_id, "group_ids": list(group_ids)})

    def reject(self, obj_id: str) -> int:
        """Reject a candidate (SkyPortal's ``rejected_candidates`` list)."""
        return self.outbox.add("reject", {"obj_id": obj_id})

    def unreject(self, obj_id: str, listing_id: int | None = None) -> int:
        """Take a candidate off the rejected list (the listing's DELETE; its id is looked up
        on the server when not given)."""
        payload: dict[str, Any] = {"obj_id": obj_id}
        if listing_id is not None:
            payload["listing_id"] = int(listing_id)
        return self.outbox.add("unreject", payload)

    def undo(self, action_id: int) -> int | None:
        """Take back an outbox action: dropped while still queued (or refused); once on the
        server, its inverse is queued (save -> unsave, reject -> unreject, classification
        -> its deletion). Returns the inverse action's id, or None when it was dropped.

        An action whose outcome is unknown (sent, no answer) is settled by a push first
        when online; offline it is refused, since its inverse may not be needed.
        """
        action = self._action(action_id)
        if action["status"] in ("sending", "unknown") and self.client is not None:
            self.outbox.push(only=[action_id])
            action = self._action(action_id)
        status, kind, payload = action["status"], action["kind"], action["payload"]
        if status in ("pending", "rejected", "failed"):
            self.outbox.drop(action_id)
            return None
        if status == "dropped":
            return None
        if status != "sent":
            raise OutboxError(
                f"outbox #{action_id} ({kind}) may or may not have reached the server; "
                "connect and push first (the outbox checks), then undo"
            )
        remote = action.get("remote_id")
        if kind == "save":
            return self.unsave(payload["obj_id"], payload["group_ids"])
        if kind == "reject":
            listing = int(remote) if remote not in (None, "", "True") else None
            return self.unreject(payload["obj_id"], listing)
        if kind == "classification" and remote not in (None, ""):
            return self.unclassify(int(remote))
        raise OutboxError(f"outbox #{action_id} ({kind}) cannot be undone from here")

    def _action(self, action_id: int) -> dict[str, Any]:
        found = self.cache.outbox_actions(None, ids=[int(action_id)])
        if not found:
            raise OutboxError(f"no action #{action_id} in the outbox")
        return found[0]

    def comment(
        self, obj_id: str, text: str, *, group_ids: Sequence[int] | None = None, on: str = "sources"
    ) -> int:
        """Comment on a source (``on="sources"``) or a spectrum (``on="spectra"``, ``obj_id`` its id)."""
        if not text.strip():
            raise OutboxError("a comment needs some text")
        payload: dict[str, Any] = {"resource": on, "resource_id": obj_id, "text": text}
        if group_ids:
            payload["group_ids"] = list(group_ids)
        return self.outbox.add("comment", self._authored(payload))

    def upload_spectrum(
        self,
        obj_id: str,
        spectrum: Any,
        *,
        instrument_id: int,
        observed_at: str,
        units: str = "erg/s/cm/cm/AA",
        group_ids: Sequence[int] | None = None,
        label: str | None = None,
    ) -> int:
        """Upload a spectrum (a :class:`workbench.spectra.ParsedSpectrum`, or a mapping with
        ``wavelengths`` [Angstrom], ``fluxes`` and optional ``errors``) through the outbox.

        ``observed_at`` is the UTC time of the observation (ISO-8601). The spectrum shows in
        the cache at once, marked pending, and as the server's own after the next sync.
        """
        get = (
            spectrum.get if isinstance(spectrum, dict) else lambda key: getattr(spectrum, key, None)
        )
        waves, fluxes, errors = get("wavelengths"), get("fluxes"), get("errors")
        if waves is None or fluxes is None:
            raise OutboxError("a spectrum needs wavelengths and fluxes")
        if len(waves) != len(fluxes):
            raise OutboxError(
                f"wavelengths ({len(waves)}) and fluxes ({len(fluxes)}) differ in length"
            )
        payload: dict[str, Any] = {
            "obj_id": obj_id,
            "instrument_id": int(instrument_id),
            "observed_at": str(observed_at),
            "units": units,
            "wavelengths": [float(w) for w in waves],
            "fluxes": [float(f) for f in fluxes],
        }
        if errors is not None:
            payload["errors"] = [float(e) for e in errors]
        if get("header"):
            payload["altdata"] = get("header")
        if group_ids:
            payload["group_ids"] = list(group_ids)
        if label:
            payload["label"] = label
        return self.outbox.add("spectrum", payload)

    def vet(
        self,
        obj_id: str,
        decision: str,
        *,
        group_ids: Sequence[int] | None = None,
        note: str | None = None,
    ) -> int | None:
        """Record a vetting decision on a candidate: ``"save"`` (to ``group_ids``),
        ``"reject"``, or ``"skip"`` (local only). Returns the outbox action id, if any."""
        if decision not in ("save", "reject", "skip"):
            raise OutboxError(f"decision must be 'save', 'reject' or 'skip', not {decision!r}")
        if decision == "save" and not group_ids:
            raise OutboxError("saving a candidate needs at least one group id")
        action_id = None
        # one transaction for the action and the decision (a vetting click writes once)
        with self.cache.write() as tx:
            if decision == "save":
                payload = self._authored({"obj_id": obj_id, "group_ids": list(group_ids or [])})
                action_id = self.outbox.add_in(tx, "save", payload)
            elif decision == "reject":
                action_id = self.outbox.add_in(tx, "reject", {"obj_id": obj_id})
            tx.record_vetting(
                obj_id, decision, group_ids=list(group_ids or []), note=note, action_id=action_id
            )
        if action_id is not None and self.client is not None:
            self.outbox.push(only=[action_id])
        return action_id

    def undo_vet(self, obj_id: str, action_id: int | None = None) -> int | None:
        """Take back a vetting decision on a candidate: its outbox action (if any) is undone
        (see :meth:`undo`) and the local decision cleared, so the candidate is unvetted
        again. Returns the inverse action's id, if one was queued."""
        inverse = None if action_id is None else self.undo(int(action_id))
        with self.cache.write() as tx:
            tx.record_vetting(obj_id, "undo", action_id=inverse)
        return inverse

    # -- localizations and crossmatch (offline, on the cache) -------------------------------
    def skymap(self, dateobs: str, name: str | None = None) -> Any:
        """A cached localization of a GCN event as a :class:`workbench.skymap.Skymap`."""
        from .skymap import read_skymap

        data = self.cache.localization(dateobs, name)
        if data is None:
            raise WorkbenchError(
                f"no localization of {dateobs} in the cache; run wb.sync(['gcn_events'], gcn_event={dateobs!r})"
            )
        return read_skymap(data)

    def crossmatch(
        self,
        dateobs: str,
        name: str | None = None,
        *,
        what: str = "galaxies",
        cumprob: float | None = 0.9,
    ) -> pd.DataFrame:
        """Cached galaxies, sources or candidates inside an event's ``cumprob`` credible region.

        Adds ``probdensity`` (per sr), ``credible_level``, ``searched_area`` (deg²) and, for
        galaxies with distances, ``probdensity_vol`` (per Mpc³) and ``credible_level_vol``.
        """
        from .crossmatch import crossmatch_frame

        frames = {"galaxies": self.galaxies, "sources": self.sources, "candidates": self.candidates}
        if what not in frames:
            raise WorkbenchError(f"what must be one of {sorted(frames)}, not {what!r}")
        positions = frames[what]()
        if what == "galaxies" and "distmpc" in positions:
            positions = positions.assign(
                distance=positions["distmpc"], distance_unc=positions["distmpc_unc"]
            )
        return crossmatch_frame(
            self.skymap(dateobs, name), positions, distance_unc="distance_unc", cumprob=cumprob
        )

    # -- what the vetting panel needs beyond the accessors ---------------------------------
    def saves(self, obj_id: str) -> pd.DataFrame:
        """Where an object is saved: ``group_id``, ``group_name``, ``saved_by``,
        ``saved_at`` (UTC) and ``pending`` (a queued save), earliest first; links a queued
        unsave removes are left out."""
        return self.cache.sql(_SAVES_SQL, {"obj": obj_id})

    def candidate_bundle(self, obj_id: str) -> dict[str, Any]:
        """What the vetting panel shows of one object (see :meth:`candidate_bundles`)."""
        return self.candidate_bundles([obj_id])[obj_id]

    def candidate_bundles(self, obj_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """What the vetting panel shows of each object, all read on ONE cache connection:
        ``{obj_id: {"photometry", "annotations", "classifications", "comments", "saves"
        (DataFrames, as their accessors give them), "thumbnails" (cached PNGs)}}``.

        Each accessor opens its own connection (~20-40 ms apiece on a large cache); a
        scanner pressing keys back to back needs the next candidates read faster than
        that. Cutouts not cached yet are fetched by :meth:`thumbnails` when online.
        """
        from .cache.views import ViewsMixin

        class _OneRead(ViewsMixin):  # the cache's own accessors, on one open reader
            def __init__(self, reader: Any) -> None:
                self._reader = reader

            @contextmanager
            def read(self) -> Iterator[Any]:
                yield self._reader

        ids = list(dict.fromkeys(str(i) for i in obj_ids))
        out: dict[str, dict[str, Any]] = {}
        with self.cache.read() as reader:
            one = _OneRead(reader)
            photometry = one.photometry_frame(ids)
            classifications = one.classifications_frame(ids)
            for obj_id in ids:
                out[obj_id] = {
                    "photometry": _rows_of(photometry, obj_id),
                    "classifications": _rows_of(classifications, obj_id),
                    "annotations": one.annotations_frame(obj_id),
                    "comments": one.comments_frame(obj_id),
                    "saves": reader.sql(_SAVES_SQL, {"obj": obj_id}),
                    "thumbnails": one.thumbnails_of(obj_id),
                }
        if self.client is not None:
            for obj_id, data in out.items():
                if len(data["thumbnails"]) < 3:
                    data["thumbnails"] = self.thumbnails(obj_id)
        return out

    def saved_obj_ids(self, group_ids: Sequence[int] | None = None) -> set[str]:
        """Objects saved (in the cache) to any of ``group_ids`` (to any group if none)."""
        groups = [int(g) for g in group_ids or ()]
        where = " WHERE group_id IN (SELECT unnest($g))" if groups else ""
        frame = self.cache.sql(
            f"SELECT DISTINCT obj_id FROM sources{where}", {"g": groups} if groups else None
        )
        return set(frame["obj_id"].astype(str)) if len(frame) else set()

    def rejected_on_server(self) -> set[str]:
        """Objects in the user's ``rejected_candidates`` list on the server (online only)."""
        client = self._online("read the rejected candidates")
        user_id = self.profile().get("id")
        if user_id is None:
            return set()
        listed = client.get(f"/api/listing/{int(user_id)}", {"listName": "rejected_candidates"})
        return {str(x["obj_id"]) for x in listed or ()}

    def poll_candidates(
        self,
        group_ids: Sequence[int] | None = None,
        resources: Sequence[str] = ("sources", "candidates", "photometry", "thumbnails"),
    ) -> SyncSummary:
        """One incremental sync of what a vetting session follows: new candidates of
        ``group_ids`` and new saves (by anyone), with the new ones' light curves and cutouts.
        Goes through the client's rate limiter like any sync."""
        options: dict[str, Any] = {}
        if group_ids:
            options["group_ids"] = tuple(int(g) for g in group_ids)
        return self.sync(list(resources), **options)

    # -- the user and remembered choices (a small JSON beside the cache) --------------------
    @property
    def settings_path(self) -> Path:
        """``<cache>.settings.json`` beside the cache file: choices panels remember."""
        path = Path(self.cache.path)
        return path.with_name(path.name + ".settings.json")

    def settings(self) -> dict[str, Any]:
        """The remembered settings (an empty dict when none were saved)."""
        import json

        try:
            data = json.loads(self.settings_path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def remember(self, key: str, value: Any) -> None:
        """Remember one setting (JSON-serialisable) for the next session."""
        import json

        data = self.settings()
        data[key] = value
        tmp = self.settings_path.with_name(self.settings_path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True, default=str))
            tmp.replace(self.settings_path)
        except OSError as exc:
            raise WorkbenchError(
                f"could not write {self.settings_path}: {exc}; check the cache directory"
            ) from exc

    def profile(self, *, refresh: bool = False) -> dict[str, Any]:
        """The user's ``id`` and ``username``: remembered from the server when online (a
        failed read is not an error: the remembered one, or an empty dict, is returned)."""
        from .errors import SkyPortalError

        known = getattr(self, "_profile", None) or self.settings().get("profile") or {}
        if self.client is not None and (refresh or not known):
            try:
                data = self.client.get("/api/internal/profile")
            except SkyPortalError:
                data = None
            if isinstance(data, dict) and data.get("id") is not None:
                fresh = {"id": int(data["id"]), "username": data.get("username")}
                if fresh != known:
                    self.remember("profile", fresh)
                known = fresh
        self._profile = known
        return dict(known)

    def _authored(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Add the cached user as the local row's author (display only, never sent)."""
        known = getattr(self, "_profile", None) or self.settings().get("profile") or {}
        self._profile = known
        if known.get("username"):
            payload["author"] = known["username"]
        if known.get("id") is not None:
            payload["author_id"] = int(known["id"])
        return payload

    def _taxonomy_for(self, classification: str, taxonomy: int | str | None) -> int:
        """The id of a cached taxonomy that offers ``classification`` (refuse unknown classes)."""
        from .taxonomy import find_taxonomy

        taxonomies = self.cache.taxonomies_frame()
        if taxonomies.empty:
            raise WorkbenchError(
                "no taxonomy in the cache yet: run wb.sync() (or wb.sync(['taxonomies'])) first"
            )
        return find_taxonomy(taxonomies, classification, taxonomy)

    # -- chasing a counterpart (offline, on the cache; logic in events.py/counterparts.py) --
    def events(self) -> pd.DataFrame:
        """GCN events, newest first: type (GW, GRB...), time, FAR (Hz, per year), source
        classes (BNS, NSBH, BBH, terrestrial), HasNS/HasRemnant, distance mean/std (Mpc),
        50%/90% areas (deg²), number of notices. See :mod:`workbench.events`."""
        from .events import cached_event_table

        return cached_event_table(self)

    def counterparts(
        self,
        dateobs: str,
        name: str | None = None,
        *,
        cumprob: float = 0.9,
        days: Sequence[float] = (0.0, 14.0),
        include_prior: bool = False,
        weight: Any = None,
    ) -> pd.DataFrame:
        """Cached sources and candidates that can be the event's counterpart: inside the
        ``cumprob`` region, first detected ``days`` (0 to 14) days after it, with their light
        curve, 3D probability at a known redshift and likely host. See
        :func:`workbench.counterparts.counterparts`."""
        from .counterparts import event_counterparts

        return event_counterparts(
            self, dateobs, name, cumprob=cumprob, days=days, include_prior=include_prior,
            weight=weight,
        )  # fmt: skip

    def rank_galaxies(
        self,
        dateobs: str,
        name: str | None = None,
        *,
        cumprob: float | None = 0.9,
        weight: Any = None,
        catalog: str | None = None,
    ) -> pd.DataFrame:
        """Cached galaxies in the event's ``cumprob`` credible volume ranked by 3D probability
        (per Mpc³) times ``weight`` (``"mstar"``, ``"B"``, ``"K"``): ``probability``, ``rank``,
        ``cum_probability``. See :func:`workbench.crossmatch.rank_galaxies`."""
        from .counterparts import rank_event_galaxies

        return rank_event_galaxies(
            self, dateobs, name, cumprob=cumprob, weight=weight, catalog=catalog
        )


_LIVE = ", ".join(f"'{s}'" for s in ("pending", "sending", "unknown", "failed"))
_SAVES_SQL = f"""
    SELECT s.group_id, coalesce(g.nickname, g.name, '#' || s.group_id) AS group_name,
           s.saved_by, s.saved_at, s.action_id IS NOT NULL AS pending
    FROM sources s LEFT JOIN groups g ON g.id = s.group_id
    WHERE s.obj_id = $obj AND NOT EXISTS (
        SELECT 1 FROM outbox o WHERE o.kind = 'unsave' AND o.status IN ({_LIVE})
        AND o.payload->>'$.obj_id' = s.obj_id
        AND list_contains(CAST(o.payload->'$.group_ids' AS BIGINT[]), s.group_id))
    ORDER BY s.saved_at NULLS LAST, s.group_id"""


def _rows_of(frame: pd.DataFrame, obj_id: str) -> pd.DataFrame:
    """One object's rows of a multi-object frame (index 0..n-1, as an accessor gives)."""
    if frame.empty:
        return frame
    return frame[frame["obj_id"] == obj_id].reset_index(drop=True)


def _ids(obj_id: str | Sequence[str] | None) -> list[str] | None:
    if obj_id is None:
        return None
    return [obj_id] if isinstance(obj_id, str) else list(obj_id)
