"""Link processes from config specs: :func:`make_link_process` (``"5g_trial"``, ``"constant"``,
trace / CSV replay, named network mixtures, or a :class:`~envs.dynamics.base.LinkProcess`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from envs.dynamics.base import LinkProcess
from envs.dynamics.constant import ConstantLink
from envs.dynamics.five_g_trial import FiveGTrialD2D, FiveGTrialMEC
from envs.dynamics.table2 import D2D_LINK_FIELDS, _fields_for, field_unit, table2_means
from envs.dynamics.trace import TraceReplay
from envs.traces import (
    Trace,
    TraceFormatError,
    read_csv_trace,
    read_lumos5g,
    read_mmwave_list,
)

__all__ = ["make_link_process"]

_TRACE_FORMATS: tuple[str, ...] = ("lumos5g", "mmwave", "csv")
_TRACE_KEYS = {"type", "frame_s", "interp", "run", "min_bandwidth_mbps", "fallback", "scales"}
_CSV_KEYS = {
    "type",
    "path",
    "frame_s",
    "interp",
    "min_bandwidth_mbps",
    "fallback",
    "link",
    "scales",
    "columns",
}
_FIELD_SPEC_KEYS = {"path", "format", "run", "series", "unit"}
_TYPES: tuple[str, ...] = ("5g_trial", "constant", "trace", "csv", "mixture")


def _resolve(path: str | Path, base_dir: str | Path | None) -> Path:
    p = Path(path).expanduser()
    return p if p.is_absolute() or base_dir is None else Path(base_dir) / p


def _csv_column(field: str) -> str:
    if field.startswith("l"):
        return "rtt_ms"
    if field.endswith("_up"):
        return "uplink_mbps"
    if field.endswith("_down"):
        return "downlink_mbps"
    return "mean"  # symmetric D2D bandwidth: mean of up- and downlink


def _csv_trace_for(traces: Mapping[str, Trace], column: str, source: str) -> Trace:
    if column != "mean":
        return traces[column]
    up, down = traces["uplink_mbps"], traces["downlink_mbps"]
    return Trace(up.times_s, 0.5 * (up.values + down.values), f"{source}#mean(up,down)", "Mbps")


def _load_field_trace(
    field: str, spec: Any, default_run: int | None, base_dir: str | Path | None
) -> Trace:
    if isinstance(spec, str | Path):
        spec = {"path": spec}
    if not isinstance(spec, Mapping) or "path" not in spec:
        raise ValueError(f"trace spec of {field!r} must be a path or a mapping with 'path'")
    bad = set(spec) - _FIELD_SPEC_KEYS
    if bad:
        raise ValueError(
            f"trace spec of {field!r}: unknown keys {sorted(bad)}; allowed {sorted(_FIELD_SPEC_KEYS)}"
        )
    path = _resolve(spec["path"], base_dir)
    fmt = spec.get("format")
    if fmt is None:
        fmt = {".list": "mmwave", ".csv": "csv"}.get(path.suffix.lower(), "lumos5g")
    # The unit comes from the field (b* Mbps, l* ms), never from the file's path; an explicit
    # ``unit`` must agree with it (TraceReplay checks).
    unit = spec.get("unit", field_unit(field))
    if fmt == "lumos5g":
        return read_lumos5g(path, unit=unit)
    if fmt == "mmwave":
        return read_mmwave_list(
            path, spec.get("run", default_run), series=spec.get("series", 0), unit=unit
        )
    if fmt == "csv":
        return _csv_trace_for(read_csv_trace(path), _csv_column(field), str(path))
    raise ValueError(
        f"trace spec of {field!r}: format must be one of {_TRACE_FORMATS}, got {fmt!r}"
    )


def _spec_number(spec: Mapping[str, Any], key: str, default: float) -> float:
    v = spec.get(key, default)
    if isinstance(v, bool | str | bytes) or not isinstance(v, int | float | np.number):
        raise ValueError(f"{spec.get('type')!r} link spec: {key} must be a number > 0, got {v!r}")
    return float(v)


def make_link_process(
    spec: str | Mapping[str, Any] | LinkProcess,
    scenario: str = "mec",
    *,
    base_dir: str | Path | None = None,
) -> LinkProcess:
    """Build a link process from a config spec.

    Accepted specs (``F`` = :data:`MEC_LINK_FIELDS` or :data:`D2D_LINK_FIELDS`):

    * a :class:`LinkProcess` — returned unchanged (its fields must be ``F``);
    * ``"mixture_train"`` / ``"mixture_test"`` / ``"mixture_synthetic"`` or
      ``{"type": "mixture", "split", "components", "data_dir", "frame_s", "ranges"}`` —
      a network drawn per episode (:mod:`envs.mixture`, the v1 default);
    * ``"5g_trial"`` — :class:`FiveGTrialMEC` / :class:`FiveGTrialD2D` with Table 2 defaults;
    * ``"constant"`` — :class:`ConstantLink` at the Table 2 averages;
    * ``{"type": "5g_trial", <field>: {<FieldModel attr>: value, ...}}`` — overrides;
    * ``{"type": "constant", <field>: value, ...}`` — missing fields at the Table 2 averages;
    * ``{"type": "trace", <field>: path | {"path", "format", "run", "series", "unit"}, ...,
      "frame_s": 1.0, "interp": "hold", "run": None, "min_bandwidth_mbps": 0.1,
      "scales": {<field>: x}, "fallback": "5g_trial"}`` — :class:`TraceReplay`. The format
      follows the suffix (``.list`` mmWave, ``.csv`` CSV, anything else Lumos5G) unless
      ``format`` says otherwise; ``run`` (global or per field) picks the ``.list`` run
      (``None`` = all runs concatenated). A CSV file gives ``*_up`` fields its uplink column,
      ``*_down`` its downlink, ``l*`` its ``rtt_ms`` and the D2D ``b`` the mean of up- and
      downlink. Fields without a trace come from ``fallback`` (any spec accepted here, or
      ``None`` to require a trace for every field);
    * ``{"type": "csv", "path": file, "link": "te", ...}`` — a plain CSV
      ``time_s,uplink_mbps,downlink_mbps,rtt_ms`` for one link: MEC ``b_<link>_up`` =
      uplink, ``b_<link>_down`` = downlink, ``l_<link>`` = ``rtt_ms`` (``link`` is ``"te"``
      or ``"ec"``, default ``"te"``); D2D ``b`` = (uplink + downlink) / 2 (the link is
      symmetric and carries traffic both ways) and ``l`` = ``rtt_ms``. Other fields from
      ``fallback`` (default ``"5g_trial"``). Same ``frame_s``/``interp``/``min_bandwidth_mbps``
      and ``scales`` as ``trace`` (keyed by the env fields, e.g. ``{"b_te_up": 0.5}``), plus
      ``columns``: which header names hold ``time_s``/``uplink_mbps``/``downlink_mbps``/
      ``rtt_ms`` (e.g. ``{"uplink_mbps": "ul", "rtt_ms": "ping"}``; other columns ignored).

    Args:
        spec: The spec.
        scenario: ``"mec"`` or ``"d2d"``.
        base_dir: Directory that relative trace paths are resolved against (default: cwd).

    Raises:
        ValueError: Unknown type, key, field or scenario (the allowed values are named).
        envs.traces.TraceFormatError: A trace file is malformed.
    """
    fields = _fields_for(scenario)
    if isinstance(spec, LinkProcess):
        if spec.fields != fields:
            raise ValueError(
                f"process fields {spec.fields} do not match scenario {scenario!r} {fields}"
            )
        return spec
    from envs.mixture import NAMED_MIXTURES, make_mixture  # mixture builds on envs.dynamics

    if isinstance(spec, str):
        spec = (
            {"type": "mixture", **NAMED_MIXTURES[spec]}
            if spec in NAMED_MIXTURES
            else {"type": spec}
        )
    if not isinstance(spec, Mapping):
        raise ValueError(f"link spec must be a string, mapping or LinkProcess, got {type(spec)}")
    spec = dict(spec)
    kind = spec.get("type")
    if kind not in _TYPES:
        raise ValueError(
            f"link spec type must be one of {_TYPES} (or a name among "
            f"{sorted(NAMED_MIXTURES)}), got {kind!r}"
        )
    if kind == "mixture":
        return make_mixture(spec, scenario, base_dir)

    def check_keys(allowed: set[str]) -> None:
        bad = set(spec) - allowed
        if bad:
            raise ValueError(
                f"{kind!r} link spec: unknown keys {sorted(bad)}; allowed {sorted(allowed)}"
            )

    if kind == "5g_trial":
        check_keys({"type", *fields})
        overrides = {f: spec[f] for f in fields if f in spec}
        return FiveGTrialMEC(**overrides) if scenario == "mec" else FiveGTrialD2D(**overrides)
    if kind == "constant":
        check_keys({"type", *fields})
        means = dict(zip(fields, table2_means(scenario).tolist(), strict=True))
        return ConstantLink(fields, [float(spec.get(f, means[f])) for f in fields])

    fallback_spec = spec.get("fallback", "5g_trial")
    common = {
        "frame_s": _spec_number(spec, "frame_s", 1.0),
        "interp": spec.get("interp", "hold"),
        "min_bandwidth_mbps": _spec_number(spec, "min_bandwidth_mbps", 0.1),
    }
    if kind == "trace":
        check_keys(_TRACE_KEYS | set(fields))
        series = {
            f: _load_field_trace(f, spec[f], spec.get("run"), base_dir) for f in fields if f in spec
        }
        if not series:
            raise ValueError(f"'trace' link spec names no field; give at least one of {fields}")
        common["scales"] = spec.get("scales")
    else:  # csv
        check_keys(_CSV_KEYS)
        if "path" not in spec:
            raise ValueError("'csv' link spec needs 'path'")
        path = _resolve(spec["path"], base_dir)
        columns = spec.get("columns")
        if columns is not None and not isinstance(columns, Mapping):
            raise ValueError(
                f"'csv' link spec: columns must be a mapping like {{'uplink_mbps': 'ul'}}, "
                f"got {columns!r}"
            )
        try:
            traces = read_csv_trace(path, columns=columns)
        except ValueError as exc:
            if isinstance(exc, TraceFormatError):
                raise
            raise ValueError(f"'csv' link spec: {exc}") from None
        common["scales"] = spec.get("scales")
        if scenario == "mec":
            link = spec.get("link", "te")
            if link not in ("te", "ec"):
                raise ValueError(f"'csv' link spec: link must be 'te' or 'ec', got {link!r}")
            targets = (f"b_{link}_up", f"b_{link}_down", f"l_{link}")
        else:
            if "link" in spec:
                raise ValueError("'csv' link spec: 'link' applies to scenario 'mec' only")
            targets = D2D_LINK_FIELDS
        series = {f: _csv_trace_for(traces, _csv_column(f), str(path)) for f in targets}
    fallback = None
    if fallback_spec is not None and len(series) < len(fields):
        fallback = make_link_process(fallback_spec, scenario, base_dir=base_dir)
    return TraceReplay(fields, series, fallback=fallback, **common)
