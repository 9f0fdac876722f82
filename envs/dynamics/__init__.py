"""Network and platform dynamics: stateful per-frame processes, one per module.

Every process is batched (``num`` independent copies) and takes all its randomness from the
``numpy.random.Generator`` passed in; see :mod:`envs.dynamics.base` for the shared API.

| module | contents |
|---|---|
| :mod:`~envs.dynamics.base` | :class:`BatchedProcess` (the process base), :class:`LinkProcess` |
| :mod:`~envs.dynamics.table2` | link field orders, Ren et al. Table 2, :func:`field_unit`, :func:`table2_means` |
| :mod:`~envs.dynamics.five_g_trial` | the 5g_trial generator and its calibration: :class:`FieldModel`, :class:`FiveGTrialMEC`, :class:`FiveGTrialD2D` |
| :mod:`~envs.dynamics.calibration` | the calibration maths of :class:`FieldModel`: clipped lognormal and truncated Pareto means, the solve for ``mu`` |
| :mod:`~envs.dynamics.constant` | :class:`ConstantLink` |
| :mod:`~envs.dynamics.trace` | :class:`TraceReplay` (real traces, :mod:`envs.traces`) |
| :mod:`~envs.dynamics.platform_load` | :class:`PlatformLoad`, slowdown factors on ``d_X`` (docs/model.md §3) |
| :mod:`~envs.dynamics.factory` | :func:`make_link_process`, a link process from a config spec |
| :mod:`~envs.dynamics.collaborators` | :class:`CollaboratorPool`, the D2D candidate collaborators (churn, availability, selection) |

The network mixtures of the v1 envs are in :mod:`envs.mixture`.
"""

from __future__ import annotations

from envs.dynamics.base import BatchedProcess, LinkProcess
from envs.dynamics.constant import ConstantLink
from envs.dynamics.factory import make_link_process
from envs.dynamics.five_g_trial import (
    DEFAULT_D2D_MODELS,
    DEFAULT_MEC_MODELS,
    FieldModel,
    FiveGTrialD2D,
    FiveGTrialMEC,
    FiveGTrialProcess,
)
from envs.dynamics.platform_load import PlatformLoad
from envs.dynamics.table2 import (
    D2D_LINK_FIELDS,
    MEC_LINK_FIELDS,
    SCENARIOS,
    TABLE2,
    field_unit,
    table2_means,
)
from envs.dynamics.trace import INTERP_MODES, TraceReplay

__all__ = [
    "D2D_LINK_FIELDS",
    "DEFAULT_D2D_MODELS",
    "DEFAULT_MEC_MODELS",
    "INTERP_MODES",
    "MEC_LINK_FIELDS",
    "SCENARIOS",
    "TABLE2",
    "BatchedProcess",
    "ConstantLink",
    "FieldModel",
    "FiveGTrialD2D",
    "FiveGTrialMEC",
    "FiveGTrialProcess",
    "LinkProcess",
    "PlatformLoad",
    "TraceReplay",
    "field_unit",
    "make_link_process",
    "table2_means",
]
