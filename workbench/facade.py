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

from collections.abc import Sequence
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
    def sync(self, resources: Sequence[str] | None = None, **options: Any) -> SyncSummary:
        """Push queued actions, then bring the cache up to date (see :class:`SyncOptions`)."""
        client = self._online("sync")
        if self.cache.outbox_actions(("pending", "sending", "unknown")):
            self.outbox.push()
        if resources is not None:
            options["resources"] = tuple(resources)
        for key in ("group_ids", "filter_ids"):
            if key in options:
                options[key] = tuple(options[key])
        return Syncer(client, self.cache).run(SyncOptions(), **options)

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
        return self.outbox.add("classification", payload)

    def unclassify(self, classification_id: int) -> int:
        """Delete one of your classifications (by its server id)."""
        return self.outbox.add("classification_delete", {"classification_id": classification_id})

    def save(self, obj_id: str, group_ids: Sequence[int]) -> int:
        """Save an object (a candidate, say) as a source of these groups."""
        return self.outbox.add("save", {"obj_id": obj_id, "group_ids": list(group_ids)})

    def unsave(self, obj_id: str, group_ids: Sequence[int]) -> int:
        return self.outbox.add("unsave", {"obj_id": obj_id, "group_ids": list(group_ids)})

    def reject(self, obj_id: str) -> int:
        """Reject a candidate (SkyPortal's ``rejected_candidates`` list)."""
        return self.outbox.add("reject", {"obj_id": obj_id})

    def comment(
        self, obj_id: str, text: str, *, group_ids: Sequence[int] | None = None, on: str = "sources"
    ) -> int:
        """Comment on a source (``on="sources"``) or a spectrum (``on="spectra"``, ``obj_id`` its id)."""
        if not text.strip():
            raise OutboxError("a comment needs some text")
        payload: dict[str, Any] = {"resource": on, "resource_id": obj_id, "text": text}
        if group_ids:
            payload["group_ids"] = list(group_ids)
        return self.outbox.add("comment", payload)

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
        if decision == "save":
            action_id = self.save(obj_id, group_ids or [])
        elif decision == "reject":
            action_id = self.reject(obj_id)
        with self.cache.write() as tx:
            tx.record_vetting(
                obj_id, decision, group_ids=list(group_ids or []), note=note, action_id=action_id
            )
        return action_id

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

    def _taxonomy_for(self, classification: str, taxonomy: int | str | None) -> int:
        """The id of a cached taxonomy that offers ``classification`` (refuse unknown classes)."""
        from .taxonomy import find_taxonomy

        taxonomies = self.cache.taxonomies_frame()
        if taxonomies.empty:
            raise WorkbenchError(
                "no taxonomy in the cache yet: run wb.sync() (or wb.sync(['taxonomies'])) first"
            )
        return find_taxonomy(taxonomies, classification, taxonomy)


def _ids(obj_id: str | Sequence[str] | None) -> list[str] | None:
    if obj_id is None:
        return None
    return [obj_id] if isinstance(obj_id, str) else list(obj_id)
