"""EdgeRL agents: anything that decides, learned or not.

:func:`make_policy` builds a baseline decision maker by name for an environment: the
partitioning policies of :mod:`agents.partition_policies` for the MEC/D2D envs and the
scheduling heuristics of :mod:`agents.scheduling_baselines` for the scheduling env.
Imports are lazy so ``import agents`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["make_policy"]


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
