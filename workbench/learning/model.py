"""A per-group model of what the group saves, trained off the interactive path and kept in
the cache; :func:`score_queue` orders the vetting queue with it.

* :func:`train_group_model` reads the group's decisions (:mod:`.labels`) and the features
  (:mod:`.features`), measures the model on a time split (trained on the older 75% of the
  decisions, tested on the newer 25%: precision at 10/20/50 and the area under the
  precision-recall curve, beside the server's score order and a random order), refits on
  every decision and stores the model in the cache table ``learning_models`` with its
  version, features, label date range and figures.
* :func:`score_queue` (the vetting panel's call) uses the stored model (saying how many
  decisions arrived since); it trains one only when there is none and the data is small
  (:data:`TRAIN_ON_DEMAND_MAX` decisions); under :data:`MIN_DECISIONS` it says the queue
  keeps the score order. :func:`refresh_group_models`, after a sync, refits the models
  that new decisions have made stale.

The classifier is scikit-learn's ``HistGradientBoostingClassifier`` (``kind="hgb"``, the
default: 40 fixed iterations) or a standardised ``LogisticRegression`` (``kind="logistic"``).
Chosen by benchmarks/bench_learning.py on the seeded groups (time split, the ~900 newest
decisions of each): neither wins everywhere (Program A: AUPRC 0.72 against 0.67, precision
at 10 0.8 against 0.4; Program B: 0.67 against 0.70, 0.5 against 0.7), gradient boosting
wins by more where it wins, needs no imputation of missing values, and refits 1e5
decisions in 0.78 s of CPU (logistic: 0.63 s). Both are deterministic for a seed.

The stored model is a pickle in the user's own cache file, read back only from there.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd

from ..errors import CacheError, WorkbenchError
from .features import FEATURES, WINDOW_DAYS, candidate_features, describe
from .labels import HORIZON_DAYS, group_labels, label_groups

MIN_DECISIONS = 50  # fewer decisions than this: the queue keeps the server's score order
TRAIN_ON_DEMAND_MAX = 20_000  # score_queue trains on the interactive path up to this many
TEST_FRACTION = 0.25  # newest share of the decisions the figures are measured on
DEFAULT_KIND = "hgb"
KINDS = ("hgb", "logistic")
FORMAT = 1  # layout of a stored model; another value is retrained, not loaded
KEEP_VERSIONS = 3


@dataclass
class GroupModel:
    """A trained model of one group's decisions and what it was trained on."""

    group_id: int
    kind: str
    estimator: Any
    features: list[str]
    medians: np.ndarray  # per feature, of the training rows (the "typical" candidate)
    n_decisions: int
    n_wanted: int
    label_from: datetime | None  # oldest decision trained on (UTC)
    label_to: datetime | None  # newest decision trained on (UTC)
    metrics: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    version: int = 0
    trained_at: datetime | None = None
    library: str = ""

    def describe(self) -> str:
        """One line: what the model is."""
        span = f"{_day(self.label_from)} to {_day(self.label_to)}"
        return (
            f"group {self.group_id} model v{self.version} ({_KIND_NAMES[self.kind]}), trained "
            f"on {self.n_decisions} decisions ({self.n_wanted} saved) from {span}"
        )

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        """P(the group wants it) for each row of a :func:`candidate_features` frame."""
        return _proba(self.estimator, _matrix(features, self.features))


@dataclass
class QueueScores:
    """What :func:`score_queue` returns to the vetting panel.

    ``ready``: False when no selected group has a model (too few decisions, or too many
    to train on the interactive path): keep the score order. ``message``: why not, or
    what the model is. ``scores``: indexed by obj_id, ``p_wanted`` (0..1, NaN when not
    ready) and ``drivers`` (the 2-3 features that moved this candidate's probability most,
    with values and units). ``metrics``: the model's figures on the group's newest
    decisions (time split): ``precision_at_10/20/50``, ``auprc``, the same for the score
    order under ``score`` and the random order's expectation under ``random``, plus
    ``n_train``, ``n_test``, ``split_at`` and ``group_id`` (``by_group`` when several).
    """

    ready: bool
    message: str
    scores: pd.DataFrame
    metrics: dict[str, Any] = field(default_factory=dict)
    models: dict[int, GroupModel] = field(default_factory=dict)


_KIND_NAMES = {"hgb": "HistGradientBoosting", "logistic": "LogisticRegression"}


def _day(when: Any) -> str:
    return "?" if when is None or pd.isna(when) else pd.Timestamp(when).strftime("%Y-%m-%d")


# -- estimators ----------------------------------------------------------------------------
def make_estimator(kind: str = DEFAULT_KIND, seed: int = 0) -> Any:
    """An unfitted scikit-learn classifier of ``kind`` (``hgb`` or ``logistic``)."""
    if kind == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        # fixed iterations (no early stopping, hence no random validation split): the
        # fit is deterministic and its time bounded
        return HistGradientBoostingClassifier(
            max_iter=40,
            learning_rate=0.1,
            max_leaf_nodes=15,
            min_samples_leaf=20,
            l2_regularization=1.0,
            early_stopping=False,
            random_state=seed,
        )
    if kind == "logistic":
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
            LogisticRegression(C=1.0, max_iter=1000, random_state=seed),
        )
    raise WorkbenchError(f"model kind must be one of {KINDS}, not {kind!r}")


def _matrix(features: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    return features.reindex(columns=list(names)).to_numpy(dtype=np.float64)


def _proba(estimator: Any, x: np.ndarray) -> np.ndarray:
    if len(x) == 0:
        return np.zeros(0)
    with _one_thread():
        return estimator.predict_proba(x)[:, 1]


def _one_thread() -> Any:
    """scikit-learn's OpenMP/BLAS on one thread: on a shared or loaded machine more threads
    made a fit 5-20x slower (measured, benchmarks/bench_learning.py); one is predictable."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def usable_features(features: pd.DataFrame) -> list[str]:
    """Features known for some rows and not constant (others cannot be learned from)."""
    out = []
    for f in FEATURES:
        col = features.get(f.name)
        if col is None:
            continue
        values = col.dropna()
        if len(values) and values.nunique() > 1:
            out.append(f.name)
    return out


def fit(
    features: pd.DataFrame, wanted: np.ndarray, *, kind: str = DEFAULT_KIND, seed: int = 0
) -> tuple[Any, list[str], np.ndarray]:
    """Fit a classifier on feature rows and their labels; ``(estimator, names, medians)``."""
    y = np.asarray(wanted, dtype=bool)
    if y.all() or not y.any():
        raise WorkbenchError(
            "the group's decisions are all of one kind (all saved or none saved); a model "
            "needs both: vet (save and reject) more candidates"
        )
    names = usable_features(features)
    if not names:
        raise WorkbenchError(
            "no candidate feature is known in the cache: sync photometry and annotations first"
        )
    x = _matrix(features, names)
    estimator = make_estimator(kind, seed)
    with _one_thread():
        estimator.fit(x, y)
    with np.errstate(all="ignore"):
        medians = np.nanmedian(np.where(np.isfinite(x), x, np.nan), axis=0)
    return estimator, names, medians


# -- figures ---------------------------------------------------------------------------------
def ranking_metrics(wanted: np.ndarray, order_score: np.ndarray) -> dict[str, float]:
    """Precision at 10/20/50 (the share wanted among the top k; k capped at the number of
    decisions) and the area under the precision-recall curve (average precision), for
    ``wanted`` ranked by ``order_score`` descending (NaN scores last, ties by position)."""
    from sklearn.metrics import average_precision_score

    y = np.asarray(wanted, dtype=bool)
    s = np.where(np.isfinite(order_score), order_score, -np.inf)
    order = np.argsort(-s, kind="stable")
    out: dict[str, float] = {}
    for k in (10, 20, 50):
        top = y[order[: min(k, len(y))]]
        out[f"precision_at_{k}"] = float(top.mean()) if len(top) else float("nan")
    known = np.isfinite(s)
    floor = s[known].min() - 1.0 if known.any() else 0.0  # unscored: below every score
    ranked = np.where(known, s, floor)
    out["auprc"] = float(average_precision_score(y, ranked)) if y.any() else float("nan")
    return out


def time_split(
    labels: pd.DataFrame, test_fraction: float = TEST_FRACTION
) -> tuple[np.ndarray, Any]:
    """``(train mask, split_at)`` over ``labels`` rows: train on decisions taken strictly
    before ``split_at``, the time of the oldest of the newest ``test_fraction`` decisions;
    test on the rest (decisions tied at ``split_at`` all go to the test side)."""
    n = len(labels)
    if n == 0:
        return np.zeros(0, dtype=bool), None
    when = labels["decided_at"].sort_values(kind="stable")
    split_at = when.iloc[min(int(np.floor(n * (1.0 - test_fraction))), n - 1)]
    return (labels["decided_at"] < split_at).to_numpy(), split_at


def time_split_metrics(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    kind: str = DEFAULT_KIND,
    seed: int = 0,
    test_fraction: float = TEST_FRACTION,
) -> dict[str, Any]:
    """Train on the older decisions, measure on the newer (never a random split).

    ``labels`` is :func:`~.labels.group_labels` output (sorted by ``decided_at``); every
    training decision was taken strictly before every test decision (``split_at``). Returns
    the learned order's figures, with ``score`` (the server's order) and ``random`` (its
    expectation: the share wanted) beside them.
    """
    labels = labels.sort_values(["decided_at", "obj_id"], kind="stable").reset_index(drop=True)
    train, split_at = time_split(labels, test_fraction)
    test = ~train
    y = labels["wanted"].to_numpy(dtype=bool)
    x = features.reindex(labels["obj_id"])
    out: dict[str, Any] = {
        "n_train": int(train.sum()),
        "n_test": int(test.sum()),
        "split_at": None if split_at is None else str(split_at),
    }
    if train.sum() < 2 or test.sum() < 1:
        return out
    estimator, names, _ = fit(x[train], y[train], kind=kind, seed=seed)
    p = _proba(estimator, _matrix(x[test], names))
    out.update(ranking_metrics(y[test], p))
    out["score"] = ranking_metrics(y[test], x["score"].to_numpy(float)[test])
    base = float(y[test].mean())
    out["random"] = {
        "precision_at_10": base,
        "precision_at_20": base,
        "precision_at_50": base,
        "auprc": base,
    }
    return out


# -- training and storage ---------------------------------------------------------------------
def train_group_model(
    wb: Any,
    group_id: int,
    *,
    kind: str = DEFAULT_KIND,
    seed: int = 0,
    store: bool = True,
    horizon_days: float = HORIZON_DAYS,
    window_days: float = WINDOW_DAYS,
) -> GroupModel:
    """Train the group's model on all its decisions in the cache, measure it on a time
    split, and (``store``, unless the cache is read-only) keep it in the cache as the
    group's next version. Raises :class:`~workbench.errors.WorkbenchError` with fewer than
    :data:`MIN_DECISIONS` decisions or decisions of one kind only."""
    labels = group_labels(wb, group_id, horizon_days=horizon_days)
    if len(labels) < MIN_DECISIONS:
        raise WorkbenchError(
            f"group {group_id} has {len(labels)} decisions in the cache; a model needs at "
            f"least {MIN_DECISIONS}: sync, or vet more of its candidates"
        )
    features = candidate_features(wb, labels["obj_id"], window_days=window_days)
    metrics = time_split_metrics(features, labels, kind=kind, seed=seed)
    x = features.reindex(labels["obj_id"])
    y = labels["wanted"].to_numpy(dtype=bool)
    estimator, names, medians = fit(x, y, kind=kind, seed=seed)
    import sklearn

    model = GroupModel(
        group_id=int(group_id),
        kind=kind,
        estimator=estimator,
        features=names,
        medians=medians,
        n_decisions=len(labels),
        n_wanted=int(y.sum()),
        label_from=_py(labels["decided_at"].min()),
        label_to=_py(labels["decided_at"].max()),
        metrics=metrics,
        seed=seed,
        trained_at=datetime.now(UTC).replace(tzinfo=None),
        library=f"scikit-learn {sklearn.__version__}",
    )
    cache = getattr(wb, "cache", wb)
    if store and not getattr(cache, "read_only", False):
        model.version = _store(cache, model)
    return model


def _py(value: Any) -> datetime | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def _store(cache: Any, model: GroupModel) -> int:
    extra = {
        "medians": [None if not np.isfinite(v) else float(v) for v in model.medians],
        "seed": model.seed,
    }
    record = {
        "group_id": model.group_id,
        "kind": model.kind,
        "trained_at": model.trained_at,
        "n_decisions": model.n_decisions,
        "n_wanted": model.n_wanted,
        "label_from": model.label_from,
        "label_to": model.label_to,
        "features": orjson.dumps({"names": model.features, **extra}).decode(),
        "metrics": orjson.dumps(model.metrics, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
        "library": model.library,
        "format": FORMAT,
        "model": pickle.dumps(model.estimator, protocol=pickle.HIGHEST_PROTOCOL),
    }
    with cache.write() as tx:
        return tx.store_learned_model(record, keep=KEEP_VERSIONS)


def load_group_model(wb: Any, group_id: int) -> GroupModel | None:
    """The group's newest stored model, or None (none stored, or stored by another
    scikit-learn version or model format: retrain it)."""
    import sklearn

    cache = getattr(wb, "cache", wb)
    with cache.read() as r:
        row = r.latest_learned_model(group_id)
    if row is None:
        return None
    version, kind, trained_at, library, fmt = (
        row[k] for k in ("version", "kind", "trained_at", "library", "format")
    )
    n_dec, n_wanted, lfrom, lto = (
        row[k] for k in ("n_decisions", "n_wanted", "label_from", "label_to")
    )
    feats, metrics, blob = row["features"], row["metrics"], row["model"]
    if fmt != FORMAT or library != f"scikit-learn {sklearn.__version__}":
        return None
    meta = orjson.loads(feats)
    try:
        estimator = pickle.loads(bytes(blob))  # the user's own cache file, written here
    except Exception as exc:  # a damaged blob: say so rather than guess
        raise CacheError(
            f"the stored model of group {group_id} (v{version}) cannot be read "
            f"({exc}); train it again with train_group_model"
        ) from exc
    return GroupModel(
        group_id=int(group_id),
        kind=kind,
        estimator=estimator,
        features=list(meta["names"]),
        medians=np.array([np.nan if v is None else v for v in meta["medians"]], dtype=float),
        n_decisions=int(n_dec),
        n_wanted=int(n_wanted),
        label_from=lfrom,
        label_to=lto,
        metrics=orjson.loads(metrics) if metrics else {},
        seed=int(meta.get("seed", 0)),
        version=int(version),
        trained_at=trained_at,
        library=library,
    )


# -- the queue --------------------------------------------------------------------------------
def drivers(model: GroupModel, features: pd.DataFrame, top: int = 3) -> list[str]:
    """For each row, the ``top`` features whose value moved its probability most: the change
    in log-odds when that feature alone is set to the training median, largest first (known
    values before unknown ones), as ``name=value unit (+|-)`` (``+``: this value makes it
    more wanted)."""
    x = _matrix(features, model.features)
    n, f = x.shape
    if n == 0:
        return []
    base = _logit(_proba(model.estimator, x))
    stacked = np.repeat(x[None, :, :], f, axis=0)  # (feature, row, column)
    for j in range(f):
        stacked[j, :, j] = model.medians[j]
    moved = _logit(_proba(model.estimator, stacked.reshape(f * n, f))).reshape(f, n)
    delta = base[None, :] - moved  # > 0: the actual value raises P(wanted)
    out = []
    for i in range(n):
        # known values first: "fade_rate=nan" explains little to a scanner
        rank = np.lexsort((-np.abs(delta[:, i]), ~np.isfinite(x[i])))
        best = rank[:top]
        parts = [
            f"{describe(model.features[j], x[i, j])} ({'+' if delta[j, i] >= 0 else '-'})"
            for j in best
            if abs(delta[j, i]) > 1e-9
        ]
        out.append("; ".join(parts))
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def _count_decisions(wb: Any, group_id: int) -> int:
    return len(group_labels(wb, group_id))


def _ready_model(wb: Any, group_id: int) -> tuple[GroupModel | None, str]:
    """The group's model for the queue (the stored one; trained here only when there is
    none and the data is small), or why there is none."""
    model = load_group_model(wb, group_id)
    n = _count_decisions(wb, group_id)
    if model is not None:
        newer = n - model.n_decisions
        note = f" ({newer} newer decisions: refresh_group_models refits)" if newer > 0 else ""
        return model, model.describe() + note
    if n < MIN_DECISIONS:
        return None, (
            f"group {group_id} has {n} decisions; the learned order needs "
            f"{MIN_DECISIONS}: keeping the score order"
        )
    if n > TRAIN_ON_DEMAND_MAX:
        return None, (
            f"group {group_id} has no model yet and {n} decisions, too many to "
            f"train here: run train_group_model(wb, {group_id}) (off the panel)"
        )
    try:
        model = train_group_model(wb, group_id)
    except WorkbenchError as exc:
        return None, f"group {group_id}: {exc}; keeping the score order"
    return model, model.describe()


def refresh_group_models(
    wb: Any, group_ids: Sequence[int] = (), *, min_new: int = 20, **options: Any
) -> dict[int, GroupModel]:
    """Refit (and store) the models of groups with at least ``min_new`` decisions more than
    their stored model, or none stored and enough decisions: call it after a sync, off the
    panel's path. ``options`` go to :func:`train_group_model`. Returns the refitted models."""
    out = {}
    for gid in [int(g) for g in group_ids] or label_groups(wb):
        n = _count_decisions(wb, gid)
        model = load_group_model(wb, gid)
        stale = n - model.n_decisions >= min_new if model is not None else True
        if stale and n >= MIN_DECISIONS:
            try:
                out[gid] = train_group_model(wb, gid, **options)
            except WorkbenchError:
                continue  # one kind of decision only: nothing to learn yet
    return out


def score_queue(wb: Any, group_ids: Sequence[int], candidates: pd.DataFrame) -> QueueScores:
    """P(wanted) and its drivers for ``candidates`` (a frame with an ``id`` column of obj
    ids, as ``wb.candidates()``, or indexed by obj id), for the groups ``group_ids`` (all
    groups with candidates when empty): a candidate's probability is the highest among
    the groups' models. Offline: reads and (when it trains) writes the cache only."""
    ids = (candidates["id"] if "id" in candidates.columns else candidates.index).astype(str)
    ids = list(dict.fromkeys(ids))
    empty = pd.DataFrame(
        {"p_wanted": np.full(len(ids), np.nan), "drivers": [""] * len(ids)},
        index=pd.Index(ids, name="obj_id"),
    )
    groups = [int(g) for g in group_ids] or label_groups(wb)
    if not groups:
        return QueueScores(
            False, "no group passes the cached candidates: keeping the score order", empty
        )
    models: dict[int, GroupModel] = {}
    notes = []
    for gid in groups:
        model, note = _ready_model(wb, gid)
        notes.append(note)
        if model is not None:
            models[gid] = model
    if not models:
        return QueueScores(False, "; ".join(notes), empty)
    features = candidate_features(wb, ids).reindex(ids)
    probs = np.column_stack([m.predict(features) for m in models.values()])
    best = probs.argmax(axis=1) if len(ids) else np.zeros(0, int)
    text = [""] * len(ids)
    for k, model in enumerate(models.values()):
        rows = np.flatnonzero(best == k)
        for i, d in zip(rows, drivers(model, features.iloc[rows]), strict=True):
            text[i] = d
    scores = pd.DataFrame(
        {"p_wanted": probs.max(axis=1) if len(ids) else [], "drivers": text},
        index=pd.Index(ids, name="obj_id"),
    )
    first = next(iter(models.values()))
    metrics = dict(first.metrics, group_id=first.group_id)
    if len(models) > 1:
        metrics["by_group"] = {g: m.metrics for g, m in models.items()}
    return QueueScores(True, "Learned order: " + "; ".join(notes), scores, metrics, models)


__all__ = [
    "DEFAULT_KIND",
    "MIN_DECISIONS",
    "GroupModel",
    "QueueScores",
    "drivers",
    "fit",
    "load_group_model",
    "make_estimator",
    "ranking_metrics",
    "refresh_group_models",
    "score_queue",
    "time_split_metrics",
    "train_group_model",
]
