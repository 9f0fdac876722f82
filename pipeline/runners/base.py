"""The runner interface: one class per agent family trains, checkpoints and loads policies.

A runner owns one agent in one run directory. The pipeline (:mod:`pipeline.train`) calls::

    runner = RunnerClass(cfg, spec, run_dir, logger)
    runner.setup(resume)          # build (or restore) the agent; runner.steps = env steps done
    runner.train(ctx)             # until ctx.total_steps or ctx.stop_requested()
    runner.save()                 # resumable checkpoint in run_dir
    runner.policy()               # deterministic policy for the final evaluation

and :mod:`pipeline.evaluate` calls ``RunnerClass.load_policy(run_dir, cfg, env)``.

Every runner logs the shared TensorBoard tags of :mod:`agents.common.logger` through a
:class:`~agents.common.logger.RunLogger` on ``run_dir``: ``charts/episodic_return``,
``charts/episodic_length``, ``charts/cost`` and ``charts/gap`` per episode (scheduling, as
DRLoS: ``charts/cost`` = mean per-step utilisation variance, plus ``charts/latency_ms`` and
``charts/dropped``), ``charts/SPS`` and ``losses/*`` every ``train.log_every`` steps,
``eval/*`` every ``train.eval_every`` steps, and the hyperparameters at the end.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from omegaconf import DictConfig

from agents.common.evaluation import training_eval
from agents.common.logger import RunLogger
from agents.common.rules import ConfigError, Rule, check_rules
from pipeline.envs import ENV_NAMES, build_env, is_partition
from pipeline.progress import GracefulInterrupt, Progress
from pipeline.utils import to_plain

if TYPE_CHECKING:
    from pipeline.config import RunSpec

ACTION_KINDS: tuple[str, ...] = ("continuous", "discrete")


class TrainingStopped(Exception):
    """Raised by a runner's loop (at a safe point) when a stop was requested."""


class SetupError(RuntimeError):
    """A runner's set-up cannot proceed for a reason outside the config (e.g. Ray cannot
    start or connect). ``train.py`` prints the message in one line (no traceback), exits 1 and
    removes the new run's directory."""


class TrainContext:
    """Budget, schedules, progress and the stop flag of one ``train`` call."""

    def __init__(
        self,
        cfg: DictConfig,
        logger: Any,
        progress: Progress,
        interrupt: GracefulInterrupt,
    ) -> None:
        t = cfg.train
        self.total_steps = int(t.total_steps)
        self.eval_every = int(t.eval_every)
        self.eval_episodes = int(t.eval_episodes)
        self.log_every = int(t.log_every)
        self.checkpoint_every = int(t.checkpoint_every)
        self.eval_seeds = tuple(range(int(t.eval_seed), int(t.eval_seed) + self.eval_episodes))
        self.logger = logger
        self.progress = progress
        self.interrupt = interrupt

    def stop_requested(self) -> bool:
        return self.interrupt.requested


class PipelineLogger(RunLogger):
    """The :class:`~agents.common.logger.RunLogger` of a pipeline run: HParams comparable
    across agents.

    * Whoever logs the hyperparameters (the pipeline, or IoRLO / DRLoS inside ``learn``), the
      columns are the runner's :meth:`Runner.hparams` (``hparams_source``): the same common
      columns for every agent (``agent``, ``algo``, ``variant``, env, DNN, network, seed,
      total steps) plus ``agent.<key>`` for each of the agent's own hyperparameters.
    * Each run writes only its HParams *session* (start and end info), not an *experiment*
      summary: TensorBoard's HParams table takes the first experiment summary it finds as the
      set of columns (so a TD3 run's 25 columns hid every other agent's), and without one it
      builds the columns from the union of every run's sessions.
    """

    hparams_source: Callable[[], Mapping[str, Any]] | None = None
    write_experiment = False

    def log_hparams(
        self, hparams: Mapping[str, Any], metrics: Mapping[str, float], step: int | None = None
    ) -> None:
        if self.hparams_source is not None:
            hparams = self.hparams_source()
        super().log_hparams(hparams, metrics, step)


class EpisodeTracker:
    """Per-episode ``charts/*`` from (reward, info, done) of a single env, plus the periodic
    ``charts/SPS``, evaluation and checkpoint schedule shared by the SB3 and Q-learning loops.
    """

    def __init__(
        self,
        runner: Runner,
        ctx: TrainContext,
        start_step: int,
        on_checkpoint: Callable[[], Any] | None = None,
    ) -> None:
        self.runner, self.ctx, self.log = runner, ctx, ctx.logger
        #: called when a checkpoint is due (default: save now; SB3 defers to a safe point)
        self.on_checkpoint = on_checkpoint or runner.save
        self.partition = is_partition(runner.env_name)
        self._reset_episode()
        self._t0, self._s0 = time.perf_counter(), start_step
        every = ctx.eval_every
        self.next_eval = (start_step // every + 1) * every if every else math.inf
        ck = ctx.checkpoint_every
        self.next_ckpt = (start_step // ck + 1) * ck if ck else math.inf
        self.next_log = (start_step // ctx.log_every + 1) * ctx.log_every

    def _reset_episode(self) -> None:
        self.ret, self.length = 0.0, 0
        self.sums = {"cost": 0.0, "gap": 0.0, "variance": 0.0, "latency": 0.0}
        self.counts = {"cost": 0, "gap": 0, "variance": 0, "latency": 0}
        self.completed = 0

    def step(self, step: int, reward: float, info: Mapping[str, Any], done: bool) -> None:
        self.ret += float(reward)
        self.length += 1
        for k in ("cost", "gap", "variance"):
            if k in info:
                self.sums[k] += float(info[k])
                self.counts[k] += 1
        if "completed" in info:  # scheduling: mean latency of the tasks completed this step
            n = int(info["completed"]) - self.completed
            self.completed = int(info["completed"])
            self.sums["latency"] += float(info["mean_latency_ms"]) * n
            self.counts["latency"] += n
        if done:
            metrics = {"episodic_return": self.ret, "episodic_length": float(self.length)}
            for k in ("cost", "gap"):
                if self.counts[k]:
                    metrics[k] = self.sums[k] / self.counts[k]
            if self.counts["variance"]:  # scheduling: charts/cost is the usage variance (as DRLoS)
                metrics["cost"] = self.sums["variance"] / self.counts["variance"]
                metrics["latency_ms"] = self.sums["latency"] / max(self.counts["latency"], 1)
                metrics["dropped"] = float(info.get("dropped", 0))
            self.log.scalars(metrics, step, prefix="charts")
            self.ctx.progress.update(step, ret=self.ret, **{
                k: metrics[k] for k in ("cost", "gap") if k in metrics
            })  # fmt: skip
            self._reset_episode()
        self.ctx.progress.update(step)

    def periodic(self, step: int) -> None:
        """SPS, evaluation and checkpoints when their step comes (call after every step)."""
        if step >= self.next_log:
            self.next_log = (step // self.ctx.log_every + 1) * self.ctx.log_every
            dt = time.perf_counter() - self._t0
            if dt > 0:
                self.log.scalar("charts/SPS", (step - self._s0) / dt, step)
        if step >= self.next_eval:
            self.next_eval = (step // self.ctx.eval_every + 1) * self.ctx.eval_every
            self.runner.log_eval(self.ctx, step)
        if step >= self.next_ckpt:
            self.next_ckpt = (step // self.ctx.checkpoint_every + 1) * self.ctx.checkpoint_every
            self.on_checkpoint()


class Runner(ABC):
    """Base of the agent runners (see the module docstring).

    Class attributes describe what the agent supports; :meth:`validate_agent` and
    :meth:`check_env` use them before anything is built.
    """

    #: env names the agent can train on
    envs: ClassVar[tuple[str, ...]] = ENV_NAMES
    #: action kinds the agent can use (``agent.action_space``)
    action_spaces: ClassVar[tuple[str, ...]] = ACTION_KINDS
    #: keys of the agent config handled by the pipeline, not agent hyperparameters
    meta_keys: ClassVar[tuple[str, ...]] = ("_target_", "name", "action_space")
    #: allowed values of the hyperparameters (SB3, RLlib; the native runners derive theirs
    #: from their config dataclass: ``ConfigAgentRunner.agent_rules``)
    rules: ClassVar[dict[str, Rule]] = {}
    #: what the agent is (for messages)
    description: ClassVar[str] = ""

    def __init__(self, cfg: DictConfig, spec: RunSpec, run_dir: Path, logger: Any) -> None:
        self.cfg = cfg
        self.spec = spec
        self.run_dir = Path(run_dir)
        self.logger = logger
        self.agent_cfg: dict[str, Any] = to_plain(cfg.agent)
        self.env_name: str = cfg.env.name
        self.seed = int(cfg.seed)
        self._eval_env = None
        self._last_eval: tuple[int, dict[str, float]] | None = None

    # ------------------------------------------------------------------ validation
    @classmethod
    def hyperparameters(cls, agent: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in agent.items() if k not in cls.meta_keys}

    @classmethod
    def validate_agent(cls, agent: Mapping[str, Any], env_name: str) -> None:
        """ConfigError for unknown keys or bad values of the agent config."""
        kind = agent.get("action_space")
        if kind not in cls.action_spaces:
            raise ConfigError(
                f"agent.action_space={kind!r} is invalid for {agent.get('name')}: must be one "
                f"of {list(cls.action_spaces)}"
            )
        cls.check_hyperparameters(cls.hyperparameters(agent), str(agent.get("name")))

    @classmethod
    def check_hyperparameters(
        cls, hp: Mapping[str, Any], name: str, section: str = "agent"
    ) -> None:
        """ConfigError for unknown keys or bad values among ``hp``, named ``<section>.<key>``
        (another section where an agent config nests this agent's keys: ``agent.policy``)."""
        check_rules(section, hp, cls.agent_rules())

    @classmethod
    def agent_rules(cls) -> dict[str, Rule]:
        """Allowed hyperparameter keys and values (default: :attr:`rules`)."""
        return cls.rules

    @staticmethod
    def require_discrete_env(
        agent: Mapping[str, Any], env_name: str, algo: str, instead: str
    ) -> None:
        """ConfigError unless ``env_name`` offers the Discrete action space that ``algo``
        needs (scheduling only); ``instead`` names the agents to use there."""
        if env_name != "scheduling":
            raise ConfigError(
                f"agent {agent['name']} ({algo}) needs a Discrete action space, which only "
                f"env=scheduling offers (its 2^m share actions); env={env_name} decides one "
                f"platform per block (MultiDiscrete). Use {instead} there"
            )

    @classmethod
    def check_env(cls, agent: Mapping[str, Any], env_name: str) -> None:
        if env_name not in cls.envs:
            raise ConfigError(
                f"agent {agent.get('name')} ({cls.description or cls.__name__}) does not apply "
                f"to env={env_name}; it supports env={' | '.join(cls.envs)}"
            )

    @classmethod
    def check_env_config(cls, agent: Mapping[str, Any], env: Mapping[str, Any]) -> None:
        """ConfigError if the agent cannot train on the env as configured (``env.*``, after
        :meth:`check_env` accepted its name); by default every config of those envs fits."""
        return None

    # ------------------------------------------------------------------ environments
    def make_env(self, num_envs: int | None = None) -> Any:
        """The training env (raw action space: Box(0,1), MultiDiscrete or Discrete)."""
        return build_env(self.cfg, action_mode=self.spec.action_mode, num_envs=num_envs)

    @property
    def eval_env(self) -> Any:
        """The env of the periodic evaluations (default: another :meth:`make_env`)."""
        if self._eval_env is None:
            self._eval_env = self.make_env()
        return self._eval_env

    @eval_env.setter
    def eval_env(self, env: Any) -> None:  # closed by close(), as the default one
        if self._eval_env is not None and self._eval_env is not env:
            self._eval_env.close()
        self._eval_env = env

    def log_eval(self, ctx: TrainContext, step: int) -> dict[str, float]:
        """The evaluation at ``step`` (:meth:`run_eval`), once per step."""
        if self._last_eval is not None and self._last_eval[0] == step:
            return self._last_eval[1]
        out = self.run_eval(ctx, step)
        self._last_eval = (step, out)
        return out

    def run_eval(self, ctx: TrainContext, step: int) -> dict[str, float]:
        """Deterministic evaluation on ``ctx.eval_seeds``, logged as ``eval/*``."""
        res = training_eval(self.policy(), self.eval_env, ctx.eval_seeds)
        out = {f"eval/{k}": v for k, v in res.items()}
        ctx.logger.scalars(out, step)
        ctx.progress.update(
            step, **{f"eval_{k}": v for k, v in res.items() if k in ("cost", "gap")}
        )
        return out

    #: the ``algo`` column of the HParams view (default: the runner's class name)
    algo_label: ClassVar[str] = ""

    def variant(self) -> str:
        """The ``variant`` column: the agent's own variant / algorithm key, else its name."""
        a = self.agent_cfg
        return str(a.get("variant") or a.get("algo") or a["name"])

    def hparams(self) -> dict[str, Any]:
        """Hyperparameters for the TensorBoard HParams view: the common columns of every run,
        then ``agent.<key>`` for each of the agent's hyperparameters (as set on the command
        line: ``agent.lr_actor=...``)."""
        c = self.cfg
        out: dict[str, Any] = {
            "agent": self.agent_cfg["name"],
            "algo": self.algo_label or type(self).__name__.removesuffix("Runner"),
            "variant": self.variant(),
            "action_space": self.agent_cfg.get("action_space"),
            "env": c.env.name,
            "env_id": c.env.id,
            "env_tag": c.env.tag,
            "dnn": c.dnn.name,
            "network": c.network.name,
            "seed": self.seed,
            "total_steps": int(c.train.total_steps),
        }
        for k, v in self.hyperparameters(self.agent_cfg).items():
            out[f"agent.{k}"] = v
        return out

    # ------------------------------------------------------------------ lifecycle
    @property
    @abstractmethod
    def steps(self) -> int:
        """Env steps trained so far (across resumes)."""

    @classmethod
    @abstractmethod
    def checkpoint_path(cls, run_dir: Path) -> Path:
        """Where the resumable checkpoint lives in ``run_dir``."""

    @classmethod
    def saved_steps(cls, run_dir: Path) -> int | None:
        """Env steps of the checkpoint in ``run_dir`` (what a resume restores), or None if
        there is none; raises CheckpointError for an unreadable one."""
        return None

    @abstractmethod
    def setup(self, resume: bool) -> None:
        """Build the agent, or restore it from ``checkpoint_path(run_dir)`` with ``resume``."""

    @abstractmethod
    def train(self, ctx: TrainContext) -> None:
        """Train until ``ctx.total_steps`` env steps (in total) or a stop request."""

    @abstractmethod
    def save(self) -> Path:
        """Write the resumable checkpoint atomically; returns its path."""

    @abstractmethod
    def policy(self) -> Any:
        """The current deterministic policy (``act``/``act_batch`` in the raw env space)."""

    @classmethod
    @abstractmethod
    def load_policy(cls, run_dir: Path, cfg: DictConfig, env: Any) -> Any:
        """The trained policy of ``run_dir`` for ``env`` (single or vector, raw space)."""

    def close(self) -> None:
        if self._eval_env is not None:
            self._eval_env.close()
            self._eval_env = None


def finite(values: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in values.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out[k] = f
    return out
