"""The cost model of the partitioning envs: pure, stateless formulas (docs/model.md §1-§7),
batched over leading dimensions, each written once and imported by the envs, vector envs,
oracle, baselines, IoRLO and the fast actor.

| module | holds |
|---|---|
| :mod:`envs.model.units` | units and constants by name (``MW_MS_TO_J``, ``MS_PER_KB_AT_1_MBPS``, ...) |
| :mod:`envs.model.layers` | per-layer latency/energy, per-block costs, exit branches, transfer time |
| :mod:`envs.model.links` | the MEC and D2D link matrices (``LinkMatrices``) |
| :mod:`envs.model.chain` | ``ChainCostModel``: the chain cost, its reference and fast paths |
| :mod:`envs.model.dp` | ``Oracle``: the exact DP (Python/numpy reference, compiled kernels) |
| :mod:`envs.model.thresholds` | intent thresholds: numpy reference and its fast forms |
| :mod:`envs.model.kernels` | numba kernels (optional; numpy fallbacks where numba is absent) |

Every fast path sits beside its reference and ``tests/test_model_equivalence.py`` checks
each pair.
"""
