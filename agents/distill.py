"""DP-distill: a policy network trained to predict the clairvoyant oracle's decision.

Only a simulator with an exact optimum can train this learner, which makes it the strongest
learned baseline the suite offers on the partitioning envs: an MLP reads what the agent
observes (in v1 the previous frame's measurement) and predicts, block by block, the
platform the oracle (docs/model.md §7) chooses on the **true** current frame.

Training is DAgger-style (Ross et al., AISTATS 2011): each iteration rolls the current
policy out on a native vector env (``beta``-mixed with the oracle's own decisions in the
first iterations), labels every visited observation with the oracle's decision of that frame,
aggregates the labelled data (up to ``buffer_size`` samples, oldest dropped) and fits the
network by cross-entropy per block. In the partitioning MDP the frames do not depend on the
actions (a contextual bandit), so the visited states are the env's own state distribution
and DAgger reduces to supervised learning on fresh frames; the relabelling loop is kept so
the same learner applies unchanged where actions would matter.

The actor is the suite's fast actor (:func:`agents.common.fast_actor.mlp_actor_spec` with
an ``argmax`` head, one group of ``P`` logits per block): it acts in the env's discrete mode
(``MultiDiscrete([P] * n)``), saves with :func:`agents.common.checkpoint.save_checkpoint` and
loads with :func:`agents.load_actor`.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.common.checkpoint import env_signature, save_checkpoint
from agents.common.fast_actor import NumpyActor, mlp_actor_spec

ALGO = "dp_distill"


@dataclass
class DistillConfig:
    """Hyperparameters of :class:`DPDistill` (validated in ``__post_init__``)."""

    hidden: tuple[int, ...] = (128, 128)
    lr: float = 1e-3
    batch_size: int = 256
    num_envs: int = 64  # copies of the vector env rolled out per iteration
    frames_per_iter: int = 25  # vector steps per iteration (num_envs * this samples)
    epochs_per_iter: int = 4  # passes over the newest samples' worth of minibatches
    buffer_size: int = 200_000
    beta0: float = 1.0  # P(oracle acts) in iteration 0, decays linearly to 0
    beta_iters: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        def whole(name: str, lo: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")

        for name in ("batch_size", "num_envs", "frames_per_iter", "epochs_per_iter", "buffer_size"):
            whole(name, 1)
        whole("beta_iters", 0)
        whole("seed", 0)
        self.hidden = tuple(self.hidden)
        if not self.hidden or any(
            isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in self.hidden
        ):
            raise ValueError(
                f"hidden must be a non-empty list of integers >= 1, got {self.hidden!r}"
            )
        if not (isinstance(self.lr, int | float) and 0 < self.lr <= 1):
            raise ValueError(f"lr must be in (0, 1], got {self.lr!r}")
        if not (isinstance(self.beta0, int | float) and 0 <= self.beta0 <= 1):
            raise ValueError(f"beta0 must be in [0, 1], got {self.beta0!r}")


class DPDistill:
    """Behaviour cloning of the oracle with DAgger relabelling (see the module docstring).

    Args:
        env_id: A registered partitioning id (``EdgeRL/MECPartition-v1`` ...).
        env_kwargs: Its constructor arguments (``action_mode`` is forced to ``"discrete"``).
        **config: :class:`DistillConfig` fields.
    """

    def __init__(self, env_id: str, env_kwargs: dict[str, Any] | None = None, **config: Any):
        import envs  # noqa: F401  (registers the ids)

        self.config = DistillConfig(**config)
        self.env_id = env_id
        self.env_kwargs = {**(env_kwargs or {}), "action_mode": "discrete", "oracle": False}
        self.vec = gym.make_vec(env_id, num_envs=self.config.num_envs,
                                vectorization_mode="vector_entry_point", **self.env_kwargs)  # fmt: skip
        base = self.vec.unwrapped
        if getattr(base, "scenario", None) not in ("mec", "d2d"):
            raise ValueError(f"DP-distill needs a partitioning env, got {env_id!r}")
        self.n, self.P = base.n_blocks, base.num_platforms
        obs_dim = self.vec.single_observation_space.shape[0]
        torch.manual_seed(self.config.seed)
        sizes = (obs_dim, *self.config.hidden, self.n * self.P)
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            layers += [nn.Linear(a, b), nn.ReLU()]
        self.net = nn.Sequential(*layers[:-1])  # logits: no activation after the last layer
        self.opt = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)
        self.rng = np.random.default_rng(self.config.seed)
        self.signature = env_signature(self.vec)
        self.obs_buf = np.zeros((0, obs_dim), dtype=np.float32)
        self.label_buf = np.zeros((0, self.n), dtype=np.int64)
        self.iterations = 0
        self.frames = 0

    # ------------------------------------------------------------------ acting
    def _decide(self, obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = self.net(torch.as_tensor(obs, dtype=torch.float32))
        return logits.reshape(len(obs), self.n, self.P).argmax(-1).numpy()

    def fast_actor(self) -> NumpyActor:
        """The current policy as a numpy actor (a snapshot; discrete actions)."""
        linears = [m for m in self.net if isinstance(m, nn.Linear)]
        spec = mlp_actor_spec(linears, activation="relu", output="argmax", argmax_groups=self.n)
        return NumpyActor(spec, signature=self.signature)

    # ---------------------------------------------------------------- training
    def _collect(self) -> None:
        vec, base, cfg = self.vec, self.vec.unwrapped, self.config
        beta = cfg.beta0 * max(0.0, 1.0 - self.iterations / max(cfg.beta_iters, 1))
        obs, _ = vec.reset(seed=int(self.rng.integers(2**31)))
        xs, ys = [], []
        for _ in range(cfg.frames_per_iter):
            expert = base.problem.optimum()[0]  # the clairvoyant label of this frame
            mine = self._decide(obs)
            use = self.rng.random(len(obs)) < beta
            xs.append(obs.copy())
            ys.append(expert)
            obs, *_ = vec.step(np.where(use[:, None], expert, mine))
        self.frames += cfg.frames_per_iter * cfg.num_envs
        x, y = np.concatenate(xs), np.concatenate(ys)
        self.obs_buf = np.concatenate([self.obs_buf, x])[-cfg.buffer_size :]
        self.label_buf = np.concatenate([self.label_buf, y])[-cfg.buffer_size :]

    def _fit(self) -> float:
        cfg = self.config
        size = len(self.obs_buf)
        steps = max(1, cfg.epochs_per_iter * cfg.frames_per_iter * cfg.num_envs // cfg.batch_size)
        loss_fn = nn.CrossEntropyLoss()
        total = 0.0
        for _ in range(steps):
            idx = self.rng.integers(0, size, min(cfg.batch_size, size))
            x = torch.as_tensor(self.obs_buf[idx])
            y = torch.as_tensor(self.label_buf[idx])
            logits = self.net(x).reshape(len(idx), self.n, self.P)
            loss = loss_fn(logits.reshape(-1, self.P), y.reshape(-1))
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            total += float(loss.detach())
        return total / steps

    def learn(self, total_frames: int) -> dict[str, float]:
        """Collect and fit until ``total_frames`` more env frames have been labelled."""
        if isinstance(total_frames, bool) or not isinstance(total_frames, int) or total_frames < 1:
            raise ValueError(f"total_frames must be an integer >= 1, got {total_frames!r}")
        target = self.frames + total_frames
        loss = float("nan")
        while self.frames < target:
            self._collect()
            loss = self._fit()
            self.iterations += 1
        return {"loss": loss, "frames": float(self.frames), "iterations": float(self.iterations)}

    # ------------------------------------------------------------- checkpoints
    def save(self, path: str | os.PathLike[str]) -> Path:
        """An atomic checksummed checkpoint that :func:`agents.load_actor` reads."""
        return save_checkpoint(
            path,
            {
                "algo": ALGO,
                "variant": ALGO,
                "signature": self.signature,
                "config": {**asdict(self.config), "hidden": list(self.config.hidden)},
                "actor": self.fast_actor().spec,
                "state": {
                    "net": self.net.state_dict(),
                    "frames": self.frames,
                    "iterations": self.iterations,
                },
            },
        )
