"""Stable-Baselines3 baselines: TD3, SAC, DDPG (continuous), PPO, A2C (discrete or
continuous), DQN (Discrete: scheduling shares only) and sb3-contrib's MaskablePPO (the
scheduling env's per-task "assign" actions, with the env's action mask).

* Continuous agents train on ``RescaleAction(env, -1, 1)`` (SB3 wants symmetric boxes); the
  policy returned by :meth:`SB3Runner.policy` / :meth:`SB3Runner.load_policy` maps actions back
  to the env's ``Box(0, 1)`` (:class:`pipeline.envs.UnitToSymmetric`).
* Discrete agents use the partitioning envs' ``action_mode="discrete"`` (MultiDiscrete
  platform indices) or the scheduling env's ``"shares"`` (Discrete(2^m)).
* ``MaskablePPO`` (``agent.action_space=assign``) trains on the scheduling env's
  ``"assign"`` mode (``MultiDiscrete([m+1]*M)``) and reads the valid choices from the env's
  ``action_masks()`` (a full server is masked, "wait" always valid); its policy computes the
  same mask from the observation (:func:`envs.scheduling.env.action_masks_from_obs`).
* Logging: :class:`PipelineCallback` logs the shared ``charts/*`` and ``eval/*`` tags, and
  SB3's own ``train/*`` values are routed to ``losses/*`` (names with "loss") or
  ``charts/*`` through a custom SB3 logger output (:class:`RunLoggerOutput`).
* Checkpoint: the directory ``sb3_checkpoint/`` written as one unit
  (:func:`agents.common.checkpoint.save_checkpoint_dir`: temp directory, fsync, rename) with
  ``params.pt`` (the policy's and optimisers' state dicts, ``torch.load(weights_only=True)``),
  ``state.pt`` (counters, last observation, RNG states of torch / numpy / random / the
  action space, the action noise, and the current episode's reset RNG state and actions so
  the env is replayed to the same state), ``replay_buffer.npz`` (off-policy: the filled part,
  ``allow_pickle=False``) and ``manifest.json`` (algorithm, steps, env signature, SHA-256 of
  every file, verified before anything is read). SB3's own ``model.zip`` (cloudpickle) is
  never written or read: the model is rebuilt from the run's config and given the weights.
  Checkpoints are taken between rollouts (after the transition is stored and the gradient
  step done), so a resume continues bit-identically on CPU; a Ctrl-C stops off-policy agents
  at the next rollout boundary (``train_freq`` steps, 1 by default) and on-policy agents at
  once (their partial rollout is dropped; periodic checkpoints are at rollout boundaries).
"""

from __future__ import annotations

import inspect
import random
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from omegaconf import DictConfig
from stable_baselines3.common.logger import KVWriter

from agents.common.rules import ConfigError, Rule, non_negative, positive, unit_interval
from pipeline.envs import UnitToSymmetric
from pipeline.runners.base import EpisodeTracker, Runner, TrainContext, TrainingStopped

CHECKPOINT_FORMAT = "edgerl-sb3"
CHECKPOINT_VERSION = 2
CHECKPOINT_DIR = "sb3_checkpoint"
#: SB3 attributes restored on resume (those an uninterrupted run carries on)
COUNTERS: tuple[str, ...] = ("num_timesteps", "_n_updates", "_episode_num", "_n_calls",
                             "_current_progress_remaining", "exploration_rate")  # fmt: skip
#: algorithm -> action kinds it supports
ALGOS: dict[str, tuple[str, ...]] = {
    "TD3": ("continuous",),
    "SAC": ("continuous",),
    "DDPG": ("continuous",),
    "PPO": ("discrete", "continuous"),
    "A2C": ("discrete", "continuous"),
    "DQN": ("discrete",),
    "MaskablePPO": ("assign",),  # sb3-contrib; the scheduling env's "assign" mode
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
    if algo == "MaskablePPO":
        from sb3_contrib import MaskablePPO

        return MaskablePPO
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

    off_policy = runner.algo in OFF_POLICY

    class PipelineCallback(BaseCallback):
        """Shared tags, evaluation, checkpoints, progress and the stop flag for SB3.

        Checkpoints (and, off-policy, stops) happen at the start of a rollout: SB3 calls
        ``on_step`` before it stores the step's transition and before the gradient steps,
        so a checkpoint taken there would miss them."""

        def _on_training_start(self) -> None:
            self.save_due = False
            self.tracker = EpisodeTracker(runner, ctx, self.num_timesteps, on_checkpoint=self._due)
            runner._restore_noise()  # learn() has just reset the action noise

        def _due(self) -> None:
            self.save_due = True

        def _on_rollout_start(self) -> None:
            if self.save_due:
                self.save_due = False
                runner.save()
            if off_policy and ctx.stop_requested():
                runner.save()
                raise TrainingStopped

        def _on_step(self) -> bool:
            step = self.num_timesteps
            self.tracker.step(
                step,
                float(self.locals["rewards"][0]),
                self.locals["infos"][0],
                bool(self.locals["dones"][0]),
            )
            self.tracker.periodic(step)
            if off_policy or not ctx.stop_requested():
                return True
            # on-policy stop: the partial rollout is dropped, but the env has stepped; keep
            # the observation it returned so the checkpoint matches the env's state
            self.model._last_obs = self.locals["new_obs"]
            self.model._last_episode_starts = self.locals["dones"]
            return False

    return PipelineCallback()


class EpisodeRecorder(gym.Wrapper):
    """Records what a replay of the current episode needs: the env's RNG state before its
    reset (or the reset seed) and every action since. Restoring that RNG state, resetting and
    stepping the same actions puts a deterministic env back into the same internal state
    without pickling it."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self._seed: int | None = None
        self._rng: dict[str, Any] | None = None
        self._actions: list[np.ndarray] = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        from agents.common.checkpoint import numpy_rng_state

        if options:
            raise ValueError("EpisodeRecorder replays resets without options only")
        self._seed = None if seed is None else int(seed)
        self._rng = None if seed is not None else numpy_rng_state(self.env.unwrapped.np_random)
        self._actions = []
        return self.env.reset(seed=seed)

    def step(self, action: Any) -> Any:
        self._actions.append(np.array(action, copy=True))
        return self.env.step(action)

    def state(self) -> dict[str, Any]:
        import torch

        acts = torch.from_numpy(np.stack(self._actions)) if self._actions else None
        return {"seed": self._seed, "rng": self._rng, "actions": acts}

    def replay(self, state: dict[str, Any]) -> Any:
        """Back to the recorded point; returns the observation there."""
        from agents.common.checkpoint import set_numpy_rng_state

        if state["rng"] is not None:
            set_numpy_rng_state(self.env.unwrapped.np_random, state["rng"])
        obs, _ = self.reset(seed=state["seed"])
        actions = state["actions"]
        for a in [] if actions is None else actions.numpy():
            obs, *_ = self.step(a)
        return obs


def _global_rng_state() -> dict[str, Any]:
    import torch

    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002 (SB3 uses it)
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(keys.astype(np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": {"version": int(version), "state": [int(x) for x in internal], "gauss": gauss},
    }  # fmt: skip


def _set_global_rng_state(state: dict[str, Any]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["kind"], keys, n["pos"], n["has_gauss"], n["cached"]))  # noqa: NPY002
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


class SB3Policy:
    """A trained SB3 model as a deterministic policy in the raw env action space."""

    def __init__(
        self, model: Any, continuous: bool, discrete_scalar: bool, masker: Any = None
    ) -> None:
        self.model = model
        self.continuous = continuous
        self.discrete_scalar = discrete_scalar
        self.masker = masker  # obs -> action masks (MaskablePPO), else None

    def _predict(self, obs: np.ndarray) -> Any:
        if self.masker is None:
            return self.model.predict(obs, deterministic=True)[0]
        return self.model.predict(obs, deterministic=True, action_masks=self.masker(obs))[0]

    def act(self, obs: np.ndarray) -> Any:
        a = self._predict(obs)
        if self.continuous:
            return UnitToSymmetric.to_env(a)
        if self.discrete_scalar:
            return int(np.asarray(a).reshape(-1)[0])
        return np.asarray(a, dtype=np.int64)

    def act_batch(self, obs_batch: np.ndarray) -> np.ndarray:
        a = self._predict(np.asarray(obs_batch))
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
    with open(path, "wb") as f:  # inside the checkpoint's temp directory
        np.savez(f, **arrays)


def _load_buffer(buffer: Any, path: Path) -> None:
    from agents.common.checkpoint import CheckpointError

    try:
        with np.load(path, allow_pickle=False) as data:
            pos, full, size = (int(x) for x in data["meta"])
            if size != buffer.buffer_size:
                raise CheckpointError(
                    path, f"buffer_size {size} != the agent's {buffer.buffer_size}"
                )
            if not 0 <= pos <= size:
                raise CheckpointError(path, f"buffer position {pos} outside [0, {size}]")
            n = size if full else pos
            for key in ("observations", "actions", "rewards", "dones", "timeouts",
                        "next_observations"):  # fmt: skip
                if key in data.files:
                    arr = data[key]
                    dest = getattr(buffer, key)
                    if arr.shape != (n, *dest.shape[1:]):
                        raise CheckpointError(
                            path, f"{key} has shape {arr.shape}, expected {(n, *dest.shape[1:])}"
                        )
                    dest[:n] = arr
            buffer.pos, buffer.full = pos, bool(full)
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, EOFError) as exc:  # truncated/corrupted npz
        raise CheckpointError(
            path, f"unreadable replay buffer: {type(exc).__name__}: {exc}"
        ) from exc


class SB3Runner(Runner):
    """Stable-Baselines3 agents (``agent=sb3_*``); see the module docstring."""

    meta_keys: ClassVar[tuple[str, ...]] = ("_target_", "name", "action_space")
    action_spaces: ClassVar[tuple[str, ...]] = ("continuous", "discrete", "assign")
    rules: ClassVar[dict[str, Rule]] = RULES
    description = "Stable-Baselines3"
    buffer_file = "replay_buffer.npz"
    params_file = "params.pt"
    state_file = "state.pt"
    #: SB3's pickle archive of runs saved before sb3_checkpoint/ (refused, never unpickled)
    legacy_file = "model.zip"

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
                f"agent: {bad} not argument(s) of {_sb3_class(algo).__module__.split('.')[0]}."
                f"{algo} (agent {agent['name']})"
            )
        if agent.get("action_noise") is not None and algo not in ("TD3", "DDPG", "SAC"):
            raise ConfigError(f"agent.action_noise applies to TD3/DDPG/SAC, not {algo}")

    @classmethod
    def check_env(cls, agent: dict[str, Any], env_name: str) -> None:
        if agent.get("algo") == "DQN":
            cls.require_discrete_env(agent, env_name, "DQN", "sb3_ppo/sb3_a2c (discrete) or "
                                     "sb3_td3/sb3_sac/sb3_ddpg/iorlo (continuous)")  # fmt: skip
        if agent.get("algo") == "MaskablePPO" and env_name != "scheduling":
            raise ConfigError(
                f"agent {agent['name']} (MaskablePPO) acts through the scheduling env's "
                f"per-task 'assign' actions and their mask; env={env_name} has none"
            )
        super().check_env(agent, env_name)

    # ------------------------------------------------------------------ set-up
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.algo = self.agent_cfg["algo"]
        self.continuous = self.spec.action_kind == "continuous"
        self.model = None
        self.raw_env = None
        self.recorder: EpisodeRecorder | None = None
        self._noise_state: Any = None
        self._saved_at: int | None = None

    @classmethod
    def checkpoint_path(cls, run_dir: Path) -> Path:
        return Path(run_dir) / CHECKPOINT_DIR

    @classmethod
    def saved_steps(cls, run_dir: Path) -> int | None:
        from agents.common.checkpoint import read_manifest

        path = cls.checkpoint_path(run_dir)
        return int(read_manifest(path, CHECKPOINT_FORMAT)["steps"]) if path.is_dir() else None

    @property
    def steps(self) -> int:
        return 0 if self.model is None else int(self.model.num_timesteps)

    def _train_env(self) -> Any:
        """DummyVecEnv(EpisodeRecorder(Monitor(raw env, rescaled if continuous)))."""
        from stable_baselines3.common.monitor import Monitor
        from stable_baselines3.common.vec_env import DummyVecEnv

        self.raw_env = self.make_env()
        env = UnitToSymmetric.wrap(self.raw_env) if self.continuous else self.raw_env
        self.recorder = EpisodeRecorder(Monitor(env))
        recorder = self.recorder
        return DummyVecEnv([lambda: recorder])

    def _set_logger(self) -> None:
        from stable_baselines3.common.logger import Logger

        self.model.set_logger(Logger(folder=None, output_formats=[RunLoggerOutput(self.logger)]))

    def _build(self, env: Any, **override: Any) -> Any:
        import torch

        hp = {**self.hyperparameters(self.agent_cfg), **override}
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
        self.model = self._build(env)  # seeds torch, numpy, random, the action space, the env
        if resume:
            self._restore(self.checkpoint_path(self.run_dir))
            self._saved_at = self.steps
        self._set_logger()
        self._resumed = resume

    # ------------------------------------------------------------------ restore
    @classmethod
    def _load_params(cls, model: Any, ckpt: Path, names: list[str] | None = None) -> None:
        """State dicts of ``params.pt`` into ``model`` (policy and, unless ``names``, the
        optimisers and SAC's entropy coefficient): weights_only, finite, exact shapes."""
        from agents.common.checkpoint import (
            CheckpointError,
            check_finite,
            load_tensors,
            payload_error,
        )

        path = ckpt / cls.params_file
        data = load_tensors(path)
        if not isinstance(data, dict) or not isinstance(data.get("params"), dict):
            raise CheckpointError(path, "no 'params' dict of state dicts")
        check_finite(path, data)
        want, variables = model._get_torch_save_params()
        try:
            for name in names or want:  # only the names SB3 declares: nothing else is looked up
                _attr(model, name).load_state_dict(data["params"][name])
            for name in [] if names else variables:
                _attr(model, name).data.copy_(data["variables"][name])
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise payload_error(path, exc, "restoring the SB3 model") from exc

    def _restore(self, ckpt: Path) -> None:
        from agents.common.checkpoint import (
            CheckpointError,
            check_signature,
            load_tensors,
            payload_error,
            read_manifest,
            set_numpy_rng_state,
        )

        if not ckpt.is_dir() and (self.run_dir / self.legacy_file).is_file():
            raise _legacy_error(self.run_dir / self.legacy_file)
        need = [self.params_file, self.state_file]
        need += [self.buffer_file] if self.algo in OFF_POLICY else []
        meta = read_manifest(ckpt, CHECKPOINT_FORMAT, required=need)
        if meta.get("algo") != self.algo:
            raise CheckpointError(ckpt, f"holds an SB3 {meta.get('algo')} model, not {self.algo}")
        try:
            check_signature(meta["signature"], self.raw_env)
        except (KeyError, ValueError) as exc:
            raise payload_error(ckpt, exc, "env") from exc
        model = self.model
        self._load_params(model, ckpt)
        if self.algo in OFF_POLICY:
            _load_buffer(model.replay_buffer, ckpt / self.buffer_file)
        path = ckpt / self.state_file
        st = load_tensors(path)
        try:
            for key, value in st["counters"].items():
                if key in COUNTERS and hasattr(model, key):
                    setattr(model, key, type(getattr(model, key))(value))
            model._last_obs = st["last_obs"].numpy().copy()
            model._last_episode_starts = st["last_episode_starts"].numpy().copy()
            venv = model.get_env()
            venv._reset_seeds()  # set_random_seed queued a seed for a reset that won't come
            venv._reset_options()
            obs = self.recorder.replay(st["episode"])
            if not np.array_equal(np.asarray(obs, model._last_obs.dtype), model._last_obs[0]):
                raise CheckpointError(
                    path, "replaying the current episode did not reproduce the saved observation "
                    "(the env is not deterministic given its RNG state and the actions)"
                )  # fmt: skip
            _set_global_rng_state(st["rng"])
            set_numpy_rng_state(model.action_space.np_random, st["rng"]["action_space"])
            self._noise_state = st["noise"]
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            raise payload_error(path, exc, "restoring the SB3 training state") from exc

    def _restore_noise(self) -> None:
        """The action noise as saved (learn() resets it; an OU process has a state)."""
        noise = self.model.action_noise
        if self._noise_state is not None and noise is not None and hasattr(noise, "noise_prev"):
            noise.noise_prev = self._noise_state.numpy().copy()
        self._noise_state = None

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
        """The checkpoint directory as one atomic unit (see the module docstring)."""
        import torch

        from agents.common.checkpoint import (
            env_signature,
            numpy_rng_state,
            save_checkpoint_dir,
            save_tensors,
        )

        path = self.checkpoint_path(self.run_dir)
        if self._saved_at == self.steps and path.is_dir():
            return path  # nothing happened since (a stop right after a checkpoint)
        model = self.model
        names, variables = model._get_torch_save_params()
        params = {
            "params": {n: _attr(model, n).state_dict() for n in names},
            "variables": {n: _attr(model, n).detach().clone() for n in variables},
        }
        noise = model.action_noise
        state = {
            "counters": {k: getattr(model, k) for k in COUNTERS if hasattr(model, k)},
            "last_obs": torch.from_numpy(np.array(model._last_obs)),
            "last_episode_starts": torch.from_numpy(np.array(model._last_episode_starts)),
            "rng": {
                **_global_rng_state(),
                "action_space": numpy_rng_state(model.action_space.np_random),
            },
            "noise": torch.from_numpy(np.array(noise.noise_prev))
            if noise is not None and hasattr(noise, "noise_prev")
            else None,
            "episode": self.recorder.state(),
        }

        def fill(tmp: Path) -> None:
            save_tensors(params, tmp / self.params_file)
            save_tensors(state, tmp / self.state_file)
            if self.algo in OFF_POLICY:
                _save_buffer(model.replay_buffer, tmp / self.buffer_file)

        meta = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "algo": self.algo,
            "steps": self.steps,
            "action_kind": self.spec.action_kind,
            "action_mode": self.spec.action_mode,
            "rescaled_actions": self.continuous,
            "signature": env_signature(self.raw_env),
        }
        save_checkpoint_dir(path, fill, meta)
        (self.run_dir / self.legacy_file).unlink(missing_ok=True)  # a pre-v2 run's pickle
        self._saved_at = self.steps
        return path

    def policy(self) -> SB3Policy:
        from gymnasium import spaces

        return SB3Policy(
            self.model, self.continuous, isinstance(self.raw_env.action_space, spaces.Discrete),
            _masker(self.algo, self.raw_env),
        )  # fmt: skip

    @classmethod
    def load_policy(cls, run_dir: Path, cfg: DictConfig, env: Any) -> SB3Policy:
        """The policy's weights (``params.pt``, weights_only) in a model rebuilt from the
        run's config; checksums and the env signature are verified first."""
        from gymnasium import spaces

        from agents.common.checkpoint import check_signature, payload_error, read_manifest
        from pipeline.config import validate

        run_dir = Path(run_dir)
        ckpt = cls.checkpoint_path(run_dir)
        if not ckpt.is_dir() and (run_dir / cls.legacy_file).is_file():
            raise _legacy_error(run_dir / cls.legacy_file)
        meta = read_manifest(ckpt, CHECKPOINT_FORMAT, required=[cls.params_file])
        try:
            check_signature(meta["signature"], env)
        except (KeyError, ValueError) as exc:
            raise payload_error(ckpt, exc, "env") from exc
        runner = cls(cfg, validate(cfg, build_env_check=False), run_dir, None)
        venv = runner._train_env()
        try:
            override = {"buffer_size": 1} if runner.algo in OFF_POLICY else {}
            model = runner._build(venv, **override)
            cls._load_params(model, ckpt, names=["policy"])
        finally:
            venv.close()
        space = getattr(env, "single_action_space", env.action_space)
        return SB3Policy(
            model, bool(meta["rescaled_actions"]), isinstance(space, spaces.Discrete),
            _masker(runner.algo, env),
        )  # fmt: skip

    def close(self) -> None:
        super().close()
        if self.model is not None and self.model.get_env() is not None:
            self.model.get_env().close()


def _masker(algo: str, env: Any) -> Any:
    """MaskablePPO: ``obs -> action masks`` of the scheduling env ``env`` (else None)."""
    if algo != "MaskablePPO":
        return None
    from functools import partial

    from envs.scheduling.env import action_masks_from_obs

    base = env.unwrapped
    base = getattr(base, "env", base)  # a vector env holds its single env
    return partial(action_masks_from_obs, layout=base.obs_layout, cmax=float(base.capacities.max()))


def _attr(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _legacy_error(path: Path) -> Exception:
    from agents.common.checkpoint import CheckpointError

    return CheckpointError(
        path,
        "an SB3 model.zip (pickled with cloudpickle) from before sb3_checkpoint/; EdgeRL no "
        "longer unpickles it, since loading a pickle can run any code. Re-train the run",
    )
