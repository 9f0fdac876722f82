"""Unit conversions shared by the cost model, the oracle and the compiled kernels.

A leaf module (no imports from ``envs``). Units (docs/model.md §1): ms, J, mW, Mbps, KB.
"""

from __future__ import annotations

#: energy of ``P`` mW drawn for ``t`` ms, in J: ``t * P * MW_MS_TO_J``
MW_MS_TO_J: float = 1e-6
