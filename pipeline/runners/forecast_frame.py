"""``agent=iorlo_plus_forecast``: IoRLO+ trained on the frame it decides, deciding on
DP-forecast's forecast of that frame (:class:`agents.forecast.ForecastFrameActor`,
docs/model.md §13), trained in one run.

Under ``observe="measured"`` the observation holds the last frame's readings. The composite
trains its two parts from the run's env config:

1. the **forecaster**, a DP-forecast (``agent.forecast.*``: :class:`agents.forecast.
   ForecastConfig`), on the run's env for ``agent.forecast_steps`` frames, first;
2. the **policy**, an IoRLO+ (``agent.policy.*``: IoRLO+'s keys), on the same env with
   ``env.observe=current`` (the frame it is charged on) for ``train.total_steps`` frames.
   Its periodic evaluations (``eval/*``) are the composite's: the policy acting on the run's
   env with the forecast frame written into each observation
   (:class:`agents.forecast.ForecastFrameObservation`).

It is what ``python train.py agent=dp_forecast ...``, ``python train.py env.observe=current
...`` and :func:`agents.forecast.compose_forecast_frame` do in three steps, with the same
seed for both parts (the tests check that the weights agree). ``runner.steps`` (the
progress, ``state.json``'s ``steps``) counts the policy's frames; the forecaster's phase has
its own progress line.

Run directory: ``checkpoint.pt`` (the composite, what :func:`agents.load_actor` and
``evaluate.py`` read; written last), ``policy.pt`` and ``forecast.pt`` (the parts'
resumable checkpoints, with their replay buffer / labelled data), the policy's TensorBoard
files and the forecaster's in ``forecast/`` (a run of its own in TensorBoard).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from omegaconf import DictConfig, OmegaConf

from agents.common.logger import RunLogger
from agents.common.rules import ConfigError
from pipeline.progress import Progress
from pipeline.runners.base import TrainContext
from pipeline.runners.distill import DPForecastRunner
from pipeline.runners.iorlo import IoRLORunner
from pipeline.runners.native import ConfigAgentRunner
from pipeline.utils import to_plain


class PolicyPart(IoRLORunner):
    """The policy of the composite (``policy.pt``)."""

    checkpoint_file = "policy.pt"


class ForecastPart(DPForecastRunner):
    """The forecaster of the composite (``forecast.pt``)."""

    checkpoint_file = "forecast.pt"


#: agent key -> (part runner, the agent it is, its action kind, the env.observe it trains on:
#: None keeps the run's)
PARTS: dict[str, tuple[type, str, str, str | None]] = {
    "forecast": (ForecastPart, "dp_forecast", "discrete", None),
    "policy": (PolicyPart, "iorlo_plus", "continuous", "current"),
}
#: the subdirectory of the forecaster's TensorBoard files
FORECAST_LOGS = "forecast"


class ForecastFrameRunner(ConfigAgentRunner):
    """``agent=iorlo_plus_forecast`` on ``env=mec_v1|d2d_v1`` with ``env.observe=measured``
    (module docstring)."""

    envs: ClassVar[tuple[str, ...]] = ("mec", "d2d")
    action_spaces: ClassVar[tuple[str, ...]] = ("continuous",)
    description = "IoRLO+ trained on the decided frame, deciding on DP-forecast's forecast of it"
    config_path = "agents.forecast.ForecastFrameConfig"
    algo_label = "ForecastFrame"
    logs_hparams_itself = True  # the policy's IoRLO.learn logs them with the composite's eval

    # ------------------------------------------------------------------ validation
    @classmethod
    def hyperparameters(cls, agent: Mapping[str, Any]) -> dict[str, Any]:
        """The composite's own keys (``forecast_steps``); the parts' are checked apart."""
        return {k: v for k, v in super().hyperparameters(agent).items() if k not in PARTS}

    @classmethod
    def validate_agent(cls, agent: Mapping[str, Any], env_name: str) -> None:
        super().validate_agent(agent, env_name)
        for key, (part, name, _, _) in PARTS.items():
            hp = agent.get(key)
            if not isinstance(hp, Mapping):
                raise ConfigError(
                    f"agent.{key}={hp!r} is invalid: must be a mapping of agent={name}'s keys"
                )
            part.check_hyperparameters(hp, str(agent["name"]), f"agent.{key}")

    @classmethod
    def check_env_config(cls, agent: Mapping[str, Any], env: Mapping[str, Any]) -> None:
        name = agent.get("name")
        if "observe" not in env:
            raise ConfigError(
                f"agent {name} decides on a forecast of the measured frame, which env "
                f"{env.get('id')} does not observe: use env=mec_v1 | d2d_v1"
            )
        if env["observe"] != "measured":
            raise ConfigError(
                f"env.observe={env['observe']!r} does not fit agent {name}: it forecasts the "
                "frame from the measurement, so env.observe must be 'measured' (with the "
                "current frame observed, train agent=iorlo_plus env.observe=current)"
            )
        for key, off in (("dp_features", False), ("history", []), ("early_exit", None)):
            if env.get(key, off) not in (off, ()):
                raise ConfigError(
                    f"env.{key}={env[key]!r} does not fit agent {name}: the forecast frame is "
                    f"written into the simulator's own observation and forecast without "
                    f"early exits; leave env.{key}={off!r}"
                )

    def hparams(self) -> dict[str, Any]:
        """The common columns and ``agent.forecast_steps``, then the parts' keys
        (``agent.policy.<key>``, ``agent.forecast.<key>``)."""
        return {**super().hparams(), **{f"agent.{k}": self.agent_cfg[k] for k in PARTS}}

    # ------------------------------------------------------------------ parts
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.parts: dict[str, Any] = {}
        self._forecast_logger: RunLogger | None = None

    def _part(self, key: str) -> Any:
        """The runner of one part: the run's config with the part's agent keys (and env
        observation) in this run directory."""
        from pipeline.config import RunSpec

        cls, name, kind, observe = PARTS[key]
        plain = to_plain(self.cfg)
        plain.pop("hydra", None)
        plain["agent"] = {"_target_": f"{cls.__module__}.{cls.__qualname__}", "name": name,
                          "action_space": kind, **plain["agent"][key]}  # fmt: skip
        if observe is not None:
            plain["env"]["observe"] = observe
        cfg = OmegaConf.create(plain)
        if key == "forecast":
            self._forecast_logger = RunLogger(self.run_dir / FORECAST_LOGS)
            logger = self._forecast_logger
        else:
            logger = self.logger
        return cls(cfg, RunSpec(cls, kind, kind), self.run_dir, logger)

    def setup(self, resume: bool) -> None:
        for key in PARTS:  # the forecaster first: it trains first
            self.parts[key] = self._part(key)
            self.parts[key].setup(resume)

    @property
    def steps(self) -> int:
        policy = self.parts.get("policy")
        return 0 if policy is None else policy.steps

    @classmethod
    def saved_steps(cls, run_dir: Path) -> int | None:
        return PolicyPart.saved_steps(run_dir)

    def train(self, ctx: TrainContext) -> None:
        from agents.forecast import ForecastFrameObservation

        forecast, policy = self.parts["forecast"], self.parts["policy"]
        frames = int(self.agent_cfg["forecast_steps"])
        if forecast.steps < frames:
            p = ctx.progress
            fctx = copy.copy(ctx)
            fctx.total_steps, fctx.logger = frames, forecast.logger
            fctx.progress = Progress(frames, forecast.steps, f"{p.label} forecaster", p.enabled,
                                     p.every)  # fmt: skip
            try:
                forecast.train(fctx)
            finally:
                fctx.progress.close()
            self.save()  # a later stop resumes with the forecaster trained
        policy.eval_env = ForecastFrameObservation(self.make_env(), forecast.policy())
        policy.train(ctx)

    # ------------------------------------------------------------------ checkpoints
    def save(self) -> Path:
        """The parts' checkpoints, then the composite's (``checkpoint.pt``) from them."""
        from agents.forecast import compose_forecast_frame

        forecast = self.parts["forecast"].save()
        policy = self.parts["policy"].save()
        out = self.checkpoint_path(self.run_dir)
        compose_forecast_frame(policy, forecast, out=out)
        return out

    def policy(self) -> Any:
        from agents.forecast import ForecastFrameActor

        return ForecastFrameActor(self.parts["policy"].policy(), self.parts["forecast"].policy())

    @classmethod
    def load_policy(cls, run_dir: Path, cfg: DictConfig, env: Any) -> Any:
        from agents.loading import load_actor

        return load_actor(cls.checkpoint_path(run_dir), env)

    def close(self) -> None:
        super().close()
        for part in self.parts.values():
            part.close()
        if self._forecast_logger is not None:
            self._forecast_logger.close()
            self._forecast_logger = None
