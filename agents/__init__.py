"""EdgeRL agents: anything that decides, learned or not.

:func:`make_policy` builds a baseline decision maker by name for an environment: the
partitioning policies of :mod:`agents.partition_policies` for the MEC/D2D envs and the
scheduling heuristics of :mod:`agents.scheduling_baselines` for the scheduling env.
Learned agents: :class:`IoRLO` / :class:`IoRLOPlus` (partitioning, DDPG with intent
thresholds), :class:`DPDistill` (partitioning, imitation of the oracle), :class:`DRLoS`
(scheduling, REINFORCE), :class:`QLearningAgent`; a trained actor loads for fast numpy
decisions with :func:`load_actor` (SB3 and RLlib runs too, as a
:class:`TrainedPolicy` with the same ``act``/``act_batch``); :func:`compose_forecast_frame`
makes a policy decide on DP-forecast's forecast of the frame. Imports are lazy so
``import agents`` stays light (no torch until an agent is used).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "DPDistill",
    "DRLoS",
    "IoRLO",
    "IoRLOConfig",
    "IoRLOPlus",
    "NumpyActor",
    "QLearningAgent",
    "TrainedPolicy",
    "compose_forecast_frame",
    "load_actor",
    "make_policy",
]

_LAZY = {
    "IoRLO": "agents.iorlo",
    "IoRLOPlus": "agents.iorlo",
    "IoRLOConfig": "agents.iorlo",
    "DRLoS": "agents.drlos",
    "DPDistill": "agents.distill",
    "QLearningAgent": "agents.qlearning",
    "NumpyActor": "agents.common.fast_actor",
    "load_actor": "agents.loading",
    "TrainedPolicy": "agents.loading",
    "compose_forecast_frame": "agents.forecast",
}


def _check_envs() -> None:
    """ImportError when ``envs`` is not EdgeRL's (a local ``envs/`` folder shadowing it);
    :func:`pipeline.check_packages` explains. Locating it runs none of its code."""
    import importlib.util
    from pathlib import Path

    home = Path(__file__).resolve().parent.parent
    try:
        spec = importlib.util.find_spec("envs")
    except (ImportError, ValueError):
        spec = None
    origin = None if spec is None else spec.origin
    if origin is None or Path(origin).resolve().parent.parent != home:
        raise ImportError(
            f"the package 'envs' imported here is not EdgeRL's: found {origin}, expected "
            f"{home / 'envs'}. A folder named 'envs' in the working directory or on "
            "PYTHONPATH shadows it: rename that folder or run from another directory"
        )


_check_envs()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'agents' has no attribute {name!r}")


def make_policy(name: str, env: Any, **kwargs: Any) -> Any:
    """A decision maker with ``act(obs) -> action`` and ``act_batch(obs_batch)``.

    The env picks the family: partitioning envs (``env.unwrapped.scenario`` is ``"mec"`` or
    ``"d2d"``) use ``PARTITION_POLICIES``, other envs ``SCHEDULING_POLICIES``. Unknown names
    raise a ValueError listing the known ones.
    """
    scenario = getattr(env.unwrapped, "scenario", None)
    if scenario in ("mec", "d2d"):
        from agents.partition_policies import PARTITION_POLICIES as registry

        family = "partitioning"
    else:
        try:
            from agents.scheduling_baselines import SCHEDULING_POLICIES as registry
        except ImportError:  # pragma: no cover - scheduling agents not installed
            registry = {}
        family = "scheduling"
    if name not in registry:
        raise ValueError(f"unknown {family} policy {name!r}; known: {', '.join(registry)}")
    return registry[name](env, **kwargs)
