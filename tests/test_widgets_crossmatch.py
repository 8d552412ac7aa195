"""The crossmatch panel and the object viewer on a synced cache (a real local server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from widgets import CrossmatchPanel, ObjectViewer
from workbench.facade import Workbench

FAST = {"rate_limit": None, "max_retries": 1, "backoff": 0.01, "timeout": (2, 10)}
GW_DATEOBS = "2019-08-14T21:10:39"


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A module-wide server and synced cache; the tests here only read (and classify on a
    workbench of their own)."""
    from workbench.server import LocalServer

    server = LocalServer(sources=30, candidates=20, seed=5).start()
    cache = tmp_path_factory.mktemp("xm") / "cache.duckdb"
    wb = Workbench.open(server.url, server.token, cache, **FAST)
    wb.sync()
    yield server, wb
    server.stop()


def test_crossmatch_panel_lists_what_is_inside(synced) -> None:  # type: ignore[no-untyped-def]
    _server, wb = synced
    panel = CrossmatchPanel(wb)
    assert GW_DATEOBS in [value for _label, value in panel.event.options]
    panel.event.value = GW_DATEOBS
    assert panel.localization.options, "the GW event's localization is cached"
    panel.run_button.click()
    assert panel.errors.messages == []
    state = panel.state
    galaxies = state.inside("galaxies")
    expected = wb.rank_galaxies(GW_DATEOBS, state.name, cumprob=0.9)
    assert set(galaxies["id"]) == set(expected["id"]) and len(galaxies) > 0
    assert (galaxies["credible_level_vol"] <= 0.9).all()
    # 3D map: ranked by probability per Mpc³, best first, as probabilities that sum to 1
    assert galaxies["id"].tolist() == expected["id"].tolist()
    assert galaxies["probability"].to_numpy() == pytest.approx(expected["probability"])
    assert "3D" in panel.summary.value and "deg²" in panel.summary.value
    assert panel.plot_box.children, "the sky plot is drawn"
    shown = str(galaxies["name"].iloc[0])
    table = panel.tables["galaxies"].value
    assert shown in table and f"{100 * galaxies['probability'].iloc[0]:.2f}%" in table
    # weighted by stellar mass: the panel's ranking is wb.rank_galaxies'
    panel.weight.value = "mstar"
    weighted = wb.rank_galaxies(GW_DATEOBS, state.name, cumprob=0.9, weight="mstar")
    assert state.inside("galaxies")["id"].tolist() == weighted["id"].tolist()
    panel.weight.value = None
    # the event menu reads as astronomers do
    label = next(lab for lab, value in panel.event.options if value == GW_DATEOBS)
    assert label.startswith("S190814bv GW 2019-08-14 21:10:39") and "Mpc" in label

    sources = state.inside("sources")
    assert len(sources) >= 1, "the seeded counterpart lies inside the 90% region"
    panel.cumprob.value = 0.5
    assert len(state.inside("galaxies")) <= len(galaxies)
    assert (state.inside("sources")["credible_level"] <= 0.5).all()
    assert state.area == pytest.approx(state.skymap.area(0.5))

    panel.cumprob.value = 0.9
    assert panel.counterpart.value == str(sources["id"].iloc[0]), "the most probable first"
    panel.counterpart.value = str(sources["id"].iloc[0])
    panel.classify_button.click()
    assert panel.classifier is not None
    assert panel.classifier.state.obj_id == str(sources["id"].iloc[0])
    panel.open_button.click()
    assert panel.errors.messages == []
    assert panel.viewer is not None and panel.viewer.obj_id == str(sources["id"].iloc[0])
    assert panel.object_box.children

    # Another event: the old object, its viewer and classification panel are gone (issue 8)
    other = next(value for _label, value in panel.event.options if value != GW_DATEOBS)
    panel.event.value = other
    assert panel.counterpart.value is None and panel.counterpart.options == ()
    assert panel.classifier is None and panel.viewer is None
    assert panel.classify_box.children == () and panel.object_box.children == ()
    panel.classify_button.click()
    assert "no source or candidate" in panel.errors.messages[-1]


def test_crossmatch_panel_exports_the_shortlist(synced, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _server, wb = synced
    panel = CrossmatchPanel(wb)
    panel.event.value = GW_DATEOBS
    panel.include_prior.value = True  # the seeded sources were seen long before 2019
    panel.days.value = (0.0, 60.0)
    panel.run_button.click()
    assert panel.errors.messages == []
    found = panel.state.inside("counterparts")
    expected = wb.counterparts(GW_DATEOBS, days=(0.0, 60.0), include_prior=True)
    assert len(found) > 0 and found["prior"].any()
    assert found["id"].tolist() == expected["id"].tolist()
    # a click on a row of the counterparts table opens that object
    assert panel.pick_source is not None
    second = str(panel.pick_source.data["id"][-1])
    panel.pick_source.selected.indices = [len(panel.pick_source.data["id"]) - 1]
    assert panel.errors.messages == []
    assert panel.counterpart.value == second and panel.viewer.obj_id == second
    assert panel.classifier is not None and panel.classifier.state.obj_id == second
    paths = panel.export(str(tmp_path / "gw"))
    assert Path(paths["csv"]).exists() and Path(paths["html"]).stat().st_size > 100_000
    assert Path(paths["txt"]).read_text().startswith("Candidate counterparts of S190814bv")


def test_crossmatch_panel_says_what_is_missing(synced, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _server, _wb = synced
    empty = Workbench.open(cache=tmp_path / "empty.duckdb", offline=True)
    panel = CrossmatchPanel(empty)
    assert "no GCN event" in panel.message.value
    panel.run_button.click()
    assert "choose an event" in panel.errors.messages[-1]
    with pytest.raises(Exception, match="between 0 and 1"):
        panel.set_level(1.5)


def test_object_viewer_draws_lightcurve_and_spectra(synced) -> None:  # type: ignore[no-untyped-def]
    _server, wb = synced
    spectra = wb.spectra()
    assert not spectra.empty, "the local server's sources have spectra"
    obj_id = str(spectra["obj_id"].iloc[0])
    viewer = ObjectViewer(wb, obj_id)
    assert viewer.errors.messages == []
    assert type(viewer.lightcurve_box.children[0]).__name__ == "BokehModel"
    assert type(viewer.spectra_box.children[0]).__name__ == "BokehModel"
    assert obj_id in viewer.info.value
    viewer.y_axis.value = "flux"
    assert viewer.errors.messages == []
    viewer.obj.value = "ZTFnothere"
    assert "no photometry of ZTFnothere" in viewer.lightcurve_box.children[0].value
    viewer.obj.value = "  "
    assert "enter an object id" in viewer.errors.messages[-1]
