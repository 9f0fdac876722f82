"""Tabular Q-learning over the DRLoS share actions (the paper's Q-learning baseline).

Huang et al. Sec. 4.5 compare DRLoS with "the value-based RL solution which uses the same
definition": the same 2^m share actions and reward (docs/model.md §8), with a table instead of a
network. The state is discretised: each server's utilisation u_i in ``util_bins`` equal bins
on [0, 1], and the queue length (in units of M) in the bins cut by ``queue_edges``
(default: empty, <= M/2, <= M, <= 2M, more). One-step Q-learning, ε-greedy with ε decaying
linearly over the first ``epsilon_decay`` fraction of the episodes.

Checkpoints are ``torch.save`` dicts of a tensor and plain values (``torch.load(...,
weights_only=True)`` safe), written atomically with a checksum (``agents.common.checkpoint``).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.common.envcheck import scheduling_base
from agents.common.rules import Rule, check_fields, param, unit_interval
from envs.scheduling.env import ENV_ID, RECOMMENDED_MAX_EPISODE_STEPS, EdgeSchedulingEnv

CHECKPOINT_FORMAT = "edgerl.qlearning"
CHECKPOINT_VERSION = 2  # 2: checksum manifest (1 still loads)


@dataclass(frozen=True)
class QLearningConfig:
    util_bins: int = param(5, Rule("int", lo=1))
    queue_edges: tuple[float, ...] = param((0.0, 0.5, 1.0, 2.0), Rule("float_list", lo=0))
    alpha: float = param(0.1, unit_interval(lo_open=True))
    gamma: float = param(0.99, unit_interval())
    epsilon_start: float = param(1.0, unit_interval())
    epsilon_end: float = param(0.05, unit_interval())
    epsilon_decay: float = param(0.8, unit_interval())

    def __post_init__(self) -> None:
        check_fields(self)
        object.__setattr__(self, "queue_edges", tuple(float(e) for e in self.queue_edges))


def _env_id(env: gym.Env) -> str:
    spec = env.unwrapped.spec
    return spec.id if spec is not None else ENV_ID


class QLearningAgent:
    """Tabular Q over (discretised utilisations, queue level) × 2^m share actions."""

    def __init__(self, env: gym.Env, **config: Any) -> None:
        base = scheduling_base(
            env.unwrapped, "QLearningAgent", "shares", "QLearningAgent chooses DRLoS share actions"
        )
        self.config = QLearningConfig(**config)
        self.env_id = _env_id(env)
        self.num_servers = base.num_servers
        self.buffer_size = base.buffer_size
        self.layout = base.obs_layout
        self._capacities = base.capacities.astype(np.float64)
        self._queue_norm = base.queue_norm
        self.num_actions = 2**self.num_servers
        self._queue_bins = len(self.config.queue_edges) + 1
        self.num_states = self.config.util_bins**self.num_servers * self._queue_bins
        self.q = np.zeros((self.num_states, self.num_actions))
        self.episodes_trained = 0

    # ------------------------------------------------------------------ policy

    def state_index(self, obs_batch: np.ndarray) -> np.ndarray:
        """(B,) table row of each observation (mixed radix: utilisation bins, then queue bin)."""
        parts = self.layout.decode(np.asarray(obs_batch, dtype=np.float64))
        # Recover the integer loads and queue length first, so float32 rounding of the
        # observation cannot move a state across a bin edge.
        load = np.rint(parts.utilization * self._capacities)
        bins = self.config.util_bins
        u_bin = np.minimum((load * bins // self._capacities).astype(np.int64), bins - 1)
        index = np.zeros(u_bin.shape[:-1], dtype=np.int64)
        for i in range(self.num_servers):
            index = index * bins + u_bin[..., i]
        queue = np.rint(parts.queue * self._queue_norm) / self.buffer_size
        q_bin = np.digitize(queue, self.config.queue_edges, right=True)
        return index * self._queue_bins + q_bin

    def act_batch(self, obs_batch: np.ndarray) -> np.ndarray:
        """Greedy actions (B,) for a batch of observations."""
        return self.q[self.state_index(obs_batch)].argmax(axis=-1)

    def act(self, obs: np.ndarray) -> int:
        """Greedy action for one observation."""
        return int(self.act_batch(np.asarray(obs)[None])[0])

    # ------------------------------------------------------------------ training

    def epsilon(self, episode: int, episodes: int) -> float:
        c = self.config
        horizon = max(1.0, c.epsilon_decay * episodes)
        frac = min(1.0, episode / horizon)
        return c.epsilon_start + frac * (c.epsilon_end - c.epsilon_start)

    def train(
        self,
        env: gym.Env,
        episodes: int,
        seed: int,
        max_steps: int = RECOMMENDED_MAX_EPISODE_STEPS,
    ) -> list[float]:
        """Run ``episodes`` episodes of ε-greedy Q-learning; returns each episode's return.

        Task sets and exploration come from ``np.random.default_rng(seed)``, so the same seed,
        env configuration and starting table give the same table.
        """
        self._check_env(env)
        if not isinstance(episodes, int) or episodes < 1:
            raise ValueError(f"episodes must be an integer >= 1, got {episodes!r}")
        rng = np.random.default_rng(seed)
        c, q = self.config, self.q
        returns = []
        for ep in range(episodes):
            eps = self.epsilon(ep, episodes)
            obs, _ = env.reset(options={"task_set_seed": int(rng.integers(2**62))})
            s = int(self.state_index(obs[None])[0])
            total, done, steps = 0.0, False, 0
            while not done:
                a = (
                    int(rng.integers(self.num_actions))
                    if rng.random() < eps
                    else int(q[s].argmax())
                )
                obs, r, terminated, truncated, _ = env.step(a)
                s2 = int(self.state_index(obs[None])[0])
                target = r if terminated else r + c.gamma * q[s2].max()
                q[s, a] += c.alpha * (target - q[s, a])
                s, total, steps = s2, total + r, steps + 1
                done = terminated or truncated or steps >= max_steps
            returns.append(total)
            self.episodes_trained += 1
        return returns

    # ------------------------------------------------------------------ checkpoints

    def save(self, path: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> Path:
        """Write the table and its metadata atomically, with a checksum
        (:func:`agents.common.checkpoint.save_checkpoint`). ``extra``: plain values stored
        under ``"extra"`` (the pipeline keeps its step counter there, in the same file)."""
        from agents.common.checkpoint import save_checkpoint

        cfg = asdict(self.config)
        cfg["queue_edges"] = list(cfg["queue_edges"])
        payload = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "env_id": self.env_id,
            "num_servers": self.num_servers,
            "buffer_size": self.buffer_size,
            "config": cfg,
            "episodes_trained": self.episodes_trained,
            "q": torch.from_numpy(self.q.copy()),
            "extra": dict(extra or {}),
        }
        return save_checkpoint(path, payload)

    @classmethod
    def load(cls, path: str | os.PathLike[str], env: gym.Env) -> QLearningAgent:
        """Load a checkpoint for ``env``; :class:`~agents.common.checkpoint.CheckpointError`
        (a ValueError naming the file) if it is missing, corrupted, not finite or was
        trained for another env."""
        from agents.common.checkpoint import CheckpointError, load_checkpoint, payload_error

        data = load_checkpoint(
            path,
            formats=(CHECKPOINT_FORMAT,),
            versions=(1, CHECKPOINT_VERSION),
            kind="a Q-learning",
        )
        try:
            agent = cls(
                env, **{**data["config"], "queue_edges": tuple(data["config"]["queue_edges"])}
            )
            mismatch = [
                f"{key}={data[key]!r} (env: {getattr(agent, key)!r})"
                for key in ("env_id", "num_servers", "buffer_size")
                if data[key] != getattr(agent, key)
            ]
            q = data["q"].numpy()
            episodes = int(data["episodes_trained"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise payload_error(path, exc, "restoring the Q-learning agent") from exc
        if mismatch:
            raise CheckpointError(path, "trained for another env: " + ", ".join(mismatch))
        if q.shape != agent.q.shape:
            raise CheckpointError(path, f"Q table shape {q.shape} != expected {agent.q.shape}")
        agent.q = q.astype(np.float64, copy=True)
        agent.episodes_trained = episodes
        agent.extra = dict(data.get("extra") or {})
        return agent

    def _check_env(self, env: gym.Env) -> None:
        base = env.unwrapped
        if not isinstance(base, EdgeSchedulingEnv) or base.action_mode != "shares":
            raise ValueError("train() needs an EdgeSchedulingEnv in action_mode='shares'")
        mine = (self.env_id, self.num_servers, self.buffer_size)
        theirs = (_env_id(env), base.num_servers, base.buffer_size)
        if mine != theirs:
            raise ValueError(
                f"env (id, num_servers, buffer_size)={theirs} differs from the agent's {mine}"
            )
