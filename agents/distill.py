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

Episodes run to the env's time limit across iterations (an iteration is ``frames_per_iter``
vector steps, an episode ``max_episode_steps``), so every frame of an episode is trained on,
not only its first ones; all copies start together (one ``reset`` with a seed drawn from the
agent's generator) and end together. Per finished batch of episodes the agent logs the
shared ``charts/*`` tags of :mod:`agents.common.logger` (means over the copies; ``charts/gap``
when the env runs its per-step oracle, ``oracle=True``); per iteration ``losses/loss`` (the
cross-entropy), ``losses/accuracy`` (block accuracy on the training minibatches),
``charts/oracle_accuracy`` / ``charts/oracle_match`` (share of blocks / of whole decisions
where the policy, before the iteration's update, chose what the oracle chose, on the fresh
frames just collected: a held-out measure), ``charts/beta`` and ``charts/SPS``.

The actor is the suite's fast actor (:func:`agents.common.fast_actor.mlp_actor_spec` with
an ``argmax`` head, one group of ``P`` logits per block): it acts in the env's discrete mode
(``MultiDiscrete([P] * n)``), saves with :func:`agents.common.checkpoint.save_checkpoint` and
loads with :func:`agents.load_actor`. A checkpoint also holds the optimiser and RNG states,
the episode in progress and (``include_buffer``) the labelled data, so :meth:`DPDistill.load`
resumes exactly where :meth:`DPDistill.save` stopped (the env is put back into its episode by
replaying it from its seed: its frames do not depend on the actions).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.common.checkpoint import (
    CheckpointError,
    check_signature,
    env_signature,
    load_checkpoint,
    numpy_rng_state,
    payload_error,
    save_checkpoint,
    set_numpy_rng_state,
)
from agents.common.fast_actor import NumpyActor, mlp_actor_spec
from agents.common.logger import RunLogger
from agents.common.mlp import linear_modules, mlp
from agents.common.rules import Rule, check_fields, non_negative, param, unit_interval

ALGO = "dp_distill"


@dataclass
class DistillConfig:
    """Hyperparameters of :class:`DPDistill` (validated in ``__post_init__``)."""

    hidden: tuple[int, ...] = param((128, 128), Rule("int_list", lo=1))
    lr: float = param(1e-3, unit_interval(lo_open=True))
    batch_size: int = param(256, Rule("int", lo=1))
    # copies of the vector env rolled out per iteration
    num_envs: int = param(64, Rule("int", lo=1))
    # vector steps per iteration (num_envs * this samples)
    frames_per_iter: int = param(25, Rule("int", lo=1))
    # passes over the newest samples' worth of minibatches
    epochs_per_iter: int = param(4, Rule("int", lo=1))
    buffer_size: int = param(200_000, Rule("int", lo=1))
    beta0: float = param(1.0, unit_interval())  # P(oracle acts) in iteration 0, decays to 0
    beta_iters: int = param(5, non_negative("int"))
    seed: int = param(0, non_negative("int"))

    def __post_init__(self) -> None:
        check_fields(self)
        self.hidden = tuple(self.hidden)


class DPDistill:
    """Behaviour cloning of the oracle with DAgger relabelling (see the module docstring).

    Subclasses (:class:`agents.forecast.DPForecast`) reuse the rollout, episode, logging and
    checkpoint machinery and change what a frame is labelled with (:meth:`_label`), the
    network's output size (:meth:`_out_dim`), the loss (:meth:`_loss`) and how the policy
    decides (:meth:`_decide`, :meth:`fast_actor`).

    Args:
        env: A registered partitioning id (``EdgeRL/MECPartition-v1`` ...), built here as a
            native vector env of ``num_envs`` copies from ``env_kwargs``; or such a vector
            env already built (``gym.make_vec(id, num_envs=..., vectorization_mode=
            "vector_entry_point", action_mode="discrete", ...)``, as the pipeline does), whose
            ``num_envs`` must equal the config's. The agent closes an env it built, not one
            it was given.
        env_kwargs: The id's constructor arguments (``action_mode`` is forced to
            ``"discrete"``, ``oracle`` defaults to False: the labels come from the agent's
            own oracle call; ``oracle=True`` adds ``charts/gap``). Only with an id.
        logger: A :class:`RunLogger` for the tags of the module docstring (default: in
            memory only).
        **config: :class:`DistillConfig` fields.
    """

    algo = ALGO
    config_class: type = DistillConfig
    label_dtype: Any = np.int64

    def __init__(
        self,
        env: str | gym.vector.VectorEnv,
        env_kwargs: Mapping[str, Any] | None = None,
        *,
        logger: RunLogger | None = None,
        **config: Any,
    ):
        import envs  # noqa: F401  (registers the ids)

        self.config = self.config_class(**config)
        cfg = self.config
        if isinstance(env, str):
            self.env_id = env
            self.env_kwargs = {"oracle": False, **(env_kwargs or {}), "action_mode": "discrete"}
            self.vec = gym.make_vec(env, num_envs=cfg.num_envs,
                                    vectorization_mode="vector_entry_point", **self.env_kwargs)  # fmt: skip
            self._owns_env = True
        else:
            if env_kwargs is not None:
                raise ValueError("env_kwargs applies to an env id, not to an env already built")
            num = getattr(env, "num_envs", None)
            if num is None:
                raise ValueError(
                    "DP-distill needs a native vector env (gym.make_vec(id, num_envs=..., "
                    f"vectorization_mode='vector_entry_point')) or an env id, got {env!r}"
                )
            if num != cfg.num_envs:
                raise ValueError(f"the vector env has {num} copies but num_envs={cfg.num_envs}")
            spec = getattr(env, "spec", None)
            self.env_id = spec.id if spec is not None else type(env.unwrapped).__name__
            self.env_kwargs = None
            self.vec = env
            self._owns_env = False
        try:
            base = self.vec.unwrapped
            if getattr(base, "scenario", None) not in ("mec", "d2d"):
                raise ValueError(f"DP-distill needs a partitioning env, got {self.env_id!r}")
            if base.params.action_mode != "discrete":
                raise ValueError(
                    "DP-distill acts in the env's discrete mode: build the vector env with "
                    f"action_mode='discrete' (got {base.params.action_mode!r})"
                )
        except Exception:
            self.close()
            raise
        self.logger = logger if logger is not None else RunLogger()
        self.n, self.P = base.n_blocks, base.num_platforms
        obs_dim = self.vec.single_observation_space.shape[0]
        torch.manual_seed(cfg.seed)
        self._setup(base)
        self._build_net(obs_dim)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr)
        self.rng = np.random.default_rng(cfg.seed)
        self.signature = env_signature(self.vec)
        self.obs_buf = np.zeros((0, obs_dim), dtype=np.float32)
        self.label_buf = np.zeros((0, self._label_dim()), dtype=self.label_dtype)
        self.iterations = 0
        self.frames = 0
        # the episodes in progress: all copies reset together with one seed; None: none yet
        self._obs: np.ndarray | None = None
        self._episode_seed: int | None = None
        self._episode_t = 0
        self._ep_sums = self._zero_sums()

    # ------------------------------------------------------------------- hooks
    def _setup(self, base: Any) -> None:
        """Per-subclass setup before the network is built (``base``: the unwrapped env)."""

    def _out_dim(self) -> int:
        return self.n * self.P  # P logits per block

    def _actor_payload(self) -> dict[str, Any]:
        """What :func:`agents.load_actor` rebuilds the policy from."""
        return {"actor": self.fast_actor().spec}

    def _build_net(self, obs_dim: int) -> None:
        self.net = mlp(obs_dim, self.config.hidden, self._out_dim(), "relu")

    def _label_dim(self) -> int:
        return self.n

    def _label(
        self, obs: np.ndarray, expert: np.ndarray, expert_cost: np.ndarray, info: dict[str, Any]
    ) -> np.ndarray:
        """The training label of the frames observed as ``obs``: here ``expert``, the
        oracle's decision on the true frame (``expert_cost``: its cost; ``info``: the
        step's info with the true values)."""
        return expert

    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, float]:
        """(cross-entropy per block, block accuracy) of a minibatch."""
        logits = self.net(x).reshape(len(x), self.n, self.P)
        loss = nn.functional.cross_entropy(logits.reshape(-1, self.P), y.reshape(-1))
        return loss, float((logits.detach().argmax(-1) == y).float().mean())

    def _zero_sums(self) -> dict[str, np.ndarray]:
        num = self.config.num_envs
        return {k: np.zeros(num) for k in ("return", "cost", "gap")}

    # ------------------------------------------------------------------ acting
    def _decide(self, obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = self.net(torch.as_tensor(obs, dtype=torch.float32))
        return logits.reshape(len(obs), self.n, self.P).argmax(-1).numpy()

    def fast_actor(self) -> NumpyActor:
        """The current policy as a numpy actor (a snapshot; discrete actions)."""
        spec = mlp_actor_spec(
            linear_modules(self.net), activation="relu", output="argmax", argmax_groups=self.n
        )
        return NumpyActor(spec, signature=self.signature)

    # ---------------------------------------------------------------- training
    def _beta(self) -> float:
        cfg = self.config
        return cfg.beta0 * max(0.0, 1.0 - self.iterations / max(cfg.beta_iters, 1))

    def _start_episodes(self, seed: int) -> None:
        self._obs, _ = self.vec.reset(seed=seed)
        self._episode_seed, self._episode_t = seed, 0
        self._ep_sums = self._zero_sums()

    def _collect(self) -> tuple[dict[str, float], list[dict[str, float]]]:
        """One iteration's rollout: label, aggregate. Returns the oracle agreement of the
        policy on these frames and the charts of each batch of episodes that ended (with
        the ``step`` it ended at)."""
        vec, base, cfg = self.vec, self.vec.unwrapped, self.config
        beta = self._beta()
        xs, ys = [], []
        block_hits = frame_hits = 0
        ended: list[dict[str, float]] = []
        for i in range(cfg.frames_per_iter):
            if self._obs is None:
                self._start_episodes(int(self.rng.integers(2**31)))
            obs = self._obs
            expert, expert_cost = base.problem.optimum()  # the clairvoyant label
            mine = self._decide(obs)
            use = self.rng.random(len(obs)) < beta
            xs.append(obs.copy())
            same = mine == expert
            block_hits += int(same.sum())
            frame_hits += int(same.all(1).sum())
            obs_next, reward, terminated, truncated, info = vec.step(
                np.where(use[:, None], expert, mine)
            )
            ys.append(self._label(obs, expert, expert_cost, info))
            obs = obs_next
            self._episode_t += 1
            sums = self._ep_sums
            sums["return"] += reward
            sums["cost"] += info["cost"]
            if "gap" in info:
                sums["gap"] += info["gap"]
            if np.any(terminated) or np.any(truncated):  # the copies end together
                t = self._episode_t
                done = {"step": float(self.frames + (i + 1) * cfg.num_envs),
                        "episodic_return": float(sums["return"].mean()),
                        "episodic_length": float(t), "cost": float(sums["cost"].mean() / t)}  # fmt: skip
                if "gap" in info:
                    done["gap"] = float(sums["gap"].mean() / t)
                ended.append(done)
                self._obs = None  # the next step starts new episodes (no autoreset step)
            else:
                self._obs = obs
        self.frames += cfg.frames_per_iter * cfg.num_envs
        x, y = np.concatenate(xs), np.concatenate(ys)
        self.obs_buf = np.concatenate([self.obs_buf, x])[-cfg.buffer_size :]
        self.label_buf = np.concatenate([self.label_buf, y])[-cfg.buffer_size :]
        samples = cfg.frames_per_iter * cfg.num_envs
        out = {"oracle_accuracy": block_hits / (samples * self.n),
               "oracle_match": frame_hits / samples, "beta": beta}  # fmt: skip
        return out, ended

    def _fit(self) -> tuple[float, float]:
        """The iteration's minibatch updates; (mean cross-entropy, mean block accuracy)."""
        cfg = self.config
        size = len(self.obs_buf)
        steps = max(1, cfg.epochs_per_iter * cfg.frames_per_iter * cfg.num_envs // cfg.batch_size)
        total = hits = 0.0
        for _ in range(steps):
            idx = self.rng.integers(0, size, min(cfg.batch_size, size))
            loss, acc = self._loss(
                torch.as_tensor(self.obs_buf[idx]), torch.as_tensor(self.label_buf[idx])
            )
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            total += float(loss.detach())
            hits += acc
        return total / steps, hits / steps

    def learn(
        self,
        total_frames: int,
        callback: Callable[[DPDistill, dict[str, float]], bool | None] | None = None,
        log_every: int | None = None,
    ) -> dict[str, float]:
        """Collect and fit until ``total_frames`` more env frames have been labelled.

        Args:
            total_frames: Frames in this call (whole iterations: the last may overshoot).
            callback: ``callback(agent, metrics)`` after every iteration, ``metrics`` holding
                ``loss``, ``accuracy``, ``oracle_accuracy``, ``oracle_match``, ``beta``,
                ``frames``, ``iterations`` and, when episodes ended, ``episodic_return``,
                ``episodic_length``, ``cost`` (and ``gap``). Returning ``False`` stops.
            log_every: Log ``losses/*``, ``charts/SPS`` and the oracle agreement at the first
                iteration after every this many frames (``None``: every iteration).

        Returns:
            The last iteration's metrics.
        """
        if isinstance(total_frames, bool) or not isinstance(total_frames, int) or total_frames < 1:
            raise ValueError(f"total_frames must be an integer >= 1, got {total_frames!r}")
        if log_every is not None and (
            isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 1
        ):
            raise ValueError(f"log_every must be an integer >= 1 or None, got {log_every!r}")
        target = self.frames + total_frames
        start, t0 = self.frames, time.perf_counter()
        next_log = self.frames
        metrics: dict[str, float] = {"loss": float("nan")}
        while self.frames < target:
            stats, ended = self._collect()
            loss, accuracy = self._fit()
            self.iterations += 1
            step = self.frames
            metrics = {"loss": loss, "accuracy": accuracy, **stats,
                       "frames": float(step), "iterations": float(self.iterations)}  # fmt: skip
            for charts in ended:  # at the frame each batch of episodes ended
                at = int(charts.pop("step"))
                self.logger.scalars(charts, at, "charts")
                metrics |= charts  # the last batch's
            if step >= next_log:
                next_log = step if log_every is None else (step // log_every + 1) * log_every
                sps = (step - start) / max(time.perf_counter() - t0, 1e-9)
                self.logger.scalars({"loss": loss, "accuracy": accuracy}, step, "losses")
                self.logger.scalars({k: stats[k] for k in ("oracle_accuracy", "oracle_match",
                                                            "beta")} | {"SPS": sps}, step, "charts")  # fmt: skip
            if callback is not None and callback(self, metrics) is False:
                break
        return metrics

    # ------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything but the labelled data needed to resume (weights_only-safe values)."""
        return {
            "net": self.net.state_dict(),
            "optimizer": self.opt.state_dict(),
            "frames": self.frames,
            "iterations": self.iterations,
            "rng": {"numpy": numpy_rng_state(self.rng)},
            "episode": {
                "seed": None if self._obs is None else self._episode_seed,
                "t": self._episode_t if self._obs is not None else 0,
                **{k: torch.from_numpy(v.copy()) for k, v in self._ep_sums.items()},
            },
        }

    def load_state_dict(
        self, state: Mapping[str, Any], buffer: Mapping[str, Any] | None = None
    ) -> None:
        """Restore :meth:`state_dict` (and the labelled data of ``buffer``, else none)."""
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["optimizer"])
        self.frames = int(state["frames"])
        self.iterations = int(state["iterations"])
        set_numpy_rng_state(self.rng, state["rng"]["numpy"])
        obs_dim = self.vec.single_observation_space.shape[0]
        if buffer is not None:
            obs = np.asarray(buffer["obs"].numpy(), dtype=np.float32)
            labels = np.asarray(buffer["labels"].numpy(), dtype=self.label_dtype)
            k = self._label_dim()
            if obs.ndim != 2 or obs.shape[1] != obs_dim or labels.shape != (len(obs), k):
                raise ValueError(
                    f"buffer: shapes {tuple(obs.shape)} / {tuple(labels.shape)} do not fit "
                    f"{obs_dim} observations and {k} labels"
                )
            self.obs_buf, self.label_buf = obs, labels
        else:
            self.obs_buf = np.zeros((0, obs_dim), dtype=np.float32)
            self.label_buf = np.zeros((0, self._label_dim()), dtype=self.label_dtype)
        ep = state["episode"]
        self._obs, self._episode_t = None, 0
        self._ep_sums = self._zero_sums()
        if ep["seed"] is not None:  # mid-episode: replay it (its frames ignore the actions)
            self._start_episodes(int(ep["seed"]))
            idle = np.zeros((self.config.num_envs, self.n), dtype=np.int64)
            for _ in range(int(ep["t"])):
                self._obs, *_ = self.vec.step(idle)
            self._episode_t = int(ep["t"])
            for k in self._ep_sums:
                self._ep_sums[k] = np.asarray(ep[k].numpy(), dtype=np.float64).copy()

    def save(self, path: str | os.PathLike[str], include_buffer: bool = True) -> Path:
        """An atomic checksummed checkpoint that :func:`agents.load_actor` reads and
        :meth:`load` resumes from (exactly with ``include_buffer``; without it the
        labelled data starts empty)."""
        payload: dict[str, Any] = {
            "algo": self.algo,
            "variant": self.algo,
            "signature": self.signature,
            "config": {**asdict(self.config), "hidden": list(self.config.hidden)},
            **self._actor_payload(),
            "state": self.state_dict(),
        }
        if include_buffer:
            payload["buffer"] = {
                "obs": torch.from_numpy(self.obs_buf.copy()),
                "labels": torch.from_numpy(self.label_buf.copy()),
            }
        return save_checkpoint(path, payload)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        env: str | gym.vector.VectorEnv,
        env_kwargs: Mapping[str, Any] | None = None,
        *,
        logger: RunLogger | None = None,
        **overrides: Any,
    ) -> DPDistill:
        """Rebuild an agent saved by :meth:`save` on ``env`` (as in the constructor; it
        must match the checkpoint's env signature). ``overrides`` replace config fields.
        Every problem is one :class:`CheckpointError` naming the file."""
        payload = load_checkpoint(path)
        if payload.get("algo") != cls.algo:
            raise CheckpointError(
                path, f"holds a {payload.get('algo')!r} checkpoint, not {cls.algo!r}"
            )
        agent = None
        try:
            agent = cls(env, env_kwargs, logger=logger, **{**payload["config"], **overrides})
            check_signature(payload["signature"], agent.vec)
            agent.load_state_dict(payload["state"], payload.get("buffer"))
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as exc:
            if agent is not None:
                agent.close()
            raise payload_error(path, exc, f"restoring the {cls.algo} agent") from exc
        return agent

    def close(self) -> None:
        """Close the vector env if the agent built it."""
        vec = self.__dict__.get("vec")
        if vec is not None and self.__dict__.get("_owns_env"):
            vec.close()
