"""The one parameters object of a partitioning env, as gymnax's ``EnvParams``.

:class:`PartitionParams` holds every validated number the transition reads (the base
slowdowns, the cost weights, the intent thresholds, the action mode, the reward scale and the
v1 readings). The constructor of :class:`~envs.partition.env.PartitionEnv` validates its
arguments (errors name the argument) and builds it; the vector env shares the single env's.
The stateful processes (links, platform load, D2D candidates) keep their own parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any

#: the constructor's names of the slowdown factors, cost weights and thresholds per scenario
_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "mec": {"slowdown": ("d_t", "d_e", "d_c"), "eta": ("eta1", "eta2"), "th": ("epsilon", "phi")},
    "d2d": {"slowdown": ("d_u",), "eta": ("eta",), "th": ("zeta",)},
}


@dataclass(frozen=True)
class PartitionParams:
    """Validated parameters of a MEC or D2D partitioning env (``env.params``).

    | field | meaning |
    |---|---|
    | ``scenario`` | ``"mec"`` or ``"d2d"`` |
    | ``slowdown`` | base slowdown factors: MEC ``(d_t, d_e, d_c)``, D2D ``(d_u,)`` |
    | ``d_energy`` | device energy factor |
    | ``eta_energy``, ``eta_overhead`` | cost weights: MEC η1, η2; D2D η and 0 |
    | ``overhead_weights`` | MEC deployment weights ``w`` per platform; ``None`` for D2D |
    | ``thresholds`` | intent thresholds: MEC ``(ε, φ)``, D2D ``(ζ,)`` |
    | ``action_mode`` | ``"continuous"`` or ``"discrete"`` |
    | ``oracle`` | the exact optimum is computed every step |
    | ``reward_scale`` | multiplies ``-cost`` |
    | ``version`` | 0 (the paper's MDP) or 1 (docs/model.md §10) |
    | ``observe``, ``latency_reading`` | v1 readings (v0: ``"current"``, ``"round_trip"``) |
    | ``dp_features`` | v1: DP features appended to the observation |
    | ``history`` | v1: decays of the observation history (``()``: off; :mod:`envs.partition.history`) |
    | ``collaborator_speedup`` | D2D v1: per-candidate speed-up range, else ``None`` |
    """

    scenario: str
    slowdown: tuple[float, ...]
    d_energy: float
    eta_energy: float
    eta_overhead: float
    overhead_weights: tuple[float, ...] | None
    thresholds: tuple[float, ...]
    action_mode: str
    oracle: bool
    reward_scale: float
    version: int = 0
    observe: str = "current"
    latency_reading: str = "round_trip"
    dp_features: bool = False
    history: tuple[float, ...] = ()
    collaborator_speedup: tuple[float, float] | None = None

    @cached_property
    def cost_kw(self) -> Mapping[str, float]:
        """The cost weights every evaluation takes (``ChainCostModel.evaluate``, the oracle,
        :class:`~envs.problem.PartitionProblem`), as keyword arguments."""
        return MappingProxyType(
            {
                "d_energy": self.d_energy,
                "eta_energy": self.eta_energy,
                "eta_overhead": self.eta_overhead,
            }
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("cost_kw", None)  # a cached read-only view, rebuilt on demand (not picklable)
        return state

    @property
    def latency_scale(self) -> float:
        """Multiplier of a link's latency value per transfer: 1 (RTT, v0) or 1/2 (one way)."""
        return 0.5 if self.latency_reading == "one_way" else 1.0

    @property
    def named_thresholds(self) -> dict[str, float]:
        """The intent thresholds by their constructor names (``epsilon``, ``phi`` / ``zeta``)."""
        return dict(zip(_NAMES[self.scenario]["th"], self.thresholds, strict=True))

    def named(self) -> dict[str, Any]:
        """The parameters by the constructor's names, as checkpoints and reports record them:
        MEC ``d_t, d_e, d_c, d_energy, eta1, eta2, overhead_weights, epsilon, phi``; D2D
        ``d_u, d_energy, eta, zeta``; v1 adds ``observe, latency_reading``, D2D
        ``collaborator_speedup``, ``dp_features``, and ``history`` where it is on (so the
        parameters of runs without it read as before)."""
        names = _NAMES[self.scenario]
        out: dict[str, Any] = dict(zip(names["slowdown"], self.slowdown, strict=True))
        out["d_energy"] = self.d_energy
        out.update(
            zip(
                names["eta"], (self.eta_energy, self.eta_overhead)[: len(names["eta"])], strict=True
            )
        )
        if self.overhead_weights is not None:
            out["overhead_weights"] = self.overhead_weights
        out.update(self.named_thresholds)
        if self.version >= 1:
            out.update(observe=self.observe, latency_reading=self.latency_reading)
            if self.scenario == "d2d":
                out["collaborator_speedup"] = self.collaborator_speedup
            out["dp_features"] = self.dp_features
            if self.history:
                out["history"] = self.history
        return out
