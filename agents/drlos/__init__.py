"""DRLoS: REINFORCE scheduler over the DRLoS share actions (Huang et al. Sec. 3.3.2).

| module | contents |
|---|---|
| :mod:`~agents.drlos.networks` | :class:`PolicyNetwork` (observation → logits), :func:`pooling_matrix` |
| :mod:`~agents.drlos.rollout` | :class:`RolloutBatch`, :func:`collect_rollouts` (N episodes of one task set, padded) |
| :mod:`~agents.drlos.agent` | :class:`DRLoS`, :class:`DRLoSConfig`, :func:`discounted_returns`, :func:`time_baseline` |
"""

from agents.drlos.agent import (
    ALGO,
    BASELINES,
    DRLoS,
    DRLoSConfig,
    discounted_returns,
    time_baseline,
)
from agents.drlos.networks import FEATURES, PolicyNetwork, pooling_matrix
from agents.drlos.rollout import RolloutBatch, collect_rollouts, make_rollout_envs

__all__ = [
    "ALGO",
    "BASELINES",
    "FEATURES",
    "DRLoS",
    "DRLoSConfig",
    "PolicyNetwork",
    "RolloutBatch",
    "collect_rollouts",
    "discounted_returns",
    "make_rollout_envs",
    "pooling_matrix",
    "time_baseline",
]
