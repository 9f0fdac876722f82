"""DRLoS+: per-task scheduling with a shared (task, server) scorer, trained by REINFORCE with
DRLoS's per-timestep baseline (docs/model.md §8.2)."""

from agents.drlos_plus.agent import (
    ALGO,
    DRLoSPlus,
    DRLoSPlusConfig,
    PlusActor,
    load_plus_actor,
)
from agents.drlos_plus.features import NUM_FEATURES, FeatureSpec, task_server_features

__all__ = [
    "ALGO",
    "NUM_FEATURES",
    "DRLoSPlus",
    "DRLoSPlusConfig",
    "FeatureSpec",
    "PlusActor",
    "load_plus_actor",
    "task_server_features",
]
