"""Units and unit conversions of the cost model, by name (docs/model.md §1).

A leaf module (no imports from ``envs``). Units: ms, J, mW, Mbps, KB (1000 bytes).
"""

from __future__ import annotations

#: energy of ``P`` mW drawn for ``t`` ms, in J: ``t * P * MW_MS_TO_J``
MW_MS_TO_J: float = 1e-6
#: ms to send one KB (8000 bits) at 1 Mbps (1000 bits per ms): ``x(G, B, L) = 8 G / B + L``
MS_PER_KB_AT_1_MBPS: float = 8.0
#: bytes in a KB (the profiles' tensor sizes are in KB of 1000 bytes)
BYTES_PER_KB: float = 1000.0
#: bytes of one float32 element (activations and logits)
FLOAT32_BYTES: float = 4.0

__all__ = ["BYTES_PER_KB", "FLOAT32_BYTES", "MS_PER_KB_AT_1_MBPS", "MW_MS_TO_J"]
