"""One frame's partitioning problem: a cost model plus the state it is evaluated under.

Environments build a :class:`PartitionProblem` every frame; decision rules in
:mod:`agents.partition_baselines` and the oracle consume it. It may hold one state (links of
shape ``(P, P)``) or a batch of ``B`` states (``(B, P, P)``, used by the vector env).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.model.chain import ChainCostModel, CostBreakdown
from envs.model.dp import Oracle
from envs.model.links import LinkMatrices


@dataclass(frozen=True)
class PartitionProblem:
    """A cost model with the links, capability factors and weights of one frame (or a batch)."""

    model: ChainCostModel
    links: LinkMatrices
    slowdown: np.ndarray
    d_energy: float = 1.0
    eta_energy: float = 0.0
    eta_overhead: float = 0.0

    @property
    def batch_size(self) -> int | None:
        """``None`` for a single state, else the number of states ``B``."""
        k = np.asarray(self.links.ms_per_kb)
        return None if k.ndim == 2 else int(k.shape[0])

    @property
    def n_blocks(self) -> int:
        return self.model.n

    @property
    def num_platforms(self) -> int:
        return self.model.P

    def _kw(self) -> dict[str, float]:
        return {
            "d_energy": self.d_energy,
            "eta_energy": self.eta_energy,
            "eta_overhead": self.eta_overhead,
        }

    def evaluate(self, decisions, **kwargs) -> CostBreakdown:
        """Cost of one decision per state (``(n,)`` single, ``(B, n)`` batched), or of many
        decisions ``(C, n)`` under a single state. ``kwargs`` go to
        :meth:`ChainCostModel.evaluate` (``exit_draws``, ``in_kb_scale``)."""
        return self.model.evaluate(decisions, self.links, self.slowdown, **self._kw(), **kwargs)

    def evaluate_candidates(self, candidates: np.ndarray, **kwargs) -> CostBreakdown:
        """Every candidate decision ``(C, n)`` under every state: fields ``(C,)`` single,
        ``(B, C)`` batched (one vectorised call over ``B*C`` rows)."""
        cand = np.asarray(candidates)
        B = self.batch_size
        if B is None:
            return self.evaluate(cand, **kwargs)
        C = cand.shape[0]
        links = LinkMatrices(*(np.repeat(np.asarray(m), C, axis=0) for m in self.links))
        slowdown = np.repeat(np.broadcast_to(self.slowdown, (B, self.model.P)), C, axis=0)
        if "in_kb_scale" in kwargs and kwargs["in_kb_scale"] is not None:
            scale = np.asarray(kwargs["in_kb_scale"])
            kwargs["in_kb_scale"] = np.tile(scale, (B, 1)) if scale.ndim == 2 else scale
        res = self.model.evaluate(np.tile(cand, (B, 1)), links, slowdown, **self._kw(), **kwargs)
        return CostBreakdown(*(np.asarray(v).reshape(B, C) for v in res))

    def optimum(self) -> tuple[np.ndarray, float | np.ndarray]:
        """Exact optimum (docs/model.md §7): ``(n,)`` and a float, or ``(B, n)`` and ``(B,)``."""
        oracle = Oracle(self.model)
        if self.batch_size is None:
            return oracle.solve(self.links, self.slowdown, **self._kw())
        return oracle.solve_batch(self.links, self.slowdown, **self._kw())
