"""Compatibility module: the network and platform dynamics now live in :mod:`envs.dynamics`,
one process per module (base, Table 2, 5g_trial, constant links, trace replay, platform load,
factory). Every name this module used to define is re-exported here unchanged, so
``from envs.network import ...`` (and unpickling objects saved under ``envs.network``) keeps
working; new code should import from :mod:`envs.dynamics`.
"""

from __future__ import annotations

# Every name of the former module; the private helpers by a redundant alias (re-exported for
# older code, not in __all__).
from envs.dynamics.base import BatchedProcess, LinkProcess
from envs.dynamics.base import _check_mask as _check_mask
from envs.dynamics.base import _check_num as _check_num
from envs.dynamics.constant import ConstantLink
from envs.dynamics.factory import _CSV_KEYS as _CSV_KEYS
from envs.dynamics.factory import _FIELD_SPEC_KEYS as _FIELD_SPEC_KEYS
from envs.dynamics.factory import _TRACE_FORMATS as _TRACE_FORMATS
from envs.dynamics.factory import _TRACE_KEYS as _TRACE_KEYS
from envs.dynamics.factory import _TYPES as _TYPES
from envs.dynamics.factory import _csv_column as _csv_column
from envs.dynamics.factory import _csv_trace_for as _csv_trace_for
from envs.dynamics.factory import _load_field_trace as _load_field_trace
from envs.dynamics.factory import _resolve as _resolve
from envs.dynamics.factory import _spec_number as _spec_number
from envs.dynamics.factory import make_link_process
from envs.dynamics.five_g_trial import (
    DEFAULT_D2D_MODELS,
    DEFAULT_MEC_MODELS,
    FieldModel,
    FiveGTrialD2D,
    FiveGTrialMEC,
    FiveGTrialProcess,
)
from envs.dynamics.five_g_trial import _as_model as _as_model
from envs.dynamics.five_g_trial import _bandwidth_model as _bandwidth_model
from envs.dynamics.five_g_trial import _clipped_lognormal_mean as _clipped_lognormal_mean
from envs.dynamics.five_g_trial import _latency_model as _latency_model
from envs.dynamics.five_g_trial import _norm_cdf as _norm_cdf
from envs.dynamics.five_g_trial import _pareto_mean as _pareto_mean
from envs.dynamics.platform_load import PlatformLoad
from envs.dynamics.table2 import (
    D2D_LINK_FIELDS,
    MEC_LINK_FIELDS,
    SCENARIOS,
    TABLE2,
    field_unit,
    table2_means,
)
from envs.dynamics.table2 import _fields_for as _fields_for
from envs.dynamics.trace import INTERP_MODES, TraceReplay
from envs.dynamics.trace import _offsets as _offsets
from envs.dynamics.trace import _resample as _resample

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
