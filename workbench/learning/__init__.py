"""A vetting queue that learns the group's own judgement (issue 11).

Labels (:mod:`.labels`): the group's saves, rejections and passes, from the cache.
Features (:mod:`.features`, documented with units in ``FEATURES``): scores, annotations,
light curve, galaxy, variable flags, from the cache, as of each candidate's first days.
Model (:mod:`.model`): scikit-learn, per group, stored in the cache; ``score_queue`` is
what the vetting panel calls. Everything runs offline on the cache.
"""

from __future__ import annotations

from .features import FEATURES, candidate_features
from .labels import group_labels, label_groups
from .model import (
    MIN_DECISIONS,
    GroupModel,
    QueueScores,
    load_group_model,
    refresh_group_models,
    score_queue,
    train_group_model,
)

__all__ = [
    "FEATURES",
    "MIN_DECISIONS",
    "GroupModel",
    "QueueScores",
    "candidate_features",
    "group_labels",
    "label_groups",
    "load_group_model",
    "refresh_group_models",
    "score_queue",
    "train_group_model",
]
