"""ASCII spectrum parsing: SkyPortal's own answers on real files, and the refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.errors import SpectrumParseError, WorkbenchError
from workbench.spectra import (
    ParsedSpectrum,
    parse_ascii,
    parse_ascii_file,
    parse_header_lines,
    read_spectrum_csv,
)


def _captures(shared: Path) -> list[Path]:
    return sorted((shared / "reference" / "spectra-parse").glob("*.json"))


def _capture_ids() -> list[str]:
    folder = Path(__file__).resolve().parents[2] / "shared" / "reference" / "spectra-parse"
    return sorted(p.name for p in folder.glob("*.json")) if folder.is_dir() else ["absent"]


@pytest.mark.shared_data
@pytest.mark.parametrize("capture", _capture_ids())
def test_matches_skyportal_capture(shared_dir: Path, capture: str) -> None:
    """Every captured answer of a live SkyPortal 1.4.0: same arrays, same header, same refusals."""
    path = shared_dir / "reference" / "spectra-parse" / capture
    if not path.is_file():
        pytest.skip(f"{capture} not captured")
    record = json.loads(path.read_text())
    request = dict(record["request"])
    text = (shared_dir / "data" / "spectra" / request.pop("ascii_file")).read_text()
    response = record["response"]
    if response["status"] == "error":
        assert record["http_status"] == 400
        with pytest.raises(SpectrumParseError) as info:
            parse_ascii(text, **request)
        message = str(info.value)
        # The same reason as SkyPortal's, in its words where it had clear ones.
        for phrase in (
            "Unable to guess table format",
            "greater than the maximum allowed value",
            "could not convert string to float",
        ):
            if phrase in response["message"]:
                assert phrase in message
        return
    data = response["data"]
    parsed = parse_ascii(text, **request)
    assert parsed.wavelengths.dtype == np.float64
    assert parsed.wavelengths.tolist() == data["wavelengths"]
    assert parsed.fluxes.tolist() == data["fluxes"]
    if "errors" in data:
        assert parsed.errors is not None
        assert parsed.errors.tolist() == data["errors"]
    else:
        assert parsed.errors is None
    assert (parsed.header or None) == data["altdata"]
    out = parsed.to_skyportal()
    for key in ("wavelengths", "fluxes", "altdata"):
        assert out[key] == data[key]
    assert ("errors" in out) == ("errors" in data)


@pytest.mark.shared_data
def test_every_capture_was_checked(shared_dir: Path) -> None:
    """The parametrised test above really covers all captures (none silently skipped)."""
    assert len(_captures(shared_dir)) == len(_capture_ids()) >= 18


@pytest.mark.shared_data
def test_yaml_header_surprises_kept(shared_dir: Path) -> None:
    """Format 1 values follow YAML 1.1 as SkyPortal's do: octal, sexagesimal, booleans, dates."""
    parsed = parse_ascii_file(shared_dir / "data/spectra/ZTF20abwdwoa_20200902_P60_v1.ascii")
    h = parsed.header
    assert h["SER_NO"] == 0o5313416 == 1414926  # '05313416' read as octal
    assert h["OBSTIME"] == pytest.approx(7 * 3600 + 29 * 60 + 46.962556)  # sexagesimal
    assert h["SIMPLE"] is True
    assert h["OBSDATE"] == "2020-09-02"
    assert h["TEL_HA"] == "e01:35:29.93"
    assert h["INSTRUME"] == "SEDM-P60"


@pytest.mark.shared_data
def test_fits_card_header_keeps_only_valid_cards(shared_dir: Path) -> None:
    """Format 2: cards with '=' in column 9 and a FITS value survive, as floats; others drop."""
    parsed = parse_ascii_file(shared_dir / "data/spectra/zac_spec.dat", fluxerr_column=2)
    assert parsed.header == {"MJD-OBS": 59475.616424, "AIRMASS": 1.95}
    assert parsed.errors is not None and parsed.errors.size == parsed.wavelengths.size == 1800


@pytest.mark.shared_data
def test_bad_file_names_the_line(shared_dir: Path) -> None:
    path = shared_dir / "data/spectra/ZTF20abpuxna_20200915_Keck1_v1.ascii.bad"
    with pytest.raises(SpectrumParseError, match=r"line 193 has 9 columns .* line 133"):
        parse_ascii_file(path)


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "n", "first"),
    [
        ("spec.csv", 3051, 3315.61709372),
        ("spec1.csv", 1197, 3315.61709372),
        ("spec2.csv", 1854, 3444.645),
        ("ZTF21aaqjmps_spec.csv", 433, 4020.0),
    ],
)
def test_named_header_csv(shared_dir: Path, name: str, n: int, first: float) -> None:
    path = shared_dir / "data" / "spectra" / name
    with pytest.raises(SpectrumParseError, match="read_spectrum_csv"):
        parse_ascii_file(path)
    parsed = parse_ascii_file(path, named_header=True)
    assert len(parsed) == n and parsed.wavelengths[0] == first
    assert np.all(np.isfinite(parsed.wavelengths)) and np.all(np.isfinite(parsed.fluxes))
    # Same numbers whether found by name or by index.
    by_index = read_spectrum_csv(path.read_text(), 0, 1)
    assert np.array_equal(by_index.fluxes, parsed.fluxes)


@pytest.mark.shared_data
def test_spec_csv_is_spec1_then_spec2(shared_dir: Path) -> None:
    """spec.csv holds the two spectra of spec1/spec2 with an instrument_id column: same floats."""
    folder = shared_dir / "data" / "spectra"
    both = parse_ascii_file(
        folder / "spec.csv", "wavelengths", "fluxes", "instrument_id", named_header=True
    )
    one = parse_ascii_file(folder / "spec1.csv", named_header=True)
    two = parse_ascii_file(folder / "spec2.csv", named_header=True)
    assert np.allclose(
        both.wavelengths, np.concatenate([one.wavelengths, two.wavelengths]), rtol=1e-15, atol=0
    )
    assert np.allclose(both.fluxes, np.concatenate([one.fluxes, two.fluxes]), rtol=1e-15, atol=0)
    assert both.errors is not None and set(both.errors.tolist()) == {1.0, 2.0}


def test_three_columns_and_column_choice() -> None:
    text = "# OBJECT: SN 2021abc\n# EXPTIME = 300.0 / seconds\n1000 1e-17 2e-18\n1001 2e-17 3e-18\n"
    parsed = parse_ascii(text, fluxerr_column=2)
    assert parsed.wavelengths.tolist() == [1000.0, 1001.0]
    assert parsed.errors is not None and parsed.errors.tolist() == [2e-18, 3e-18]
    assert parsed.header == {"OBJECT": "SN 2021abc", "EXPTIME": 300.0}
    swapped = parse_ascii(text, wave_column=0, flux_column=2)
    assert swapped.fluxes.tolist() == [2e-18, 3e-18] and swapped.errors is None


def test_comma_and_tab_delimited() -> None:
    assert parse_ascii("5000,1.5\n5001,1.6\n").fluxes.tolist() == [1.5, 1.6]
    assert parse_ascii("5000\t1.5\n5001\t1.6\n").wavelengths.tolist() == [5000.0, 5001.0]


@pytest.mark.parametrize(
    ("text", "kwargs", "pattern"),
    [
        ("", {}, "no data lines"),
        ("# KEY: 1\n\n", {}, "no data lines"),
        ("1\n2\n3\n", {}, "line 1 has 1 column"),
        ("1 2 3\n4 5 6\n7 8\n", {}, "line 3 has 2 columns where line 1"),
        ("1 2\n3 4\n", {"fluxerr_column": 2}, r"fluxerr_column \(2\) is greater .* \(1\)"),
        ("1 2\n3 4\n", {"wave_column": -1}, "wave_column must be 0 or more"),
        ("1 2\n3 4\n", {"flux_column": "1"}, "flux_column must be a 0-based column index"),
        ("1 2\n3 4\n", {"flux_column": True}, "flux_column must be a 0-based column index"),
        ("1 2\n3 abc\n5 6\n", {}, r"'abc' in flux_column \(column 1\) on line 2"),
        ("1,2,3\n4,,6\n7,8,9\n", {}, r"flux_column \(column 1\) is empty on line 2"),
    ],
)
def test_refusals_name_what_is_wrong(text: str, kwargs: dict, pattern: str) -> None:
    with pytest.raises(SpectrumParseError, match=pattern) as info:
        parse_ascii(text, **kwargs)
    assert isinstance(info.value, WorkbenchError)


def test_refuses_bytes_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(SpectrumParseError, match="decode bytes"):
        parse_ascii(b"1 2\n")  # type: ignore[arg-type]
    with pytest.raises(SpectrumParseError, match="no spectrum file"):
        parse_ascii_file(tmp_path / "nope.ascii")
    binary = tmp_path / "spec.fits"
    binary.write_bytes(b"SIMPLE  =                    T\xff\xfe")
    with pytest.raises(SpectrumParseError, match="not UTF-8"):
        parse_ascii_file(binary)
    plain = tmp_path / "s.txt"
    plain.write_text("1 2\n3 4\n")
    with pytest.raises(SpectrumParseError, match="named_header=True"):
        parse_ascii_file(plain, wave_column="wavelengths")


def test_read_spectrum_csv_refusals() -> None:
    with pytest.raises(SpectrumParseError, match="no column named 'flux'"):
        read_spectrum_csv("wavelengths,fluxes\n1,2\n", flux_column="flux")
    with pytest.raises(SpectrumParseError, match="at least one data line"):
        read_spectrum_csv("wavelengths,fluxes\n")
    with pytest.raises(SpectrumParseError, match=r"'x' in flux_column \(column 1\) on line 3"):
        read_spectrum_csv("wavelengths,fluxes\n1,2\n3,x\n")
    with pytest.raises(SpectrumParseError, match="index from 0 to 1"):
        read_spectrum_csv("wavelengths,fluxes\n1,2\n", fluxerr_column=5)
    parsed = read_spectrum_csv("# RA: 10.5\nw,f,e\n1,2,0.1\n3,4,0.2\n", "w", "f", "e")
    assert parsed.header == {"RA": 10.5}
    assert parsed.errors is not None and parsed.errors.tolist() == [0.1, 0.2]


def test_header_rules_directly() -> None:
    header = parse_header_lines(
        [
            "A: [1, 2]",
            "B: {c: 2020-01-01}",
            "7: yes",  # YAML 1.1: a non-string key and 'yes' as True
            "[not yaml",  # a YAML error is skipped, not fatal
            "TELESCOPE = UH88",  # keyword longer than 8 characters: not a card
            "CHANNEL = B+R",  # not a FITS value: dropped
            "COMMENT   first",
            "COMMENT   second",
            "NAXIS   =                    2 / axes",
            "K = '" + "x" * 120 + "'",  # an unparsable long card: dropped, not a crash
        ]
    )
    assert header == {
        "A": [1, 2],
        "B": {"c": "2020-01-01"},
        "7": True,
        "COMMENT": "  first\n  second",
        "NAXIS": 2.0,
    }
    json.dumps(header)  # JSON-ready, as altdata must be


def test_yaml_and_fits_share_a_key_fits_wins() -> None:
    # "RA: 1" is YAML only; "EXPTIME = 60 / s" is a card that YAML reads as a string.
    header = parse_header_lines(["RA: 00:04:25.70", "EXPTIME =                   60 / s"])
    assert header == {"RA": 265.7, "EXPTIME": 60.0}


def test_parsed_spectrum_repr_and_skyportal_shape() -> None:
    parsed = parse_ascii("3000 1\n3001 2\n")
    assert "2 samples" in repr(parsed) and "3000.0-3001.0 A" in repr(parsed)
    assert parsed.to_skyportal() == {
        "wavelengths": [3000.0, 3001.0],
        "fluxes": [1.0, 2.0],
        "altdata": None,
    }
    assert isinstance(parsed, ParsedSpectrum)
