"""Critic-refined decisions: IoRLO+'s actor proposes, its critics choose (decided in numpy).

The decision for an observation is the actor's own (the intent thresholds of ``μ(s)``)
unless one of the fixed placements (the jump candidates: every whole-model placement and,
on v1, every placement with one change of platform) is rated above it by both critics: the
lowest of the critics' values of the best candidate exceeds the highest of their values of
the actor's decision. That is the rule by which training pulls the actor towards a
candidate (agents/iorlo/agent.py, module doc 2.), applied per state at decision time
instead of through the actor's regression: the action-selection step of Dulac-Arnold et
al. (2015), "Deep Reinforcement Learning in Large Discrete Action Spaces" (the actor's
proposal refined by the critic's argmax over a candidate set).

Spec (``payload["refine"]`` of an IoRLO checkpoint; plain values and tensors,
``torch.load(weights_only=True)``-safe)::

    kind         "critic_refine"
    critics      one {"weights": [W_1, ..., W_L], "biases": [...]} per critic ((out, in),
                 as in nn.Linear); layer 1 takes the networks' input (the actor's: the
                 observation, its log ratios, normalised as the actor spec says) followed
                 by the one-hot decision (block-major, n * P entries)
    activation   "relu" | "tanh"
    placements   int64 (C, n): the candidate placements (platform per block)

The actor is the checkpoint's actor spec (:class:`~agents.common.fast_actor.NumpyActor`),
whose normalisation and log inputs the critics share.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch

from agents.common.fast_actor import DEFAULT_BLAS_THREADS, NumpyActor, blas_controller
from agents.common.normalization import normalize
from envs.model.thresholds import midpoints

#: observations scored per chunk of :meth:`CriticRefinedActor.decide_batch`: the (chunk * C,
#: hidden) activations stay near the L2 cache (64: 117 / 190 ms per 4096 decisions with
#: AlexNet / ResNet-32 on the Xeon, 128: 1.5x slower)
CHUNK = 64


def refine_spec(
    critics: list[tuple[list[Any], list[Any]]], activation: str, placements: Any
) -> dict[str, Any]:
    """The refine spec of critics given as ``(weights, biases)`` per member (detached
    float32 copies) and the candidate placements ``(C, n)``."""

    def t(x: Any) -> torch.Tensor:
        return torch.as_tensor(x).detach().cpu().float().clone()

    return {
        "kind": "critic_refine",
        "critics": [
            {"weights": [t(w) for w in ws], "biases": [t(b) for b in bs]} for ws, bs in critics
        ],
        "activation": activation,
        "placements": torch.as_tensor(placements).detach().cpu().long().clone(),
    }


class CriticRefinedActor:
    """IoRLO+'s deterministic policy with critic-refined decisions (module docstring).

    Same interface as :class:`~agents.common.fast_actor.NumpyActor` for the partition envs:
    ``act``/``act_batch`` (interval midpoints of the chosen platforms, float32 in [0, 1]),
    ``decide``/``decide_batch`` (platform per block), ``check_fits``; :attr:`actor` is the
    actor alone (its ``decide`` is the unrefined decision; ``export`` exports it).

    Args:
        actor: The actor (its spec's normalisation and log inputs are the critics' too).
        spec: The refine spec (:func:`refine_spec`).
        signature: The env signature recorded with the policy (default: the actor's).
    """

    def __init__(
        self, actor: NumpyActor, spec: Mapping[str, Any], signature: Mapping[str, Any] | None = None
    ) -> None:
        if spec.get("kind") != "critic_refine":
            raise ValueError(f"refine spec kind must be 'critic_refine', got {spec.get('kind')!r}")
        if actor.output != "sigmoid" or actor.thresholds is None:
            raise ValueError("critic refinement needs a sigmoid actor with intent thresholds")
        self.actor = actor
        self.signature = actor.signature if signature is None else dict(signature)
        self.spec = dict(spec)
        self.activation = str(spec["activation"])
        if self.activation not in ("relu", "tanh"):
            raise ValueError(f"activation must be 'relu' or 'tanh', got {self.activation!r}")
        self.obs_dim, self.out_dim = actor.obs_dim, actor.out_dim
        self.in_dim = actor.in_dim  # the networks' input (observation + log ratios)
        n, P = actor.out_dim, len(actor.thresholds) + 1
        self.num_choices = P
        pl = np.asarray(spec["placements"], dtype=np.int64)
        if pl.ndim != 2 or pl.shape[1] != n or pl.size == 0 or pl.min() < 0 or pl.max() >= P:
            raise ValueError(
                f"placements must be (C, {n}) platform indices in [0, {P}), got shape {pl.shape}"
            )
        self.placements = pl
        self._mid = midpoints(actor.thresholds).astype(np.float32)
        a = actor.spec
        self._mean = None if a.get("obs_mean") is None else np.asarray(a["obs_mean"], np.float64)
        self._std = None if a.get("obs_std") is None else np.asarray(a["obs_std"], np.float64)
        self._clip = a.get("obs_clip")
        if not spec["critics"]:
            raise ValueError("refine spec holds no critics")
        # per critic: layer 1 split into its input part (in, h) and decision part, the
        # candidates' decision part computed once ((C, h): their one-hot rows times W),
        # then the later layers (in, out) and biases
        d, self._members = self.in_dim, []
        for k, c in enumerate(spec["critics"]):
            ws = [np.asarray(w, np.float32) for w in c["weights"]]
            bs = [np.asarray(b, np.float32) for b in c["biases"]]
            if ws[0].shape[1] != d + n * P or ws[-1].shape[0] != 1 or len(ws) != len(bs):
                raise ValueError(
                    f"critic {k}: layer 1 must take {d} + {n * P} inputs and the last give 1, "
                    f"got {[w.shape for w in ws]}"
                )
            if not all(np.isfinite(x).all() for x in (*ws, *bs)):
                raise ValueError(f"critic {k}: weights hold NaN or inf")
            w_dec = ws[0][:, d:].reshape(-1, n, P)  # (h, n, P)
            fixed = w_dec[:, np.arange(n), pl].sum(-1).T  # (C, h)
            self._members.append(
                {
                    "w_in": np.ascontiguousarray(ws[0][:, :d].T),
                    "b_in": bs[0],
                    "w_dec": np.ascontiguousarray(w_dec.transpose(1, 2, 0)),  # (n, P, h)
                    "fixed": np.ascontiguousarray(fixed),
                    "later": [
                        (np.ascontiguousarray(w.T), b) for w, b in zip(ws[1:], bs[1:], strict=True)
                    ],
                }
            )
        self._blocks = np.arange(n)

    # ---------------------------------------------------------------- decisions
    def _inputs(self, obs: np.ndarray) -> np.ndarray:
        """The networks' normalised input of a batch (as the agent's training sees it)."""
        x = self.actor.network_input(obs)
        if self._mean is None:
            return np.asarray(x, np.float32)
        return normalize(x, self._mean, self._std, self._clip)

    def _values(self, h: np.ndarray, later: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
        """A critic's values from its first layer's pre-activations ``h`` ``(..., hidden)``
        (overwritten)."""
        shape, h = h.shape[:-1], h.reshape(-1, h.shape[-1])  # 2-D: one BLAS gemm per layer
        for w, b in later:
            if self.activation == "relu":
                np.maximum(h, 0.0, out=h)
            else:
                np.tanh(h, out=h)
            h = h @ w
            h += b
        return h.reshape(shape)

    def _refine(self, obs: np.ndarray, own: np.ndarray) -> np.ndarray:
        """Decisions ``(B, n)`` for observations ``(B, obs_dim)`` and the actor's ``own``."""
        x = self._inputs(obs)
        cand = own_q = None
        for m in self._members:
            z = x @ m["w_in"]
            z += m["b_in"]  # (B, h)
            q_own = self._values(z + m["w_dec"][self._blocks, own].sum(1), m["later"])
            q_c = self._values(z[:, None, :] + m["fixed"][None], m["later"])  # (B, C)
            # the lower critic for the candidates, the higher for the actor's decision
            cand = q_c if cand is None else np.minimum(cand, q_c)
            own_q = q_own if own_q is None else np.maximum(own_q, q_own)
        best = cand.argmax(1)
        best_q = cand[np.arange(len(best)), best]
        return np.where((best_q > own_q)[:, None], self.placements[best], own)

    def decide_batch(self, obs_batch: Any) -> np.ndarray:
        """Platforms ``(B, n)`` (int64) for a batch ``(B, obs_dim)``."""
        x = np.asarray(obs_batch, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.obs_dim:
            raise ValueError(f"obs must have shape (batch, {self.obs_dim}), got {x.shape}")
        threads = self.actor.blas_threads
        with blas_controller().limit(limits=threads) if threads is not None else nullcontext():
            own = self.actor.decide_batch(x)
            parts = [
                self._refine(x[i : i + CHUNK], own[i : i + CHUNK]) for i in range(0, len(x), CHUNK)
            ]
        return np.concatenate(parts) if parts else np.zeros((0, self.out_dim), np.int64)

    def decide(self, obs: Any) -> np.ndarray:
        """Platform per block (int64 ``(n,)``) for one observation ``(obs_dim,)``."""
        x = np.asarray(obs, dtype=np.float32)
        if x.shape != (self.obs_dim,):
            raise ValueError(f"obs must have shape ({self.obs_dim},), got {x.shape}")
        return self._refine(x[None], self.actor.decide(x)[None])[0]

    def act_batch(self, obs_batch: Any) -> np.ndarray:
        """Actions ``(B, n)``: every block at its chosen platform's interval midpoint."""
        return self._mid[self.decide_batch(obs_batch)]

    def act(self, obs: Any) -> np.ndarray:
        return self._mid[self.decide(obs)]

    __call__ = act

    def export(self, path: Any, format: str = "torchscript") -> None:
        """Not available: the refinement is numpy code around two networks. Export the actor
        alone with ``.actor.export(path, format)`` (its unrefined decisions)."""
        raise ValueError(
            "a critic-refined policy does not export; .actor.export(path, format) writes the "
            "actor alone (its decisions without the critics' refinement)"
        )

    def check_fits(self, env: Any) -> None:
        """ValueError unless the actor fits ``env`` (:meth:`NumpyActor.check_fits`)."""
        self.actor.check_fits(env)

    @classmethod
    def from_checkpoint(
        cls, payload: Mapping[str, Any], blas_threads: int | None = DEFAULT_BLAS_THREADS
    ) -> CriticRefinedActor:
        """The refined policy of a loaded IoRLO checkpoint (``payload["actor"]`` and
        ``["refine"]``)."""
        actor = NumpyActor.from_checkpoint(payload, blas_threads=blas_threads)
        return cls(actor, payload["refine"], payload.get("signature"))

    def __repr__(self) -> str:
        return (
            f"CriticRefinedActor(obs_dim={self.obs_dim}, n={self.out_dim}, "
            f"critics={len(self._members)}, candidates={len(self.placements)})"
        )
