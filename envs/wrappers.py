"""Reusable wrappers for the EdgeRL environments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.model.thresholds import check_thresholds, discretise, midpoints
from envs.partition.params import PartitionParams


class IntentThresholds(gym.ActionWrapper):
    """Continuous ``[0, 1]`` actions -> discrete choices by intent thresholds (IoRLO Sec. 4.2.2).

    Wraps an env whose action space is ``MultiDiscrete([k] * n)`` and exposes
    ``Box(0, 1, (n,), float32)``; entry ``a_i`` becomes the number of thresholds ``<= a_i``,
    e.g. with ``(ε, φ)``: ``a < ε -> 0``, ``ε <= a < φ -> 1``, ``a >= φ -> 2`` (docs/model.md §4/§5).
    A DDPG-style actor with a sigmoid output then drives any MultiDiscrete env.

    Args:
        env: Env with a 1-D ``MultiDiscrete`` action space, all entries ``k``.
        thresholds: ``k - 1`` values with ``0 < t_1 < ... < 1``. Default: the env's own
            ``params`` thresholds (``epsilon, phi`` / ``zeta``) when it has them, else
            evenly spaced ``j / k``.

    Example:
        >>> import gymnasium as gym, envs
        >>> from envs.wrappers import IntentThresholds
        >>> env = IntentThresholds(gym.make("EdgeRL/MECPartition-v0", action_mode="discrete"))
        >>> env.action_space
        Box(0.0, 1.0, (17,), float32)
    """

    def __init__(self, env: gym.Env, thresholds: Sequence[float] | None = None) -> None:
        super().__init__(env)
        space = env.action_space
        if not isinstance(space, spaces.MultiDiscrete) or space.nvec.ndim != 1:
            raise ValueError(
                f"IntentThresholds needs a 1-D MultiDiscrete action space, got {space}"
            )
        k = int(space.nvec[0])
        if k < 2 or np.any(space.nvec != k) or np.any(space.start != 0):
            raise ValueError(
                f"IntentThresholds needs MultiDiscrete([k]*n) with k >= 2 and start 0, got {space}"
            )
        if thresholds is None:
            thresholds = _env_thresholds(env, k)
        names = tuple(f"thresholds[{j}]" for j in range(k - 1))
        if len(thresholds) != k - 1:
            raise ValueError(
                f"thresholds must have {k - 1} values for {k} choices, got {thresholds}"
            )
        self.thresholds = check_thresholds(names, thresholds)
        self._mid = midpoints(self.thresholds)
        self.n = int(space.nvec.size)
        self.action_space = spaces.Box(0.0, 1.0, (self.n,), np.float32)

    def action(self, action: Any) -> np.ndarray:
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (self.n,):
            raise ValueError(f"action must have shape ({self.n},), got {a.shape}")
        if not (a.min() >= 0.0 and a.max() <= 1.0):
            raise ValueError(f"action entries must be finite and in [0, 1], got {action!r}")
        return discretise(a, self.thresholds)

    def decision_to_action(self, decision: Any) -> np.ndarray:
        """The centre of each choice's interval (float32), the inverse of :meth:`action`."""
        d = np.asarray(decision, dtype=np.int64)
        if d.size and (d.min() < 0 or d.max() >= self._mid.size):
            raise ValueError(f"decision entries must be in [0, {self._mid.size}), got {decision!r}")
        return self._mid[d].astype(np.float32)


def _env_thresholds(env: gym.Env, k: int) -> list[float]:
    params = getattr(env.unwrapped, "params", None)
    if isinstance(params, PartitionParams) and len(params.thresholds) == k - 1:
        return list(params.thresholds)
    return [j / k for j in range(1, k)]
