"""Per-layer and per-block costs and the transfer time (docs/model.md §1, §3).

Pure formulas, batched over leading dimensions where their inputs are arrays:

* :func:`layer_latency_ms` / :func:`layer_energy_j`: one layer (Ren et al. Table 1);
* :class:`BlockCosts`: the per-block sums of a profile at capability factor 1;
* :func:`exit_branch_costs`: the FC exit branch after every block (docs/model.md §6);
* :func:`ms_per_kb` / :func:`transfer_ms`: ``x(G, B, L) = G * (8 / B) + L``; the link
  matrices (:mod:`envs.model.links`) hold ``8 / B`` per platform pair, so every transfer of
  the chain cost is ``G * ms_per_kb + latency_ms`` (:mod:`envs.model.chain`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from envs.model.units import BYTES_PER_KB, FLOAT32_BYTES, MS_PER_KB_AT_1_MBPS

if TYPE_CHECKING:
    from envs.dnn import DNNProfile

# Ren et al. Table 1 (docs/model.md §3): kind -> (alpha, beta, gamma). ReLU and norm have no beta.
LATENCY_COEFS: dict[str, tuple[float, float, float]] = {
    "conv": (6.240e-5, 1.074e-4, -1.938),
    "relu": (1.534e-5, 0.0, 4.844e-1),
    "pool": (1.136e-5, 1.313e-6, -1.695),
    "norm": (5.182e-5, 0.0, 6.497e-1),
    "fc": (9.163e-5, 3.990e-4, 1.172),
    "free": (0.0, 0.0, 0.0),
}
ENERGY_COEFS: dict[str, tuple[float, float, float]] = {
    "conv": (9.240e-7, 1.874e-6, 3.810e-2),
    "relu": (1.435e-6, 0.0, 2.881e-1),
    "pool": (1.410e-6, 1.312e-7, 3.572e-1),
    "norm": (5.187e-6, 0.0, 5.991e-1),
    "fc": (9.213e-6, 4.012e-5, 1.125),
    "free": (0.0, 0.0, 0.0),
}


def layer_latency_ms(kind: str, in_elems: float, out_elems: float, d: float = 1.0) -> float:
    """``d * max(0, α_l*in + β_l*out + γ_l)`` (docs/model.md §3); ``free`` layers cost 0."""
    a, b, g = LATENCY_COEFS[kind]
    return d * max(0.0, a * in_elems + b * out_elems + g)


def layer_energy_j(kind: str, in_elems: float, out_elems: float, d_energy: float = 1.0) -> float:
    """``d_e * max(0, α_e*in + β_e*out + γ_e)`` (docs/model.md §3); ``free`` layers cost 0."""
    a, b, g = ENERGY_COEFS[kind]
    return d_energy * max(0.0, a * in_elems + b * out_elems + g)


def ms_per_kb(mbps: float | np.ndarray) -> float | np.ndarray:
    """``8 / B``: ms per KB over a link of ``mbps`` Mbps (the link matrices' ``ms_per_kb``)."""
    return MS_PER_KB_AT_1_MBPS / mbps


def transfer_ms(kb: float | np.ndarray, mbps: float | np.ndarray, latency_ms: float | np.ndarray):
    """``x(G, B, L) = G * (8 / B) + L``: time in ms to send ``kb`` KB (docs/model.md §1), in
    the operations of the chain cost (``G * ms_per_kb + latency_ms``)."""
    return kb * ms_per_kb(mbps) + latency_ms


def exit_branch_costs(out_kb: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Latency (ms, ``d = 1``) and energy (J, ``d_e = 1``) of the FC exit branch after every
    block (float32 outputs of ``out_kb`` KB to ``num_classes`` logits), and the KB of the
    logits (docs/model.md §6)."""
    out_elems = out_kb * BYTES_PER_KB / FLOAT32_BYTES
    latency = np.array([layer_latency_ms("fc", e, num_classes) for e in out_elems])
    energy = np.array([layer_energy_j("fc", e, num_classes) for e in out_elems])
    return latency, energy, num_classes * FLOAT32_BYTES / BYTES_PER_KB


@dataclass(frozen=True)
class BlockCosts:
    """Per-block base costs of a profile at capability factor 1 (docs/model.md §3).

    ``latency_ms[i]`` is ``T_cp_i`` at ``d = 1`` (scale by ``d_X`` per platform; valid because
    every layer's clamp is applied before the positive factor), ``energy_j[i]`` is ``E_cp_i``
    at ``d_e = 1``.
    """

    latency_ms: np.ndarray
    energy_j: np.ndarray
    in_kb: np.ndarray
    out_kb: np.ndarray

    @classmethod
    def from_profile(cls, profile: DNNProfile) -> BlockCosts:
        lat = [
            sum(layer_latency_ms(x.kind, x.in_elems, x.out_elems) for x in b.layers)
            for b in profile.blocks
        ]
        en = [
            sum(layer_energy_j(x.kind, x.in_elems, x.out_elems) for x in b.layers)
            for b in profile.blocks
        ]
        return cls(
            latency_ms=np.asarray(lat, dtype=np.float64),
            energy_j=np.asarray(en, dtype=np.float64),
            in_kb=np.asarray([b.in_kb for b in profile.blocks], dtype=np.float64),
            out_kb=np.asarray([b.out_kb for b in profile.blocks], dtype=np.float64),
        )
