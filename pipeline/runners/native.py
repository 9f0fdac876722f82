"""Shared base of the runners of this repo's own agents (:mod:`agents`).

:class:`ConfigAgentRunner`: an agent whose hyperparameters are a config dataclass and whose
resumable checkpoint is ``checkpoint.pt`` in the run directory (``self.agent``, ``None``
until :meth:`~pipeline.runners.base.Runner.setup`). The dataclass is the one source of the
agent's keys, defaults and allowed values: ``agent.*`` is checked against the rules of its
fields (:func:`agents.common.rules.rules_of`, the rules its ``__post_init__`` applies), then the
dataclass is built for the checks that combine fields; its defaults are the Hydra schema
node of the agent's yaml (:mod:`pipeline.runners`).

:class:`TorchAgentRunner`: on top, a torch agent built as ``Agent(env, logger=, seed=,
torch_threads=, **hp)``, restored by ``Agent.load(path, env, logger=, torch_threads=)``,
counting its env steps in one attribute and evaluated through its fast numpy actor
(:func:`agents.loading.load_actor`); :meth:`TorchAgentRunner.iteration_callback` is the
callback of the agents that train in iterations (DRLoS, DRLoS+, DP-distill, DP-forecast).

The config and agent classes are named by dotted paths (:attr:`ConfigAgentRunner.config_path`,
:attr:`TorchAgentRunner.agent_path`) and imported lazily, like every runner's library.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

from omegaconf import DictConfig

from agents.common.rules import ConfigError, Rule, rules_of
from pipeline.runners.base import Runner, TrainContext, TrainingStopped
from pipeline.schemas import PIPELINE_FIELDS


def import_object(path: str) -> Any:
    """The object named by the dotted ``path`` (``agents.drlos.DRLoSConfig``)."""
    from hydra.utils import get_object

    return get_object(path)


class ConfigAgentRunner(Runner):
    """An agent with a config dataclass and a ``checkpoint.pt`` checkpoint (module docstring)."""

    checkpoint_file: ClassVar[str] = "checkpoint.pt"
    #: dotted path of the agent's config dataclass
    config_path: ClassVar[str]
    #: config fields set by the pipeline (top-level ``seed``, ``torch_threads``), not ``agent.*``
    pipeline_fields: ClassVar[tuple[str, ...]] = PIPELINE_FIELDS

    @classmethod
    def config_class(cls) -> type:
        """The agent's config dataclass (imported here, lazily)."""
        return import_object(cls.config_path)

    @classmethod
    def agent_rules(cls) -> dict[str, Rule]:
        """The config dataclass's field rules, without the pipeline's fields."""
        rules = rules_of(cls.config_class())
        return {k: r for k, r in rules.items() if k not in cls.pipeline_fields}

    @classmethod
    def check_hyperparameters(
        cls, hp: Mapping[str, Any], name: str, section: str = "agent"
    ) -> None:
        """The field rules, then what they cannot say: the dataclass is built for the checks
        that combine fields (errors name ``<section>.<field>``)."""
        super().check_hyperparameters(hp, name, section)
        try:
            cls.config_class()(**hp)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid agent config ({name}): {section}.{exc}") from None

    @classmethod
    def checkpoint_path(cls, run_dir: Path) -> Path:
        return Path(run_dir) / cls.checkpoint_file

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.agent: Any = None


class TorchAgentRunner(ConfigAgentRunner):
    """A torch agent with ``torch_threads``, a step counter and a fast actor (module docstring)."""

    #: dotted path of the agent class
    agent_path: ClassVar[str]
    #: the agent attribute counting the env steps trained
    step_attr: ClassVar[str]
    #: keyword arguments of ``agent.save`` for the resumable checkpoint
    save_kwargs: ClassVar[dict[str, Any]] = {}

    @classmethod
    def agent_class(cls) -> type:
        """The agent class (imported here, lazily)."""
        return import_object(cls.agent_path)

    @property
    def steps(self) -> int:
        return 0 if self.agent is None else int(getattr(self.agent, self.step_attr))

    @classmethod
    def saved_steps(cls, run_dir: Path) -> int | None:
        from agents.common.checkpoint import load_checkpoint

        path = cls.checkpoint_path(run_dir)
        if not path.is_file():
            return None
        return int(load_checkpoint(path)["state"][cls.step_attr])

    def _threads(self) -> int | None:
        t = self.cfg.torch_threads
        return None if t is None else int(t)

    def setup(self, resume: bool) -> None:
        agent_cls = self.agent_class()
        env = self.make_env()
        if resume:
            self.agent = agent_cls.load(
                self.checkpoint_path(self.run_dir), env, logger=self.logger,
                torch_threads=self._threads(),
            )  # fmt: skip
        else:
            hp = self.hyperparameters(self.agent_cfg)
            self.agent = agent_cls(
                env, logger=self.logger, seed=self.seed, torch_threads=self._threads(), **hp
            )

    def iteration_callback(
        self, ctx: TrainContext, shown: Callable[[dict[str, float]], dict[str, Any]]
    ) -> Callable[[Any, dict[str, float]], bool]:
        """The ``learn`` callback of an agent that trains in iterations, called after each:
        the progress line (``shown(metrics)``), an evaluation every ``train.eval_every`` and
        a checkpoint every ``train.checkpoint_every`` env steps; False (stop) once
        ``train.total_steps`` are reached or a stop was requested."""
        every, ck = ctx.eval_every, ctx.checkpoint_every
        sched = {
            "eval": (self.steps // every + 1) * every if every else math.inf,
            "ckpt": (self.steps // ck + 1) * ck if ck else math.inf,
        }

        def callback(agent: Any, metrics: dict[str, float]) -> bool:
            step = getattr(agent, self.step_attr)
            ctx.progress.update(step, **shown(metrics))
            if step >= sched["eval"]:
                sched["eval"] = (step // every + 1) * every
                self.log_eval(ctx, step)
            if step >= sched["ckpt"]:
                sched["ckpt"] = (step // ck + 1) * ck
                self.save()
            return step < ctx.total_steps and not ctx.stop_requested()

        return callback

    @staticmethod
    def stop_if_requested(ctx: TrainContext) -> None:
        """TrainingStopped after a ``learn`` call that ended on a stop request."""
        if ctx.stop_requested():
            raise TrainingStopped

    def save(self) -> Path:
        return self.agent.save(self.checkpoint_path(self.run_dir), **self.save_kwargs)

    def policy(self) -> Any:
        return self.agent.fast_actor()

    @classmethod
    def load_policy(cls, run_dir: Path, cfg: DictConfig, env: Any) -> Any:
        from agents.loading import load_actor

        return load_actor(cls.checkpoint_path(run_dir), env)
