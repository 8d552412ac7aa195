"""When an assignment's target rises and sets on its observing run, as SkyPortal says it.

SkyPortal 1.4.0 lists assignments with ``rise_time_utc`` and ``set_time_utc``: from the
run's "calendar noon" (its date at 12:00 UTC) it takes the telescope's next sunset and
sunrise (the Sun's centre at 0 degrees), then the target's next crossing of 30 degrees
altitude upwards after sunset (the previous one when that falls after the sunrise: the
target is already up when the night begins) and downwards after sunset. It uses
astroplan; this module finds the same crossings on a 2-minute grid of astropy altitudes,
linearly interpolated, which reproduces the live server's answer to about 0.1 s
(``tests/data/live-captures/GET_api_assignment.json``). No IERS table is downloaded (the
local server runs offline); its bundled one suffices at this precision.
"""

from __future__ import annotations

import functools

import numpy as np

__all__ = ["rise_and_set_utc"]

RISE_ALTITUDE_DEG = 30.0
_STEP_DAYS = 2.0 / 1440.0


@functools.lru_cache(maxsize=256)
def rise_and_set_utc(
    ra_deg: float,
    dec_deg: float,
    calendar_date: str,
    lat_deg: float,
    lon_deg: float,
    elevation_m: float,
) -> tuple[str | None, str | None]:
    """(rise, set) of a target (ICRS degrees) on the night of ``calendar_date`` at a
    telescope (degrees, metres) as ISO UTC strings with milliseconds; None where it does
    not cross 30 degrees within a day (never up, or always up and no night edge applies)."""
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, SkyCoord, get_sun
    from astropy.time import Time
    from astropy.utils import iers

    noon = Time(f"{str(calendar_date)[:10]}T12:00:00", scale="utc")
    offsets = np.arange(-1.0, 2.0 + _STEP_DAYS / 2, _STEP_DAYS)
    with iers.conf.set_temp("auto_download", False):
        grid = noon + offsets * u.day
        frame = AltAz(
            obstime=grid,
            location=EarthLocation(
                lat=lat_deg * u.deg, lon=lon_deg * u.deg, height=elevation_m * u.m
            ),
        )
        sun = get_sun(grid).transform_to(frame).alt.deg
        target = SkyCoord(ra_deg * u.deg, dec_deg * u.deg).transform_to(frame).alt.deg
    start = 0.0  # the grid counts days from noon
    sunset = _crossing(offsets, sun, 0.0, upward=False, after=start)
    sunrise = _crossing(offsets, sun, 0.0, upward=True, after=start)
    if sunset is None or sunrise is None:
        return None, None
    rise = _crossing(offsets, target, RISE_ALTITUDE_DEG, upward=True, after=sunset)
    if rise is not None and rise > sunrise:
        rise = _crossing(offsets, target, RISE_ALTITUDE_DEG, upward=True, before=sunset)
    setting = _crossing(offsets, target, RISE_ALTITUDE_DEG, upward=False, after=sunset)
    up_at_sunset = float(np.interp(sunset, offsets, target)) > RISE_ALTITUDE_DEG
    if rise is None and up_at_sunset:
        rise = sunset
    if setting is None and up_at_sunset:
        setting = sunrise
    return _isot(noon, rise, start), _isot(noon, setting, start)


def _crossing(
    days: np.ndarray,
    altitude: np.ndarray,
    level: float,
    *,
    upward: bool,
    after: float | None = None,
    before: float | None = None,
) -> float | None:
    """The first crossing of ``level`` (degrees) within a day after ``after``, or the last
    within a day before ``before``, in the grid's days (linearly interpolated)."""
    below = altitude < level
    edges = (
        np.flatnonzero(below[:-1] & ~below[1:])
        if upward
        else np.flatnonzero(~below[:-1] & below[1:])
    )
    a, b = altitude[edges], altitude[edges + 1]
    when = days[edges] + (level - a) / (b - a) * (days[edges + 1] - days[edges])
    if after is not None:
        when = when[(when >= after) & (when <= after + 1.0)]
        return float(when[0]) if when.size else None
    assert before is not None
    when = when[(when <= before) & (when >= before - 1.0)]
    return float(when[-1]) if when.size else None


def _isot(noon, grid_day: float | None, noon_day: float) -> str | None:
    if grid_day is None:
        return None
    import astropy.units as u

    return (noon + (grid_day - noon_day) * u.day).isot
