"""What the native vector envs (partitioning and scheduling) share: their argument checks and
how they expose the configuration of the single env whose transition they batch."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from gymnasium.vector import VectorEnv
from gymnasium.vector.utils import batch_space


def check_vector_args(num_envs: Any, max_episode_steps: Any) -> tuple[int, int | None]:
    """``(num_envs, max_episode_steps)`` as ints; a ValueError naming the field otherwise."""
    if isinstance(num_envs, bool) or not isinstance(num_envs, int | np.integer) or num_envs < 1:
        raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
    if max_episode_steps is not None and (
        isinstance(max_episode_steps, bool)
        or not isinstance(max_episode_steps, int | np.integer)
        or max_episode_steps < 1
    ):
        raise ValueError(
            f"max_episode_steps must be an integer >= 1 or None, got {max_episode_steps!r}"
        )
    return int(num_envs), None if max_episode_steps is None else int(max_episode_steps)


def adopt(venv: VectorEnv, env: Any, num_envs: int, shared: Iterable[str]) -> None:
    """Give ``venv`` the single env's spaces, batched ``num_envs`` times, and the single
    env's read-only configuration attributes ``shared`` (the same objects, not copies)."""
    venv.num_envs = num_envs
    venv.single_observation_space = env.observation_space
    venv.single_action_space = env.action_space
    venv.observation_space = batch_space(env.observation_space, num_envs)
    venv.action_space = batch_space(env.action_space, num_envs)
    for name in shared:
        setattr(venv, name, getattr(env, name))
