"""Evaluation of policies on fixed episodes: the one module every caller uses.

Training-time evaluation (the agents' and the pipeline runners' ``eval/*``), the pipeline's
comparison tables (``evaluate.py``), the scheduling scoreboard and the benchmarks all run
their episodes and summarise them here, so an episode's metrics are defined once:

- :func:`reset_episode`: episode ``seed`` is ``reset(seed=seed)`` on a partitioning env and
  task set ``seed`` (``reset(options={"task_set_seed": seed})``) on the scheduling env, so two
  policies evaluated with the same seeds face the same frames / tasks (the partitioning envs'
  link processes and the task sets do not depend on the actions).
- Episode accumulators, one per problem family: :class:`PartitionEpisode` (return, the
  per-frame ``info["cost"]``/``info["gap"]``) and :class:`SchedulingEpisode` (return,
  utilisation variance, the task latencies and counts; its :attr:`~SchedulingEpisode.metrics`
  use the formulas of :func:`envs.scheduling.objective.episode_scores`). An episode with no
  placed task has no latency: ``latency_mean_ms``/``latency_p95_ms`` are NaN, and every mean
  over episodes (:func:`mean_metrics`) skips NaNs.
- One loop: :func:`run_episode` / :func:`evaluate` (one episode per seed, ``policy.reset()``
  first when the policy has one), summarised by :func:`evaluate_policy` (the agents'
  evaluation: frame means), :func:`training_eval` (the pipeline runners' ``eval/*``),
  :func:`scoreboard` (docs/model.md §8.1) and :func:`evaluate_scheduling` (the tables).
- The comparison tables of the partitioning envs run all episodes at once in the env's numpy
  vector env (:func:`evaluate_partition`, one seed); :func:`time_decisions` is the decision
  time of a policy; :class:`EvalResult` holds one policy's samples.

Gaps: the env's fraction (0.01 = 1%) in :func:`evaluate_policy` / :func:`training_eval`
(logged as ``eval/gap`` in %, :data:`agents.common.logger.PERCENT_TAGS`); percent in
:class:`EvalResult`.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_EVAL_SEEDS: tuple[int, ...] = tuple(range(10_000, 10_010))
PARTITION_METRICS: tuple[str, ...] = ("cost", "latency_ms", "energy_j", "overhead", "gap")
#: per-episode samples of :func:`evaluate_scheduling` (:attr:`SchedulingEpisode.metrics` keys)
SCHEDULING_METRICS: dict[str, str] = {
    "variance": "variance", "latency_ms": "latency_mean_ms", "dropped": "dropped",
    "forwarded_pct": "forwarded_pct", "slots": "steps", "episodic_return": "episodic_return",
    "objective": "objective",
}  # fmt: skip
#: :func:`training_eval`'s scheduling keys (the custom agents' ``eval/*`` tags)
TRAINING_EVAL_SCHEDULING: dict[str, str] = {
    "cost": "variance", "latency_ms": "latency_mean_ms", "dropped": "dropped",
    "episodic_length": "steps",
}  # fmt: skip

Act = Callable[[Any], Any]


# ------------------------------------------------------------------------------ episodes
def is_scheduling(env: Any) -> bool:
    """The scheduling env (single, possibly wrapped), as opposed to a partitioning env."""
    return hasattr(env.unwrapped, "obs_layout")


def reset_episode(env: Any, seed: int) -> tuple[Any, dict[str, Any]]:
    """Episode ``seed``: ``reset(seed=seed)`` for the partitioning envs; the scheduling env
    replays task set ``seed`` (``options={"task_set_seed": seed}``, as DRLoS evaluates)."""
    if is_scheduling(env):
        return env.reset(options={"task_set_seed": int(seed)})
    return env.reset(seed=int(seed))


def episode_window(base: Any) -> int:
    """The arrival window of the episode's task set in slots (the J denominator): the
    arrival process's ``window_slots``, or a replayed trace's span."""
    window = getattr(base.arrival_process, "window_slots", None) or max(
        int(base.tasks.arrival[-1]) + 1 if base.tasks.size else 1, 1
    )
    return int(window)


@dataclass
class PartitionEpisode:
    """One episode of a partitioning env: its return and the per-frame cost and gap (the
    env's fraction) when the env reports them."""

    episode_return: float = 0.0
    steps: int = 0
    costs: list[float] = field(default_factory=list)
    gaps: list[float] = field(default_factory=list)

    def add(self, reward: Any, info: Mapping[str, Any]) -> None:
        self.episode_return += float(reward)
        self.steps += 1
        if "cost" in info:
            self.costs.append(float(info["cost"]))
        if "gap" in info:
            self.gaps.append(float(info["gap"]))

    def close(self, env: Any) -> None:
        """Nothing to read from the env at the end of a partitioning episode."""


@dataclass
class SchedulingEpisode:
    """One episode of the scheduling env; :meth:`close` (right after its last step, before
    the next reset) reads the task latencies and fills :attr:`metrics`:

    the scoreboard columns of :func:`envs.scheduling.objective.episode_scores` (``objective``
    J, ``variance`` the mean per-step utilisation variance, ``latency_mean_ms`` and
    ``latency_p95_ms`` over the placed tasks, NaN when none was placed, ``forwarded_pct``,
    ``dropped_pct``, ``unplaced_pct`` of the tasks that arrived), plus ``episodic_return``,
    ``steps``, ``dropped`` (tasks) and ``throughput_per_s`` (completed tasks per second of
    simulated time).
    """

    episode_return: float = 0.0
    variance_sum: float = 0.0
    steps: int = 0
    info: Mapping[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    def add(self, reward: Any, info: Mapping[str, Any]) -> None:
        self.episode_return += float(reward)
        self.variance_sum += float(info["variance"])
        self.steps += 1
        self.info = info

    def close(self, env: Any) -> None:
        from envs.scheduling.objective import episode_scores

        base, info = env.unwrapped, self.info
        self.metrics = episode_scores(
            self.episode_return, self.variance_sum, self.steps, base.task_latency_ms,
            int(info["arrived"]), int(info["forwarded"]), int(info["dropped"]),
            episode_window(base),
        )  # fmt: skip
        self.metrics.update(
            episodic_return=self.episode_return,
            steps=float(self.steps),
            dropped=float(info["dropped"]),
            throughput_per_s=info["completed"] / (self.steps * base.slot_ms / 1000.0),
        )


Episode = PartitionEpisode | SchedulingEpisode


def run_episode(env: Any, act: Act, seed: int, max_steps: int | None = None) -> Episode:
    """Episode ``seed`` (:func:`reset_episode`) with ``act(obs) -> action`` until it ends
    (or after ``max_steps`` steps, for envs without a time limit); its accumulator."""
    episode = SchedulingEpisode() if is_scheduling(env) else PartitionEpisode()
    obs, _ = reset_episode(env, seed)
    while True:
        obs, reward, terminated, truncated, info = env.step(act(obs))
        episode.add(reward, info)
        if terminated or truncated or (max_steps is not None and episode.steps >= max_steps):
            break
    episode.close(env)
    return episode


@dataclass
class FnPolicy:
    """A policy from functions: ``act(obs)`` and, called before every episode, ``reset()``."""

    act: Act
    reset: Callable[[], Any] | None = None


def evaluate(
    policy: Any, env: Any, seeds: Iterable[int], max_steps: int | None = None
) -> list[Episode]:
    """One episode per seed (:func:`run_episode`). ``policy``: an object with ``act(obs)``
    (and optionally ``reset()``, called before every episode), or ``act`` itself."""
    act = policy.act if hasattr(policy, "act") else policy
    reset = getattr(policy, "reset", None)
    episodes = []
    for seed in seeds:
        if reset is not None:
            reset()
        episodes.append(run_episode(env, act, int(seed), max_steps))
    return episodes


def mean_metrics(
    episodes: Sequence[SchedulingEpisode], columns: Mapping[str, str] | Sequence[str]
) -> dict[str, float]:
    """Means over the episodes, NaNs skipped (an episode without latency does not count
    towards the latency); ``columns`` maps an output key to a metric (a sequence: the same
    names). NaN where every episode has NaN."""
    named = columns if isinstance(columns, Mapping) else {c: c for c in columns}
    with warnings.catch_warnings():  # all-NaN column ("Mean of empty slice"): NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return {k: float(np.nanmean([e.metrics[m] for e in episodes])) for k, m in named.items()}


# ---------------------------------------------------------------------- summaries
def evaluate_policy(
    act: Act, env: Any, seeds: Sequence[int] = DEFAULT_EVAL_SEEDS, max_steps: int | None = None
) -> dict[str, float]:
    """Run one episode per seed with ``act(obs) -> action`` (the agents' evaluation).

    Returns means over all frames of ``info["cost"]`` and ``info["gap"]`` (when the env
    reports them) as ``cost``/``gap``, the mean episode return as ``episodic_return``, and
    ``episodes``/``frames``. ``max_steps`` caps episodes of envs without a time limit.
    """
    if len(seeds) == 0:
        raise ValueError("seeds must hold at least one episode seed")
    episodes = evaluate(act, env, seeds, max_steps)
    out = {
        "episodic_return": float(np.mean([e.episode_return for e in episodes])),
        "episodes": float(len(seeds)),
        "frames": float(sum(e.steps for e in episodes)),
    }
    return out | _frame_means(episodes)


def _frame_means(episodes: Sequence[Episode]) -> dict[str, float]:
    """``cost``/``gap``: means over every frame of the partitioning episodes."""
    out = {}
    for key in ("cost", "gap"):
        values = [
            v for e in episodes if isinstance(e, PartitionEpisode) for v in getattr(e, f"{key}s")
        ]
        if values:
            out[key] = float(np.mean(values))
    return out


def training_eval(policy: Any, env: Any, seeds: Sequence[int]) -> dict[str, float]:
    """Deterministic episodes on a single env, one per seed (:func:`evaluate`).

    The keys match the custom agents' ``eval/*`` tags: ``episodic_return`` and ``cost``
    everywhere; ``gap`` (partitioning: means over all frames, as :func:`evaluate_policy`);
    for scheduling ``cost`` is the mean per-step utilisation variance of an episode, and
    ``latency_ms`` (mean task latency), ``dropped`` and ``episodic_length`` are per-episode
    (all averaged over episodes, NaNs skipped, as :meth:`agents.drlos.DRLoS.evaluate`).
    """
    episodes = evaluate(policy, env, seeds)
    out = {"episodic_return": float(np.mean([e.episode_return for e in episodes]))}
    out |= _frame_means(episodes)
    sched = [e for e in episodes if isinstance(e, SchedulingEpisode)]
    return out | (mean_metrics(sched, TRAINING_EVAL_SCHEDULING) if sched else {})


def scoreboard_episode(env: Any, act: Act, task_set_seed: int) -> dict[str, float]:
    """One episode of ``env`` (a scheduling env, possibly wrapped in ``TimeLimit``) on task
    set ``task_set_seed`` with ``act(obs) -> action``: its scoreboard row."""
    from envs.scheduling.objective import SCOREBOARD_COLUMNS

    metrics = run_episode(env, act, task_set_seed).metrics
    return {c: metrics[c] for c in SCOREBOARD_COLUMNS}


def scoreboard(env: Any, policy: Any, task_set_seeds: Iterable[int]) -> dict[str, float]:
    """Mean scoreboard row (``SCOREBOARD_COLUMNS``, docs/model.md §8.1) of ``policy``
    (``.act(obs)``, optional ``.reset()``; or ``act`` itself) over the task sets."""
    from envs.scheduling.objective import SCOREBOARD_COLUMNS

    return mean_metrics(evaluate(policy, env, task_set_seeds), SCOREBOARD_COLUMNS)


# ------------------------------------------------------------------- comparison tables
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
    """Median µs of ``policy.act(obs)`` on single observations of a single env over
    ``steps`` steps (what a deployed controller pays per request / slot; 0 steps: NaN)."""
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
    """All ``venv.num_envs`` episodes at once in the env's numpy vector env, reset with one
    seed (``policy.act_batch``); the frames do not depend on the actions, so every policy
    sees the same ones. Samples per frame, ``episode_scores`` per episode."""
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
    """One episode per task set ``seed + k`` (:func:`evaluate`; the same tasks in the
    ``shares`` mode of the RL agents and the ``assign`` mode of the heuristics); samples per
    episode (:data:`SCHEDULING_METRICS`)."""
    done = evaluate(policy, env, range(int(seed), int(seed) + episodes))
    samples = {
        k: np.asarray([e.metrics[m] for e in done], dtype=np.float64)
        for k, m in SCHEDULING_METRICS.items()
    }
    return EvalResult(name=name, kind=kind, samples=samples, run=run, episode_scores=samples)
