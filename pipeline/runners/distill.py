"""DP-distill (:mod:`agents.distill`): an MLP trained to predict the oracle's decision (DAgger).

The runner builds the run's env as a native vector env of ``agent.num_envs`` copies in the
discrete action mode (``MultiDiscrete([P] * n)``) and hands it, with the run's logger, to the
agent. Training runs in iterations (``frames_per_iter`` vector steps of ``num_envs`` copies,
then the minibatch updates); the budget and schedules stay in env steps (frames): a
callback after every iteration stops training once ``train.total_steps`` frames are
labelled (the last iteration may overshoot by up to one iteration's frames), evaluates
every ``train.eval_every`` steps (the fast actor on the episodes ``train.eval_seed + k``,
``eval/*`` as for every agent), saves every ``train.checkpoint_every`` steps, drives the
progress display and stops on Ctrl-C. The agent logs ``charts/*`` per finished batch of
episodes, ``losses/loss`` and ``losses/accuracy`` (and the oracle agreement on fresh frames,
``charts/oracle_accuracy`` / ``charts/oracle_match``) every ``train.log_every`` steps.
Checkpoint: ``checkpoint.pt`` (``DPDistill.save``: weights, optimiser and RNG states, the
labelled data and the episode in progress, so a resume is exact); evaluation loads its fast
numpy actor (:func:`agents.loading.load_actor`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pipeline.runners.base import TrainContext
from pipeline.runners.native import TorchAgentRunner


class DPDistillRunner(TorchAgentRunner):
    """``agent=dp_distill`` on ``env=mec_v1|d2d_v1|mec|d2d`` (discrete actions)."""

    envs: ClassVar[tuple[str, ...]] = ("mec", "d2d")
    action_spaces: ClassVar[tuple[str, ...]] = ("discrete",)
    description = (
        "DP-distill, DAgger imitation of the clairvoyant oracle over MultiDiscrete actions"
    )
    config_path = "agents.distill.DistillConfig"
    agent_path = "agents.distill.DPDistill"
    step_attr = "frames"
    save_kwargs: ClassVar[dict[str, Any]] = {"include_buffer": True}

    def setup(self, resume: bool) -> None:
        agent_cls = self.agent_class()
        hp = self.hyperparameters(self.agent_cfg)
        num_envs = int(hp.get("num_envs", self.config_class().num_envs))
        env = self.make_env(num_envs=num_envs)
        try:
            if resume:
                self.agent = agent_cls.load(
                    self.checkpoint_path(self.run_dir), env, logger=self.logger
                )
            else:
                self.agent = agent_cls(env, logger=self.logger, seed=self.seed, **hp)
        except BaseException:
            env.close()
            raise
        self._train_env = env

    def train(self, ctx: TrainContext) -> None:
        if self.steps >= ctx.total_steps:
            return
        callback = self.iteration_callback(ctx, lambda m: {
            "loss": m.get("loss"), "acc": m.get("oracle_accuracy"),
            "ret": m.get("episodic_return"), "cost": m.get("cost"), "gap": m.get("gap")})  # fmt: skip
        self.agent.learn(ctx.total_steps - self.steps, callback=callback, log_every=ctx.log_every)
        self.stop_if_requested(ctx)

    def close(self) -> None:
        super().close()
        env = getattr(self, "_train_env", None)
        if env is not None:
            env.close()
            self._train_env = None


class DPForecastRunner(DPDistillRunner):
    """``agent=dp_forecast`` on ``env=mec_v1|d2d_v1|mec|d2d`` (discrete actions): the same
    iterations, schedules and checkpoint as DP-distill (:mod:`agents.forecast`)."""

    description = "DP-forecast, a learned one-step forecast of the cost terms + the exact DP"
    #: ``train_steps``: the agent's default budget (``train.total_steps``); ``history``: the
    #: default of ``env.history`` on the v1 partitioning envs (configs/agent/dp_forecast.yaml)
    meta_keys: ClassVar[tuple[str, ...]] = (*DPDistillRunner.meta_keys, "train_steps", "history")
    config_path = "agents.forecast.ForecastConfig"
    agent_path = "agents.forecast.DPForecast"
