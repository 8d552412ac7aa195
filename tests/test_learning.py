"""The learned vetting queue (issue 11): labels, features, training, the time split, the
queue's fallback and offline use, on a cache synced from the local server."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sync_helpers import copy_cache

from workbench.cache import Cache
from workbench.facade import Workbench
from workbench.learning import (
    FEATURES,
    MIN_DECISIONS,
    candidate_features,
    group_labels,
    label_groups,
    load_group_model,
    refresh_group_models,
    score_queue,
    train_group_model,
)
from workbench.learning.model import time_split, time_split_metrics

RESOURCES = ("groups", "sources", "candidates", "photometry", "galaxies")
SEED = {"sources": 100, "candidates": 400, "seed": 3}


@pytest.fixture(scope="module")
def synced(tmp_path_factory):
    """A cache synced once from a local server whose candidates carry the hidden truth;
    yields (cache path, server store). Tests that write copy the file first."""
    from workbench.server import LocalServer

    path = tmp_path_factory.mktemp("learning") / "synced.duckdb"
    with LocalServer(**SEED) as srv:
        wb = Workbench.open(srv.url, srv.token, path, rate_limit=None)
        wb.sync(resources=RESOURCES, progress=False)
        wb.cache.close()  # the sync's log is folded in after it returns: copies wait for it
        yield path, srv.store


@pytest.fixture
def wb(synced, tmp_path):
    """An offline Workbench on a private copy of the synced cache."""
    path = tmp_path / "copy.duckdb"
    copy_cache(synced[0], path)
    return Workbench(Cache(path))


def test_labels_follow_the_groups_saves_and_local_decisions(wb):
    assert label_groups(wb) == [3, 4]  # the groups the filters pass candidates to
    labels = group_labels(wb, 3)
    assert len(labels) >= MIN_DECISIONS
    assert labels["wanted"].any() and not labels["wanted"].all()
    assert labels["decided_at"].is_monotonic_increasing
    saved = set(wb.sql("SELECT obj_id FROM sources WHERE group_id = 3")["obj_id"])
    wanted = set(labels.loc[labels["wanted"].astype(bool), "obj_id"])
    assert wanted <= saved
    # a local rejection of a wanted candidate makes it not wanted, decided now
    obj = sorted(wanted)[0]
    wb.vet(obj, "reject")
    after = group_labels(wb, 3).set_index("obj_id")
    assert not after.loc[obj, "wanted"]
    assert after.loc[obj, "source"] == "local"
    assert after.loc[obj, "decided_at"] == after["decided_at"].max()


def test_features_are_documented_and_as_of_the_first_days(wb):
    features = candidate_features(wb)
    assert list(features.columns) == [f.name for f in FEATURES]
    assert all(f.unit is not None and f.meaning for f in FEATURES)
    assert features.index.is_unique and len(features) == len(wb.candidates())
    assert features["n_det"].ge(0).all() and features["score"].between(0, 1).all()
    # a longer look-ahead window never sees fewer points
    wider = candidate_features(wb, window_days=30.0)
    assert (wider["n_det"] >= features["n_det"]).all()
    assert (wider["n_det"] > features["n_det"]).any()


def test_training_is_deterministic_for_a_seed(wb):
    a = train_group_model(wb, 3, seed=7, store=False)
    b = train_group_model(wb, 3, seed=7, store=False)
    features = candidate_features(wb)
    assert np.array_equal(a.predict(features), b.predict(features))
    assert a.metrics == b.metrics
    logistic = train_group_model(wb, 3, kind="logistic", seed=7, store=False)
    assert np.array_equal(logistic.predict(features), logistic.predict(features))


def test_the_time_split_never_trains_on_a_later_decision(wb):
    labels = group_labels(wb, 4)
    train, split_at = time_split(labels)
    assert train.any() and (~train).any()
    assert (labels.loc[train, "decided_at"] < split_at).all()
    assert (labels.loc[~train, "decided_at"] >= split_at).all()
    assert not set(labels.loc[train, "obj_id"]) & set(labels.loc[~train, "obj_id"])
    # a decision taken now (a local save) lands on the test side, never in training
    newest = labels.iloc[-1]["obj_id"]
    unlabeled = group_labels(wb, 4, include_unlabeled=True)
    pending = unlabeled.loc[unlabeled["wanted"].isna(), "obj_id"]
    obj = pending.iloc[0] if len(pending) else newest
    wb.vet(obj, "save", group_ids=[4])
    labels = group_labels(wb, 4)
    train, _ = time_split(labels)
    assert obj not in set(labels.loc[train, "obj_id"])
    figures = time_split_metrics(candidate_features(wb, labels["obj_id"]), labels)
    assert figures["n_train"] == int(train.sum())
    for key in ("precision_at_10", "precision_at_20", "precision_at_50", "auprc"):
        assert 0.0 <= figures[key] <= 1.0
        assert key in figures["score"] and key in figures["random"]


def test_the_learned_order_beats_random_on_the_newest_decisions(wb):
    model = train_group_model(wb, 3, seed=0, store=False)
    figures = model.metrics
    assert figures["auprc"] > figures["random"]["auprc"]
    assert figures["precision_at_20"] > figures["random"]["precision_at_20"]


def test_the_model_is_stored_with_its_version_and_label_range(wb):
    first = train_group_model(wb, 3)
    second = train_group_model(wb, 3)
    assert (first.version, second.version) == (1, 2)
    loaded = load_group_model(wb, 3)
    assert loaded is not None and loaded.version == 2
    assert loaded.features == second.features and loaded.n_decisions == second.n_decisions
    assert loaded.label_from == second.label_from and loaded.label_to == second.label_to
    features = candidate_features(wb)
    assert np.allclose(loaded.predict(features), second.predict(features))
    assert load_group_model(wb, 4) is None


def test_score_queue_offline_with_probabilities_and_drivers(synced, tmp_path):
    path = tmp_path / "offline.duckdb"
    copy_cache(synced[0], path)
    wb = Workbench.open(cache=path, offline=True)
    assert wb.client is None
    queue = wb.candidates(include_vetted=False)
    result = score_queue(wb, [3], queue)
    assert result.ready, result.message
    assert "trained on" in result.message and "decisions" in result.message
    assert set(result.scores.index) == set(queue["id"])
    assert result.scores["p_wanted"].between(0, 1).all()
    drivers = result.scores["drivers"]
    assert drivers.str.len().gt(0).all()
    assert drivers.str.contains("mag|days|arcsec|Mpc|deg|=").all()
    assert {"precision_at_10", "precision_at_20", "precision_at_50", "auprc"} <= set(result.metrics)
    # the model was stored: the next call loads it instead of training
    assert load_group_model(wb, 3) is not None
    again = score_queue(wb, [3], queue)
    assert again.scores["p_wanted"].equals(result.scores["p_wanted"])


def test_learned_probability_follows_the_hidden_truth(synced, wb):
    store = synced[1]
    result = score_queue(wb, [3], wb.candidates())
    truth = pd.Series(store.objs["real"], index=list(store.objs["id"]))
    p = result.scores["p_wanted"]
    real = truth.reindex(p.index).astype(bool)
    assert p[real].mean() > p[~real].mean() + 0.2


def test_no_decisions_falls_back_to_the_score_order(tmp_path, wb):
    empty = Workbench(Cache(tmp_path / "empty.duckdb"))
    result = score_queue(empty, [3], pd.DataFrame({"id": []}))
    assert not result.ready and "0 decisions" in result.message
    assert list(result.scores.columns) == ["p_wanted", "drivers"]
    # a group with no candidates in a full cache: not ready, says why, scores are NaN
    queue = wb.candidates()
    result = score_queue(wb, [5], queue)
    assert not result.ready
    assert f"needs {MIN_DECISIONS}" in result.message and "score order" in result.message
    assert result.scores["p_wanted"].isna().all() and len(result.scores) == len(queue)
    with pytest.raises(Exception, match="decisions"):
        train_group_model(empty, 3)


def test_refresh_refits_only_models_that_new_decisions_made_stale(wb):
    train_group_model(wb, 3)
    assert refresh_group_models(wb, [3]) == {}
    unlabeled = group_labels(wb, 3, include_unlabeled=True)
    obj = unlabeled.loc[unlabeled["wanted"].isna(), "obj_id"].iloc[0]
    wb.vet(obj, "reject")
    queue = wb.candidates(include_vetted=False)
    assert "1 newer decisions" in score_queue(wb, [3], queue).message
    refreshed = refresh_group_models(wb, [3], min_new=1)
    assert refreshed[3].version == 2 and load_group_model(wb, 3).version == 2
    assert "newer" not in score_queue(wb, [3], queue).message


def test_the_panels_learned_order_refits_as_decisions_arrive(wb):
    """Offline on the synced copy: new decisions make the stored model stale, and the panel
    (what its live poll calls) refits it and re-ranks, keeping the shown candidate."""
    from widgets import VettingPanel

    train_group_model(wb, 3)
    panel = VettingPanel(wb, group_ids=[3], order="learned", poll_seconds=None, background=False)
    try:
        assert panel.state.order == "learned"
        assert panel.refresh_learned(min_new=1) is False  # nothing new yet
        shown = panel.state.current
        unlabeled = group_labels(wb, 3, include_unlabeled=True)
        obj = unlabeled.loc[unlabeled["wanted"].isna(), "obj_id"].iloc[-1]
        wb.vet(obj, "reject")
        assert panel.refresh_learned(min_new=1) is True
        assert load_group_model(wb, 3).version == 2
        assert panel.state.current == shown
        assert "refreshed" in panel.message.value
    finally:
        panel.close()
