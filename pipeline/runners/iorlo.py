"""IoRLO (:mod:`agents.iorlo`): DDPG with a sigmoid actor and intent thresholds.

The runner hands the agent its logger (shared tags), an evaluation env, the evaluation /
logging / checkpoint schedule and a callback that drives the progress display and stops
training on Ctrl-C (the agent stops at the next episode end, evaluates and saves).
Checkpoint: ``checkpoint.pt`` (``IoRLO.save(..., include_buffer=True)``: weights, optimiser
and RNG states, replay buffer); evaluation loads its fast numpy actor
(:func:`agents.loading.load_actor`).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any, ClassVar

from omegaconf import DictConfig

from pipeline.config import ConfigError, Rule
from pipeline.runners.base import Runner, TrainContext, TrainingStopped

#: IoRLOConfig fields set by the pipeline rather than the agent config
PIPELINE_FIELDS: tuple[str, ...] = ("seed", "torch_threads")


def _config_fields() -> list[str]:
    from agents.iorlo import IoRLOConfig

    return [f.name for f in fields(IoRLOConfig) if f.name not in PIPELINE_FIELDS]


class IoRLORunner(Runner):
    """``agent=iorlo`` / ``agent=iorlo_plus`` on ``env=mec|d2d`` (continuous actions)."""

    envs: ClassVar[tuple[str, ...]] = ("mec", "d2d")
    action_spaces: ClassVar[tuple[str, ...]] = ("continuous",)
    description = "IoRLO, DDPG with intent thresholds over Box(0,1) actions"
    checkpoint_file = "checkpoint.pt"
    logs_hparams_itself = True  # IoRLO.learn logs its hyperparameters and final eval

    @classmethod
    def validate_agent(cls, agent: dict[str, Any], env_name: str) -> None:
        from agents.iorlo import IoRLOConfig

        super().validate_agent(agent, env_name)
        try:
            IoRLOConfig(**cls.hyperparameters(agent))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid agent config ({agent['name']}): agent.{exc}") from None

    @classmethod
    def agent_rules(cls) -> dict[str, Rule]:
        # IoRLOConfig checks the values; the rules only fix the allowed keys.
        return {name: Rule("any") for name in _config_fields()}

    @classmethod
    def checkpoint_path(cls, run_dir: Path) -> Path:
        return Path(run_dir) / cls.checkpoint_file

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.agent = None

    @property
    def steps(self) -> int:
        return 0 if self.agent is None else int(self.agent.global_step)

    def _threads(self) -> int | None:
        t = self.cfg.torch_threads
        return None if t is None else int(t)

    def setup(self, resume: bool) -> None:
        from agents.iorlo import IoRLO

        env = self.make_env()
        if resume:
            self.agent = IoRLO.load(
                self.checkpoint_path(self.run_dir), env, logger=self.logger,
                torch_threads=self._threads(),
            )  # fmt: skip
        else:
            hp = self.hyperparameters(self.agent_cfg)
            self.agent = IoRLO(
                env, logger=self.logger, seed=self.seed, torch_threads=self._threads(), **hp
            )

    def train(self, ctx: TrainContext) -> None:
        remaining = ctx.total_steps - self.steps
        if remaining <= 0:
            return

        def callback(agent: Any, metrics: dict[str, float]) -> bool:
            shown = {k.replace("eval/", "eval_"): v for k, v in metrics.items()
                     if k in ("episodic_return", "cost", "gap", "eval/cost", "eval/gap")}  # fmt: skip
            if "episodic_return" in shown:
                shown["ret"] = shown.pop("episodic_return")
            ctx.progress.update(agent.global_step, **shown)
            return not ctx.stop_requested()

        ckpt_every = ctx.checkpoint_every or None
        self.agent.learn(
            remaining,
            callback=callback,
            eval_env=self.eval_env,
            eval_every=ctx.eval_every or ctx.total_steps + 1,
            eval_seeds=ctx.eval_seeds,
            log_every=ctx.log_every,
            checkpoint_path=self.checkpoint_path(self.run_dir) if ckpt_every else None,
            checkpoint_every=ckpt_every,
        )
        if ctx.stop_requested():
            raise TrainingStopped

    def save(self) -> Path:
        return self.agent.save(self.checkpoint_path(self.run_dir), include_buffer=True)

    def policy(self) -> Any:
        return self.agent.fast_actor()

    @classmethod
    def load_policy(cls, run_dir: Path, cfg: DictConfig, env: Any) -> Any:
        from agents.loading import load_actor

        return load_actor(cls.checkpoint_path(run_dir), env)
