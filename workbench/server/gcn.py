"""GCN events, their multi-order localizations and the ``CLU_mini`` galaxy catalog.

The four events carry the captures' ``dateobs`` and localization names. The GW event
(2019-08-14) has distance layers; its 90% credible volume holds a few dozen catalog
galaxies and a counterpart source (see :mod:`.sky`). Galaxies: ``distmpc`` in Mpc,
``mstar`` in solar masses, magnitudes AB-ish; deterministic for the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import healpy as hp
import numpy as np

from . import mocmap
from .columns import Columns
from .refdata import INSTALLED_US
from .sky import GW_CENTER, GW_DISTANCE, GW_SIGMA, HEALPIX_NSIDE, gw_plant
from .timeutil import parse_time

H0 = 67.66  # km/s/Mpc (Planck18)
C_KMS = 299_792.458


@dataclass
class Event:
    """One GCN event with one localization."""

    id: int
    dateobs: str
    aliases: list[str]
    tags: list[str]
    loc_name: str
    center: tuple[float, float]
    sigma: float
    dist: tuple[float, float] | None
    notice_type: str
    stream: str
    properties: dict[str, Any]
    created: int
    skymap: mocmap.MocMap | None = None
    levels: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def ensure_map(self) -> mocmap.MocMap:
        """Build the localization the first time it is needed."""
        if self.skymap is None:
            max_order = 12 if self.sigma < 1 else 10
            self.skymap = mocmap.gaussian(
                self.center[0],
                self.center[1],
                self.sigma,
                max_order=max_order,
                dist=self.dist,
                seed=self.id,
            )
            self.levels = mocmap.credible_levels(self.skymap)
        return self.skymap

    def credible_level_of(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        """2D credible level of each position (1.0 outside the map)."""
        m = self.ensure_map()
        pix = mocmap.lookup(m, ra, dec)
        return np.where(pix >= 0, self.levels[np.clip(pix, 0, None)], 1.0)


def initial_events() -> dict[str, Event]:
    """The captures' four events keyed by dateobs (maps are built lazily)."""
    specs = [
        (
            1,
            "2018-01-16T00:36:53",
            ["FERMI#bn180116026"],
            ["GRB", "Fermi"],
            "214.74000_28.14000_11.19000",
            (214.74, 28.14),
            11.19,
            None,
            "FERMI_GBM_FIN_POS",
            "Fermi",
            {},
        ),
        (
            2,
            "2019-08-14T21:10:39",
            ["LVC#S190814bv"],
            ["GW", "LVC", "NSBH", "H1", "L1", "V1", "< 1 per 100 years"],
            "LALInference.v1.fits.gz",
            GW_CENTER,
            1.2,
            (267.4, 51.6),
            "LVC_UPDATE",
            "LVC",
            {
                "BBH": 0.0,
                "BNS": 0.0,
                "NSBH": 0.99789,
                "HasNS": 0.99789,
                "MassGap": 0.00211,
                "HasRemnant": 0.0,
                "Terrestrial": 0.0,
                "FAR": 2.03e-33,
                "num_instruments": 3,
            },
        ),
        (
            3,
            "2022-08-22T20:26:30",
            [],
            ["AMON", "IceCube", "Neutrino", "Bronze"],
            "273.48340_22.16480_0.52109",
            (273.4834, 22.1648),
            0.52109,
            None,
            "ICECUBE_ASTROTRACK_BRONZE",
            "AMON",
            {},
        ),
        (
            4,
            "2026-08-06T23:02:28",
            [],
            ["X-ray", "Einstein Probe"],
            "12.27800_35.58800_0.05183",
            (12.278, 35.588),
            0.05183,
            None,
            "EP_WXT",
            "EP",
            {},
        ),
    ]
    out = {}
    for eid, dateobs, aliases, tags, name, center, sigma, dist, ntype, stream, props in specs:
        created = max(INSTALLED_US, parse_time(dateobs)) + eid * 1_713_551
        out[dateobs] = Event(
            eid, dateobs, aliases, tags, name, center, sigma, dist, ntype, stream, props, created
        )
    return out


def build_galaxies(seed: int, n: int) -> Columns:
    """The ``CLU_mini`` catalog: ``n`` field galaxies plus a cluster in the GW volume."""
    rng = np.random.default_rng([seed, 41])
    n_gw = min(40, max(n // 10, 5))
    n_field = max(n - n_gw, 0)
    ra = rng.uniform(0, 360, n_field)
    dec = np.degrees(np.arcsin(rng.uniform(-1, 1, n_field)))
    dist = 400.0 * rng.random(n_field) ** (1 / 3)  # uniform in volume out to 400 Mpc
    gra = GW_CENTER[0] + rng.normal(0, 1.0, n_gw) / np.cos(np.radians(GW_CENTER[1]))
    gdec = GW_CENTER[1] + rng.normal(0, 1.0, n_gw)
    gdist = rng.normal(267.4, 45.0, n_gw).clip(60.0, None)
    # the first is the host of the planted counterpart (see .sky.gw_plant): near the centre,
    # at the event's distance, massive, so the most probable galaxy around
    plant = gw_plant(seed)
    if n_gw:
        gra[0], gdec[0], gdist[0] = plant.host_ra, plant.host_dec, plant.host_dist
    ra = np.concatenate([gra, ra]) % 360
    dec = np.concatenate([gdec, dec])
    dist = np.concatenate([gdist, dist])
    total = len(ra)
    mstar = 10 ** rng.normal(9.8, 0.7, total)
    if n_gw:
        mstar[0] = 10**HOST_LOG_MSTAR
        _second_to_the_host(ra, dec, dist, mstar)
    dm = 5 * np.log10(dist * 1e5)
    magb = np.round(dm - 2.5 * np.log10(mstar / 1e10) - 20.3 + rng.normal(0, 0.3, total), 3)
    magk = np.where(
        rng.random(total) < 0.6, np.round(magb - rng.uniform(2.5, 4.0, total), 3), np.nan
    )
    z = dist * H0 / C_KMS
    if n_gw:
        z[0] = plant.host_z  # Planck18, as the counterpart's redshift
    names = np.array([_name(r, d) for r, d in zip(ra, dec, strict=True)], dtype=object)
    stamp = INSTALLED_US + 3_000_000_000
    out = Columns(
        {
            "id": np.arange(1, total + 1, dtype=np.int64),
            "name": names,
            "ra": ra,
            "dec": dec,
            "distmpc": dist,
            "distmpc_unc": np.where(rng.random(total) < 0.5, 0.1 * dist, np.nan),
            "redshift": np.where(rng.random(total) < 0.7, np.round(z, 5), np.nan),
            "mstar": np.where(rng.random(total) < 0.95, mstar, np.nan),
            "magb": magb,
            "magk": magk,
            "sfr_fuv": np.where(
                rng.random(total) < 0.7, 10 ** rng.normal(-0.3, 0.6, total), np.nan
            ),
            "a": np.where(rng.random(total) < 0.2, rng.uniform(0.2, 2.0, total), np.nan),
            "b2a": np.where(rng.random(total) < 0.7, rng.uniform(0.2, 1.0, total), np.nan),
            "pa": np.where(rng.random(total) < 0.65, rng.uniform(0, 180, total), np.nan),
            "healpix": hp.ang2pix(HEALPIX_NSIDE, ra, dec, nest=True, lonlat=True).astype(np.int64),
            "created": np.full(total, stamp, dtype=np.int64),
        }
    )
    if n_gw:  # the host's mass, redshift and distance are known (its distance from its
        # redshift, so no separate uncertainty, which would spread its 3D probability)
        out["mstar"][0] = mstar[0]
        out["redshift"][0] = plant.host_z
        out["distmpc_unc"][0] = np.nan
    return out


HOST_LOG_MSTAR = 11.2  # log10 solar masses of the planted counterpart's host


def _second_to_the_host(ra, dec, dist, mstar) -> None:
    """Keep the planted host (index 0) the most probable galaxy within 1.5 deg of it, with
    or without a stellar-mass weight: a galaxy whose 3D probability (the map's Gaussian
    profile in angle and in distance, to 10%; a galaxy's distance uncertainty only lowers
    its probability, so it is left out here) would rival it is moved 1.75 sigma away in
    distance (a fore- or background galaxy) and kept under half the host's mass. Rare:
    the host sits 0.03-0.1 deg from the centre at the event's distance."""
    cos_dec = np.cos(np.radians(GW_CENTER[1]))
    mean, sd = GW_DISTANCE
    theta = np.hypot((ra - GW_CENTER[0]) * cos_dec, dec - GW_CENTER[1])
    score = np.exp(-0.5 * (theta / GW_SIGMA) ** 2 - 0.5 * ((dist - mean) / sd) ** 2)
    near = np.hypot((ra - ra[0]) * cos_dec, dec - dec[0]) < 1.5
    near[0] = False
    rival = near & ((score >= 0.9 * score[0]) | (score * mstar >= 0.9 * score[0] * mstar[0]))
    dist[rival] = np.where(dist[rival] >= mean, mean + 1.75 * sd, mean - 1.75 * sd)
    mstar[rival] = np.minimum(mstar[rival], 0.5 * mstar[0])


def _name(ra: float, dec: float) -> str:
    h, rem = divmod(ra / 15.0, 1.0)
    m, rem = divmod(rem * 60, 1.0)
    s = rem * 60
    sign = "-" if dec < 0 else "+"
    d, rem = divmod(abs(dec), 1.0)
    dm, rem = divmod(rem * 60, 1.0)
    return f"WBG J{int(h):02d}{int(m):02d}{s:05.2f}{sign}{int(d):02d}{int(dm):02d}{rem * 60:04.1f}"
