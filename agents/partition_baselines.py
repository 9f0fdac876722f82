"""Classic partitioning decision rules over a :class:`~envs.problem.PartitionProblem`.

Every rule has one interface: ``rule.decide(problem) -> decision`` with an int array of
platform indices, ``(n,)`` for a single state and ``(B, n)`` for a batched problem. Rules
that search a candidate set evaluate all candidates in one vectorised call.

| name | rule | source |
|---|---|---|
| ``self`` | every block on the user's device | Ren et al. "Self" |
| ``edge_only`` / ``cloud_only`` | every block on the edge / cloud (MEC) | Ren et al. "Edge", "Cloud" |
| ``co_h`` / ``co_l`` | every block on the collaborator (D2D); H/L name the paper's strong (availability 1.0) and weak (0.6) collaborator, a property of the environment | Ren et al. "Co-H", "Co-L" |
| ``neuro_l`` / ``neuro_e`` | best single split device -> remote for latency / device energy; ``remote`` = cloud (default) or edge | Neurosurgeon (Kang et al. 2017) |
| ``deepar`` | best two-cut device -> edge -> cloud for latency (``objective`` configurable) | DeePar |
| ``jalad`` | best single split device -> cloud with the cut's features quantised to ``c`` bits, under an accuracy-loss bound | JALAD (Li et al. 2018) |
| ``random`` | uniform random platform per block (seeded) | - |
| ``oracle`` | exact optimum by DP | SPEC §7 |
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.costs import CostBreakdown
from envs.problem import PartitionProblem

OBJECTIVES = ("latency", "energy", "cost")

# JALAD accuracy loss A(c) for features quantised to c bits. The paper gives it only as a
# plot (Li et al., Fig. 4: c >= 4 keeps the loss within 10% on ILSVRC2012; c = 8 is
# near-lossless, Fig. 6). These values are our reading of that figure, averaged over its
# networks; the size of a c-bit feature map is c/32 of the float32 one (Huffman coding,
# which the paper adds on top, is not modelled). Both are configurable.
JALAD_ACCURACY_LOSS: dict[int, float] = {2: 0.35, 4: 0.08, 6: 0.02, 8: 0.005, 16: 0.0, 32: 0.0}


def _objective(res: CostBreakdown, objective: str) -> np.ndarray:
    if objective == "latency":
        return np.asarray(res.latency_ms)
    if objective == "energy":
        return np.asarray(res.energy_j)
    return np.asarray(res.cost)


def _check_objective(objective: str) -> None:
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")


def _pick(problem: PartitionProblem, candidates: np.ndarray, objective: str, **kw) -> np.ndarray:
    """The best candidate per state (first on ties, so rules are deterministic)."""
    res = problem.evaluate_candidates(candidates, **kw)
    best = _objective(res, objective).argmin(axis=-1)
    return candidates[best]


def _fill(problem: PartitionProblem, platform: int) -> np.ndarray:
    if platform >= problem.num_platforms:
        raise ValueError(
            f"platform {platform} does not exist in a {problem.num_platforms}-platform scenario"
        )
    shape = (
        (problem.n_blocks,)
        if problem.batch_size is None
        else (problem.batch_size, problem.n_blocks)
    )
    return np.full(shape, platform, dtype=np.int64)


def single_split_candidates(n: int, remote: int) -> np.ndarray:
    """``[0]*k + [remote]*(n-k)`` for ``k = 0..n`` (k = n: all local), shape ``(n+1, n)``."""
    k = np.arange(n + 1)[:, None]
    return np.where(np.arange(n)[None, :] < k, 0, remote).astype(np.int64)


def two_cut_candidates(n: int) -> np.ndarray:
    """``[0]*a + [1]*(b-a) + [2]*(n-b)`` for ``0 <= a <= b <= n``, shape ``((n+1)(n+2)/2, n)``."""
    a, b = np.triu_indices(n + 1)
    i = np.arange(n)[None, :]
    return np.where(i < a[:, None], 0, np.where(i < b[:, None], 1, 2)).astype(np.int64)


class DecisionRule(ABC):
    """Base class: ``decide(problem)`` returns the decision(s)."""

    name: str = "rule"

    @abstractmethod
    def decide(self, problem: PartitionProblem) -> np.ndarray:
        """Decision ``(n,)`` for a single-state problem, ``(B, n)`` for a batched one."""


@dataclass
class AllOn(DecisionRule):
    """Every block on one platform (Self, Edge-only, Cloud-only, Co)."""

    platform: int
    name: str = "all_on"

    def decide(self, problem: PartitionProblem) -> np.ndarray:
        return _fill(problem, self.platform)


@dataclass
class Neurosurgeon(DecisionRule):
    """Best single split device -> ``remote`` (Kang et al. 2017), by latency or energy."""

    objective: str = "latency"
    remote: str = "cloud"
    name: str = "neurosurgeon"

    def __post_init__(self) -> None:
        _check_objective(self.objective)
        if self.remote not in ("cloud", "edge", "collaborator"):
            raise ValueError(
                f"remote must be 'cloud', 'edge' or 'collaborator', got {self.remote!r}"
            )

    def decide(self, problem: PartitionProblem) -> np.ndarray:
        remote = 1 if problem.num_platforms == 2 else {"cloud": 2, "edge": 1}.get(self.remote, 2)
        return _pick(problem, single_split_candidates(problem.n_blocks, remote), self.objective)


@dataclass
class DeePar(DecisionRule):
    """Best two-cut device -> edge -> cloud partition by exhaustive search (DeePar)."""

    objective: str = "latency"
    name: str = "deepar"

    def __post_init__(self) -> None:
        _check_objective(self.objective)

    def decide(self, problem: PartitionProblem) -> np.ndarray:
        if problem.num_platforms != 3:
            raise ValueError("deepar needs the 3-platform MEC scenario")
        return _pick(problem, two_cut_candidates(problem.n_blocks), self.objective)


@dataclass
class JALAD(DecisionRule):
    """Single split device -> cloud with ``c``-bit quantised features at the cut (JALAD).

    Minimises latency over (split, bits) subject to ``accuracy_loss[c] <= max_accuracy_loss``
    (the paper's ILP, solved here by enumeration: ≤ (n+1)·|C| candidates). Only the feature
    crossing the cut is quantised; the raw uint8 image (split 0) is sent as is. The
    environment's cost does not model quantisation, so in an env the rule's split is
    charged at full precision; :meth:`decide_with_bits` reports the quantised cost.
    """

    max_accuracy_loss: float = 0.10
    accuracy_loss: Mapping[int, float] = field(default_factory=lambda: dict(JALAD_ACCURACY_LOSS))
    objective: str = "latency"
    remote: str = "cloud"
    name: str = "jalad"

    def __post_init__(self) -> None:
        _check_objective(self.objective)
        if not 0.0 <= self.max_accuracy_loss <= 1.0:
            raise ValueError(f"max_accuracy_loss must be in [0, 1], got {self.max_accuracy_loss}")
        bad = [c for c in self.accuracy_loss if not 1 <= int(c) <= 32]
        if bad:
            raise ValueError(f"accuracy_loss keys are bit widths in 1..32, got {bad}")
        self.bits = sorted(
            int(c) for c, a in self.accuracy_loss.items() if a <= self.max_accuracy_loss
        )
        if not self.bits:
            raise ValueError(
                f"no bit width in accuracy_loss meets max_accuracy_loss={self.max_accuracy_loss}"
            )

    def _candidates(self, n: int, remote: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        splits = single_split_candidates(n, remote)
        dec = np.repeat(splits, len(self.bits), axis=0)
        bits = np.tile(np.asarray(self.bits), n + 1)
        scale = np.ones((len(dec), n))
        k = np.repeat(np.arange(n + 1), len(self.bits))
        cut = (k > 0) & (k < n)  # a feature map (not the raw image, not the result) crosses
        scale[np.nonzero(cut)[0], k[cut]] = bits[cut] / 32.0
        return dec, bits, scale

    def decide_with_bits(
        self, problem: PartitionProblem
    ) -> tuple[np.ndarray, np.ndarray, CostBreakdown]:
        """Decision(s), chosen bit width(s) and the quantised cost breakdown."""
        remote = 1 if problem.num_platforms == 2 else {"cloud": 2, "edge": 1}.get(self.remote, 2)
        dec, bits, scale = self._candidates(problem.n_blocks, remote)
        res = problem.evaluate_candidates(dec, in_kb_scale=scale)
        best = _objective(res, self.objective).argmin(axis=-1)
        if problem.batch_size is None:
            return dec[best], bits[best], CostBreakdown(*(float(np.asarray(v)[best]) for v in res))
        rows = np.arange(problem.batch_size)
        return dec[best], bits[best], CostBreakdown(*(np.asarray(v)[rows, best] for v in res))

    def decide(self, problem: PartitionProblem) -> np.ndarray:
        return self.decide_with_bits(problem)[0]


@dataclass
class RandomRule(DecisionRule):
    """A uniformly random platform per block, from a seeded generator."""

    seed: int | None = None
    name: str = "random"

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def decide(self, problem: PartitionProblem) -> np.ndarray:
        shape = (
            (problem.n_blocks,)
            if problem.batch_size is None
            else (problem.batch_size, problem.n_blocks)
        )
        return self.rng.integers(0, problem.num_platforms, size=shape, dtype=np.int64)


@dataclass
class OracleRule(DecisionRule):
    """The exact optimum by dynamic programming (SPEC §7)."""

    name: str = "oracle"

    def decide(self, problem: PartitionProblem) -> np.ndarray:
        return problem.optimum()[0]


PARTITION_RULES: dict[str, Callable[..., DecisionRule]] = {
    "self": lambda **kw: AllOn(0, name="self", **kw),
    "edge_only": lambda **kw: AllOn(1, name="edge_only", **kw),
    "cloud_only": lambda **kw: AllOn(2, name="cloud_only", **kw),
    "co_h": lambda **kw: AllOn(1, name="co_h", **kw),
    "co_l": lambda **kw: AllOn(1, name="co_l", **kw),
    "neuro_l": lambda **kw: Neurosurgeon(**{"objective": "latency", **kw, "name": "neuro_l"}),
    "neuro_e": lambda **kw: Neurosurgeon(**{"objective": "energy", **kw, "name": "neuro_e"}),
    "deepar": lambda **kw: DeePar(**kw),
    "jalad": lambda **kw: JALAD(**kw),
    "random": lambda **kw: RandomRule(**kw),
    "oracle": lambda **kw: OracleRule(**kw),
}
# Rules that only make sense in one scenario.
MEC_ONLY = ("edge_only", "cloud_only", "deepar")
D2D_ONLY = ("co_h", "co_l")


def make_rule(name: str, **kwargs: Any) -> DecisionRule:
    """A decision rule by name (see the module table); unknown names list the known ones."""
    if name not in PARTITION_RULES:
        raise ValueError(f"unknown partitioning rule {name!r}; known: {', '.join(PARTITION_RULES)}")
    return PARTITION_RULES[name](**kwargs)
