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
| ``paper_random`` | random platform per block with given ``shares`` (default: Ren et al. Table 3 "Ours" for the DNN and scenario), i.e. IoRLO's thresholds on a uniform action | Ren et al. Sec. 5.2 |
| ``oracle`` | exact optimum by DP | docs/model.md §7 |
| ``constant`` | a given placement in every frame (``decision=``) | - |
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from envs.model.chain import CostBreakdown
from envs.problem import PartitionProblem

OBJECTIVES = ("latency", "energy", "cost")

# JALAD accuracy loss A(c) for features quantised to c bits. The paper gives it only as a
# plot (Li et al., Fig. 4: c >= 4 keeps the loss within 10% on ILSVRC2012; c = 8 is
# near-lossless, Fig. 6). These values are our reading of that figure, averaged over its
# networks; the size of a c-bit feature map is c/32 of the float32 one (Huffman coding,
# which the paper adds on top, is not modelled). Both are configurable.
JALAD_ACCURACY_LOSS: dict[int, float] = {2: 0.35, 4: 0.08, 6: 0.02, 8: 0.005, 16: 0.0, 32: 0.0}

# Ren et al. Table 3, column "Ours": the DNN computation distribution of IoRLO, one share
# vector per (scenario, DNN) in platform order (MEC: browser/device, edge, cloud; D2D: client,
# collaborator). Sec. 5.2 says the decision "is selected randomly from the potential
# partitioning decisions", so ``paper_random`` reads each row as the per-block placement
# probabilities of that DNN (the table gives no per-block detail, so i.i.d. blocks is the
# simplest reading; benchmarks/calibrate_paper.py fits the platform factors under it).
PAPER_TABLE3_SHARES: dict[str, dict[str, tuple[float, ...]]] = {
    "mec": {
        "alexnet": (0.0908, 0.1668, 0.7424),
        "vgg16": (0.0241, 0.8430, 0.1329),
        "resnet32": (0.3085, 0.3198, 0.3717),
        "mobilenet_v1": (0.4725, 0.3522, 0.1753),
    },
    "d2d": {
        "alexnet": (0.1507, 0.8493),
        "vgg16": (0.0349, 0.9651),
        "resnet32": (0.2351, 0.7649),
        "mobilenet_v1": (0.4726, 0.5274),
    },
}


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


def check_shares(shares: Any, num_platforms: int | None = None) -> np.ndarray:
    """``shares`` as a float array: finite, >= 0, summing to 1 (within 1e-6), and one per
    platform when ``num_platforms`` is given; a ValueError names the field otherwise."""
    try:
        p = np.asarray(shares, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"shares must be a list of probabilities, one per platform, got {shares!r}"
        ) from None
    if p.ndim != 1 or p.size < 2:
        raise ValueError(
            f"shares must be a flat list of probabilities, one per platform "
            f"(3 for MEC: device, edge, cloud; 2 for D2D: user, collaborator), got {shares!r}"
        )
    if num_platforms is not None and p.size != num_platforms:
        raise ValueError(
            f"shares must have one value per platform ({num_platforms} here: "
            f"{'device, edge, cloud' if num_platforms == 3 else 'user, collaborator'}), "
            f"got {p.size}: {shares!r}"
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError(f"shares must be finite and >= 0, got {shares!r}")
    if abs(p.sum() - 1.0) > 1e-6:
        raise ValueError(f"shares must sum to 1 (within 1e-6), got sum {p.sum():.6g}: {shares!r}")
    return p / p.sum()


def share_thresholds(shares: np.ndarray) -> np.ndarray:
    """Thresholds ``t_k = p_0 + ... + p_{k-1}`` (k = 1..P-1) on a uniform ``u``:
    ``platform = #{k: u >= t_k}``, i.e. IoRLO's ``ε = p_0``, ``φ = p_0 + p_1`` (docs/model.md §4).

    A threshold whose remaining platforms all have share 0 is set to 1, so rounding in the
    cumulative sum cannot reach a platform of share 0."""
    tail = np.cumsum(shares[::-1])[::-1][1:]  # p_k + ... + p_{P-1}
    return np.where(tail > 0, np.cumsum(shares)[:-1], 1.0)


@dataclass
class PaperRandomRule(DecisionRule):
    """Each block on platform ``s`` with probability ``shares[s]``, i.i.d., seeded.

    Ren et al. Sec. 5.2: the decision "is selected randomly from the potential partitioning
    decisions", with the computation distribution of Table 3. ``shares=None`` takes the
    Table 3 "Ours" row (:data:`PAPER_TABLE3_SHARES`) of the problem's DNN and scenario, and
    for a DNN the table lacks the mean of the scenario's four rows (so evaluation sweeps over
    any DNN still run). Implemented as thresholds on a uniform draw
    (:func:`share_thresholds`), i.e. IoRLO's discretisation of a random action. ``seed``
    defaults to 0 so that two instances draw the same decisions (``None``: fresh entropy).
    """

    shares: Any = None
    seed: int | None = 0
    name: str = "paper_random"

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        if self.shares is not None:
            self.shares = tuple(float(v) for v in check_shares(self.shares))

    def shares_for(self, problem: PartitionProblem) -> np.ndarray:
        """The share vector used for ``problem`` (explicit, or Table 3 of its DNN)."""
        if self.shares is not None:
            return check_shares(self.shares, problem.num_platforms)
        table = PAPER_TABLE3_SHARES["mec" if problem.num_platforms == 3 else "d2d"]
        row = table.get(problem.model.profile.name)
        if row is None:
            return np.mean([np.asarray(r, dtype=np.float64) for r in table.values()], axis=0)
        return np.asarray(row, dtype=np.float64)

    def decide(self, problem: PartitionProblem) -> np.ndarray:
        thr = share_thresholds(self.shares_for(problem))
        shape = (
            (problem.n_blocks,)
            if problem.batch_size is None
            else (problem.batch_size, problem.n_blocks)
        )
        u = self.rng.random(shape)
        return np.searchsorted(thr, u, side="right").astype(np.int64)


@dataclass
class ConstantRule(DecisionRule):
    """The same placement in every frame (e.g. the best constant decision in hindsight,
    :func:`agents.hardness.best_constant`)."""

    decision: Any = None
    name: str = "constant"

    def __post_init__(self) -> None:
        d = np.asarray(self.decision)
        if self.decision is None or d.ndim != 1 or d.dtype.kind not in "iu" or d.size == 0:
            raise ValueError(
                f"decision must be a non-empty 1-D list of platform indices, got {self.decision!r}"
            )
        self.decision = d.astype(np.int64)

    def decide(self, problem: PartitionProblem) -> np.ndarray:
        d = problem.model.check_decisions(self.decision)
        if problem.batch_size is None:
            return d.copy()
        return np.tile(d, (problem.batch_size, 1))


@dataclass
class OracleRule(DecisionRule):
    """The exact optimum by dynamic programming (docs/model.md §7)."""

    name: str = "oracle"

    def decide(self, problem: PartitionProblem) -> np.ndarray:
        return problem.optimum()[0]


#: Second names of a rule (the same decisions): ``co_l`` is ``co_h``'s rule, every block on
#: the collaborator; the paper's strong (H) / weak (L) collaborator is an env setting
#: (``availability``), so reports and evaluations list only the first name.
RULE_ALIASES: dict[str, str] = {"co_l": "co_h"}


def _renamed(rule: str, name: str) -> Callable[..., DecisionRule]:
    """The factory of ``rule`` whose rules are called ``name`` (:data:`RULE_ALIASES`)."""
    return lambda **kw: replace(PARTITION_RULES[rule](**kw), name=name)


PARTITION_RULES: dict[str, Callable[..., DecisionRule]] = {
    "self": lambda **kw: AllOn(0, name="self", **kw),
    "edge_only": lambda **kw: AllOn(1, name="edge_only", **kw),
    "cloud_only": lambda **kw: AllOn(2, name="cloud_only", **kw),
    "co_h": lambda **kw: AllOn(1, name="co_h", **kw),
    **{alias: _renamed(rule, alias) for alias, rule in RULE_ALIASES.items()},
    "neuro_l": lambda **kw: Neurosurgeon(**{"objective": "latency", **kw, "name": "neuro_l"}),
    "neuro_e": lambda **kw: Neurosurgeon(**{"objective": "energy", **kw, "name": "neuro_e"}),
    "deepar": lambda **kw: DeePar(**kw),
    "jalad": lambda **kw: JALAD(**kw),
    "random": lambda **kw: RandomRule(**kw),
    "paper_random": lambda **kw: PaperRandomRule(**kw),
    "oracle": lambda **kw: OracleRule(**kw),
    "constant": lambda **kw: ConstantRule(**kw),
}
# Rules that only make sense in one scenario.
MEC_ONLY = ("edge_only", "cloud_only", "deepar")
D2D_ONLY = ("co_h", "co_l")


def make_rule(name: str, **kwargs: Any) -> DecisionRule:
    """A decision rule by name (see the module table); unknown names list the known ones."""
    if name not in PARTITION_RULES:
        raise ValueError(f"unknown partitioning rule {name!r}; known: {', '.join(PARTITION_RULES)}")
    return PARTITION_RULES[name](**kwargs)
