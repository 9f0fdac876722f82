"""Stable-Baselines3 baselines: TD3, SAC, DDPG (continuous), PPO, A2C (discrete or
continuous) and DQN (Discrete: scheduling shares only).

* Continuous agents train on ``RescaleAction(env, -1, 1)`` (SB3 wants symmetric boxes); the
  policy returned by :meth:`SB3Runner.policy` / :meth:`SB3Runner.load_policy` maps actions back
  to the env's ``Box(0, 1)`` (:class:`pipeline.envs.UnitToSymmetric`).
* Discrete agents use the partitioning envs' ``action_mode="discrete"`` (MultiDiscrete
  platform indices) or the scheduling env's ``"shares"`` (Discrete(2^m)).
* Logging: :class:`PipelineCallback` logs the shared ``charts/*`` and ``eval/*`` tags, and
  SB3's own ``train/*`` values are routed to ``losses/*`` (names with "loss") or
  ``charts/*`` through a custom SB3 logger output (:class:`RunLoggerOutput`).
* Checkpoint (``run_dir``): ``model.zip`` (SB3 format, written to a temp file and
  ``os.replace``d), ``replay_buffer.npz`` for off-policy agents (the filled part only, no
  pickle), and ``checkpoint.json`` (algorithm, steps, env signature, action mapping).
"""

from __future__ import annotations

import inspect
import os
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from omegaconf import DictConfig
from stable_baselines3.common.logger import KVWriter

from pipeline.config import ConfigError, Rule, non_negative, positive, unit_interval
from pipeline.envs import UnitToSymmetric
from pipeline.runners.base import EpisodeTracker, Runner, TrainContext, TrainingStopped
from pipeline.utils import atomic_write_json, read_json

CHECKPOINT_FORMAT = "edgerl-sb3"
#: algorithm -> action kinds it supports
ALGOS: dict[str, tuple[str, ...]] = {
    "TD3": ("continuous",),
    "SAC": ("continuous",),
    "DDPG": ("continuous",),
    "PPO": ("discrete", "continuous"),
    "A2C": ("discrete", "continuous"),
    "DQN": ("discrete",),
}
OFF_POLICY: tuple[str, ...] = ("TD3", "SAC", "DDPG", "DQN")
NOISE_KINDS: tuple[str, ...] = ("normal", "ornstein_uhlenbeck")
#: agent keys handled here (not SB3 constructor arguments)
EXTRA_KEYS: tuple[str, ...] = ("algo", "policy", "net_arch", "activation", "lr",
                               "action_noise", "action_noise_sigma")  # fmt: skip

RULES: dict[str, Rule] = {
    "algo": Rule("choice", choices=tuple(ALGOS)),
    "policy": Rule("choice", choices=("MlpPolicy",)),
    "net_arch": Rule("int_list", lo=1),
    "activation": Rule("choice", choices=("relu", "tanh")),
    "lr": positive(),
    "device": Rule("str"),
    "buffer_size": positive("int"),
    "learning_starts": non_negative("int"),
    "batch_size": positive("int"),
    "tau": unit_interval(lo_open=True),
    "gamma": unit_interval(),
    "train_freq": positive("int"),
    "gradient_steps": Rule("int", lo=-1),
    "n_steps": positive("int"),
    "policy_delay": positive("int"),
    "target_policy_noise": non_negative(),
    "target_noise_clip": non_negative(),
    "action_noise": Rule("choice", choices=NOISE_KINDS, none_ok=True),
    "action_noise_sigma": non_negative(),
    "ent_coef": non_negative(also=("auto",)),
    "target_update_interval": positive("int"),
    "target_entropy": Rule("float", also=("auto",)),
    "use_sde": Rule("bool"),
    "sde_sample_freq": Rule("int", lo=-1),
    "use_sde_at_warmup": Rule("bool"),
    "n_epochs": positive("int"),
    "gae_lambda": unit_interval(),
    "clip_range": positive(),
    "clip_range_vf": positive(none_ok=True),
    "normalize_advantage": Rule("bool"),
    "vf_coef": non_negative(),
    "max_grad_norm": positive(),
    "target_kl": positive(none_ok=True),
    "rms_prop_eps": positive(),
    "use_rms_prop": Rule("bool"),
    "exploration_fraction": unit_interval(),
    "exploration_initial_eps": unit_interval(),
    "exploration_final_eps": unit_interval(),
}


def _sb3_class(algo: str) -> type:
    import stable_baselines3 as sb3

    return getattr(sb3, algo)


class RunLoggerOutput(KVWriter):
    """An SB3 logger output (``KVWriter``) that forwards ``train/*`` to the RunLogger."""

    def __init__(self, logger: Any) -> None:
        self.logger = logger

    def write(
        self, key_values: dict[str, Any], key_excluded: dict[str, Any], step: int = 0
    ) -> None:
        for key, value in key_values.items():
            if not key.startswith("train/") or isinstance(value, str):
                continue
            name = key.split("/", 1)[1]
            if name == "n_updates":
                continue
            try:
                v = float(value)
            except (TypeError, ValueError):
                continue
            self.logger.scalar(f"losses/{name}" if "loss" in name else f"charts/{name}", v, step)

    def close(self) -> None:
        pass


def _make_callback(runner: SB3Runner, ctx: TrainContext) -> Any:
    from stable_baselines3.common.callbacks import BaseCallback

    class PipelineCallback(BaseCallback):
        """Shared tags, evaluation, checkpoints, progress and the stop flag for SB3."""

        def _on_training_start(self) -> None:
            self.tracker = EpisodeTracker(runner, ctx, self.num_timesteps)

        def _on_step(self) -> bool:
            step = self.num_timesteps
            self.tracker.step(
                step,
                float(self.locals["rewards"][0]),
                self.locals["infos"][0],
                bool(self.locals["dones"][0]),
            )
            self.tracker.periodic(step)
            return not ctx.stop_requested()

    return PipelineCallback()


class SB3Policy:
    """A trained SB3 model as a deterministic policy in the raw env action space."""

    def __init__(self, model: Any, continuous: bool, discrete_scalar: bool) -> None:
        self.model = model
        self.continuous = continuous
        self.discrete_scalar = discrete_scalar

    def act(self, obs: np.ndarray) -> Any:
        a, _ = self.model.predict(obs, deterministic=True)
        if self.continuous:
            return UnitToSymmetric.to_env(a)
        if self.discrete_scalar:
            return int(np.asarray(a).reshape(-1)[0])
        return np.asarray(a, dtype=np.int64)

    def act_batch(self, obs_batch: np.ndarray) -> np.ndarray:
        a, _ = self.model.predict(np.asarray(obs_batch), deterministic=True)
        if self.continuous:
            return UnitToSymmetric.to_env(a)
        return np.asarray(a, dtype=np.int64)


def _save_buffer(buffer: Any, path: Path) -> None:
    n = buffer.buffer_size if buffer.full else buffer.pos
    arrays = {
        "observations": buffer.observations[:n],
        "actions": buffer.actions[:n],
        "rewards": buffer.rewards[:n],
        "dones": buffer.dones[:n],
        "timeouts": buffer.timeouts[:n],
        "meta": np.array([buffer.pos, int(buffer.full), buffer.buffer_size], dtype=np.int64),
    }
    if not buffer.optimize_memory_usage:
        arrays["next_observations"] = buffer.next_observations[:n]
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load_buffer(buffer: Any, path: Path) -> None:
    with np.load(path, allow_pickle=False) as data:
        pos, full, size = (int(x) for x in data["meta"])
        if size != buffer.buffer_size:
            raise ValueError(f"{path}: buffer_size {size} != the agent's {buffer.buffer_size}")
        n = size if full else pos
        for key in ("observations", "actions", "rewards", "dones", "timeouts", "next_observations"):
            if key in data.files:
                getattr(buffer, key)[:n] = data[key]
        buffer.pos, buffer.full = pos, bool(full)


class SB3Runner(Runner):
    """Stable-Baselines3 agents (``agent=sb3_*``); see the module docstring."""

    meta_keys: ClassVar[tuple[str, ...]] = ("_target_", "name", "action_space")
    rules: ClassVar[dict[str, Rule]] = RULES
    description = "Stable-Baselines3"
    model_file = "model.zip"
    buffer_file = "replay_buffer.npz"
    meta_file = "checkpoint.json"

    @classmethod
    def validate_agent(cls, agent: dict[str, Any], env_name: str) -> None:
        super().validate_agent(agent, env_name)
        algo = agent["algo"]
        kind = agent["action_space"]
        if kind not in ALGOS[algo]:
            raise ConfigError(
                f"agent.action_space={kind!r} is invalid for {algo}: must be one of "
                f"{list(ALGOS[algo])}"
            )
        params = set(inspect.signature(_sb3_class(algo).__init__).parameters)
        extra = set(EXTRA_KEYS)
        bad = sorted(k for k in cls.hyperparameters(agent) if k not in params and k not in extra)
        if bad:
            raise ConfigError(
                f"agent: {bad} not argument(s) of stable_baselines3.{algo} (agent {agent['name']})"
            )
        if agent.get("action_noise") is not None and algo not in ("TD3", "DDPG", "SAC"):
            raise ConfigError(f"agent.action_noise applies to TD3/DDPG/SAC, not {algo}")

    @classmethod
    def check_env(cls, agent: dict[str, Any], env_name: str) -> None:
        if agent.get("algo") == "DQN" and env_name != "scheduling":
            raise ConfigError(
                f"agent {agent['name']} (DQN) needs a Discrete action space, which only "
                f"env=scheduling offers (its 2^m share actions); env={env_name} decides one "
                "platform per block (MultiDiscrete). Use sb3_ppo/sb3_a2c (discrete) or "
                "sb3_td3/sb3_sac/sb3_ddpg/iorlo (continuous) there"
            )
        super().check_env(agent, env_name)

    # ------------------------------------------------------------------ set-up
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.algo = self.agent_cfg["algo"]
        self.continuous = self.spec.action_kind == "continuous"
        self.model = None
        self.raw_env = None

    @classmethod
    def checkpoint_path(cls, run_dir: Path) -> Path:
        return Path(run_dir) / cls.model_file

    @property
    def steps(self) -> int:
        return 0 if self.model is None else int(self.model.num_timesteps)

    def _train_env(self) -> Any:
        self.raw_env = self.make_env()
        return UnitToSymmetric.wrap(self.raw_env) if self.continuous else self.raw_env

    def _set_logger(self) -> None:
        from stable_baselines3.common.logger import Logger

        self.model.set_logger(Logger(folder=None, output_formats=[RunLoggerOutput(self.logger)]))

    def _build(self, env: Any) -> Any:
        import torch

        hp = self.hyperparameters(self.agent_cfg)
        kw = {k: v for k, v in hp.items() if k not in EXTRA_KEYS}
        kw["learning_rate"] = float(hp["lr"])
        act = {"relu": torch.nn.ReLU, "tanh": torch.nn.Tanh}[hp.get("activation", "relu")]
        policy_kwargs = {"net_arch": list(hp["net_arch"]), "activation_fn": act}
        noise = hp.get("action_noise")
        if noise is not None:
            from stable_baselines3.common.noise import (
                NormalActionNoise,
                OrnsteinUhlenbeckActionNoise,
            )

            n = env.action_space.shape[0]
            sigma = float(hp.get("action_noise_sigma", 0.1)) * np.ones(n)
            cls = NormalActionNoise if noise == "normal" else OrnsteinUhlenbeckActionNoise
            kw["action_noise"] = cls(mean=np.zeros(n), sigma=sigma)
        for key in ("target_entropy", "ent_coef"):
            if isinstance(kw.get(key), int):
                kw[key] = float(kw[key])
        return _sb3_class(self.algo)(
            hp.get("policy", "MlpPolicy"), env, policy_kwargs=policy_kwargs, seed=self.seed,
            verbose=0, **kw,
        )  # fmt: skip

    def setup(self, resume: bool) -> None:
        env = self._train_env()
        if resume:
            device = self.agent_cfg.get("device", "auto")
            self.model = _sb3_class(self.algo).load(
                self.checkpoint_path(self.run_dir), env=env, device=device
            )
            buf = self.run_dir / self.buffer_file
            if self.algo in OFF_POLICY and buf.is_file():
                _load_buffer(self.model.replay_buffer, buf)
        else:
            self.model = self._build(env)
        self._set_logger()
        self._resumed = resume

    def train(self, ctx: TrainContext) -> None:
        remaining = ctx.total_steps - self.steps
        if remaining <= 0:
            return
        self.model.learn(
            total_timesteps=remaining,
            callback=_make_callback(self, ctx),
            reset_num_timesteps=not self._resumed and self.steps == 0,
            progress_bar=False,
        )
        self._resumed = True
        if ctx.stop_requested():
            raise TrainingStopped

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> Path:
        from agents.common.checkpoint import env_signature

        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.checkpoint_path(self.run_dir)
        fd, tmp = tempfile.mkstemp(prefix=".model.", suffix=".zip", dir=self.run_dir)
        os.close(fd)
        try:
            self.model.save(tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if self.algo in OFF_POLICY:
            _save_buffer(self.model.replay_buffer, self.run_dir / self.buffer_file)
        atomic_write_json(
            self.run_dir / self.meta_file,
            {
                "format": CHECKPOINT_FORMAT,
                "algo": self.algo,
                "steps": self.steps,
                "action_kind": self.spec.action_kind,
                "action_mode": self.spec.action_mode,
                "rescaled_actions": self.continuous,
                "signature": env_signature(self.raw_env),
            },
        )
        return path

    def policy(self) -> SB3Policy:
        from gymnasium import spaces

        return SB3Policy(
            self.model, self.continuous, isinstance(self.raw_env.action_space, spaces.Discrete)
        )

    @classmethod
    def load_policy(cls, run_dir: Path, cfg: DictConfig, env: Any) -> SB3Policy:
        from gymnasium import spaces

        from agents.common.checkpoint import check_signature

        meta = read_json(Path(run_dir) / cls.meta_file)
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{run_dir}/{cls.meta_file} is not an SB3 pipeline checkpoint")
        check_signature(meta["signature"], env)
        model = _sb3_class(meta["algo"]).load(cls.checkpoint_path(run_dir), device="cpu")
        space = getattr(env, "single_action_space", env.action_space)
        return SB3Policy(model, bool(meta["rescaled_actions"]), isinstance(space, spaces.Discrete))

    def close(self) -> None:
        super().close()
        if self.model is not None and self.model.get_env() is not None:
            self.model.get_env().close()
