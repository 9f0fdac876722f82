"""Deterministic evaluation of a policy on fixed episodes (shared by all agents).

Every episode ``k`` starts with ``env.reset(seed=seeds[k])``, so two policies evaluated with
the same seeds face the same frames (the partitioning envs' link processes do not depend
on the actions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

DEFAULT_EVAL_SEEDS: tuple[int, ...] = tuple(range(10_000, 10_010))


def evaluate_policy(
    act: Callable[[np.ndarray], Any],
    env: Any,
    seeds: Sequence[int] = DEFAULT_EVAL_SEEDS,
    max_steps: int | None = None,
) -> dict[str, float]:
    """Run one episode per seed with ``act(obs) -> action``.

    Returns means over all frames of ``info["cost"]`` and ``info["gap"]`` (when the env
    reports them) as ``cost``/``gap``, the mean episode return as ``episodic_return``, and
    ``episodes``/``frames``. ``max_steps`` caps episodes of envs without a time limit.
    ``gap`` is the env's fraction (0.01 = 1%); logged as ``eval/gap`` it is written in %
    (:data:`agents.common.logger.PERCENT_TAGS`).
    """
    if len(seeds) == 0:
        raise ValueError("seeds must hold at least one episode seed")
    returns, costs, gaps, frames = [], [], [], 0
    for seed in seeds:
        obs, _ = env.reset(seed=int(seed))
        total, t = 0.0, 0
        while True:
            obs, reward, terminated, truncated, info = env.step(act(obs))
            total += float(reward)
            t += 1
            if "cost" in info:
                costs.append(float(info["cost"]))
            if "gap" in info:
                gaps.append(float(info["gap"]))
            if terminated or truncated or (max_steps is not None and t >= max_steps):
                break
        returns.append(total)
        frames += t
    out = {
        "episodic_return": float(np.mean(returns)),
        "episodes": float(len(seeds)),
        "frames": float(frames),
    }
    if costs:
        out["cost"] = float(np.mean(costs))
    if gaps:
        out["gap"] = float(np.mean(gaps))
    return out
