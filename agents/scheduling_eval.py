"""Scoreboard of a scheduling policy (docs/model.md §8.1): one row per episode, then means.

Columns (``envs.scheduling.objective.SCOREBOARD_COLUMNS``): the episode objective J (cost per
arrival slot, lower is better), mean utilisation variance, mean and p95 task latency
(waiting + service + RPC), forwarded %, dropped % and unplaced % (tasks still waiting when a
truncated episode ended). The formulas live in :mod:`envs.scheduling.objective`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from envs.scheduling.objective import SCOREBOARD_COLUMNS, episode_scores

Act = Callable[[np.ndarray], Any]


def scoreboard_episode(env: Any, act: Act, task_set_seed: int) -> dict[str, float]:
    """Run one episode of ``env`` (a scheduling env, possibly wrapped in ``TimeLimit``) on
    task set ``task_set_seed`` with ``act(obs) -> action``; its scoreboard row."""
    base = env.unwrapped
    obs, _ = env.reset(options={"task_set_seed": int(task_set_seed)})
    total, var_sum, steps, done, info = 0.0, 0.0, 0, False, {}
    while not done:
        obs, r, terminated, truncated, info = env.step(act(obs))
        total += float(r)
        var_sum += float(info["variance"])
        steps += 1
        done = terminated or truncated
    return episode_scores(
        total, var_sum, steps, base.task_latency_ms, int(info["arrived"]),
        int(info["forwarded"]), int(info["dropped"]), episode_window(base),
    )  # fmt: skip


def episode_window(base: Any) -> int:
    """The arrival window of the episode's task set in slots (the J denominator): the
    arrival process's ``window_slots``, or a replayed trace's span."""
    window = getattr(base.arrival_process, "window_slots", None) or max(
        int(base.tasks.arrival[-1]) + 1 if base.tasks.size else 1, 1
    )
    return int(window)


def scoreboard(
    env: Any, policy: Any, task_set_seeds: Sequence[int], *, act: Act | None = None
) -> dict[str, float]:
    """Mean scoreboard row of ``policy`` (``.act(obs)``, optional ``.reset()``) over the
    task sets; ``act`` overrides ``policy.act``."""
    rows = []
    for k in task_set_seeds:
        if hasattr(policy, "reset"):
            policy.reset()
        rows.append(scoreboard_episode(env, act or policy.act, int(k)))
    return {c: float(np.nanmean([r[c] for r in rows])) for c in SCOREBOARD_COLUMNS}
