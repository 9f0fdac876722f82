"""One loader for every trained policy: :func:`load_actor`.

``load_actor(path)`` returns an object with ``act(obs)`` and ``act_batch(obs_batch)`` (the
interface of :func:`agents.make_policy`) acting in the env's own action space, whatever
trained it:

| ``path`` | what loads | returned |
|---|---|---|
| ``checkpoint.pt`` (IoRLO, IoRLO+, DP-distill, DRLoS, Q-learning) or its run dir | the actor spec, ``torch.load(weights_only=True)`` | :class:`NumpyActor` (``decide``, ``export``, ...); IoRLO+ with critic-refined decisions (v1, ``observe="current"``): :class:`~agents.iorlo.refine.CriticRefinedActor` (its ``.actor``: the actor alone) |
| a composite of :func:`agents.forecast.compose_forecast_frame` | both parts' actor specs | :class:`~agents.forecast.ForecastFrameActor` (``.policy``, ``.forecaster``) |
| an SB3 run dir, its ``sb3_checkpoint/`` or (legacy) ``model.zip`` path | ``sb3_checkpoint/params.pt`` into a model rebuilt from the run's ``config.yaml`` | :class:`TrainedPolicy` |
| an RLlib run dir, its ``rllib_checkpoint/`` or ``module.pt`` | the RLModule rebuilt from ``config.yaml`` + ``module.pt`` (no Ray session) | :class:`TrainedPolicy` |

SB3 and RLlib act in ``[-1, 1]``; their policies map actions back to the envs' ``Box(0, 1)``
(and discrete actions to ints) before returning them. Nothing is unpickled: SB3's
``model.zip`` and RLlib's ``algorithm/`` (cloudpickle) are never read. Every failure is a
:class:`CheckpointError` (a ValueError) ``"<file>: <problem>"``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agents.common.checkpoint import (
    CheckpointError,
    MissingCheckpointError,
    check_signature,
    load_checkpoint,
    payload_error,
)
from agents.common.fast_actor import DEFAULT_BLAS_THREADS, NumpyActor

#: the file :func:`load_actor` looks for when given a run directory of a custom agent
CHECKPOINT_FILE = "checkpoint.pt"
#: checkpoint directories of the library runners (pipeline.runners.sb3 / .rllib)
SB3_DIR = "sb3_checkpoint"
RLLIB_DIR = "rllib_checkpoint"
RUN_CONFIG = "config.yaml"


class TrainedPolicy:
    """An SB3 or RLlib policy loaded by :func:`load_actor`: ``act`` / ``act_batch`` in the
    env's action space (``Box(0, 1)`` actions mapped back from the library's ``[-1, 1]``).

    Attributes:
        policy: The runner's policy (``SB3Policy`` with ``.model``, ``RLModulePolicy`` with
            ``.module``).
        library: ``"sb3"`` or ``"rllib"``.
        run_dir: The run directory it was loaded from.
        cfg: The run's resolved config.
        action_mode: The env action mode it acts in (``continuous``, ``discrete``, ``shares``).
    """

    def __init__(
        self, policy: Any, library: str, run_dir: Path, cfg: Any, action_mode: str
    ) -> None:
        self.policy = policy
        self.library = library
        self.run_dir = run_dir
        self.cfg = cfg
        self.action_mode = action_mode

    def act(self, obs: Any) -> Any:
        return self.policy.act(obs)

    def act_batch(self, obs_batch: Any) -> Any:
        return self.policy.act_batch(obs_batch)

    __call__ = act

    def make_env(self, num_envs: int | None = None) -> Any:
        """The env of the run's config in this policy's action mode (a vector env of the
        partitioning envs with ``num_envs``)."""
        from pipeline.envs import build_env

        return build_env(self.cfg, action_mode=self.action_mode, num_envs=num_envs)

    def __repr__(self) -> str:
        return f"TrainedPolicy({self.library}, {self.cfg.agent.name}, {self.run_dir})"


def find_checkpoint(path: str | os.PathLike[str]) -> Path:
    """``path`` itself, or ``<path>/checkpoint.pt`` for a run directory."""
    p = Path(path)
    if p.is_dir():
        if (p / CHECKPOINT_FILE).is_file():
            return p / CHECKPOINT_FILE
        others = sorted(x.name for x in p.iterdir() if x.name.endswith(("_checkpoint", ".zip")))
        hint = f" (it holds {others})" if others else ""
        if not others:  # a tree of runs: name a few of them
            runs = sorted(str(f.parent.relative_to(p)) for f in p.rglob(CHECKPOINT_FILE))
            if runs:
                more = f" and {len(runs) - 3} more" if len(runs) > 3 else ""
                hint = f" (runs below it: {', '.join(runs[:3])}{more}; pass one of them)"
        raise MissingCheckpointError(p, f"directory without {CHECKPOINT_FILE}{hint}")
    return p


def library_run_dir(path: str | os.PathLike[str]) -> Path | None:
    """The run directory of an SB3/RLlib checkpoint named by ``path`` (the run dir, its
    checkpoint directory, a file inside it, or an SB3 ``model.zip`` next to it); ``None``
    for anything else (a custom agent's ``checkpoint.pt`` or its run dir)."""
    p = Path(path)
    if p.is_file() or not p.exists():
        if p.name == "model.zip":
            return p.parent
        p = p.parent if p.parent.name in (SB3_DIR, RLLIB_DIR) else p
    if p.name in (SB3_DIR, RLLIB_DIR):
        return p.parent
    if p.is_dir() and not (p / CHECKPOINT_FILE).is_file():
        if (p / SB3_DIR).is_dir() or (p / RLLIB_DIR).is_dir() or (p / "model.zip").is_file():
            return p
    return None


def _run_config(run_dir: Path) -> tuple[Any, Any]:
    """The run's config and its validated spec; a CheckpointError naming config.yaml."""
    from omegaconf import OmegaConf

    from pipeline.config import runner_class, validate

    file = run_dir / RUN_CONFIG
    if not file.is_file():
        raise MissingCheckpointError(
            file, "missing: an SB3/RLlib model is rebuilt from its run's config"
        )
    try:
        cfg = OmegaConf.load(file)
        spec = validate(cfg, build_env_check=False)
        runner = runner_class(cfg.agent._target_)
    except Exception as exc:  # YAML errors, ConfigError, unknown runner: all say what
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(file, f"unusable run config: {first}") from exc
    return cfg, (spec, runner)


def load_library_policy(run_dir: Path, env: Any = None) -> TrainedPolicy:
    """An SB3/RLlib run's policy through its runner's safe ``load_policy`` (checksums, env
    signature and weights verified; the model rebuilt from ``config.yaml``)."""
    cfg, (spec, runner) = _run_config(run_dir)
    library = {"SB3Runner": "sb3", "RLlibRunner": "rllib"}.get(runner.__name__)
    if library is None:
        raise CheckpointError(
            run_dir / RUN_CONFIG, f"agent {cfg.agent.name} is not an SB3/RLlib agent"
        )
    if env is None:
        from pipeline.envs import build_env

        try:  # e.g. trace files of the run's network that are not on this machine
            probe = build_env(cfg, action_mode=spec.action_mode)
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise CheckpointError(
                run_dir / RUN_CONFIG, f"cannot build the run's env (pass env=): {first}"
            ) from exc
    else:
        probe = env
    try:
        policy = runner.load_policy(run_dir, cfg, probe)
    finally:
        if env is None:
            probe.close()
    return TrainedPolicy(policy, library, run_dir, cfg, spec.action_mode)


def actor_from_payload(
    payload: Mapping[str, Any], *, blas_threads: int | None = DEFAULT_BLAS_THREADS
) -> Any:
    """The policy of a loaded custom-agent checkpoint, by its ``algo`` and keys (the table
    of :func:`load_actor`); KeyError/TypeError/ValueError when the payload is not one."""
    algo = payload.get("algo")
    if algo == "forecast_frame":  # a policy deciding on DP-forecast's forecast frame
        from agents.forecast import ForecastFrameActor

        return ForecastFrameActor.from_checkpoint(payload, blas_threads=blas_threads)
    if algo == "dp_forecast":  # an MLP forecast + the exact DP
        from agents.forecast import ForecastDPActor

        return ForecastDPActor.from_checkpoint(payload, blas_threads=blas_threads)
    if algo == "drlos_plus":  # a per-(task, server) scorer
        from agents.drlos_plus import PlusActor

        return PlusActor(payload["actor"])
    if payload.get("refine") is not None:  # IoRLO+ with critic-refined decisions
        from agents.iorlo.refine import CriticRefinedActor

        return CriticRefinedActor.from_checkpoint(payload, blas_threads=blas_threads)
    return NumpyActor.from_checkpoint(payload, blas_threads=blas_threads)


def load_actor(
    path: str | os.PathLike[str],
    env: Any = None,
    *,
    blas_threads: int | None = DEFAULT_BLAS_THREADS,
) -> Any:
    """The deterministic policy stored at ``path`` (see the module docstring for the forms).

    Custom agents (IoRLO, IoRLO+, DP-distill, DRLoS, Q-learning) load as a :class:`NumpyActor`
    (DRLoS+ as its :class:`~agents.drlos_plus.PlusActor`, IoRLO+ with critic-refined
    decisions as a :class:`~agents.iorlo.refine.CriticRefinedActor`, DP-forecast as its
    :class:`~agents.forecast.ForecastDPActor`, a composite of
    :func:`agents.forecast.compose_forecast_frame` as a
    :class:`~agents.forecast.ForecastFrameActor`)
    (``torch.load(weights_only=True)``, checksum verified, non-finite weights rejected;
    batches use ``blas_threads`` BLAS threads). SB3 and RLlib runs load as a
    :class:`TrainedPolicy` rebuilt from the run's config. With ``env``, the checkpoint's env
    signature (and for actors the input and output sizes) is checked against it; SB3/RLlib
    then act in ``env``'s action space, which must be the run's (a ``Box(0, 1)`` env for
    continuous agents). Every problem raises :class:`CheckpointError` naming the file.
    """
    run_dir = library_run_dir(path)
    if run_dir is not None:
        return load_library_policy(run_dir, env)
    file = find_checkpoint(path)
    payload = load_checkpoint(file)
    try:
        actor = actor_from_payload(payload, blas_threads=blas_threads)
        if env is not None:
            check_signature(payload.get("signature") or {}, env)
            actor.check_fits(env)
    except (KeyError, TypeError, ValueError) as exc:
        raise payload_error(file, exc, "actor") from exc
    return actor


__all__ = [
    "CheckpointError",
    "TrainedPolicy",
    "actor_from_payload",
    "find_checkpoint",
    "load_actor",
]
