"""Evaluation of policies on fixed episodes: training-time checks and the comparison tables.

Every policy offers ``act(obs)`` and ``act_batch(obs_batch)`` returning actions of the env it
is evaluated on (trained SB3/RLlib policies map their ``[-1, 1]`` actions back to
``Box(0, 1)``, see :class:`pipeline.envs.UnitToSymmetric`).

Partitioning envs (MEC, D2D): all episodes run at once in the env's numpy vector env, reset
with one seed; the frames (links, load, collaborators) do not depend on the actions, so every
policy sees exactly the same frames. ``samples`` are per decision step (frames);
``episode_scores`` hold each episode's mean (what :mod:`pipeline.aggregate` aggregates over
training seeds with rliable). Gaps are in percent.

Scheduling env: one episode per task set ``seed + k`` (``reset(options={"task_set_seed": k})``:
the same tasks in the ``shares`` mode of the RL agents and the ``assign`` mode of the
heuristics). Statistics are over episodes.

Decision time: the median wall time of ``act(obs)`` on single observations of a single env,
``decision_steps`` calls (what a deployed controller pays per request / slot).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PARTITION_METRICS: tuple[str, ...] = ("cost", "latency_ms", "energy_j", "overhead", "gap")
SCHEDULING_METRICS: tuple[str, ...] = (
    "variance", "latency_ms", "dropped", "forwarded_pct", "slots", "episodic_return", "objective",
)  # fmt: skip


# ----------------------------------------------------------------------- training eval
def reset_episode(env: Any, seed: int) -> tuple[Any, dict[str, Any]]:
    """Episode ``seed``: ``reset(seed=seed)`` for the partitioning envs; the scheduling env
    replays task set ``seed`` (``options={"task_set_seed": seed}``, as DRLoS evaluates)."""
    if hasattr(env.unwrapped, "obs_layout"):
        return env.reset(options={"task_set_seed": int(seed)})
    return env.reset(seed=int(seed))


def training_eval(policy: Any, env: Any, seeds: Sequence[int]) -> dict[str, float]:
    """Deterministic episodes on a single env, one per seed (:func:`reset_episode`).

    The keys match the custom agents' ``eval/*`` tags: ``episodic_return`` and ``cost``
    everywhere; ``gap`` (partitioning: means over all frames, as
    :func:`agents.common.evaluation.evaluate_policy`; the env's fraction, which the
    RunLogger writes to ``eval/gap`` in %); for scheduling ``cost`` is the mean
    per-step utilisation variance of an episode, and ``latency_ms`` (mean task latency),
    ``dropped`` and ``episodic_length`` are per-episode (all averaged over episodes, as
    :meth:`agents.drlos.DRLoS.evaluate`).
    """
    returns: list[float] = []
    costs, gaps = [], []
    sched: dict[str, list[float]] = {
        "cost": [],
        "latency_ms": [],
        "dropped": [],
        "episodic_length": [],
    }
    for s in seeds:
        if hasattr(policy, "reset"):
            policy.reset()
        obs, _ = reset_episode(env, s)
        total, done, info, var_sum, steps = 0.0, False, {}, 0.0, 0
        while not done:
            obs, r, terminated, truncated, info = env.step(policy.act(obs))
            total += float(r)
            steps += 1
            if "cost" in info:
                costs.append(float(info["cost"]))
            if "gap" in info:
                gaps.append(float(info["gap"]))
            if "variance" in info:
                var_sum += float(info["variance"])
            done = terminated or truncated
        returns.append(total)
        if "variance" in info:
            lat = env.unwrapped.task_latency_ms
            sched["cost"].append(var_sum / steps)
            sched["latency_ms"].append(float(np.nanmean(lat)) if np.isfinite(lat).any() else np.nan)
            sched["dropped"].append(float(info["dropped"]))
            sched["episodic_length"].append(float(steps))
    out = {"episodic_return": float(np.mean(returns))}
    if costs:
        out["cost"] = float(np.mean(costs))
    if gaps:
        out["gap"] = float(np.mean(gaps))
    for k, v in sched.items():
        if v:
            out[k] = float(np.nanmean(v))
    return out


# ---------------------------------------------------------------------- full evaluation
@dataclass
class EvalResult:
    """Samples of one policy on one env config.

    ``samples[k]`` holds per-step values (partitioning) or per-episode values (scheduling);
    ``episode_scores[k]`` one value per evaluation episode (partitioning: the episode's mean
    of the per-step values; scheduling: ``samples``); ``distribution`` the mean fraction of
    blocks per platform (partitioning). Gaps are in percent.
    """

    name: str
    kind: str  # "trained" | "heuristic" | "oracle"
    samples: dict[str, np.ndarray]
    distribution: np.ndarray | None = None
    platforms: tuple[str, ...] = ()
    decision_us: float = float("nan")
    run: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    episode_scores: dict[str, np.ndarray] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Flat row: ``<metric>_mean``, ``<metric>_std``, ``dist_<platform>_pct``, ..."""
        row: dict[str, Any] = {"agent": self.name, "kind": self.kind, "run": self.run or ""}
        for k, v in self.samples.items():
            v = np.asarray(v, dtype=np.float64)
            v = v[np.isfinite(v)]
            row[f"{k}_mean"] = float(v.mean()) if v.size else float("nan")
            row[f"{k}_std"] = float(v.std()) if v.size else float("nan")
        if self.distribution is not None:
            for p, frac in zip(self.platforms, self.distribution, strict=True):
                row[f"dist_{p}_pct"] = 100.0 * float(frac)
        row["decision_ms"] = self.decision_us / 1000.0
        row.update(self.info)
        return row


def time_decisions(policy: Any, env: Any, steps: int, seed: int) -> float:
    """Median µs of ``policy.act(obs)`` on a single env over ``steps`` steps (0: NaN)."""
    if steps <= 0:
        return float("nan")
    if hasattr(policy, "reset"):
        policy.reset()
    obs, _ = reset_episode(env, seed)
    for _ in range(3):  # warm-up: first calls pay lazy initialisation
        policy.act(obs)
    times = np.empty(steps)
    for i in range(steps):
        t0 = time.perf_counter()
        action = policy.act(obs)
        times[i] = time.perf_counter() - t0
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            if hasattr(policy, "reset"):
                policy.reset()
            obs, _ = reset_episode(env, int(seed) + i + 1)
    return float(np.median(times) * 1e6)


def evaluate_partition(
    policy: Any,
    venv: Any,
    seed: int,
    *,
    name: str,
    kind: str,
    run: str | None = None,
) -> EvalResult:
    """All ``venv.num_envs`` episodes at once; samples per frame."""
    base = venv.unwrapped
    obs, _ = venv.reset(seed=int(seed))
    steps = base.max_episode_steps
    cols: dict[str, list[np.ndarray]] = {k: [] for k in (*PARTITION_METRICS, "reward")}
    dist = []
    for _ in range(steps):
        obs, reward, _, _, info = venv.step(policy.act_batch(obs))
        cols["reward"].append(np.asarray(reward, dtype=np.float64))
        for k in PARTITION_METRICS:
            if k in info:
                cols[k].append(np.asarray(info[k], dtype=np.float64))
        dist.append(info["distribution"])
    samples = {k: np.concatenate(v) for k, v in cols.items() if v and k != "reward"}
    per_episode = {k: np.stack(v).mean(axis=0) for k, v in cols.items() if v and k != "reward"}
    if "gap" in samples:
        samples["gap"] = samples["gap"] * 100.0  # percent
        per_episode["gap"] = per_episode["gap"] * 100.0
    returns = np.sum(np.stack(cols["reward"]), axis=0)
    platforms = tuple(base.env.platforms)
    return EvalResult(
        name=name,
        kind=kind,
        samples={**samples, "episodic_return": returns},
        distribution=np.concatenate(dist).mean(axis=0),
        platforms=platforms,
        run=run,
        episode_scores={**per_episode, "episodic_return": returns},
    )


def evaluate_scheduling(
    policy: Any,
    env: Any,
    episodes: int,
    seed: int,
    *,
    name: str,
    kind: str,
    run: str | None = None,
) -> EvalResult:
    """One episode per task set ``seed + k`` (:func:`reset_episode`); samples per episode."""
    from agents.scheduling_eval import episode_window
    from envs.scheduling.objective import episode_objective

    rows: dict[str, list[float]] = {k: [] for k in SCHEDULING_METRICS}
    for k in range(episodes):
        if hasattr(policy, "reset"):
            policy.reset()
        obs, _ = reset_episode(env, int(seed) + k)
        total, var_sum, steps, done, info = 0.0, 0.0, 0, False, {}
        while not done:
            obs, r, terminated, truncated, info = env.step(policy.act(obs))
            total += float(r)
            var_sum += float(info["variance"])
            steps += 1
            done = terminated or truncated
        lat = env.unwrapped.task_latency_ms
        rows["variance"].append(var_sum / max(steps, 1))
        rows["latency_ms"].append(float(np.nanmean(lat)) if np.isfinite(lat).any() else np.nan)
        rows["dropped"].append(float(info["dropped"]))
        arrived = max(int(info["arrived"]), 1)
        rows["forwarded_pct"].append(100.0 * info["forwarded"] / arrived)
        rows["slots"].append(float(steps))
        rows["episodic_return"].append(total)
        # J = -return / arrival window (docs/model.md §8.1): v1's combined objective
        rows["objective"].append(episode_objective(total, episode_window(env.unwrapped)))
    samples = {k: np.asarray(v, dtype=np.float64) for k, v in rows.items()}
    return EvalResult(name=name, kind=kind, samples=samples, run=run, episode_scores=samples)
