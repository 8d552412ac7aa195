"""Chasing a counterpart (issue 10): events, candidates after the event, weighted galaxies."""

from __future__ import annotations

import h5py
import healpy as hp
import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from workbench.counterparts import counterparts, light_curve_summary, luminosity_distance, to_mjd
from workbench.crossmatch import crossmatch, holding, rank_galaxies
from workbench.errors import SkymapError, WorkbenchError
from workbench.events import describe_event, event_table, parse_notice
from workbench.plots import galaxy_ranking
from workbench.skymap import read_skymap
from workbench.skymap_synthetic import gaussian_skymap

RA0, DEC0 = 150.0, 20.0
EVENT = "2026-10-01T12:00:00"
T0 = to_mjd(EVENT)


@pytest.fixture(scope="module")
def sky():
    return gaussian_skymap(RA0, DEC0, 2.0, distmean=120.0, diststd=25.0, max_order=8)


# ---------------------------------------------------------------- weighted galaxy ranking


def _clu(shared_dir) -> pd.DataFrame:
    data = h5py.File(shared_dir / "data/galaxies/CLU_mini.hdf5")["data"][:]
    cat = pd.DataFrame({k: data[k] for k in data.dtype.names})
    cat["name"] = cat["name"].str.decode("utf8")
    return cat


@pytest.mark.parametrize("weight", [None, "mstar", "B"])
def test_weighted_ranking_equals_an_independent_computation_on_clu(shared_dir, weight):
    path = shared_dir / "data/skymaps/LALInference.v1.fits.gz"
    cat = _clu(shared_dir)
    ranked = rank_galaxies(read_skymap(path), cat, cumprob=None, weight=weight)
    # Independently: healpy's reader (flat RING map), the pixel under each galaxy, the
    # ansatz density prob/area * distnorm * N(d; distmu, distsigma), times the weight.
    prob, mu, sigma, dnorm = hp.read_map(str(path), field=range(4), dtype=np.float64)
    nside = hp.npix2nside(prob.size)
    ipix = hp.ang2pix(nside, cat["ra"].to_numpy(), cat["dec"].to_numpy(), lonlat=True)
    d = cat["distmpc"].to_numpy(float)
    dens = prob[ipix] / hp.nside2pixarea(nside) * dnorm[ipix] * norm.pdf(d, mu[ipix], sigma[ipix])
    if weight == "mstar":
        dens = dens * cat["mstar"].to_numpy(float)
    elif weight == "B":
        absolute = cat["magb"].to_numpy(float) - 5 * np.log10(d * 1e6 / 10)
        dens = dens * 10 ** (-0.4 * absolute)
    dens = np.nan_to_num(dens)
    expected = pd.Series(dens / dens.sum(), index=cat["name"])
    got = ranked.set_index("name")["probability"]
    np.testing.assert_allclose(got[expected.index], expected, rtol=1e-9, atol=1e-15)
    assert ranked["rank"].tolist() == list(range(1, len(cat) + 1))
    np.testing.assert_allclose(ranked["cum_probability"], np.cumsum(ranked["probability"]))
    assert ranked["cum_probability"].iloc[-1] == pytest.approx(1.0)
    # "the galaxies holding 90% of the weighted probability": the fewest top ones
    top = holding(ranked, 0.9)
    assert top["probability"].sum() >= 0.9 > top["probability"].iloc[:-1].sum()


def test_weight_names_and_refusals(sky):
    cat = pd.DataFrame(
        {
            "name": ["near", "far"],
            "ra": [RA0, RA0],
            "dec": [DEC0, DEC0],
            "distmpc": [100.0, 200.0],
            "magk": [12.0, 12.0],
            "magb": [14.0, 14.0],
        }
    )
    k = rank_galaxies(sky, cat, weight="K", cumprob=None).set_index("name")["weight"]
    assert k["far"] / k["near"] == pytest.approx(4.0)  # same magnitude, twice as far
    b = rank_galaxies(sky, cat, weight="B", cumprob=None).set_index("name")["weight"]
    assert b["near"] / k["near"] == pytest.approx(10 ** (-0.4 * 2.0))
    with pytest.raises(SkymapError, match="'mstar' \\(stellar mass\\)"):
        rank_galaxies(sky, cat, weight="mstar", cumprob=None)


def test_galaxy_ranking_plot_shows_weighted_probabilities_as_percentages() -> None:
    ranked = pd.DataFrame(
        {"name": ["A", "B"], "probability": [0.75, 0.25], "cum_probability": [0.75, 1.0],
         "probdensity_vol": [1e-5, 3e-5]}
    )  # fmt: skip
    fig, sources = galaxy_ranking(ranked)
    data = sources["galaxies"].data
    assert list(data["name"]) == ["A", "B"]  # by probability, not by density alone
    assert list(data["cum_probability"]) == [0.75, 1.0]
    hover = next(t for t in fig.tools if getattr(t, "tooltips", None))
    assert ("probability", "@score{0.00%}") in hover.tooltips
    table, _ = galaxy_ranking(ranked, as_table=True)
    assert [c.field for c in table.columns][:4] == ["rank", "name", "score", "cum_probability"]
    assert table.columns[2].formatter.format == "0.00%"


# ---------------------------------------------------------------- light curves


def test_light_curve_summary():
    phot = pd.DataFrame(
        {
            "obj_id": ["a"] * 6,
            "mjd": T0 + np.array([-3.0, -1.0, 1.0, 2.0, 3.0, 5.0]),
            "mag": [np.nan, np.nan, 19.0, 18.5, 18.0, np.nan],
            "limiting_mag": [20.0, 20.7, 20.5, 20.5, 20.5, 21.0],
            "filter": ["ztfr", "ztfr", "ztfr", "ztfr", "ztfg", "ztfr"],
        }
    )
    row = light_curve_summary(phot, T0).loc["a"]
    assert row["days_after"] == pytest.approx(1.0)
    assert row["last_nondetection_days"] == pytest.approx(2.0)
    assert row["last_nondetection_limit"] == 20.7  # the depth of the last non-detection
    assert (row["peak_mag"], row["latest_mag"], row["n_detections"]) == (18.0, 18.0, 3)
    assert row["rate_filter"] == "ztfr" and row["rate"] == pytest.approx(-0.5)  # brightening
    empty = light_curve_summary(phot.assign(mag=np.nan), T0)
    assert empty.empty


def test_counterparts_in_region_and_window(sky):
    objects = pd.DataFrame(
        {
            "id": ["inside_new", "inside_old", "outside_new", "inside_late", "no_detection"],
            "ra": [RA0 + 0.2, RA0 - 0.3, RA0 + 40, RA0, RA0],
            "dec": [DEC0, DEC0 + 0.1, DEC0, DEC0 - 0.2, DEC0],
            "redshift": [0.026, np.nan, np.nan, np.nan, np.nan],
        }
    )
    first = {"inside_new": 0.5, "inside_old": -30.0, "outside_new": 1.0, "inside_late": 20.0}
    rows = [
        {"obj_id": i, "mjd": T0 + t + k, "mag": 19.0 + 0.1 * k, "limiting_mag": 20.5}
        for i, t in first.items()
        for k in range(3)
    ]
    rows.append({"obj_id": "no_detection", "mjd": T0 + 1, "mag": np.nan, "limiting_mag": 20.0})
    phot = pd.DataFrame(rows).assign(filter="ztfr")
    out = counterparts(sky, objects, phot, EVENT)
    assert out["id"].tolist() == ["inside_new"]
    row = out.iloc[0]
    assert row["days_after"] == pytest.approx(0.5) and not row["prior"]
    assert row["rate"] == pytest.approx(0.1)  # fading 0.1 mag/day
    # 3D probability at the luminosity distance of its redshift (Planck18)
    dl = luminosity_distance([0.026])[0]
    assert row["luminosity_distance"] == pytest.approx(dl) and 100 < dl < 130
    direct = crossmatch(sky, [row["ra"]], [row["dec"]], [dl])
    assert row["probdensity_vol"] == pytest.approx(direct.probdensity_vol[0])
    assert row["credible_level_vol"] == pytest.approx(direct.credible_level_vol[0])
    # prior detections shown on request, flagged; the window is honoured
    shown = counterparts(sky, objects, phot, EVENT, include_prior=True)
    assert set(shown["id"]) == {"inside_new", "inside_old"}
    assert shown.set_index("id").loc["inside_old", "prior"]
    before = counterparts(sky, objects, phot, EVENT, days=(-60, 14))
    assert "inside_old" not in set(before["id"])  # seen before: never by the window alone
    wide = counterparts(sky, objects, phot, EVENT, days=(0, 30))
    assert set(wide["id"]) == {"inside_new", "inside_late"}
    # photometry may be given as a reader of ids: only the objects in the region are asked
    asked = []
    counterparts(sky, objects, lambda ids: asked.extend(ids) or phot, EVENT)
    assert set(asked) == {"inside_new", "inside_old", "inside_late", "no_detection"}
    with pytest.raises(SkymapError, match="start <= end"):
        counterparts(sky, objects, phot, EVENT, days=(5, 1))


def test_counterparts_on_the_real_maps_with_clu_hosts(shared_dir):
    """GW190814 (3D) with CLU_mini hosts, and GRB220617A's IPN map (2D only)."""
    gw = read_skymap(shared_dir / "data/skymaps/LALInference.v1.fits.gz")
    ranked = rank_galaxies(gw, _clu(shared_dir), cumprob=None, weight="mstar")
    host = ranked.iloc[0]
    when = gw.meta["dateobs"]
    dec = float(host["dec"])
    objects = pd.DataFrame(
        {
            "id": ["near_host", "far_away"],
            "ra": [float(host["ra"]) + 5 / 3600 / np.cos(np.radians(dec)), 200.0],
            "dec": [dec, 60.0],
        }
    )
    t0 = to_mjd(when)
    phot = pd.DataFrame(
        {"obj_id": ["near_host"] * 3 + ["far_away"] * 2, "mjd": t0 + np.array([0.3, 1, 2, 1, 2]),
         "mag": [20.1, 19.9, 20.3, 18.0, 18.1], "filter": "ztfr"}
    )  # fmt: skip
    found = counterparts(gw, objects, phot, when, galaxies=ranked)
    assert found["id"].tolist() == ["near_host"]
    row = found.iloc[0]
    assert row["host_name"] == host["name"] and row["host_rank"] == 1
    assert row["host_sep_arcsec"] == pytest.approx(5.0, abs=0.01)
    from astropy.cosmology import Planck18
    from scipy.optimize import brentq

    z = brentq(lambda v: Planck18.luminosity_distance(v).to_value("Mpc") - host["distmpc"], 0, 1)
    d_a = Planck18.angular_diameter_distance(z).to_value("Mpc")
    assert row["host_offset_kpc"] == pytest.approx(np.radians(5 / 3600) * d_a * 1e3, rel=1e-3)
    # a 2D map: no distance layers, so no 3D probability even with a redshift
    grb = read_skymap(shared_dir / "data/skymaps/GRB220617A_IPN_map_hpx.fits.gz")
    ra0, dec0 = grb.max_position
    near = pd.DataFrame({"id": ["x"], "ra": [ra0], "dec": [dec0], "redshift": [0.1]})
    later = phot.assign(obj_id="x", mjd=phot["mjd"] - t0 + to_mjd("2022-06-17T00:00:00"))
    one = counterparts(grb, near, later, "2022-06-17T00:00:00")
    assert one["id"].tolist() == ["x"] and np.isnan(one["probdensity_vol"].iloc[0])
    assert one["luminosity_distance"].iloc[0] == pytest.approx(luminosity_distance([0.1])[0])


# ---------------------------------------------------------------- events and notices


def test_real_notices_parse(shared_dir):
    events = shared_dir / "data/events"
    gw = parse_notice((events / "GW190814.xml").read_bytes())
    assert (gw["type"], gw["name"], gw["alert_type"]) == ("GW", "S190814bv", "Update")
    assert gw["far"] == pytest.approx(2.03262501422e-33)
    assert gw["nsbh"] == pytest.approx(0.99789) and gw["bns"] == 0.0
    assert gw["has_ns"] == pytest.approx(0.997890295359) and gw["has_remnant"] == 0.0
    assert gw["dateobs"] == pd.Timestamp("2019-08-14T21:10:39.012957")
    assert gw["skymap_url"].endswith("LALInference.v1.fits.gz")
    early = parse_notice((events / "GW190425_initial.xml").read_bytes())
    assert early["type"] == "GW" and early["name"] == "S190425z" and early["far"] > 0
    grb = parse_notice((events / "GRB180116A_Fermi_GBM_Gnd_Pos.xml").read_bytes())
    assert grb["type"] == "GRB" and grb["name"] == "trigger 537755817"
    assert (grb["ra"], grb["dec"], grb["error_radius"]) == (214.74, 28.14, 11.19)
    # as SkyPortal records: notices' content, newest first, with the localization figures
    records = [
        {
            "dateobs": "2019-08-14T21:10:39",
            "aliases": ["LVC#S190814bv"],
            "tags": ["GW"],
            "gcn_notices": [{"content": (events / "GW190814.xml").read_text()}],
            "localizations": [{"localization_name": "LALInference.v1.fits.gz"}],
        },
        {
            "dateobs": "2018-01-16T00:36:53",
            "aliases": ["FERMI#bn180116026"],
            "tags": [],
            "gcn_notices": [
                {"content": (events / "GRB180116A_Fermi_GBM_Gnd_Pos.xml").read_text()},
                {"content": "<not xml"},
            ],
        },
    ]
    sky = read_skymap(shared_dir / "data/skymaps/LALInference.v1.fits.gz")
    table = event_table(records, lambda dateobs, name: sky.summary())
    assert table["name"].tolist() == ["S190814bv", "bn180116026"]
    assert table["type"].tolist() == ["GW", "GRB"]
    assert table["n_notices"].tolist() == [1, 2]
    gw_row = table.iloc[0]
    assert gw_row["nsbh"] == pytest.approx(0.99789)
    assert 200 < gw_row["distmean"] < 300 and 10 < gw_row["area_90"] < 40
    assert np.isnan(table.iloc[1]["distmean"])
    label = describe_event(gw_row.to_dict())
    assert label.startswith("S190814bv GW 2019-08-14 21:10:39, NSBH 100%, FAR 6.4e-26/yr")
    assert "Mpc" in label and "deg²" in label
    unnamed = describe_event({"dateobs": "2026-08-06T23:02:28", "name": np.nan, "type": "X-ray"})
    assert unnamed == "X-ray 2026-08-06 23:02:28"
    with pytest.raises(WorkbenchError, match="malformed XML"):
        parse_notice("<not xml")


def test_event_rows_from_tags_alone():
    """A listing record (no notice content, no properties): what the tags say, no more."""
    record = {
        "dateobs": "2019-08-14T21:10:39",
        "aliases": ["LVC#S190814bv"],
        "tags": ["GW", "LVC", "NSBH", "< 1 per 100 years"],
        "gcn_notices": [{"stream": "LVC", "notice_type": "LVC_UPDATE"}],
    }
    row = event_table([record]).iloc[0]
    assert (row["name"], row["type"], row["source_class"]) == ("S190814bv", "GW", "NSBH")
    assert row["far_is_bound"] and row["far_per_year"] == pytest.approx(0.01)
    assert np.isnan(row["nsbh"]) and np.isnan(row["distmean"])  # unknown, not guessed
    assert describe_event(row.to_dict()) == "S190814bv GW 2019-08-14 21:10:39, NSBH, FAR < 0.01/yr"


# ---------------------------------------------------------------- planted, end to end


def _plant(srv, wb, tmp_path):
    """A GW event of our own centred on a catalog galaxy at 100-250 Mpc, with a new source
    next to that galaxy detected after the event, and two decoys."""
    from workbench.server.gcn import Event
    from workbench.server.timeutil import parse_time

    wb.sync(["groups", "galaxies"])
    galaxies = wb.galaxies()
    pick = galaxies[(galaxies["distmpc"] > 100) & (galaxies["distmpc"] < 250)].iloc[0]
    event = Event(
        99, EVENT, ["LVC#S261001x"], ["GW", "BNS"], "planted.multiorder.fits",
        (float(pick["ra"]), float(pick["dec"])), 1.5, (float(pick["distmpc"]), 20.0),
        "LVC_PRELIMINARY", "LVC", {"BNS": 0.95, "Terrestrial": 0.05, "FAR": 1e-10},
        parse_time(EVENT),
    )  # fmt: skip
    with srv.store.lock:
        srv.store.events[EVENT] = event
    client = wb.client
    dec = float(pick["dec"])
    ra = float(pick["ra"]) + 3 / 3600 / np.cos(np.radians(dec))  # 3 arcsec east
    client.post_source("ZTF26planted", ra, dec, group_ids=[1])
    client.post_source("ZTF26early", ra + 0.3, dec - 0.2, group_ids=[1])  # seen before
    client.post_source("ZTF26far", (ra + 60) % 360, dec, group_ids=[1])  # outside
    phot = []
    for obj, start in (("ZTF26planted", 0.7), ("ZTF26early", -40.0), ("ZTF26far", 1.0)):
        phot.append({"obj_id": obj, "mjd": T0 + start - 2, "limiting_mag": 20.8})
        for k, mag in enumerate((19.2, 18.8, 19.1)):
            phot.append({"obj_id": obj, "mjd": T0 + start + k, "mag": mag, "magerr": 0.05})
    for point in phot:
        client.post("/api/photometry", {"filter": "ztfr", "limiting_mag": 20.5, **point})
    return pick


def test_planted_counterpart_comes_first(make_server, tmp_path):
    from workbench import Workbench

    srv = make_server(sources=40, candidates=10, seed=5)
    wb = Workbench.open(srv.url, srv.token, cache=tmp_path / "c.duckdb")
    pick = _plant(srv, wb, tmp_path)
    wb.sync(["sources", "candidates", "photometry", "gcn_events"], gcn_event=None)
    events = wb.events()
    assert events["dateobs"].iloc[0] == pd.Timestamp(EVENT)  # newest first
    row = events.iloc[0]
    assert (row["name"], row["type"], row["n_notices"]) == ("S261001x", "GW", 1)
    assert row["distmean"] == pytest.approx(pick["distmpc"], rel=0.05)
    assert 0 < row["area_50"] < row["area_90"]
    found = wb.counterparts(EVENT, weight="mstar")
    assert found["id"].iloc[0] == "ZTF26planted"
    assert "ZTF26early" not in set(found["id"]) and "ZTF26far" not in set(found["id"])
    top = found.iloc[0]
    assert top["days_after"] == pytest.approx(0.7, abs=1e-6)
    assert top["last_nondetection_limit"] == pytest.approx(20.8)
    assert top["host_name"] == pick["name"]
    assert top["host_offset_kpc"] < 5 and top["host_sep_arcsec"] == pytest.approx(3, abs=0.1)
    shown = wb.counterparts(EVENT, include_prior=True)
    assert shown.set_index("id").loc["ZTF26early", "prior"]
    # the host ranks first among the galaxies around the counterpart
    from workbench.counterparts import candidate_hosts

    ranked = wb.rank_galaxies(EVENT, cumprob=0.9)
    assert pick["name"] in set(ranked["name"])
    hosts = candidate_hosts(found.iloc[:1], wb.galaxies())
    assert hosts["galaxy_name"].iloc[0] == pick["name"]
    assert ranked["probability"].sum() == pytest.approx(1.0)
    # ---- the shortlist: CSV, circular draft, standalone HTML report (API and CLI)
    from workbench.cli import main
    from workbench.shortlist import circular_table, html_report, write_shortlist

    csv = write_shortlist(found, tmp_path / "shortlist.csv")
    table = pd.read_csv(csv)
    assert table["id"].iloc[0] == "ZTF26planted" and table["rank"].iloc[0] == 1
    assert {"host_name", "host_distmpc", "first_mag", "last_nondetection_limit"} <= set(table)
    text = circular_table(found, event="S261001x")
    header, rule, first = text.splitlines()[2:5]
    assert header.startswith("Name") and "Host" in header and set(rule) <= {"-", "+", " "}
    assert first.startswith("ZTF26planted") and pick["name"] in first and "19.20" in first
    report = html_report(
        found, tmp_path / "report.html", skymap=wb.skymap(EVENT), galaxies=ranked,
        photometry=wb.photometry(["ZTF26planted"]), event="S261001x",
    )  # fmt: skip
    page = report.read_text()
    assert "ZTF26planted" in page and "Bokeh" in page and "cdn.bokeh.org" not in page
    wb.cache.close()
    out = tmp_path / "cli.csv"
    code = main(
        ["crossmatch", EVENT, "--counterparts", "--weight", "mstar", "--out", str(out),
         "--cache", str(tmp_path / "c.duckdb"), "--report", str(tmp_path / "cli.html"),
         "--circular", str(tmp_path / "cli.txt")]
    )  # fmt: skip
    assert code == 0
    assert pd.read_csv(out)["id"].iloc[0] == "ZTF26planted"
    assert "ZTF26planted" in (tmp_path / "cli.txt").read_text()
    assert (tmp_path / "cli.html").stat().st_size > 100_000  # BokehJS inline
    gal_out = tmp_path / "galaxies.csv"
    code = main(
        ["crossmatch", EVENT, "--galaxies", "--weight", "mstar", "--cumprob", "0.9",
         "--out", str(gal_out), "--cache", str(tmp_path / "c.duckdb")]
    )  # fmt: skip
    cli_ranked = pd.read_csv(gal_out)
    assert code == 0 and cli_ranked["rank"].tolist() == list(range(1, len(cli_ranked) + 1))
    assert (cli_ranked["credible_level"] <= 0.9).all()  # the CLI's region is the 2D one
    assert cli_ranked["probability"].sum() == pytest.approx(1.0)
