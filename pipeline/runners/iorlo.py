"""IoRLO (:mod:`agents.iorlo`): DDPG with a sigmoid actor and intent thresholds.

The runner hands the agent its logger (shared tags), an evaluation env, the evaluation /
logging / checkpoint schedule and a callback that drives the progress display and stops
training on Ctrl-C (the agent stops at the next episode end, evaluates and saves).
Checkpoint: ``checkpoint.pt`` (``IoRLO.save(..., include_buffer=True)``: weights, optimiser
and RNG states, replay buffer); evaluation loads its fast numpy actor
(:func:`agents.loading.load_actor`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pipeline.runners.base import TrainContext
from pipeline.runners.native import TorchAgentRunner


class IoRLORunner(TorchAgentRunner):
    """``agent=iorlo`` / ``agent=iorlo_plus`` on ``env=mec|d2d`` (continuous actions)."""

    envs: ClassVar[tuple[str, ...]] = ("mec", "d2d")
    action_spaces: ClassVar[tuple[str, ...]] = ("continuous",)
    description = "IoRLO, DDPG with intent thresholds over Box(0,1) actions"
    config_path = "agents.iorlo.IoRLOConfig"
    agent_path = "agents.iorlo.IoRLO"
    step_attr = "global_step"
    save_kwargs: ClassVar[dict[str, Any]] = {"include_buffer": True}
    logs_hparams_itself = True  # IoRLO.learn logs its hyperparameters and final eval

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
        self.stop_if_requested(ctx)
