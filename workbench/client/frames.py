"""Tables the server returns as lists of records, as pandas DataFrames with fixed columns.

Columns keep the server's own names (docs/ARCHITECTURE.md); the conventional ones are
always present, first, with a numeric dtype where they are numbers, so a missing
value is NaN (``mag`` is NaN for a non-detection).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

PHOTOMETRY_COLUMNS = (
    "id", "obj_id", "mjd", "mag", "magerr", "limiting_mag", "flux", "fluxerr", "zp",
    "magsys", "filter", "instrument_name", "origin", "ra", "dec",
)  # fmt: skip
PHOTOMETRY_NUMERIC = ("mjd", "mag", "magerr", "limiting_mag", "flux", "fluxerr", "zp", "ra", "dec")
GALAXY_COLUMNS = (
    "id", "name", "ra", "dec", "distmpc", "distmpc_unc", "mstar", "magb", "magk",
    "redshift", "catalog_name",
)  # fmt: skip
GALAXY_NUMERIC = ("ra", "dec", "distmpc", "distmpc_unc", "mstar", "magb", "magk", "redshift")


def records_frame(
    records: Sequence[dict[str, Any]], columns: Sequence[str], numeric: Sequence[str] = ()
) -> pd.DataFrame:
    """A DataFrame of ``records`` with ``columns`` first (added when missing), then the rest."""
    import pandas as pd

    frame = pd.DataFrame.from_records(list(records))
    for col in columns:
        if col not in frame.columns:
            frame[col] = None
    for col in numeric:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    rest = [c for c in frame.columns if c not in columns]
    return frame[[*columns, *rest]]


def photometry_frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Photometry points (mag/limiting_mag AB mag, flux in µJy at zp 23.9, mjd MJD, ra/dec deg)."""
    return records_frame(records, PHOTOMETRY_COLUMNS, PHOTOMETRY_NUMERIC)


def galaxies_frame(
    records: Sequence[dict[str, Any]], catalog_name: str | None = None
) -> pd.DataFrame:
    """Galaxies (ra/dec degrees, distmpc Mpc, mstar solar masses, magb/magk mag)."""
    frame = records_frame(records, GALAXY_COLUMNS, GALAXY_NUMERIC)
    if catalog_name is not None:  # records carry catalog_id only
        frame["catalog_name"] = frame["catalog_name"].fillna(catalog_name)
    return frame
