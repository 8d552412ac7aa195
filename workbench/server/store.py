"""The in-memory state of the local server: the seeded sky plus everything posted.

One :class:`Store` per server. Handlers (on the IOLoop thread) and tests (on theirs)
call its methods, which hold one re-entrant lock, so a test can mutate state while a
sync reads. Seeded objects stay compact numpy columns (:mod:`.sky`); their details are
generated on demand; only what is posted or changed is stored as Python objects.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from typing import Any

import numpy as np

from . import gcn, refdata
from .children import ChildrenMixin
from .extras import ExtrasMixin
from .sky import ANCHOR_US, GROUP_CAPACITY, KINDS, build_sky
from .timeutil import Clock

QUERY_CACHE_SIZE = 64


class Store(ChildrenMixin, ExtrasMixin):
    """Objects, saves, candidates and their children; thread-safe via :attr:`lock`."""

    def __init__(
        self, *, sources: int = 200, candidates: int = 50, seed: int = 42, galaxies: int = 400
    ) -> None:
        self.lock = threading.RLock()
        self.seed = int(seed)
        self.sizes = {"sources": sources, "candidates": candidates, "galaxies": galaxies}
        self.clock = Clock(ANCHOR_US)
        sky = build_sky(self.seed, sources, candidates)
        self.objs = sky.objs
        self.saved_at = sky.saved_at
        self.saved_by = sky.saved_by
        self.group_slot = sky.group_slot
        self.cands = sky.cands
        self.n_seeded = sky.n_seeded
        self.index = {name: i for i, name in enumerate(self.objs["id"])}
        self.groups = refdata.initial_groups()
        self.taxonomies = refdata.initial_taxonomies()
        self.events = gcn.initial_events()
        self.galaxies = gcn.build_galaxies(self.seed, galaxies)
        self.overrides: dict[int, dict[str, Any]] = {}
        self.query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._seed_children()
        from .resources import Resources

        self.resources = Resources(self)
        self.catalogs = {"CLU_mini": self.galaxies}
        self.filter_versions: dict[int, dict[str, Any]] = {}
        self.tns_submissions: list[dict[str, Any]] = []

    # ----------------------------------------------------------------- objects
    def find(self, obj_id: str) -> int | None:
        """Row index of the object ``obj_id``, or None."""
        return self.index.get(str(obj_id))

    def kind(self, idx: int) -> str:
        """The object's class name in the seed model ("Ia", "II", "periodic", ...)."""
        return KINDS[int(self.objs["kind"][idx])]

    def internal_key(self, idx: int) -> str:
        """A stable UUID per object (SkyPortal's ``internal_key``)."""
        digest = hashlib.md5(
            f"{self.seed}:{self.objs['id'][idx]}".encode(), usedforsecurity=False
        ).digest()
        return str(uuid.UUID(bytes=digest, version=4))

    def add_obj(
        self,
        obj_id: str,
        ra: float,
        dec: float,
        *,
        redshift: float = np.nan,
        origin: str | None = None,
        alias: list[str] | None = None,
        kind: str = "Ia",
        generated_photometry: int = 0,
        when: int | None = None,
    ) -> int:
        """Create an object (not saved anywhere yet); return its index."""
        import healpy as hp

        with self.lock:
            if obj_id in self.index:
                raise ValueError(f"object {obj_id} already exists")
            now = self.clock.now() if when is None else when
            from .timeutil import us_to_mjd

            mjd = us_to_mjd(now)
            row = {
                "id": obj_id,
                "ra": float(ra),
                "dec": float(dec),
                "redshift": redshift,
                "kind": KINDS.index(kind),
                "created": now,
                "modified": now,
                "origin": origin,
                "alias": alias,
                "altdata": None,
                "peak_mjd": mjd - 5,
                "peak_mag": 18.5,
                "lc_start": mjd - 25,
                "lc_end": mjd,
                "period": 1.0,
                "n_phot": generated_photometry,
                "phot_base": self._reserve_phot(generated_photometry),
                "n_comm": 0,
                "comm_base": 0,
                "gen": generated_photometry > 0,
                "healpix": int(hp.ang2pix(2**29, ra, dec, nest=True, lonlat=True)),
            }
            idx = int(self.objs.append([row])[0])
            self.index[obj_id] = idx
            self._grow_saves(idx + 1)
            return idx

    def touch(self, idx: int) -> None:
        """Move the object's ``modified`` to now (posting photometry or a candidate does)."""
        with self.lock:
            self.objs.set("modified", idx, self.clock.now())

    def update_obj(self, idx: int, fields: dict[str, Any]) -> None:
        """PATCH an object's fields (ra/dec/redshift/origin/alias/... or any other key)."""
        with self.lock:
            for key, value in fields.items():
                if key in ("ra", "dec", "redshift", "origin", "alias", "altdata"):
                    col = self.objs[key]
                    if col.dtype.kind == "f":
                        value = np.nan if value is None else float(value)
                    self.objs.set(key, idx, value)
                else:
                    self.overrides.setdefault(idx, {})[key] = value
            self.touch(idx)

    def _grow_saves(self, rows: int) -> None:
        if rows <= len(self.saved_at):
            return
        extra = max(rows, 2 * len(self.saved_at)) - len(self.saved_at)
        self.saved_at = np.vstack([self.saved_at, np.full((extra, self.saved_at.shape[1]), -1)])
        self.saved_by = np.vstack(
            [self.saved_by, np.zeros((extra, self.saved_by.shape[1]), dtype=self.saved_by.dtype)]
        )

    # ------------------------------------------------------------------ groups
    def add_group(self, name: str, *, nickname: str | None = None) -> int:
        """Create a group with a free save slot; return its id."""
        with self.lock:
            gid = max(self.groups) + 1
            slot = max(self.group_slot.values()) + 1
            if slot >= self.saved_at.shape[1]:
                pad = self.saved_at.shape[1] or GROUP_CAPACITY
                self.saved_at = np.hstack([self.saved_at, np.full((len(self.saved_at), pad), -1)])
                self.saved_by = np.hstack(
                    [self.saved_by, np.zeros((len(self.saved_by), pad), dtype=np.int16)]
                )
            now = self.clock.now()
            self.groups[gid] = {
                "id": gid,
                "name": name,
                "single_user_group": False,
                "nickname": nickname,
                "description": None,
                "created_at": now,
                "modified": now,
            }
            self.group_slot[gid] = slot
            return gid

    def slots(self, group_ids: list[int] | None = None) -> np.ndarray:
        """Save-matrix columns of ``group_ids`` (all groups when None)."""
        ids = list(self.groups) if group_ids is None else group_ids
        return np.array([self.group_slot[g] for g in ids if g in self.group_slot], dtype=int)

    def saved_groups(self, idx: int) -> list[int]:
        """Ids of the groups the object is actively saved to, ascending."""
        row = self.saved_at[idx]
        return sorted(g for g, s in self.group_slot.items() if row[s] >= 0)

    def save(
        self, idx: int, group_id: int, *, user_id: int = refdata.ADMIN_ID, when: int | None = None
    ) -> None:
        """Save the object to a group (``saved_at`` = now)."""
        with self.lock:
            slot = self.group_slot[group_id]
            self.saved_at[idx, slot] = self.clock.now() if when is None else when
            self.saved_by[idx, slot] = user_id

    def unsave(self, idx: int, group_id: int) -> None:
        """Remove the object from a group (SkyPortal marks the Source row inactive)."""
        with self.lock:
            self.saved_at[idx, self.group_slot[group_id]] = -1

    # -------------------------------------------------------------- candidates
    def add_candidate(self, idx: int, filter_id: int, passed_at: int) -> int:
        """A candidate row (object passed filter at ``passed_at``); moves ``modified``."""
        with self.lock:
            cid = int(self.cands["id"][-1]) + 1 if len(self.cands) else 1
            self.cands.append(
                [
                    {
                        "id": cid,
                        "obj": idx,
                        "filter_id": filter_id,
                        "passed_at": passed_at,
                        "uploader_id": refdata.ADMIN_ID,
                        "deleted": False,
                    }
                ]
            )
            self.touch(idx)
            return cid

    def candidate_rows(self, idx: int) -> np.ndarray:
        """Row numbers (into :attr:`cands`) of the object's live candidate rows."""
        mask = (self.cands["obj"] == idx) & ~self.cands["deleted"]
        return np.flatnonzero(mask)

    def filter_groups(self) -> dict[int, int]:
        """Filter id -> the group it passes candidates to."""
        return {fid: int(rec["group_id"]) for fid, rec in self.resources.rows["filters"].items()}

    def remember_query(self, ordered: np.ndarray) -> str:
        """Keep an ordered id list for ``useCache=true&queryID=...``; return the queryID."""
        with self.lock:
            qid = str(uuid.uuid4())
            self.query_cache[qid] = ordered
            while len(self.query_cache) > QUERY_CACHE_SIZE:
                self.query_cache.popitem(last=False)
            return qid

    def mutate(self, action: str, n: int = 1, *, seed: int = 0, **options: Any) -> dict[str, Any]:
        """Simulate another user's writes (see :mod:`.mutate`); returns what changed."""
        from .mutate import mutate

        return mutate(self, action, n, seed=seed, **options)

    def counts(self) -> dict[str, int]:
        """Numbers of objects, sources, candidates, classifications, ... (for tests, stats)."""
        with self.lock:
            n = len(self.objs)
            sources = int((self.saved_at[:n] >= 0).any(axis=1).sum())
            live = ~self.cands["deleted"]
            return {
                "objs": n,
                "sources": sources,
                "candidates": len(np.unique(self.cands["obj"][live])),
                "candidate_rows": int(live.sum()),
                "classifications": int((~self.cls["deleted"]).sum()),
                "spectra": int((~self.spectra["deleted"]).sum()),
                "galaxies": len(self.galaxies),
                "gcn_events": len(self.events),
            }
