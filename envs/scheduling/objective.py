"""The scheduling objective: one place for the reward and the scoreboard's formulas.

docs/model.md §8.1. Imported by the single env, the batched simulator (vector env), the
scoreboard (``benchmarks/scheduling_scoreboard.py``) and the pipeline's evaluation, so each
formula exists once. Every function works on Python floats and on numpy arrays alike (the
vector env calls them on ``(N,)`` arrays and reproduces the single env bit for bit, since the
operations and their order are the same).

Objectives (the env's ``objective`` argument):

- ``"variance"`` (the paper's, v0's default): per step
  ``r_t = -Var(u) - λ_wait·W_t/M - λ_drop·D_t``.
- ``"combined"`` (v1's default): the same plus a latency term,
  ``r_t = -Var(u) - w·ℓ_t/ℓ_ref - λ_wait·W_t/M - λ_drop·D_t`` with

      ℓ_t   = slot_ms·W_t + rpc_ms·F_t
      ℓ_ref = λ·E[service slots]·slot_ms    (= ρ·Σc·slot_ms)

  W_t the tasks left waiting by the action, F_t the tasks placed away from home at t, D_t the
  tasks dropped on arrival. A task's latency is waiting + service + RPC; its service time is
  the same on every server, so the objective charges the part a scheduler adds, waiting +
  RPC, as it accrues: one slot per step the task is left waiting, the RPC when it is placed
  away from home. The episode's Σ_t ℓ_t is then the summed added latency of its tasks
  (partial for those never placed), truncation loses none of it, and discounting cannot make
  postponing a placement look cheaper (it would, were the service time charged at
  placement). ℓ_ref makes the term w·(mean added latency / mean service time) per step in
  steady state.

The episode objective of the scoreboard is ``J = -(Σ_t r_t) / window_slots``: the cost per
arrival slot, what the agents maximise (lower is better). With every task placed it is
``(Σ_t Var_t)/W + w·(K/(λW))·(mean waiting + RPC)/(E[service]·slot_ms)`` (+ the λ terms),
K/(λW) ≈ 1 the task set's size relative to its expectation.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np

OBJECTIVES: tuple[str, ...] = ("variance", "combined")
X = TypeVar("X", float, np.ndarray)


def step_latency_ms(left_waiting: Any, forwarded: Any, slot_ms: float, rpc_ms: float) -> Any:
    """ℓ_t: latency the scheduler added in one step (ms), see the module docstring."""
    return slot_ms * left_waiting + rpc_ms * forwarded


def step_reward(
    variance: X,
    left_waiting: Any,
    dropped: Any,
    latency_ms: Any = 0.0,
    *,
    buffer_size: int,
    lambda_wait: float,
    lambda_drop: float,
    latency_weight: float = 0.0,
    latency_norm_ms: float = 1.0,
) -> X:
    """r_t of the module docstring. A zero weight adds exactly 0.0 (its term is finite), so
    it is skipped: the ``"variance"`` objective is v0's reward bit for bit."""
    reward = -variance
    if latency_weight:
        reward = reward - latency_weight * (latency_ms / latency_norm_ms)
    if lambda_wait:
        reward = reward - lambda_wait * left_waiting / buffer_size
    if lambda_drop:
        reward = reward - lambda_drop * dropped
    return reward


def episode_objective(episode_return: float, window_slots: int) -> float:
    """J = -(episode return) / window_slots: cost per arrival slot (lower is better)."""
    return -float(episode_return) / float(window_slots)


SCOREBOARD_COLUMNS: tuple[str, ...] = (
    "objective", "variance", "latency_mean_ms", "latency_p95_ms", "forwarded_pct",
    "dropped_pct", "unplaced_pct",
)  # fmt: skip


def episode_scores(
    episode_return: float,
    variance_sum: float,
    steps: int,
    task_latency_ms: np.ndarray,
    arrived: int,
    forwarded: int,
    dropped: int,
    window_slots: int,
) -> dict[str, float]:
    """One episode's scoreboard row (``SCOREBOARD_COLUMNS``).

    ``variance``: mean per-step utilisation variance; latencies over the tasks placed
    (waiting + service + RPC, ms); percentages of the tasks that arrived; ``unplaced_pct``:
    tasks neither placed nor dropped when the episode ended (truncation).
    """
    lat = np.asarray(task_latency_ms, dtype=np.float64)
    lat = lat[np.isfinite(lat)]
    n = max(int(arrived), 1)
    return {
        "objective": episode_objective(episode_return, window_slots),
        "variance": float(variance_sum) / max(int(steps), 1),
        "latency_mean_ms": float(lat.mean()) if lat.size else float("nan"),
        "latency_p95_ms": float(np.percentile(lat, 95)) if lat.size else float("nan"),
        "forwarded_pct": 100.0 * forwarded / n,
        "dropped_pct": 100.0 * dropped / n,
        "unplaced_pct": 100.0 * max(int(arrived) - lat.size - int(dropped), 0) / n,
    }
