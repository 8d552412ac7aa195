"""ASCII spectra read the way SkyPortal reads them.

:func:`parse_ascii` gives what SkyPortal's ``POST /api/spectra/parse/ascii`` gives for the same
text: wavelengths (Angstrom), fluxes and optional flux errors (in the file's own units) as
float64 arrays, and the ``#`` header as a dict (SkyPortal's ``altdata``). The rules, worked out
from a live SkyPortal 1.4.0's answers on real files (``../shared/reference/spectra-parse``):

* The table is read by ``astropy.io.ascii`` with ``#`` comments and *no* header line, letting
  astropy guess the delimiter. A file whose rows disagree on their column count is refused
  ("Unable to guess table format"); so is a file whose first line names its columns
  (``wavelengths,fluxes``: the names land in the data and are not numbers). Such CSV files are
  read by :func:`read_spectrum_csv` instead, which SkyPortal does not offer.
* Columns are chosen by 0-based index; an index past the last column is refused.
* Each ``#`` line is one header entry, in either of two forms:

  1. ``# KEY: VALUE``: the line is read as YAML 1.1, so values take YAML's types, including
     its surprises: ``05313416`` is octal (1414926), ``07:29:46.96`` is sexagesimal
     (26986.96), ``True`` is a boolean, ``2020-09-02`` a date (kept as ISO text here).
  2. ``# KEY = VALUE / COMMENT``: the line must be a valid FITS card (keyword of at most 8
     characters, ``=`` in column 9, a FITS-legal value); its value becomes a float when it can
     (``T`` becomes 1.0), else stays text. Cards that are not valid FITS are silently dropped,
     as SkyPortal drops them.

  A key found by both readings keeps the FITS value. A file without ``#`` lines has an empty
  header (SkyPortal answers ``altdata: null``; :meth:`ParsedSpectrum.to_skyportal` does too).

Beyond SkyPortal, and on purpose: negative column indices, empty (masked) cells and an empty
file are refused with a message naming the line or column, rather than read as something else.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from astropy.io import ascii as astropy_ascii
from astropy.io import fits
from astropy.io.fits.verify import VerifyError, VerifyWarning
from astropy.utils.exceptions import AstropyUserWarning, AstropyWarning

from .errors import SpectrumParseError

__all__ = [
    "ParsedSpectrum",
    "parse_ascii",
    "parse_ascii_file",
    "parse_header_lines",
    "read_spectrum_csv",
]

_COMMENTARY = frozenset({"", "COMMENT", "HISTORY", "END"})
_ROLES = ("wave_column", "flux_column", "fluxerr_column")


@dataclass
class ParsedSpectrum:
    """One parsed spectrum: ``wavelengths`` (Angstrom), ``fluxes`` and ``errors`` (flux units
    of the file, ``errors`` is None without an error column) as float64 arrays, and the
    ``header`` parsed from the ``#`` lines (JSON-compatible values)."""

    wavelengths: np.ndarray
    fluxes: np.ndarray
    errors: np.ndarray | None = None
    header: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.wavelengths.size)

    def __repr__(self) -> str:
        span = (
            f"{self.wavelengths.min():.1f}-{self.wavelengths.max():.1f} A" if len(self) else "empty"
        )
        return (
            f"ParsedSpectrum({len(self)} samples, {span}, errors={self.errors is not None}, "
            f"{len(self.header)} header keys)"
        )

    def to_skyportal(self) -> dict[str, Any]:
        """The fields SkyPortal's parse endpoint returns: lists, ``errors`` only when present,
        and ``altdata`` (None for an empty header)."""
        out: dict[str, Any] = {
            "wavelengths": self.wavelengths.tolist(),
            "fluxes": self.fluxes.tolist(),
            "altdata": dict(self.header) or None,
        }
        if self.errors is not None:
            out["errors"] = self.errors.tolist()
        return out


def parse_ascii(
    text: str,
    wave_column: int = 0,
    flux_column: int = 1,
    fluxerr_column: int | None = None,
) -> ParsedSpectrum:
    """Parse an ASCII spectrum exactly as SkyPortal's ``/api/spectra/parse/ascii`` does.

    ``text`` is the file's content; the column arguments are 0-based indices of the
    wavelength (Angstrom), flux and optional flux-error columns. Raises
    :class:`~workbench.errors.SpectrumParseError` naming the line or column that is wrong.
    """
    indices = _check_indices(wave_column, flux_column, fluxerr_column)
    if not isinstance(text, str):
        raise SpectrumParseError(
            f"the spectrum must be given as text (str), not {type(text).__name__}; "
            "decode bytes first or use parse_ascii_file(path)"
        )
    data_lines = _data_line_numbers(text)
    if not data_lines:
        raise SpectrumParseError(
            "the file holds no data lines (only blank or '#' lines): expected at least two "
            "columns, wavelength and flux"
        )
    table = _read_table(text, data_lines)
    ncol = len(table.colnames)
    if ncol < 2:
        raise SpectrumParseError(
            f"the table has {ncol} column; a spectrum needs at least 2 (wavelength, flux)"
        )
    arrays: dict[str, np.ndarray] = {}
    for role, index in indices.items():
        if index is None:
            continue
        if index >= ncol:
            raise SpectrumParseError(
                f"index {role} ({index}) is greater than the maximum allowed value "
                f"({ncol - 1}): the table has {ncol} columns; pass {role}=None or a smaller index"
            )
        arrays[role] = _column_as_float(table[table.colnames[index]], index, role, data_lines)
    return ParsedSpectrum(
        wavelengths=arrays["wave_column"],
        fluxes=arrays["flux_column"],
        errors=arrays.get("fluxerr_column"),
        header=parse_header_lines(table.meta.get("comments", [])),
    )


def parse_ascii_file(
    path: str | PathLike[str],
    wave_column: int | str = 0,
    flux_column: int | str = 1,
    fluxerr_column: int | str | None = None,
    *,
    named_header: bool = False,
) -> ParsedSpectrum:
    """Read a spectrum file: as SkyPortal does (:func:`parse_ascii`), or with
    ``named_header=True`` as a CSV whose first line names the columns
    (:func:`read_spectrum_csv`, where columns may be given by name)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="strict")
    except FileNotFoundError as exc:
        raise SpectrumParseError(f"no spectrum file at {p}") from exc
    except UnicodeDecodeError as exc:
        raise SpectrumParseError(
            f"{p.name} is not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x}): "
            "is it a FITS or binary file?"
        ) from exc
    except OSError as exc:
        raise SpectrumParseError(f"cannot read {p}: {exc.strerror or exc}") from exc
    if named_header:
        return read_spectrum_csv(text, wave_column, flux_column, fluxerr_column)
    for name, value in zip(_ROLES, (wave_column, flux_column, fluxerr_column), strict=True):
        if isinstance(value, str):
            raise SpectrumParseError(
                f"{name}={value!r} is a column name; names need named_header=True"
            )
    return parse_ascii(text, wave_column, flux_column, fluxerr_column)  # type: ignore[arg-type]


def read_spectrum_csv(
    text: str,
    wave_column: int | str = "wavelengths",
    flux_column: int | str = "fluxes",
    fluxerr_column: int | str | None = None,
) -> ParsedSpectrum:
    """Read a comma-separated spectrum whose first non-``#`` line names its columns
    (``wavelengths,fluxes[,errors,...]``), which SkyPortal's parser refuses.

    Columns are chosen by name (case-sensitive) or 0-based index; ``#`` lines before the
    header form the header dict as in :func:`parse_ascii`.
    """
    data_lines = _data_line_numbers(text)
    if len(data_lines) < 2:
        raise SpectrumParseError(
            "a named-header CSV needs a header line and at least one data line; "
            f"found {len(data_lines)} non-comment line(s)"
        )
    try:
        table = astropy_ascii.read(text, format="csv", comment="#", guess=False)
    except Exception as exc:  # astropy raises several unrelated types here
        raise SpectrumParseError(
            f"cannot read the CSV: {_first_line(exc)} (header on line {data_lines[0]})"
        ) from exc
    names = list(table.colnames)
    arrays: dict[str, np.ndarray] = {}
    for role, wanted in zip(_ROLES, (wave_column, flux_column, fluxerr_column), strict=True):
        if wanted is None:
            continue
        index = _resolve_named(wanted, names, role)
        arrays[role] = _column_as_float(table[names[index]], index, role, data_lines[1:])
    return ParsedSpectrum(
        wavelengths=arrays["wave_column"],
        fluxes=arrays["flux_column"],
        errors=arrays.get("fluxerr_column"),
        header=parse_header_lines(table.meta.get("comments", [])),
    )


def parse_header_lines(lines: list[str]) -> dict[str, Any]:
    """Turn ``#`` header lines (comment marker already stripped) into SkyPortal's ``altdata``
    dict: ``KEY: VALUE`` lines by YAML, ``KEY = VALUE / COMMENT`` lines by FITS card rules
    (FITS wins on a shared key). Values are made JSON-compatible (dates as ISO text)."""
    header: dict[str, Any] = {}
    for line in lines:
        header.update(_yaml_entry(line))
    header.update(_fits_entries(lines))
    return {str(k): _jsonable(v) for k, v in header.items()}


# --- table reading ------------------------------------------------------------------------


def _check_indices(wave: Any, flux: Any, fluxerr: Any) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for role, value in zip(_ROLES, (wave, flux, fluxerr), strict=True):
        if value is None and role == "fluxerr_column":
            out[role] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise SpectrumParseError(f"{role} must be a 0-based column index (int), not {value!r}")
        if value < 0:
            raise SpectrumParseError(
                f"{role} must be 0 or more (0 is the first column), not {value}"
            )
        out[role] = int(value)
    return out


def _data_line_numbers(text: str) -> list[int]:
    """1-based numbers of the lines astropy will read as data (not blank, not ``#``)."""
    return [
        i
        for i, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _read_table(text: str, data_lines: list[int]) -> Any:
    try:
        # header_start=None: SkyPortal takes no column-name line; every row is data.
        return astropy_ascii.read(text, comment="#", header_start=None)
    except Exception as exc:  # astropy raises InconsistentTableError, ValueError, ...
        raise SpectrumParseError(_diagnose(text, data_lines, exc)) from exc


def _diagnose(text: str, data_lines: list[int], exc: Exception) -> str:
    """Say which line breaks the table, after astropy gave up guessing its format."""
    lines = text.splitlines()
    first = data_lines[0]
    expected = len(_split_fields(lines[first - 1]))
    for number in data_lines[1:]:
        got = len(_split_fields(lines[number - 1]))
        if got != expected:
            return (
                f"Unable to guess table format: line {number} has {got} columns where line "
                f"{first} (the first data line) has {expected}; fix or remove line {number}"
            )
    if expected < 2:
        return (
            f"Unable to guess table format: line {first} has {expected} column; a spectrum "
            "needs at least 2 (wavelength, flux) separated by spaces, tabs or commas"
        )
    return (
        f"Unable to guess table format ({_first_line(exc)}); the first data line is line "
        f"{first}: {lines[first - 1].strip()[:60]!r}"
    )


def _split_fields(line: str) -> list[str]:
    stripped = line.strip()
    if "," in stripped:
        return stripped.split(",")
    return stripped.split()


def _column_as_float(column: Any, index: int, role: str, data_lines: list[int]) -> np.ndarray:
    mask = np.ma.getmaskarray(column)
    if mask.any():
        row = int(np.flatnonzero(mask)[0])
        raise SpectrumParseError(
            f"{role} (column {index}) is empty on line {_line_of(row, data_lines)}: "
            "every row needs a value"
        )
    values = np.asarray(column)
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError) as exc:
        row = next(i for i, v in enumerate(values.tolist()) if not _is_number(v))
        hint = " (a line naming the columns? read it with read_spectrum_csv)" if row == 0 else ""
        raise SpectrumParseError(
            f"could not convert string to float: {str(values[row])!r} in {role} (column {index}) on "
            f"line {_line_of(row, data_lines)}{hint}"
        ) from exc


def _resolve_named(wanted: int | str, names: list[str], role: str) -> int:
    if isinstance(wanted, str):
        if wanted not in names:
            raise SpectrumParseError(f"{role}: no column named {wanted!r}; the columns are {names}")
        return names.index(wanted)
    if isinstance(wanted, bool) or not isinstance(wanted, int) or not 0 <= wanted < len(names):
        raise SpectrumParseError(
            f"{role}={wanted!r} is not a column name or an index from 0 to {len(names) - 1}"
        )
    return wanted


def _line_of(row: int, data_lines: list[int]) -> int | str:
    return data_lines[row] if row < len(data_lines) else f"(data row {row + 1})"


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _first_line(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


# --- header -------------------------------------------------------------------------------


def _yaml_entry(line: str) -> dict[Any, Any]:
    try:
        value = yaml.safe_load(line)
    except yaml.YAMLError:
        return {}
    return value if isinstance(value, dict) else {}


def _fits_entries(lines: list[str]) -> dict[str, Any]:
    cards = []
    with warnings.catch_warnings():
        # A card that is not valid FITS only warns on verify; make that an exception to skip it.
        warnings.simplefilter("error", AstropyWarning)
        for line in lines:
            try:
                card = fits.Card.fromstring(line)
                card.verify("warn")
            except (VerifyError, VerifyWarning, AstropyUserWarning, ValueError):
                continue
            cards.append(card)
        try:
            hdr = fits.Header(cards)
            # Key by key as a mapping, so repeated COMMENT/HISTORY cards come out joined.
            pairs = [(key, hdr[key]) for key in hdr.keys()]  # noqa: SIM118
        except (VerifyError, VerifyWarning, AstropyUserWarning, ValueError):
            return {}
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in _COMMENTARY:
            out[key] = str(value)
            continue
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            out[key] = value
    return out


_ISO_TYPES = (_dt.datetime, _dt.date, _dt.time)


def _jsonable(value: Any) -> Any:
    """Header values as JSON would carry them (SkyPortal's JSON encoder writes dates as ISO)."""
    if isinstance(value, _ISO_TYPES):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(v) for v in value), key=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value
