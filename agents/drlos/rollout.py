"""Rollouts for DRLoS: N episodes of one task set, run in lockstep, padded to (N, T) arrays.

DRLoS (Huang et al. Sec. 3.3.2, after DeepRM) rolls out N episodes on the *same* task set so
that the returns at each time step can be averaged into a baseline. The scheduling env
replays a task set exactly with ``reset(options={"task_set_seed": k})`` and is otherwise
deterministic, so the N episodes differ only through the sampled actions.

The N episodes run in lockstep on N copies of the env: one batched policy forward pass per
time step for the episodes still running (a finished episode is simply not stepped again,
so there is no vector-env autoreset to undo). Actions are sampled with a seeded
``torch.Generator``: the same generator state, policy and task set give the same batch.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import NamedTuple

import gymnasium as gym
import numpy as np
import torch

from envs.scheduling.env import RECOMMENDED_MAX_EPISODE_STEPS, EdgeSchedulingEnv


class RolloutBatch(NamedTuple):
    """N episodes padded to the longest one, T steps (entries past an episode's end are 0).

    ``mask[j, t]`` is True when episode j took step t (i.e. ``t < lengths[j]``).
    """

    features: np.ndarray  # (N, T, F) float32 — policy input policy.encode(obs) at each step
    actions: np.ndarray  # (N, T) int64
    rewards: np.ndarray  # (N, T) float64
    mask: np.ndarray  # (N, T) bool
    variance: np.ndarray  # (N, T) float64 — info["variance"] after each step
    lengths: np.ndarray  # (N,) int64
    truncated: np.ndarray  # (N,) bool — cut at max_steps rather than terminated
    latency_ms: np.ndarray  # (N,) float64 — mean latency of the tasks placed (NaN if none)
    dropped: np.ndarray  # (N,) int64 — tasks dropped in the episode
    task_set_seeds: np.ndarray  # (N,) int64

    @property
    def returns(self) -> np.ndarray:
        """(N,) undiscounted episode returns."""
        return self.rewards.sum(axis=1)

    @property
    def mean_variance(self) -> np.ndarray:
        """(N,) mean per-step utilisation variance of each episode."""
        return self.variance.sum(axis=1) / np.maximum(self.lengths, 1)


def max_episode_steps(env: gym.Env) -> int:
    """The env's ``TimeLimit`` (``env.spec.max_episode_steps``), else the env's recommendation."""
    spec = getattr(env, "spec", None)
    limit = getattr(spec, "max_episode_steps", None) if spec is not None else None
    return int(limit) if limit else RECOMMENDED_MAX_EPISODE_STEPS


def make_rollout_envs(env: gym.Env, n: int) -> list[EdgeSchedulingEnv]:
    """``n`` independent copies of the unwrapped scheduling env (same configuration)."""
    base = env.unwrapped
    if not isinstance(base, EdgeSchedulingEnv):
        raise ValueError(f"DRLoS needs an EdgeSchedulingEnv, got {type(base).__name__}")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    return [copy.deepcopy(base) for _ in range(n)]


@torch.no_grad()
def collect_rollouts(
    envs: Sequence[EdgeSchedulingEnv],
    policy: torch.nn.Module,
    task_set_seeds: Sequence[int],
    *,
    max_steps: int,
    generator: torch.Generator | None = None,
    deterministic: bool = False,
    store_features: bool = True,
) -> RolloutBatch:
    """Run one episode per env, env j on task set ``task_set_seeds[j]``, until all end.

    Training passes the same seed N times (DRLoS); evaluation passes distinct seeds with
    ``deterministic=True`` (argmax of the logits) and ``store_features=False``.
    Episodes are cut after ``max_steps`` steps (``truncated``), like the registered TimeLimit.
    ``policy`` must offer ``encode(obs) -> features`` and ``head(features) -> logits``
    (:class:`~agents.drlos.networks.PolicyNetwork`); the batch keeps the features, which is
    all the update needs (3m + 4 floats a step with pooled features instead of ~3000).
    """
    n = len(envs)
    if len(task_set_seeds) != n:
        raise ValueError(
            f"task_set_seeds must have one seed per env ({n}), got {len(task_set_seeds)}"
        )
    if not deterministic and generator is None:
        raise ValueError("sampling actions needs a torch.Generator (determinism)")
    obs = np.stack(
        [
            e.reset(options={"task_set_seed": int(k)})[0]
            for e, k in zip(envs, task_set_seeds, strict=True)
        ]
    )
    alive = np.ones(n, dtype=bool)
    truncated = np.zeros(n, dtype=bool)
    lengths = np.zeros(n, dtype=np.int64)
    dropped = np.zeros(n, dtype=np.int64)
    # Per-step columns, stacked at the end (the longest episode is not known in advance).
    feat_cols, act_cols, rew_cols, var_cols = [], [], [], []
    while alive.any():
        idx = np.flatnonzero(alive)
        feats = policy.encode(torch.from_numpy(obs[idx]))
        logits = policy.head(feats)
        if deterministic:
            chosen = logits.argmax(dim=-1)
        else:
            chosen = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)[:, 0]
        actions = np.zeros(n, dtype=np.int64)
        actions[idx] = chosen.numpy()
        rewards = np.zeros(n)
        variance = np.zeros(n)
        if store_features:
            col = np.zeros((n, feats.shape[1]), dtype=np.float32)
            col[idx] = feats.numpy()
            feat_cols.append(col)
        for j in idx:
            o, r, terminated, _, info = envs[j].step(int(actions[j]))
            obs[j], rewards[j], variance[j] = o, r, info["variance"]
            lengths[j] += 1
            if terminated or lengths[j] >= max_steps:
                alive[j] = False
                truncated[j] = not terminated
                dropped[j] = info["dropped"]
        act_cols.append(actions)
        rew_cols.append(rewards)
        var_cols.append(variance)
    t = np.arange(len(act_cols))
    mask = t[None, :] < lengths[:, None]
    latency = np.array([_mean_latency(e) for e in envs])
    features = (
        np.stack(feat_cols, axis=1)
        if store_features
        else np.zeros((n, len(act_cols), 0), dtype=np.float32)
    )
    return RolloutBatch(
        features=features,
        actions=np.stack(act_cols, axis=1),
        rewards=np.stack(rew_cols, axis=1),
        mask=mask,
        variance=np.stack(var_cols, axis=1),
        lengths=lengths,
        truncated=truncated,
        latency_ms=latency,
        dropped=dropped,
        task_set_seeds=np.asarray(task_set_seeds, dtype=np.int64),
    )


def _mean_latency(env: EdgeSchedulingEnv) -> float:
    lat = env.task_latency_ms
    lat = lat[~np.isnan(lat)]
    return float(lat.mean()) if lat.size else float("nan")
