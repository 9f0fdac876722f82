"""Ray RLlib baselines (new API stack): PPO, SAC and DQN, and how to scale out.

* Ray (:func:`ray_init_kwargs`): ``agent.ray_address`` (``auto``, ``host:port``,
  ``ray://...``) connects to that cluster; with ``ray_address=null`` the run joins the cluster
  ``ray.init`` itself would find (``RAY_ADDRESS``, or the last ``ray start`` on this node) and
  otherwise starts a local instance with ``agent.num_cpus`` CPUs (``ray_address=local``
  always starts one). Connecting passes no resources (Ray refuses ``num_cpus`` then). A
  failure to start or connect is one line (:class:`~pipeline.runners.base.SetupError`) and
  leaves no run directory. ``agent.num_env_runners`` sampling workers (0: sample in the
  driver, fits 2 cores), ``agent.num_envs_per_env_runner`` envs each; on a cluster the
  workers need ``envs`` and ``pipeline`` importable (install the package there).
  ``agent.ray_auth_mode`` sets ``RAY_AUTH_MODE`` (Ray >= 2.5x enables token authentication
  for a new local cluster unless it is ``disabled``); null leaves the environment as it is.
* The env is registered with :func:`ray.tune.registry.register_env`; its creator
  (:func:`make_rllib_env`) imports ``envs`` and builds the env from plain config dicts.
  Continuous agents see ``RescaleAction(env, -1, 1)`` as with SB3.
* ``algo.train()`` writes no TensorBoard files: :meth:`RLlibRunner.log_result` maps the
  result dict onto the shared tags (``env_runners/episode_return_mean`` ->
  ``charts/episodic_return``, per-episode means of ``info["cost"]``/``gap``/``variance``
  collected by :class:`EdgeRLCallbacks` -> ``charts/cost`` ..., learner losses ->
  ``losses/*``, env steps per second -> ``charts/SPS``). Per-episode charts are RLlib's
  smoothed means (last 100 episodes), logged once per training iteration.
* Checkpoints: ``rllib_checkpoint/`` written as one unit (temp directory, fsync, rename):
  ``algorithm/`` (``algo.save_to_path``), ``module.pt`` (the RLModule's state dict) and
  ``manifest.json`` (steps, env signature, SHA-256 of every file). Resume verifies the
  checksums, then ``algo.restore_from_path``. Evaluation rebuilds the RLModule from the run's
  config and loads ``module.pt`` with ``torch.load(weights_only=True)`` (nothing unpickled,
  no Ray session needed).
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from omegaconf import DictConfig

from agents.common.rules import ConfigError, Rule, non_negative, positive, unit_interval
from pipeline.envs import UnitToSymmetric
from pipeline.runners.base import Runner, SetupError, TrainContext, TrainingStopped

log = logging.getLogger("edgerl")
CHECKPOINT_FORMAT = "edgerl-rllib"
ALGOS: dict[str, tuple[str, ...]] = {
    "PPO": ("discrete", "continuous"),
    "SAC": ("continuous",),
    "DQN": ("discrete",),
}
#: agent keys handled by the runner (the rest go to AlgorithmConfig.training)
RAY_KEYS: tuple[str, ...] = ("algo", "ray_address", "num_cpus", "ray_auth_mode",
                             "num_env_runners", "num_envs_per_env_runner",
                             "rollout_fragment_length")  # fmt: skip
MODEL_KEYS: tuple[str, ...] = ("fcnet_hiddens", "fcnet_activation", "vf_share_layers")
CHECKPOINT_DIR = "rllib_checkpoint"
CHECKPOINT_VERSION = 2
ALGORITHM_DIR = "algorithm"  # algo.save_to_path, inside CHECKPOINT_DIR
MODULE_FILE = "module.pt"  # the RLModule's state dict, inside CHECKPOINT_DIR
#: info keys averaged per episode -> charts/<name> (scheduling: the usage variance is
#: charts/cost, as DRLoS logs it)
INFO_METRICS: dict[str, str] = {"cost": "cost", "gap": "gap", "variance": "cost"}

RULES: dict[str, Rule] = {
    "algo": Rule("choice", choices=tuple(ALGOS)),
    "ray_address": Rule("str", none_ok=True),
    "num_cpus": positive("int", none_ok=True),
    "ray_auth_mode": Rule("choice", choices=("disabled", "token"), none_ok=True),
    "num_env_runners": non_negative("int"),
    "num_envs_per_env_runner": positive("int"),
    "rollout_fragment_length": positive("int", also=("auto",)),
    "fcnet_hiddens": Rule("int_list", lo=1),
    "fcnet_activation": Rule("choice", choices=("tanh", "relu", "silu", "linear")),
    "vf_share_layers": Rule("bool"),
    "lr": positive(none_ok=True),
    "actor_lr": positive(),
    "critic_lr": positive(),
    "alpha_lr": positive(),
    "gamma": unit_interval(),
    "tau": unit_interval(lo_open=True),
    "train_batch_size_per_learner": positive("int"),
    "minibatch_size": positive("int"),
    "num_epochs": positive("int"),
    "lambda_": unit_interval(),
    "clip_param": positive(),
    "vf_clip_param": positive(),
    "entropy_coeff": non_negative(),
    "kl_coeff": non_negative(),
    "kl_target": positive(),
    "vf_loss_coeff": non_negative(),
    "use_kl_loss": Rule("bool"),
    "grad_clip": positive(none_ok=True),
    "initial_alpha": positive(),
    "target_entropy": Rule("float", also=("auto",)),
    "n_step": positive("int"),
    "twin_q": Rule("bool"),
    "num_steps_sampled_before_learning_starts": non_negative("int"),
    "replay_buffer_config": Rule("any"),
    "double_q": Rule("bool"),
    "dueling": Rule("bool"),
    "hiddens": Rule("int_list", lo=1),
    "target_network_update_freq": non_negative("int"),
    "epsilon": Rule("any"),
}


def _algo_config_class(algo: str) -> type:
    if algo == "PPO":
        from ray.rllib.algorithms.ppo import PPOConfig

        return PPOConfig
    if algo == "SAC":
        from ray.rllib.algorithms.sac import SACConfig

        return SACConfig
    from ray.rllib.algorithms.dqn import DQNConfig

    return DQNConfig


def make_rllib_env(env_config: dict[str, Any]) -> Any:
    """RLlib env creator: the pipeline env from plain dicts (imports ``envs`` itself)."""
    import envs  # noqa: F401
    from pipeline.envs import make_env

    env = dict(env_config["env"])
    env.pop("_target_", None)
    e = make_env(**env, dnn=env_config["dnn"], network=env_config["network"])
    return UnitToSymmetric.wrap(e) if env_config["rescale"] else e


def _callbacks_class() -> type:
    from ray.rllib.callbacks.callbacks import RLlibCallback

    class EdgeRLCallbacks(RLlibCallback):
        """Per-episode means of ``info["cost"]``, ``gap``, ``variance`` into the results."""

        def on_episode_step(self, *, episode: Any, **kwargs: Any) -> None:
            info = episode.get_infos(-1)
            data = episode.custom_data
            for k, name in INFO_METRICS.items():
                if k in info:
                    data.setdefault(name, []).append(float(info[k]))

        def on_episode_end(
            self, *, episode: Any, metrics_logger: Any = None, **kwargs: Any
        ) -> None:
            if metrics_logger is None:
                return
            for k, vals in episode.custom_data.items():
                if k in INFO_METRICS.values() and vals:
                    metrics_logger.log_value(f"edgerl_{k}", float(np.mean(vals)), reduce="mean",
                                             window=100)  # fmt: skip

    return EdgeRLCallbacks


class RLModulePolicy:
    """A trained RLModule as a deterministic policy in the raw env action space."""

    def __init__(self, module: Any, rescaled: bool, discrete_scalar: bool) -> None:
        self.module = module
        self.rescaled = rescaled
        self.discrete_scalar = discrete_scalar
        self.dist_cls = module.get_inference_action_dist_cls()

    def act_batch(self, obs_batch: np.ndarray) -> np.ndarray:
        import torch

        obs = torch.as_tensor(np.asarray(obs_batch, dtype=np.float32))
        with torch.no_grad():
            out = self.module.forward_inference({"obs": obs})
            if "actions" in out:
                a = out["actions"]
            else:
                a = self.dist_cls.from_logits(out["action_dist_inputs"]).to_deterministic().sample()
        a = a.cpu().numpy()
        if self.rescaled:
            return UnitToSymmetric.to_env(np.clip(a, -1.0, 1.0))
        return a.astype(np.int64)

    def act(self, obs: np.ndarray) -> Any:
        a = self.act_batch(np.asarray(obs)[None])[0]
        return int(a) if self.discrete_scalar else a


def running_cluster() -> str | None:
    """The address of the Ray cluster a plain ``ray.init()`` would join (``RAY_ADDRESS``, or
    the last ``ray start`` on this node), or None when it would start its own."""
    try:
        from ray._private import services

        return services.canonicalize_bootstrap_address(None)
    except Exception:  # nothing usable found: ray.init starts a local instance
        return None


def ray_init_kwargs(agent: dict[str, Any], existing: str | None) -> dict[str, Any]:
    """``ray.init`` arguments for the agent config: connect to ``agent.ray_address`` (or to the
    running cluster ``existing`` when it is null) without resources, which Ray refuses when
    connecting; otherwise start a local instance with ``agent.num_cpus`` CPUs."""
    address = agent.get("ray_address")
    if address is None and existing is not None:
        address = existing
    if address and address != "local":
        return {"address": address, "log_to_driver": False}
    kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if address == "local":
        kw["address"] = "local"
    if agent.get("num_cpus") is not None:
        kw["num_cpus"] = int(agent["num_cpus"])
    return kw


def check_reachable(address: str, timeout: float = 5.0) -> str:
    """Fail fast (a :class:`SetupError`) when no Ray cluster answers at ``address``:
    ``ray.init`` itself retries an unreachable address for minutes. ``auto`` is resolved
    the way Ray does; returns the address to pass to ``ray.init``."""
    import socket

    if address == "auto":
        try:
            from ray._private import services

            found = services.canonicalize_bootstrap_address("auto")
        except Exception as exc:  # ConnectionError: no running cluster found
            raise SetupError(
                f"cannot connect to the Ray cluster at auto ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else 'none found'}); start one with "
                "`ray start --head` or leave agent.ray_address=null for a local instance"
            ) from None
        if not found:
            return address
        target = found
    else:
        target = address
    hostport = target.split("://", 1)[-1]
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit():
        return address  # not host:port: let ray.init judge it
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise SetupError(
            f"cannot connect to the Ray cluster at {address} (nothing answers at {host}:{port}: "
            f"{exc.strerror or type(exc).__name__}); check agent.ray_address (null: the running "
            "cluster or a new local instance, auto, host:port, local)"
        ) from None
    return address


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _scalar(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


class RLlibRunner(Runner):
    """RLlib agents (``agent=rllib_*``); see the module docstring."""

    rules: ClassVar[dict[str, Rule]] = RULES
    description = "Ray RLlib"
    meta_file = "checkpoint.json"

    @classmethod
    def validate_agent(cls, agent: dict[str, Any], env_name: str) -> None:
        super().validate_agent(agent, env_name)
        if importlib.util.find_spec("ray") is None:  # `make run` installs the core only
            raise ConfigError(
                f"agent={agent['name']} needs Ray RLlib, which is not installed: "
                "pip install -e '.[rllib]' (make test installs every extra)"
            )
        algo, kind = agent["algo"], agent["action_space"]
        if kind not in ALGOS[algo]:
            raise ConfigError(
                f"agent.action_space={kind!r} is invalid for RLlib {algo}: must be one of "
                f"{list(ALGOS[algo])}"
            )
        training = cls._training_kwargs(agent)
        try:
            _algo_config_class(algo)().training(**training)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid agent config ({agent['name']}): {exc}") from None

    @classmethod
    def check_env(cls, agent: dict[str, Any], env_name: str) -> None:
        if agent.get("algo") == "DQN":
            cls.require_discrete_env(
                agent, env_name, "RLlib DQN", "rllib_ppo (discrete) or rllib_sac (continuous)"
            )
        super().check_env(agent, env_name)

    @classmethod
    def _training_kwargs(cls, agent: dict[str, Any]) -> dict[str, Any]:
        hp = cls.hyperparameters(agent)
        kw = {k: v for k, v in hp.items() if k not in RAY_KEYS and k not in MODEL_KEYS}
        if "epsilon" in kw and isinstance(kw["epsilon"], list):
            kw["epsilon"] = [tuple(x) if isinstance(x, list) else x for x in kw["epsilon"]]
        return kw

    @classmethod
    def checkpoint_path(cls, run_dir: Path) -> Path:
        return Path(run_dir) / CHECKPOINT_DIR

    # ------------------------------------------------------------------ set-up
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.algo_name = self.agent_cfg["algo"]
        self.rescaled = self.spec.action_kind == "continuous"
        self.algo = None
        self._steps = 0
        self._started_ray = False

    @property
    def steps(self) -> int:
        return self._steps

    def _env_config(self) -> dict[str, Any]:
        from pipeline.utils import to_plain

        env = to_plain(self.cfg.env)
        env["action_mode"] = self.spec.action_mode
        return {"env": env, "dnn": to_plain(self.cfg.dnn), "network": to_plain(self.cfg.network),
                "rescale": self.rescaled}  # fmt: skip

    def _init_ray(self) -> None:
        import ray

        a = self.agent_cfg
        if a.get("ray_auth_mode") is not None:
            os.environ["RAY_AUTH_MODE"] = a["ray_auth_mode"]
        if ray.is_initialized():
            return
        kw = ray_init_kwargs(a, running_cluster() if a.get("ray_address") is None else None)
        connecting = kw.get("address") not in (None, "local")
        what = (
            f"connect to the Ray cluster at {kw['address']}"
            if connecting
            else "start a local Ray instance"
        )
        log.info("RLlib: %s", f"joining {kw['address']}" if connecting else "starting Ray")
        if connecting:
            check_reachable(kw["address"])
        try:
            ray.init(**kw)
        except Exception as exc:  # ConnectionError, ValueError, RuntimeError, ...
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise SetupError(
                f"cannot {what} ({type(exc).__name__}: {msg}); check agent.ray_address "
                "(null: the running cluster or a new local instance, auto, host:port, local)"
            ) from exc
        self._started_ray = True

    def _build_config(self) -> Any:
        from ray.tune.registry import register_env

        a = self.agent_cfg
        env_name = f"edgerl-{self.cfg.env.name}"
        register_env(env_name, make_rllib_env)
        model = {k: a[k] for k in MODEL_KEYS if k in a}
        config = (
            _algo_config_class(self.algo_name)()
            .environment(env_name, env_config=self._env_config())
            .framework("torch")
            .env_runners(
                num_env_runners=int(a["num_env_runners"]),
                num_envs_per_env_runner=int(a["num_envs_per_env_runner"]),
                rollout_fragment_length=a["rollout_fragment_length"],
            )
            .learners(num_learners=0)
            .training(**self._training_kwargs(a))
            .rl_module(model_config=model)
            .callbacks(_callbacks_class())
            .debugging(seed=self.seed)
        )
        return config

    def setup(self, resume: bool) -> None:
        import gymnasium as gym

        meta = None
        if resume:  # checked before Ray starts: a bad checkpoint fails in a second
            from agents.common.checkpoint import read_manifest

            # RLlib's own checkpoint holds cloudpickle files: restore only what the manifest's
            # SHA-256s vouch for (what this pipeline wrote), never an edited or corrupted one
            ckpt = self.checkpoint_path(self.run_dir)
            meta = read_manifest(ckpt, CHECKPOINT_FORMAT, required=[MODULE_FILE])
        self._init_ray()
        self.algo = self._build_config().build_algo()
        self.raw_env = self.make_env()
        self._discrete_scalar = isinstance(self.raw_env.action_space, gym.spaces.Discrete)
        if meta is not None:
            self.algo.restore_from_path(str((ckpt / ALGORITHM_DIR).resolve()))
            self._steps = int(meta["steps"])

    # ------------------------------------------------------------------ training
    def log_result(self, result: dict[str, Any], step: int, sps: float) -> dict[str, float]:
        """Map an ``algo.train()`` result onto the shared tags; returns what was logged."""
        flat = _flat(result)
        out: dict[str, float] = {}
        pairs = {
            "env_runners/episode_return_mean": "charts/episodic_return",
            "env_runners/episode_len_mean": "charts/episodic_length",
            **{f"env_runners/edgerl_{k}": f"charts/{k}" for k in set(INFO_METRICS.values())},
        }
        for src, tag in pairs.items():
            v = _scalar(flat.get(src))
            if v is not None:
                out[tag] = v
        for key, value in flat.items():
            if not key.startswith("learners/default_policy/"):
                continue
            name = key.rsplit("/", 1)[1]
            v = _scalar(value)
            if v is None or name.startswith(("num_", "diff_num", "weights_seq", "module_train")):
                continue
            if "loss" in name:
                out[f"losses/{name}"] = v
            elif name in ("entropy", "curr_kl_coeff", "vf_explained_var", "alpha_value",
                          "qf_mean", "qf_max", "qf_min", "curr_entropy_coeff"):  # fmt: skip
                out[f"charts/{name}"] = v
            elif name == "default_optimizer_learning_rate":
                out["charts/learning_rate"] = v
        out["charts/SPS"] = sps
        self.logger.scalars(out, step)
        return out

    def train(self, ctx: TrainContext) -> None:
        every, ck_every = ctx.eval_every, ctx.checkpoint_every
        next_eval = (self._steps // every + 1) * every if every else math.inf
        next_ckpt = (self._steps // ck_every + 1) * ck_every if ck_every else math.inf
        while self._steps < ctx.total_steps:
            t0, s0 = time.perf_counter(), self._steps
            result = self.algo.train()
            steps = result.get("num_env_steps_sampled_lifetime")
            if steps is None:
                steps = result["env_runners"]["num_env_steps_sampled_lifetime"]
            self._steps = int(steps)
            sps = (self._steps - s0) / max(time.perf_counter() - t0, 1e-9)
            logged = self.log_result(result, self._steps, sps)
            ctx.progress.update(self._steps, **{
                k.split("/")[1].replace("episodic_return", "ret"): v for k, v in logged.items()
                if k in ("charts/episodic_return", "charts/cost", "charts/gap")
            })  # fmt: skip
            if self._steps >= next_eval:
                next_eval = (self._steps // every + 1) * every
                self.log_eval(ctx, self._steps)
            if self._steps >= next_ckpt:
                next_ckpt = (self._steps // ck_every + 1) * ck_every
                self.save()
            if ctx.stop_requested():
                raise TrainingStopped

    # ------------------------------------------------------------------ checkpoints
    @classmethod
    def saved_steps(cls, run_dir: Path) -> int | None:
        from agents.common.checkpoint import read_manifest

        path = cls.checkpoint_path(run_dir)
        return int(read_manifest(path, CHECKPOINT_FORMAT)["steps"]) if path.is_dir() else None

    def save(self) -> Path:
        """``rllib_checkpoint/`` as one atomic unit: RLlib's own checkpoint (``algorithm/``,
        for resuming), the RLModule's state dict (``module.pt``, for evaluation without
        unpickling) and ``manifest.json`` (steps, env signature, SHA-256 of every file)."""

        from agents.common.checkpoint import env_signature, save_checkpoint_dir, save_tensors

        module = self.algo.get_module()

        def fill(tmp: Path) -> None:
            self.algo.save_to_path(str((tmp / ALGORITHM_DIR).resolve()))
            save_tensors(
                {"state_dict": module.state_dict(),
                 "inference_only": bool(getattr(module, "inference_only", False))},
                tmp / MODULE_FILE,
            )  # fmt: skip

        meta = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "algo": self.algo_name,
            "steps": self._steps,
            "action_kind": self.spec.action_kind,
            "action_mode": self.spec.action_mode,
            "rescaled_actions": self.rescaled,
            "signature": env_signature(self.raw_env),
        }
        path = save_checkpoint_dir(self.checkpoint_path(self.run_dir), fill, meta)
        (self.run_dir / self.meta_file).unlink(missing_ok=True)  # pre-manifest runs' metadata
        return path

    def policy(self) -> RLModulePolicy:
        return RLModulePolicy(self.algo.get_module(), self.rescaled, self._discrete_scalar)

    @classmethod
    def load_policy(cls, run_dir: Path, cfg: DictConfig, env: Any) -> RLModulePolicy:
        """The RLModule rebuilt from the run's config with the weights of ``module.pt``
        (``torch.load(weights_only=True)``, checksums verified first): nothing is unpickled
        and no Ray session is needed."""
        import gymnasium as gym

        from agents.common.checkpoint import (
            check_finite,
            check_signature,
            load_tensors,
            payload_error,
            read_manifest,
        )
        from pipeline.config import validate

        ckpt = cls.checkpoint_path(run_dir)
        meta = read_manifest(ckpt, CHECKPOINT_FORMAT, required=[MODULE_FILE])
        file = ckpt / MODULE_FILE
        data = load_tensors(file)
        try:
            check_signature(meta["signature"], env)
            check_finite(file, data)
            runner = cls(cfg, validate(cfg, build_env_check=False), Path(run_dir), None)
            config = runner._build_config()
            rl_env = make_rllib_env(runner._env_config())
            try:
                spec = config.get_rl_module_spec(
                    env=rl_env, inference_only=bool(data["inference_only"])
                )
            finally:
                rl_env.close()
            module = spec.build()
            module.load_state_dict(data["state_dict"])  # strict: every name and shape
            module.eval()
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise payload_error(file, exc, "rebuilding the RLModule") from exc
        space = getattr(env, "single_action_space", env.action_space)
        return RLModulePolicy(
            module, bool(meta["rescaled_actions"]), isinstance(space, gym.spaces.Discrete)
        )

    def close(self) -> None:
        super().close()
        if self.algo is not None:
            self.algo.stop()
            self.algo = None
        if self._started_ray:
            import ray

            ray.shutdown()
            self._started_ray = False
