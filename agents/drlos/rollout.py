"""Rollouts for DRLoS: N episodes of one task set, run as one batch, padded to (N, T) arrays.

DRLoS (Huang et al. Sec. 3.3.2, after DeepRM) rolls out N episodes on the *same* task set so
that the returns at each time step can be averaged into a baseline. The scheduling env
replays a task set exactly with ``reset(options={"task_set_seed": k})`` and is otherwise
deterministic, so the N episodes differ only through the sampled actions.

The N episodes are the N copies of the native vector env
(:class:`~envs.scheduling.vector.EdgeSchedulingVectorEnv`, numpy-batched over copies), reset
with ``{"task_set_seed": [k_1, ..., k_N], "repeat_task_set": True}``: one batched env step
and one batched policy forward pass (over the episodes still running) per time step. A
copy whose episode has ended keeps being stepped with action 0 (it autoresets onto the same
task set, cheaply) until the last episode ends; its outputs are ignored. Actions are sampled
with a seeded ``torch.Generator`` for the running episodes only (:func:`sample_actions`,
which draws exactly as ``torch.multinomial``), as when each episode had its own single env,
and the vector env reproduces the single env bit for bit, so a seed gives the same batches
(and the same training run) as before the vector env (``tests/test_drlos.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import gymnasium as gym
import numpy as np
import torch

from envs.scheduling.env import RECOMMENDED_MAX_EPISODE_STEPS, EdgeSchedulingEnv
from envs.scheduling.vector import EdgeSchedulingVectorEnv


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


def sample_actions(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One action per row of ``probs`` (B, A): ``torch.multinomial(probs, 1, generator)[:, 0]``.

    Computed as ``torch.multinomial`` computes one sample (the exponential race, i.e. the
    Gumbel-max trick: ``argmax p / E`` with ``E ~ Exp(1)`` drawn from ``generator``), without
    its input checks, which cost more than the draw at DRLoS's sizes; the same generator
    state gives the same actions and the same generator state afterwards
    (``tests/test_drlos.py`` checks both against ``torch.multinomial``).
    """
    race = torch.empty_like(probs).exponential_(1, generator=generator)
    return (probs / race).argmax(dim=-1)


def _head_forward(head: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``head(x)`` for an ``nn.Sequential`` of Linear / ReLU / Tanh layers, calling the same
    functions without the per-module call overhead (identical results)."""
    for layer in head:
        if isinstance(layer, torch.nn.Linear):
            x = torch.nn.functional.linear(x, layer.weight, layer.bias)
        elif isinstance(layer, torch.nn.ReLU):
            x = torch.relu(x)
        elif isinstance(layer, torch.nn.Tanh):
            x = torch.tanh(x)
        else:
            return head(x)  # another architecture: the module itself
    return x


def max_episode_steps(env: gym.Env) -> int:
    """The env's ``TimeLimit`` (``env.spec.max_episode_steps``), else the env's recommendation."""
    spec = getattr(env, "spec", None)
    limit = getattr(spec, "max_episode_steps", None) if spec is not None else None
    return int(limit) if limit else RECOMMENDED_MAX_EPISODE_STEPS


def make_rollout_envs(env: gym.Env, n: int) -> EdgeSchedulingVectorEnv:
    """A vector env of ``n`` copies of the scheduling env's configuration (no time limit:
    :func:`collect_rollouts` cuts episodes itself)."""
    base = env.unwrapped
    if not isinstance(base, EdgeSchedulingEnv):
        raise ValueError(f"DRLoS needs an EdgeSchedulingEnv, got {type(base).__name__}")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    return EdgeSchedulingVectorEnv.from_env(base, n, max_episode_steps=None)


@torch.no_grad()
def collect_rollouts(
    envs: EdgeSchedulingVectorEnv,
    policy: torch.nn.Module,
    task_set_seeds: Sequence[int],
    *,
    max_steps: int,
    generator: torch.Generator | None = None,
    deterministic: bool = False,
    store_features: bool = True,
) -> RolloutBatch:
    """Run one episode per copy of ``envs``, copy j on task set ``task_set_seeds[j]``.

    Training passes the same seed N times (DRLoS); evaluation passes distinct seeds with
    ``deterministic=True`` (argmax of the logits) and ``store_features=False``.
    Episodes are cut after ``max_steps`` steps (``truncated``), like the registered TimeLimit.
    ``envs``: a vector env from :func:`make_rollout_envs` (no time limit of its own; with
    one, its truncations also end episodes). ``policy`` must offer ``encode(obs) -> features`` and
    ``head(features) -> logits`` (:class:`~agents.drlos.networks.PolicyNetwork`); the batch
    keeps the features, which is all the update needs (3m + 4 floats a step with pooled
    features instead of ~3000).
    """
    n = envs.num_envs
    if len(task_set_seeds) != n:
        raise ValueError(
            f"task_set_seeds must have one seed per env ({n}), got {len(task_set_seeds)}"
        )
    if not deterministic and generator is None:
        raise ValueError("sampling actions needs a torch.Generator (determinism)")
    seeds = [int(k) for k in task_set_seeds]
    obs, _ = envs.reset(options={"task_set_seed": seeds, "repeat_task_set": True})
    alive = np.ones(n, dtype=bool)
    truncated = np.zeros(n, dtype=bool)
    lengths = np.zeros(n, dtype=np.int64)
    dropped = np.zeros(n, dtype=np.int64)
    latency = np.full(n, np.nan)
    # Per-step columns, stacked at the end (the longest episode is not known in advance).
    feat_cols, act_cols, rew_cols, var_cols = [], [], [], []
    while alive.any():
        idx = np.flatnonzero(alive)
        everyone = idx.size == n
        feats = policy.encode(torch.from_numpy(obs if everyone else obs[idx]))
        logits = _head_forward(policy.head, feats)
        if deterministic:
            chosen = logits.argmax(dim=-1)
        else:
            assert generator is not None
            chosen = sample_actions(torch.softmax(logits, dim=-1), generator)
        if everyone:
            actions = chosen.numpy().astype(np.int64, copy=False)
        else:  # ended episodes: action 0 (ignored), padding 0
            actions = np.zeros(n, dtype=np.int64)
            actions[idx] = chosen.numpy()
        if store_features:
            if everyone:
                col = feats.numpy()
            else:
                col = np.zeros((n, feats.shape[1]), dtype=np.float32)
                col[idx] = feats.numpy()
            feat_cols.append(col)
        obs, r, terminated, cut, info = envs.step(actions)
        rew_cols.append(r if everyone else np.where(alive, r, 0.0))
        var_cols.append(info["variance"] if everyone else np.where(alive, info["variance"], 0.0))
        act_cols.append(actions)
        lengths += alive
        ended = alive & (terminated | cut | (lengths >= max_steps))
        for j in np.flatnonzero(ended).tolist():  # before the copy autoresets
            lat = envs.task_latency_ms(j)
            lat = lat[~np.isnan(lat)]
            latency[j] = float(lat.mean()) if lat.size else float("nan")
        truncated |= ended & ~terminated
        dropped = np.where(ended, info["dropped"], dropped)
        alive &= ~ended
    t = np.arange(len(act_cols))
    mask = t[None, :] < lengths[:, None]
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
        task_set_seeds=np.asarray(seeds, dtype=np.int64),
    )
