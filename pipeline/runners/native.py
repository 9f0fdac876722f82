"""Shared base of the runners of this repo's own agents (:mod:`agents`).

:class:`ConfigAgentRunner`: an agent whose hyperparameters are a config dataclass (validated
by building it) and whose resumable checkpoint is ``checkpoint.pt`` in the run directory
(``self.agent``, ``None`` until :meth:`~pipeline.runners.base.Runner.setup`).

:class:`TorchAgentRunner`: on top, a torch agent built as ``Agent(env, logger=, seed=,
torch_threads=, **hp)``, restored by ``Agent.load(path, env, logger=, torch_threads=)``,
counting its env steps in one attribute and evaluated through its fast numpy actor
(:func:`agents.loading.load_actor`).

The agent classes are imported lazily (in :meth:`ConfigAgentRunner.config_class` /
:meth:`TorchAgentRunner.agent_class`), like every runner's library.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, ClassVar

from omegaconf import DictConfig

from pipeline.rules import ConfigError, Rule
from pipeline.runners.base import Runner


class ConfigAgentRunner(Runner):
    """An agent with a config dataclass and a ``checkpoint.pt`` checkpoint (module docstring)."""

    checkpoint_file: ClassVar[str] = "checkpoint.pt"
    #: put before the config class's error message (``"agent."``: the message names the key)
    config_error_prefix: ClassVar[str] = "agent."

    @classmethod
    @abstractmethod
    def config_class(cls) -> type:
        """The agent's config dataclass (imported here, lazily)."""

    @classmethod
    def config_kwargs(cls, hp: dict[str, Any]) -> dict[str, Any]:
        """The config class's keyword arguments for the hyperparameters ``hp``."""
        return hp

    @classmethod
    def validate_agent(cls, agent: Mapping[str, Any], env_name: str) -> None:
        super().validate_agent(agent, env_name)
        try:
            cls.config_class()(**cls.config_kwargs(cls.hyperparameters(agent)))
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"invalid agent config ({agent['name']}): {cls.config_error_prefix}{exc}"
            ) from None

    @classmethod
    def checkpoint_path(cls, run_dir: Path) -> Path:
        return Path(run_dir) / cls.checkpoint_file

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.agent: Any = None


class TorchAgentRunner(ConfigAgentRunner):
    """A torch agent with ``torch_threads``, a step counter and a fast actor (module docstring)."""

    #: config fields set by the pipeline rather than the agent config
    pipeline_fields: ClassVar[tuple[str, ...]] = ("seed", "torch_threads")
    #: the agent attribute counting the env steps trained
    step_attr: ClassVar[str]

    @classmethod
    @abstractmethod
    def agent_class(cls) -> type:
        """The agent class (imported here, lazily)."""

    @classmethod
    def agent_rules(cls) -> dict[str, Rule]:
        # The config class checks the values; the rules only fix the allowed keys.
        names = [f.name for f in fields(cls.config_class()) if f.name not in cls.pipeline_fields]
        return {name: Rule("any") for name in names}

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

    def policy(self) -> Any:
        return self.agent.fast_actor()

    @classmethod
    def load_policy(cls, run_dir: Path, cfg: DictConfig, env: Any) -> Any:
        from agents.loading import load_actor

        return load_actor(cls.checkpoint_path(run_dir), env)
