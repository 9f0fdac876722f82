"""MEC and D2D DNN-partitioning environments (Ren et al. Sec. 4; docs/model.md §3-§7)."""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, ClassVar, TypedDict, Unpack

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.dnn import DNNProfile, resolve_profile
from envs.dynamics import (
    D2D_LINK_FIELDS,
    MEC_LINK_FIELDS,
    LinkProcess,
    PlatformLoad,
    field_unit,
    make_link_process,
)
from envs.dynamics.collaborators import CollaboratorPool
from envs.limits import MAX_BANDWIDTH_MBPS, MAX_LATENCY_MS
from envs.model import kernels
from envs.model.chain import ChainCostModel, CostBreakdown
from envs.model.dp import Oracle
from envs.model.links import (
    D2D_PLATFORMS,
    MEC_OVERHEAD_WEIGHTS,
    MEC_PLATFORMS,
)
from envs.model.thresholds import check_thresholds, discretise, discretise_one, midpoints
from envs.partition.common import (
    ACTION_MODES,
    DEFAULT_DNN,
    DEFAULT_EPSILON,
    DEFAULT_ETA1,
    DEFAULT_ETA2,
    DEFAULT_ETA_D2D,
    DEFAULT_PHI,
    DEFAULT_ZETA,
    LATENCY_READINGS,
    OBSERVE_MODES,
    check_bool,
    check_factor,
    check_options,
    check_positive,
    check_seed,
    log_ratio,
    parse_early_exit,
    parse_platform_load,
)
from envs.partition.history import ObservationHistory, check_history
from envs.partition.params import PartitionParams
from envs.partition.sim import D2DSim, MECSim
from envs.problem import PartitionProblem
from envs.signatures import v1_signature, with_common_arguments


def _check_weights(weights: Any, num_platforms: int) -> tuple[float, ...]:
    """``overhead_weights``: one finite weight >= 0 per platform (docs/model.md §4: w = (0, 2, 3))."""
    if isinstance(weights, str | bytes | Mapping) or not isinstance(weights, Sequence | np.ndarray):
        raise ValueError(f"overhead_weights must be {num_platforms} numbers >= 0, got {weights!r}")
    if len(weights) != num_platforms:
        raise ValueError(
            f"overhead_weights must be {num_platforms} numbers >= 0 (one per platform), "
            f"got {len(weights)}"
        )
    return tuple(
        check_positive(f"overhead_weights[{i}]", w, allow_zero=True) for i, w in enumerate(weights)
    )


def _make_network(spec: Any, fields: Sequence[str], scenario: str, trace_dir: Any) -> LinkProcess:
    """The env's link process; every error names the ``network`` argument."""
    if trace_dir is not None and not isinstance(trace_dir, str | os.PathLike):
        raise ValueError(f"trace_dir must be a directory path or None, got {trace_dir!r}")
    try:
        return make_link_process(_check_network_spec(spec, fields), scenario, base_dir=trace_dir)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        if msg.startswith("network") or type(exc) not in (ValueError, TypeError):
            raise  # e.g. a TraceFormatError already names its file and line
        raise type(exc)(f"network: {msg}") from exc


def _check_network_spec(spec: Any, fields: Sequence[str]) -> Any:
    """Constant link values are checked here so the error names the field (docs/model.md §1 units).

    A mapping without ``"type"`` whose keys are link fields is read as ``{"type": "constant"}``.
    """
    if isinstance(spec, Mapping):
        spec = dict(spec)
        if "type" not in spec and spec:
            bad = sorted(set(spec) - set(fields))
            if bad:
                raise ValueError(
                    f"network: unknown keys {bad}; a mapping of constant link values takes "
                    f"{list(fields)}, other specs need a 'type' (see make_link_process)"
                )
            spec["type"] = "constant"
        if spec.get("type") == "constant":
            for f in fields:
                if f in spec:
                    unit = field_unit(f)
                    top = MAX_BANDWIDTH_MBPS if unit == "Mbps" else MAX_LATENCY_MS
                    check_positive(
                        f"network[{f!r}] ({unit})", spec[f], allow_zero=unit == "ms", hi=top
                    )
    return spec


@dataclass(frozen=True)
class ScenarioArgs:
    """What a scenario's constructor passes to :meth:`PartitionEnv._setup_common` besides the
    common arguments: its slowdowns (validated), overhead weights, cost weights and thresholds."""

    slowdown: tuple[float, ...]
    overhead_weights: Sequence[float] | None  # None: no deployment overhead (D2D)
    etas: tuple[tuple[str, Any], tuple[str, Any]]  # (argument name, value): η_energy, η_overhead
    thresholds: Sequence[float]


class CommonKwargs(TypedDict, total=False):
    """The arguments every partitioning env takes; their defaults are those of
    :meth:`PartitionEnv._build_common` (the scenarios' Arguments tables list them)."""

    dnn: str | DNNProfile | Mapping[str, Any]
    input_shape: Sequence[int] | None
    network: str | Mapping[str, Any] | LinkProcess
    trace_dir: str | None
    d_energy: float
    early_exit: Any
    platform_load: bool | Mapping[str, Any]
    action_mode: str
    oracle: bool
    reward_scale: float


#: the v1 readings :func:`_check_readings` validates, as :class:`PartitionParams` fields
V1_READINGS = ("observe", "latency_reading", "dp_features", "history")


def _check_readings(
    observe: Any, latency_reading: Any, dp_features: Any, history: Any = None
) -> dict[str, Any]:
    """The v1 constructors' reading arguments, validated (docs/model.md §10, §13)."""
    if not isinstance(dp_features, bool | np.bool_):
        raise ValueError(f"dp_features must be True or False, got {dp_features!r}")
    if observe not in OBSERVE_MODES:
        raise ValueError(f"observe must be one of {list(OBSERVE_MODES)}, got {observe!r}")
    if latency_reading not in LATENCY_READINGS:
        raise ValueError(
            f"latency_reading must be one of {list(LATENCY_READINGS)}, got {latency_reading!r}"
        )
    return {
        "observe": observe,
        "latency_reading": latency_reading,
        "dp_features": bool(dp_features),
        "history": check_history(history),
    }


class PartitionEnv(gym.Env[np.ndarray, np.ndarray]):
    """Common machinery of :class:`MECPartitionEnv` and :class:`D2DPartitionEnv`.

    Subclasses call :meth:`_setup_common` (which builds ``self.params``, the one
    :class:`~envs.partition.params.PartitionParams`), build ``self.sim`` (a batched
    simulator from :mod:`envs.partition.sim`, run here with one copy) and call
    :meth:`_setup_spaces`.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}
    scenario: str = ""
    platforms: tuple[str, ...] = ()
    link_fields: tuple[str, ...] = ()
    threshold_names: tuple[str, ...] = ()
    #: the v1 readings (:func:`_check_readings`), set by the v1 constructors before the v0
    #: constructor runs; ``None``: v0
    _v1_readings: dict[str, Any] | None = None
    params: PartitionParams

    # ------------------------------------------------------------------ set-up
    def _setup_common(self, a: ScenarioArgs, common: Mapping[str, Any]) -> None:
        """Build what both scenarios share from ``a`` and the common arguments (the
        scenario's ``**common``): the profile, cost model, oracle, :attr:`params`, action
        space, link process and platform load."""
        takes = inspect.signature(self._build_common).parameters.values()
        unknown = sorted(set(common) - {p.name for p in takes if p.kind is p.KEYWORD_ONLY})
        if unknown:
            allowed = list(inspect.signature(type(self)).parameters)
            raise TypeError(
                f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}; "
                f"it takes {allowed}"
            )
        self._build_common(a, **common)

    def _build_common(
        self,
        a: ScenarioArgs,
        *,
        dnn: str | DNNProfile | Mapping[str, Any] = DEFAULT_DNN,
        input_shape: Sequence[int] | None = None,
        network: str | Mapping[str, Any] | LinkProcess = "5g_trial",
        trace_dir: str | None = None,
        d_energy: float = 1.0,
        early_exit: Any = None,
        platform_load: bool | Mapping[str, Any] = False,
        action_mode: str = "continuous",
        oracle: bool = True,
        reward_scale: float = 1.0,
    ) -> None:
        """Validate the common arguments: the one place of their defaults."""
        num_platforms = len(self.platforms)
        try:
            self.profile: DNNProfile = resolve_profile(dnn, input_shape)
        except (ValueError, TypeError) as exc:
            if "dnn" in str(exc) or "input_shape" in str(exc):
                raise
            raise ValueError(f"dnn / input_shape: {exc}") from None
        weights = (
            None
            if a.overhead_weights is None
            else _check_weights(a.overhead_weights, num_platforms)
        )
        readings = self._v1_readings or {}
        self.cost_model = ChainCostModel(
            self.profile, num_platforms, weights, parse_early_exit(early_exit)
        )
        self.cost_model.sequential_batch = bool(readings)  # v0 keeps its numpy sums
        self.oracle = Oracle(self.cost_model)
        self.n_blocks = self.cost_model.n
        self.num_platforms = num_platforms
        d_energy = check_factor("d_energy", d_energy)
        (energy_name, eta_energy), (overhead_name, eta_overhead) = a.etas
        eta_energy = check_positive(energy_name, eta_energy, allow_zero=True)
        eta_overhead = check_positive(overhead_name, eta_overhead, allow_zero=True)
        # private caches of the thresholds for the hot paths (array, list, midpoints)
        self._th = check_thresholds(self.threshold_names, a.thresholds)
        self._th_list = self._th.tolist()
        self._mid = midpoints(self._th)
        if not isinstance(action_mode, str) or action_mode not in ACTION_MODES:
            raise ValueError(f"action_mode must be one of {ACTION_MODES}, got {action_mode!r}")
        if not isinstance(oracle, bool | np.bool_):
            raise ValueError(f"oracle must be True or False, got {oracle!r}")
        self.params = PartitionParams(
            scenario=self.scenario,
            slowdown=a.slowdown,
            d_energy=d_energy,
            eta_energy=eta_energy,
            eta_overhead=eta_overhead,
            overhead_weights=(
                None if weights is None else tuple(self.cost_model.overhead_weights.tolist())
            ),
            thresholds=tuple(self._th_list),
            action_mode=action_mode,
            oracle=bool(oracle),
            reward_scale=check_positive("reward_scale", reward_scale),
            version=1 if readings else 0,
            **{k: readings[k] for k in V1_READINGS if readings},
        )
        self._solve_one = self.oracle.bind(**self.params.cost_kw)  # the scalar oracle's step
        n = self.n_blocks
        if action_mode == "continuous":
            self.action_space = spaces.Box(0.0, 1.0, (n,), np.float32)
        else:
            self.action_space = spaces.MultiDiscrete(np.full(n, num_platforms, dtype=np.int64))
        self._exits = self.cost_model.early_exits is not None
        # v1 without early exits: a frame in one compiled pass (kernels.frame_outcome)
        self._fused = bool(readings) and kernels.AVAILABLE and not self._exits
        if self._fused:
            self._ctab = self.cost_model.frame_table(**self.params.cost_kw)
            self._tab = self.oracle.kernel_table(**self.params.cost_kw)
        self.link_process = _make_network(network, self.link_fields, self.scenario, trace_dir)
        self.load = self._make_load(platform_load)

    def _make_load(self, platform_load: Any) -> PlatformLoad:
        try:
            return PlatformLoad(
                self.num_platforms, names=self.platforms, **parse_platform_load(platform_load)
            )
        except (ValueError, TypeError) as exc:
            if str(exc).startswith("platform_load"):
                raise
            raise ValueError(f"platform_load: {exc}") from None

    def _setup_spaces(self) -> None:
        #: Indices of the observation entries that squash a link value or an effective
        #: factor ``x`` as ``v = x / (x + a)`` with a fixed ``a > 0``: MEC 0-8; D2D 0-3 and
        #: each candidate's ``B``, ``L``. ``log(v / (1 - v)) = log(x / a)`` undoes the squash
        #: where it saturates (uplinks under 1 Mbps, RTT spikes of seconds); IoRLO+ appends
        #: it to its input on v1 (agents.iorlo, ``log_inputs``). Entries of the DP features
        #: are not listed.
        self.ratio_features = self.sim.ratio_features.copy()
        dim = self.sim.obs_dim
        if self.params.dp_features:
            if self._exits:
                raise ValueError(
                    "dp_features needs early_exit=None (the DP features have no exits)"
                )
            dim += self.n_blocks * self.num_platforms
        #: the observation history's state (v1 ``history``, :mod:`envs.partition.history`);
        #: the env marks each new frame (``advance``) and each reset (``restart``)
        self.history = ObservationHistory(self.params.history) if self.params.history else None
        if self.history is not None:
            dim += 2 * len(self.params.history) * len(self.ratio_features)
        self.observation_space = spaces.Box(0.0, 1.0, (dim,), np.float32)

    def observe_batch(self) -> np.ndarray:
        """The observation of every copy of the simulator, ``(num, obs_dim)``, with the DP
        features and the history entries appended when ``dp_features`` / ``history`` are on."""
        obs = self.sim.observe()
        if not self.params.dp_features and self.history is None:
            return obs
        parts = [obs]
        if self.params.dp_features:
            parts.append(self.dp_feature_block())
        if self.history is not None:
            x = log_ratio(obs[:, self.ratio_features].astype(np.float64))
            parts.append(self.history.features(x))
        return np.concatenate(parts, axis=1)

    def dp_feature_block(self) -> np.ndarray:
        """DP features of the observed frame, ``(num, n * P)`` float32 (docs/model.md §13).

        Entry ``(i, s)`` is the relative regret ``r = M_i(s) / OPT - 1`` of running block
        ``i`` on platform ``s``, where ``M_i(s)`` is the least cost of a decision that does
        (:meth:`envs.model.dp.Oracle.marginals_batch`) on the frame **as observed** (the
        measured links and load under ``observe="measured"``), squashed as
        ``r / (r + DP_FEATURE_SCALE)``: 0 on the observed frame's optimal placement,
        0.5 at a 10% regret."""
        sim = self.sim
        marg = self.oracle.marginals_batch(
            sim.links_batch(measured=True), sim.obs_slowdown, **self.params.cost_kw
        )
        opt = np.maximum(marg.min(-1, keepdims=True), 1e-12)
        r = np.maximum(marg / opt - 1.0, 0.0)
        r /= r + DP_FEATURE_SCALE
        return r.reshape(r.shape[0], -1).astype(np.float32)

    # --------------------------------------------------------------- conversion
    def action_to_decision(self, action: Any) -> np.ndarray:
        """Platform per block from an action, ``(n,)`` or ``(B, n)``; validated.

        Continuous actions are discretised by the intent thresholds (docs/model.md §4/§5); discrete
        actions are the platform indices. NaN, out-of-range or wrongly shaped actions raise
        a ValueError.
        """
        n, P = self.n_blocks, self.num_platforms
        if self.params.action_mode == "continuous":
            try:
                a = np.asarray(action)
            except (TypeError, ValueError):  # ragged nested sequences
                raise ValueError(f"action must be a numeric array, got {action!r}") from None
            if a.dtype.kind not in "fiu":  # complex, strings, bools, objects: not an action
                raise ValueError(
                    f"action must be a real numeric array (Box(0, 1, ({n},))), got dtype "
                    f"{a.dtype}: {action!r}"
                )
            if a.dtype.kind != "f":  # float32/64 are compared as they are (no batch copy)
                a = a.astype(np.float64)
            if a.ndim not in (1, 2) or a.shape[-1] != n:
                raise ValueError(f"action must have shape ({n},) (or (batch, {n})), got {a.shape}")
            if not (a.min() >= 0.0 and a.max() <= 1.0):  # NaN fails both comparisons
                raise ValueError(
                    f"action entries must be finite and in [0, 1] (Box(0, 1, ({n},))), got "
                    f"min {a.min()} max {a.max()}"
                )
            return discretise(a, self._th)
        try:
            a = np.asarray(action)
        except (TypeError, ValueError):
            raise ValueError(f"action must be an integer array, got {action!r}") from None
        if a.ndim not in (1, 2) or a.shape[-1] != n:
            raise ValueError(f"action must have shape ({n},) (or (batch, {n})), got {a.shape}")
        if a.dtype.kind not in "iu":
            if a.dtype.kind not in "fb" or not np.all(np.isfinite(a)) or np.any(a != np.round(a)):
                raise ValueError(
                    f"action entries must be integers in [0, {P}) (MultiDiscrete([{P}]*{n})), "
                    f"got {action!r}"
                )
        if a.min() < 0 or a.max() >= P:
            raise ValueError(
                f"action entries must be integers in [0, {P}) (MultiDiscrete([{P}]*{n})), "
                f"got min {a.min()} max {a.max()}"
            )
        return a.astype(np.int64)

    def _decision_one(self, action: Any) -> np.ndarray:
        """:meth:`action_to_decision` for one action, in plain Python (faster for n ~ 20)."""
        if type(action) is np.ndarray and action.shape == (self.n_blocks,):
            vals = action.tolist()
            if self.params.action_mode == "continuous":
                if action.dtype.kind == "f" and all(0.0 <= x <= 1.0 for x in vals):
                    return discretise_one(vals, self._th_list)
            elif action.dtype.kind in "iu" and all(0 <= x < self.num_platforms for x in vals):
                return action.astype(np.int64)
        decision = self.action_to_decision(action)  # slow path: conversion and error messages
        if decision.ndim != 1:
            raise ValueError(f"action must have shape ({self.n_blocks},), got {np.shape(action)}")
        return decision

    def decision_to_action(self, decision: Any) -> np.ndarray:
        """An action that the env maps back to ``decision`` (``(n,)`` or ``(B, n)``).

        Continuous mode: the midpoint of each platform's threshold interval, e.g. for MEC
        device -> ε/2, edge -> (ε+φ)/2, cloud -> (φ+1)/2 (float32). Discrete: the ints.
        """
        d = self.cost_model.check_decisions(decision)
        if self.params.action_mode == "continuous":
            return self._mid[d].astype(np.float32)
        return d.astype(np.int64)

    # ------------------------------------------------------------------ problem
    def _require_reset(self) -> None:
        if self.sim.num == 0:
            raise RuntimeError(f"{type(self).__name__}: call reset() before step()/problem")

    @property
    def problem(self) -> PartitionProblem:
        """The frame the next action is evaluated on (links, effective factors, weights).

        D2D frames without a collaborator carry a sentinel link (``NO_LINK_MBPS``,
        ``NO_LINK_MS`` in :mod:`envs.partition.sim`) that makes offloading prohibitive.
        """
        self._require_reset()
        return PartitionProblem(
            self.cost_model,
            self.sim.links_one(),
            self.sim.slowdown[0].copy(),
            **self.params.cost_kw,
        )

    @property
    def measured_problem(self) -> PartitionProblem:
        """The frame as the agent observes it: with ``observe="measured"`` the links and
        load measured for the previous frame (what ``dp_measured`` optimises), else
        :attr:`problem`."""
        self._require_reset()
        return PartitionProblem(
            self.cost_model,
            self.sim.links_one(measured=True),
            self.sim.obs_slowdown[0].copy(),
            **self.params.cost_kw,
        )

    # -------------------------------------------------------------------- gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; ``options={"offset": k}`` starts trace replay at frame ``k``."""
        super().reset(seed=check_seed(seed))
        offset = check_options(options)
        if offset is not None and np.ndim(offset) != 0:
            raise ValueError(f"options['offset'] must be one integer frame, got {offset!r}")
        self.sim.reset(self.np_random, 1, offset=offset)
        if self.history is not None:
            self.history.restart()
        return self.observe_batch()[0], {}

    def frame_outcome(
        self, decision: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, CostBreakdown, CostBreakdown, Any]:
        """The transition's cost part, shared by the single env (``decision`` ``(n,)``, the
        simulator's one copy) and the vector env (``(B, n)``, ``B`` copies).

        Returns ``(decision, realised, expected, optimal)``: the decision as evaluated (copies
        without a D2D collaborator run every block locally), the realised cost (early exits
        drawn from ``rng``), its expectation over the exits (the realised one without
        exits), and the oracle's optimal cost (``None`` when ``oracle=False``). One copy is
        evaluated with the scalar paths of :class:`ChainCostModel` and :class:`Oracle`.
        """
        sim, model, kw = self.sim, self.cost_model, self.params.cost_kw
        avail = sim.available
        batch = decision.ndim == 2
        draws = rng.random(decision.shape) if self._exits else None
        if batch:
            if avail is not None and not avail.all():
                decision = np.where(avail[:, None], decision, 0)
            links, slowdown = sim.links_batch(), sim.slowdown
        else:
            if avail is not None and not avail[0]:
                decision = np.zeros(self.n_blocks, dtype=np.int64)
            links, slowdown = sim.links_one(), sim.slowdown[0]
        res = model.evaluate(decision, links, slowdown, exit_draws=draws, **kw)
        exp = model.evaluate(decision, links, slowdown, **kw) if self._exits else res
        opt = None
        if self.params.oracle:
            if batch:
                opt = self.oracle.solve_batch(links, slowdown, **kw)[1]
                if avail is not None:
                    opt = np.where(avail, opt, exp.cost)
            elif avail is not None and not avail[0]:
                opt = exp.cost  # all-local is the only feasible decision
            else:
                opt = self._solve_one.solve(links, slowdown)[1]
        return decision, res, exp, opt

    def fused_frame(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The transition's cost part in one compiled pass (:func:`kernels.frame_outcome`):
        ``(decision (B, n), out (5, B), distribution (B, P))`` for actions ``(B, n)`` of the
        simulator's ``B`` copies, ``out`` = latency, energy, overhead, cost (= expected: no
        exits), optimal cost. The numbers of :meth:`action_to_decision` and
        :meth:`frame_outcome` bit for bit; ``None`` where it does not apply (v0, early exits,
        no numba, actions of another dtype or shape, invalid actions: the checked path
        handles those)."""
        sim = self.sim
        values = sim.values
        discrete = self.params.action_mode == "discrete"
        if (
            not self._fused
            or type(actions) is not np.ndarray
            or actions.shape != (values.shape[0], self.n_blocks)
            or actions.dtype not in _FUSED_DTYPES[discrete]
            or not actions.flags.c_contiguous
        ):
            return None
        sp = sim.slowdown
        if not sp.flags.c_contiguous:  # a constant slowdown is a broadcast view
            sp = np.ascontiguousarray(sp)
        avail = sim.available
        B, n = actions.shape
        dec = np.empty((B, n), dtype=np.int64)
        out = np.empty((5, B))
        dist = np.empty((B, self.num_platforms))
        bad = kernels.frame_outcome(
            actions, discrete, self._th, np.ascontiguousarray(values), sim.latency_scale,
            sp, _ALWAYS if avail is None else avail, self._ctab, self._tab, self.params.oracle,
            dec, out, dist,
        )  # fmt: skip
        return None if bad else (dec, out, dist)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Evaluate the action on the current frame, then advance links/load/candidates."""
        self._require_reset()
        fused = self.fused_frame(action[None]) if type(action) is np.ndarray else None
        network = self.sim.network_one()
        if fused is None:
            decision = self._decision_one(action)
            decision, res, exp, opt = self.frame_outcome(decision, self.np_random)
            dist = None
        else:
            dec, out, dist = fused
            lat, en, ovh, cost, opt = out[:, 0].tolist()
            decision, res, dist = dec[0], CostBreakdown(lat, en, ovh, cost), dist[0]
            exp, opt = res, opt if self.params.oracle else None
        info = self._info(decision, network, res, exp, opt, dist)
        self.sim.step(self.np_random)
        if self.history is not None:
            self.history.advance()
        reward = -float(res.cost) * self.params.reward_scale
        return self.observe_batch()[0], reward, False, False, info

    def _info(self, decision, network, res, exp, opt, dist=None) -> dict[str, Any]:
        info: dict[str, Any] = {
            "decision": decision,
            "network": network,
            "latency_ms": float(res.latency_ms),
            "energy_j": float(res.energy_j),
        }
        if self.scenario == "mec":
            info["overhead"] = float(res.overhead)
        info["cost"] = float(res.cost)
        info["expected_cost"] = float(exp.cost)
        if opt is not None:
            info["optimal_cost"] = float(opt)
            info["gap"] = float(exp.cost) / float(opt) - 1.0 if opt > 0 else 0.0
        info["distribution"] = (
            np.bincount(decision, minlength=self.num_platforms) / self.n_blocks
            if dist is None
            else dist
        )
        if self.scenario == "d2d":
            info["collaborator"] = network["collaborator"]
            info["no_collaborator"] = network["collaborator"] < 0
        return info


#: action dtypes :meth:`PartitionEnv.fused_frame` takes (continuous, discrete); others convert
_FUSED_DTYPES = {False: (np.dtype(np.float32), np.dtype(np.float64)), True: (np.dtype(np.int64),)}
_ALWAYS = np.zeros(0, dtype=bool)  # the kernel's "every copy has its platforms"


class MECPartitionEnv(PartitionEnv):
    """MEC ("vertical") DNN partitioning: device, edge or cloud for every block.

    As in Ren et al., Sec. 4.1.1 and 4.2 (IoRLO), with the cost model of docs/model.md §3-§4 (eq. 6
    read with ``L_EC`` in place of ``L_EC/2``) and optional early exits (docs/model.md §6).

    ## Description

    One step is one inference request (a frame). The agent sees the current 5G link state,
    the platforms' effective capability factors and the DNN's per-block costs, and places
    every block ``G_1..G_n`` on the terminal device (0), the edge server (1) or the cloud
    (2). The env charges latency, device energy and deployment overhead for that decision
    under the frame's links, then the links (and optional background load) evolve.

    ## Action Space

    ``action_mode="continuous"`` (default, as IoRLO): ``Box(0, 1, (n,), float32)``; block
    ``i`` goes to the device if ``a_i < ε``, the edge if ``ε <= a_i < φ`` and the cloud if
    ``a_i >= φ`` (IoRLO intent thresholds, ``0 < ε < φ < 1``). ``action_mode="discrete"``:
    ``MultiDiscrete([3] * n)``, the platform indices (PPO/A2C/DQN-style agents).

    ## Observation Space

    ``Box(0, 1, (9 + 6n,), float32)``; every unbounded quantity ``x`` is mapped by
    ``x / (x + scale)`` (0.5 at the scale, monotone, below 1):

    | index | entry | transform |
    |---|---|---|
    | 0-3 | ``B_TE^U, B_TE^D, B_EC^U, B_EC^D`` (Mbps) | ``B / (B + avg)``, avg = Table 2 average (76.1, 382.4, 73.3, 542.3) |
    | 4-5 | ``L_TE, L_EC`` (ms) | ``L / (L + avg)``, avg 8.76, 27.04 |
    | 6-8 | effective ``d_T, d_E, d_C`` (nominal x load) | ``d / (d + 1)`` |
    | 9 .. 9+3n | ``T_cp`` of block i on T, E, C, block-major (``9 + 3i + X``) | ``c / (c + max_i T_cp_i(d=1))`` |
    | 9+3n .. 9+4n | device energy ``E_cp_i`` (J, times ``d_energy``) | ``/ max_i E_cp_i`` |
    | 9+4n .. 9+5n | block input size ``G_i^in`` (KB) | ``/ max(G^in, G^out)`` |
    | 9+5n .. 9+6n | block output size ``G_i^out`` (KB) | ``/ max(G^in, G^out)`` |

    Without platform load, entries 6 onward are constant for a given DNN.

    ## Rewards

    ``reward = -reward_scale * cost`` with (docs/model.md §4)::

        cost = T + η1 * E + η2 * D,   D = (1/n) Σ_i w[S_i],  w = (0, 2, 3)

    ``T`` (ms) is compute plus transfers (``x(G, B, L) = 8G/B + L`` per link on the path),
    ``E`` (J) device compute energy plus radio energy at ``P^U = 65 B_TE^U + 11475.97`` /
    ``P^D = 6.5 B_TE^D + 11475.97`` mW for the full path time of transfers the device sends /
    receives. Defaults ``η1 = 10`` ms/J (a device block's ≈0.3-5 J energy weighs like its
    device latency) and ``η2 = 10`` ms (full offloading costs 20-30 ms, the scale of the
    average TE+EC round trip: a provider charge comparable to the latency it buys).

    Worked example (ResNet-32, CIFAR input, Table 2 average links, every block on the
    edge): compute ``67.085`` ms (``d_E = 1``), raw image up ``8·3.072/76.1 + 8.76 =
    9.083`` ms, result down ``8·0.04/382.4 + 8.76 = 8.761`` ms, so ``T = 84.929`` ms;
    ``E = 9.083·16422.47e-6 + 8.761·13961.57e-6 = 0.2715`` J; ``D = 2``; cost
    ``= 84.929 + 10·0.2715 + 10·2 = 107.64`` and the reward is ``-107.64`` (here also the
    oracle's optimum, so ``gap = 0``).

    With early exits the episode samples the exit (``info["cost"]``, used for the reward)
    and also reports the expected cost (``info["expected_cost"]``); ``optimal_cost`` is the
    oracle's expected optimum and ``gap = expected_cost / optimal_cost - 1 >= 0``.

    ## Starting State

    Links start in the stationary law of the 5g_trial generator (or a random/fixed offset
    of a replayed trace: ``reset(options={"offset": k})``), load in its stationary law.

    ## Episode End

    No terminal state; episodes are truncated by ``max_episode_steps`` (registered: 100
    frames).

    ## Info

    ``decision`` (int array, platform per block), ``network`` (the link values used for the
    frame: ``b_te_up, b_te_down, b_ec_up, b_ec_down, l_te, l_ec``, plus effective
    ``d_t, d_e, d_c`` with platform load), ``latency_ms``, ``energy_j``, ``overhead``,
    ``cost``, ``expected_cost``, ``optimal_cost`` and ``gap`` (only with ``oracle=True``),
    ``distribution`` (fraction of blocks per platform).

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | ``dnn`` | ``"resnet32"`` | built-in name, :class:`DNNProfile` or its dict |
    | ``input_shape`` | ``None`` (3, 32, 32) | input (C, H, W) of a built-in DNN |
    | ``network`` | ``"5g_trial"`` | link spec for :func:`envs.dynamics.make_link_process` (``"5g_trial"``, ``"constant"``, a trace/csv dict, a mapping of constant link values, or a ``LinkProcess``) |
    | ``trace_dir`` | ``None`` | directory relative trace paths are resolved against |
    | ``d_t, d_e, d_c`` | 4.0, 1.0, 0.25 | capability (slowdown) factors (docs/model.md §3) |
    | ``d_energy`` | 1.0 | device energy factor |
    | ``eta1``, ``eta2`` | 10.0, 10.0 | energy (ms/J) and overhead (ms) weights |
    | ``overhead_weights`` | (0, 2, 3) | ``w`` per platform |
    | ``epsilon``, ``phi`` | 1/3, 2/3 | intent thresholds, ``0 < ε < φ < 1`` |
    | ``early_exit`` | ``None`` | per-block exit probabilities or ``{"probs", "num_classes"}`` |
    | ``platform_load`` | ``False`` | ``True`` or a dict of :class:`PlatformLoad` options |
    | ``action_mode`` | ``"continuous"`` | or ``"discrete"`` |
    | ``oracle`` | ``True`` | compute the exact optimum (DP) every step |
    | ``reward_scale`` | 1.0 | multiplies ``-cost`` |

    Attributes: ``params`` (the one :class:`~envs.partition.params.PartitionParams`: the
    validated slowdowns, cost weights, thresholds, action mode, reward scale and readings;
    ``params.named()`` by the argument names above), ``profile``, ``cost_model``, ``oracle``,
    ``problem`` (the frame the next action is evaluated on), ``scenario = "mec"``,
    ``n_blocks``, ``num_platforms``, ``link_process``, ``load``.

    ## Version History

    * v1 (:class:`MECPartitionEnvV1`): measured state, one-way latency, platform load,
      network mixtures with a train/test split (docs/model.md §10).
    * v0: initial version; the paper's MDP, kept bit-identical for a seed. The constructor
      takes keyword arguments only (as ``gym.make`` passes them) and holds the validated
      values in ``params`` (:class:`~envs.partition.params.PartitionParams`).
    """

    scenario = "mec"
    platforms = MEC_PLATFORMS
    link_fields = MEC_LINK_FIELDS
    threshold_names = ("epsilon", "phi")

    def __init__(
        self,
        *,
        d_t: float = 4.0,
        d_e: float = 1.0,
        d_c: float = 0.25,
        eta1: float = DEFAULT_ETA1,
        eta2: float = DEFAULT_ETA2,
        overhead_weights: Sequence[float] = MEC_OVERHEAD_WEIGHTS,
        epsilon: float = DEFAULT_EPSILON,
        phi: float = DEFAULT_PHI,
        **common: Unpack[CommonKwargs],
    ) -> None:
        factors = (("d_t", d_t), ("d_e", d_e), ("d_c", d_c))
        scenario = ScenarioArgs(
            slowdown=tuple(check_factor(k, v) for k, v in factors),
            overhead_weights=_check_weights(overhead_weights, 3),
            etas=(("eta1", eta1), ("eta2", eta2)),
            thresholds=(epsilon, phi),
        )
        self._setup_common(scenario, common)
        self.sim = MECSim(self.cost_model, self.link_process, self.load, self.params)
        self._setup_spaces()

    __init__.__signature__ = with_common_arguments(__init__, PartitionEnv._build_common)  # type: ignore[attr-defined]


class D2DPartitionEnv(PartitionEnv):
    """D2D ("horizontal") DNN partitioning between the user's phone and a collaborator.

    As in Ren et al., Sec. 4.1.2 and 4.2 (IoRLO), with the cost model of docs/model.md §3, §5 and
    optional early exits (docs/model.md §6).

    ## Description

    One step is one inference request (a frame). Up to ``num_candidates`` nearby phones
    join, leave, overload and disconnect over time (a per-candidate Markov chain, see
    :mod:`envs.dynamics.collaborators`). Each frame the controller selects the collaborator
    ``H_x = argmax_i (s_i/max(s) + B_i/max(B) + 1/L_i)`` over the available candidates
    (``s_i = 1/d_Hi``, ``d_Hi = d_base / availability_i``, docs/model.md §3/§5), re-picking by the
    formula every frame (or, with ``sticky_selection=True``, only when the current one is
    lost). The agent places every block on the user's device (0) or ``H_x`` (1). If no
    candidate is available every block runs locally whatever the action, and ``info``
    says so (``collaborator = -1``, ``no_collaborator = True``).

    ## Action Space

    ``action_mode="continuous"`` (default): ``Box(0, 1, (n,), float32)``; ``a_i < ζ`` ->
    user device, else the collaborator (docs/model.md §5: a larger ζ keeps more work on the user's
    device). ``action_mode="discrete"``: ``MultiDiscrete([2] * n)``.

    ## Observation Space

    ``Box(0, 1, (5 + 5n + 6m,), float32)`` (``m = num_candidates``); ``x / (x + scale)``
    maps unbounded quantities into ``[0, 1)``:

    | index | entry | transform |
    |---|---|---|
    | 0-1 | selected link ``B_Hx`` (Mbps), ``L_Hx`` (ms) | ``x / (x + avg)``, Table 2 D2D avg 87.6, 23.14; no collaborator: ≈0, ≈1 |
    | 2-3 | effective ``d_U``, ``d_Hx`` | ``d / (d + 1)``; no collaborator: ``d_Hx`` ≈ 1 |
    | 4 | a collaborator is selected | 0 / 1 |
    | 5 .. 5+2n | ``T_cp`` of block i on U, H, block-major (``5 + 2i + X``) | ``c / (c + max_i T_cp_i(d=1))`` |
    | 5+2n .. 5+3n | device energy ``E_cp_i`` (J, times ``d_energy``) | ``/ max_i E_cp_i`` |
    | 5+3n .. 5+4n | block input size (KB) | ``/ max(G^in, G^out)`` |
    | 5+4n .. 5+5n | block output size (KB) | ``/ max(G^in, G^out)`` |
    | 5+5n+6j .. +6 | candidate j: available, overloaded, availability, ``B``, ``L``, selected | flags; availability (0 if absent); ``B``, ``L`` as above (0 and 1 if absent or disconnected) |

    ## Rewards

    ``reward = -reward_scale * cost``, ``cost = T + η E`` (docs/model.md §5) with ``T`` compute plus
    D2D transfers ``8G/B_Hx + L_Hx`` and ``E`` the user's compute energy plus the radio
    energy of every transfer at ``P_D2D = 283.17 B_Hx + 132.86`` mW. Default ``η = 10``
    ms/J (as η1 in MEC).

    Worked example (ResNet-32, Table 2 average D2D link, a collaborator with availability
    1.0 so ``d_H = 4``, every block on it): compute ``4·67.085 = 268.34`` ms, image over
    ``8·3.072/87.6 + 23.14 = 23.421`` ms, result back ``8·0.04/87.6 + 23.14 = 23.144`` ms,
    ``T = 314.90`` ms; ``E = (23.421 + 23.144)·24938.55e-6 = 1.1612`` J; cost
    ``= 314.90 + 10·1.1612 = 326.52``, reward ``-326.52`` (all-local costs 612.45).

    Early exits as in :class:`MECPartitionEnv` (sampled ``cost``, ``expected_cost``,
    ``gap = expected_cost / optimal_cost - 1``).

    ## Starting State

    Candidates start in the chain's long-run state distribution with availabilities
    ``~ U(availability)``; links as in MEC (per candidate; with ``options={"offset": k}``
    candidate ``j`` replays from ``k + 60 j``).

    ## Episode End

    No terminal state; truncated by ``max_episode_steps`` (registered: 100 frames).

    ## Info

    ``decision``, ``network`` (``b``, ``l``, ``collaborator``, ``d_h``: the selected link and
    effective factor used for the frame; ``b = 0``, ``l = d_h = inf`` without a
    collaborator; plus effective ``d_u`` with platform load), ``latency_ms``, ``energy_j``,
    ``cost``, ``expected_cost``, ``optimal_cost``/``gap`` (``oracle=True``),
    ``distribution``, ``collaborator`` (index or -1), ``no_collaborator``.

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | ``dnn``, ``input_shape`` | ``"resnet32"``, ``None`` | as in MEC |
    | ``network`` | ``"5g_trial"`` | D2D link spec of every candidate (``make_link_process(..., "d2d")``) |
    | ``trace_dir`` | ``None`` | directory relative trace paths are resolved against |
    | ``d_u`` | 4.0 | user device factor (``d_T``) |
    | ``d_energy`` | 1.0 | device energy factor |
    | ``eta`` | 10.0 | energy weight (ms/J) |
    | ``zeta`` | 0.5 | intent threshold, ``0 < ζ < 1`` |
    | ``num_candidates`` | 4 | candidate collaborators ``m`` |
    | ``churn`` | ``None`` | per-frame probabilities ``join, leave, overload, recover, disconnect, reconnect`` (defaults 0.05, 0.01, 0.02, 0.2, 0.02, 0.5) |
    | ``availability`` | (0.6, 1.0) | range of a joining candidate's availability (Co-L .. Co-H) |
    | ``collaborator_factor`` | ``None`` (= ``d_u``) | ``d_base`` of a fully available collaborator |
    | ``sticky_selection`` | ``False`` | keep the collaborator while it stays available |
    | ``early_exit``, ``platform_load``, ``action_mode``, ``oracle``, ``reward_scale`` | | as in MEC (load factors apply to user, collaborator) |

    Attributes: ``params`` (:class:`~envs.partition.params.PartitionParams`; by name
    ``d_u, d_energy, eta, zeta``), ``profile``, ``cost_model``, ``oracle``, ``problem``,
    ``scenario = "d2d"``, ``n_blocks``, ``num_platforms``, ``collaborators`` (the
    :class:`CollaboratorPool`), ``link_process``, ``load``.

    ## Version History

    * v1 (:class:`D2DPartitionEnvV1`): collaborators of their own speed, platform load,
      measured state, one-way latency, network mixtures (docs/model.md §10).
    * v0: initial version; the paper's MDP, kept bit-identical for a seed. The constructor
      takes keyword arguments only (as ``gym.make`` passes them) and holds the validated
      values in ``params`` (:class:`~envs.partition.params.PartitionParams`).
    """

    scenario = "d2d"
    platforms = D2D_PLATFORMS
    link_fields = D2D_LINK_FIELDS
    threshold_names = ("zeta",)

    def __init__(
        self,
        *,
        d_u: float = 4.0,
        eta: float = DEFAULT_ETA_D2D,
        zeta: float = DEFAULT_ZETA,
        num_candidates: int = 4,
        churn: Mapping[str, float] | None = None,
        availability: Sequence[float] = (0.6, 1.0),
        collaborator_factor: float | None = None,
        sticky_selection: bool = False,
        **common: Unpack[CommonKwargs],
    ) -> None:
        scenario = ScenarioArgs(
            slowdown=(check_factor("d_u", d_u),),
            overhead_weights=None,
            etas=(("eta", eta), ("eta2", 0.0)),
            thresholds=(zeta,),
        )
        self._setup_common(scenario, common)
        p = self.params
        d_u = p.slowdown[0]
        base = (
            d_u
            if collaborator_factor is None
            else check_factor("collaborator_factor", collaborator_factor)
        )
        self.collaborators = CollaboratorPool(
            num_candidates,
            self.link_process,
            churn,
            availability,
            base,
            check_bool("sticky_selection", sticky_selection),
            speedup=(self._v1_readings or {}).get("collaborator_speedup"),
        )
        if p.version >= 1:  # the pool validates the range; params record it as the pool reads it
            p = self.params = replace(p, collaborator_speedup=self.collaborators.speedup_range)
        self.sim = D2DSim(self.cost_model, self.collaborators, self.load, p)
        self._setup_spaces()

    __init__.__signature__ = with_common_arguments(__init__, PartitionEnv._build_common)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------ v1
#: v1 background load of (terminal, edge, cloud): a busy shared edge, a lightly loaded device.
V1_MEC_LOAD: dict[str, Any] = {
    "enabled": True,
    "mean_util": (0.2, 0.6, 0.4),
    "std_util": (0.1, 0.25, 0.15),
    "rho": 0.9,
    "max_util": 0.95,
}
#: v1 background load of (user device, collaborator).
V1_D2D_LOAD: dict[str, Any] = {
    "enabled": True,
    "mean_util": (0.2, 0.4),
    "std_util": (0.1, 0.2),
    "rho": 0.9,
    "max_util": 0.95,
}
V1_ETA2 = 50.0
#: regret at which a DP feature reads 0.5 (``r / (r + scale)``, see ``dp_feature_block``)
DP_FEATURE_SCALE = 0.1
V1_SPEEDUP = (0.5, 2.5)
V1_NETWORK = "mixture_train"
#: the v0 arguments whose defaults v1 changes (the v1 classes add the readings of §10)
V1_MEC_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {"network": V1_NETWORK, "eta2": V1_ETA2, "platform_load": V1_MEC_LOAD}
)
V1_D2D_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {"network": V1_NETWORK, "platform_load": V1_D2D_LOAD}
)


class MECPartitionEnvV1(MECPartitionEnv):
    """MEC partitioning, version 1: the right placement depends on the state (docs/model.md §10).

    Same scenario, cost model, action space and observation layout as
    :class:`MECPartitionEnv` (v0, the paper's MDP, unchanged); v1 reads four things
    differently so that no fixed placement is near-optimal and agents can be compared on
    networks they never saw (``benchmarks/hardness.py`` measures it: the best constant
    decision is 7.0–14.0% above the oracle on the four DNNs, v0's 0–2.3%).

    ## Description

    One step is one inference request (a frame): place every block on the terminal device
    (0), the edge (1) or the cloud (2). Unlike v0:

    * **Measured state** (``observe="measured"``): the agent decides on the links and load
      *measured for the previous frame*; it is charged on the current frame's true values,
      revealed afterwards in ``info["network"]``. The first frame of an episode is measured
      on itself. The oracle stays clairvoyant (``info["gap"]`` is a true lower-bound gap);
      :attr:`measured_problem` is what the agent sees, and ``make_policy("dp_measured",
      env)`` applies the exact DP to it.
    * **One-way latency** (``latency_reading="one_way"``): Table 2's "end-to-end latency"
      and a trace's ping are round trips; a transfer pays ``8G/B + RTT/2``.
    * **Platform load**: terminal, edge and cloud carry a background utilisation ``u`` (a
      mean-reverting AR(1), means 0.2 / 0.6 / 0.4, std 0.1 / 0.25 / 0.15, ρ = 0.9, at most
      0.95); the effective factor is ``d / (1 - u)``.
    * **A network per episode** (``network="mixture_train"``): each episode draws a
      randomised generator (terminal–edge uplink 0.5–150 Mbps, downlink 1–900 Mbps, RTT
      5–300 ms, own volatility and spikes) or a real trace (mmWave uplink + ping, Lumos5G
      downlink) of the training split; ``network="mixture_test"`` holds out other trace files
      (:mod:`envs.mixture`).

    ## Action Space

    As v0: ``Box(0, 1, (n,), float32)`` with intent thresholds ``ε, φ``, or
    ``MultiDiscrete([3] * n)`` with ``action_mode="discrete"``.

    ## Observation Space

    ``Box(0, 1, (9 + 6n,), float32)``, the layout of v0; entries 0–8 (links and effective
    factors) and the per-platform compute times are those of the **previous** frame with
    ``observe="measured"``:

    | index | entry | transform |
    |---|---|---|
    | 0-3 | measured ``B_TE^U, B_TE^D, B_EC^U, B_EC^D`` (Mbps) | ``B / (B + avg)``, avg = Table 2 average |
    | 4-5 | measured ``L_TE, L_EC`` (ms, round trip) | ``L / (L + avg)`` |
    | 6-8 | measured effective ``d_T, d_E, d_C`` (nominal / (1 - load)) | ``d / (d + 1)`` |
    | 9 .. 9+3n | ``T_cp`` of block i on T, E, C at the measured factors | ``c / (c + max_i T_cp_i(d=1))`` |
    | 9+3n .. 9+6n | device energy, block input and output sizes | as v0 |
    | 9+6n .. 9+9n | with ``dp_features=True``: regret of block i on T, E, C (block-major) | ``r / (r + 0.1)``, see :meth:`dp_feature_block` |
    | last ``18 L`` | with ``history`` of ``L`` decays: entries 0-8 against their running means, then their running mean deviations | :mod:`envs.partition.history` |

    ## Rewards

    ``reward = -reward_scale * cost``, ``cost = T + η1 E + η2 D`` as v0 with
    ``x(G, B, RTT) = 8G/B + RTT/2`` and default ``η2 = 50`` ms per overhead unit (v0: 10):
    full offloading carries a deployment charge of 100–150 ms, so it must pay for itself in
    latency and energy.

    Worked example (ResNet-32, Table 2 average links, loads at their means 0.2 / 0.6 / 0.4,
    so ``d = (5, 2.5, 0.4167)``, every block on the edge): compute ``2.5 · 67.085 =
    167.712`` ms, image up ``8·3.072/76.1 + 8.76/2 = 4.703`` ms, result down
    ``8·0.04/382.4 + 4.38 = 4.381`` ms, ``T = 176.796`` ms; ``E = 4.703·16422.47e-6 +
    4.381·13961.57e-6 = 0.1384`` J; ``D = 2``; cost ``= 176.796 + 10·0.1384 + 50·2 =
    278.18`` (the oracle keeps the last block on the edge and the rest in the cloud:
    217.83, gap 27.7%).

    ## Starting State

    A network component per episode (its own stationary law or a random trace offset), load
    in its stationary law; the first observation is of the first frame.

    ## Episode End

    No terminal state; truncated by ``max_episode_steps`` (registered: 100 frames).

    ## Info

    As v0; ``network`` holds the **true** values the frame was charged on (``l_*`` as round
    trips; the charge uses half of them).

    ## Arguments

    Those of :class:`MECPartitionEnv` (keyword only) with these v1 defaults, plus four:

    | argument | default | meaning |
    |---|---|---|
    | ``network`` | ``"mixture_train"`` | also ``"mixture_test"``, ``"mixture_synthetic"`` (no traces), ``{"type": "mixture", ...}`` or any v0 spec |
    | ``eta2`` | 50.0 | overhead weight (ms per unit) |
    | ``platform_load`` | :data:`V1_MEC_LOAD` | see above; ``False`` disables |
    | ``observe`` | ``"measured"`` | or ``"current"`` (the v0 reading) |
    | ``latency_reading`` | ``"one_way"`` | or ``"round_trip"`` (the v0 reading) |
    | ``dp_features`` | ``False`` | append the exact DP's per-block regrets on the observed frame (docs/model.md §13) |
    | ``history`` | ``()`` | decays ``λ`` of running averages of the measured links and factors over the episode, appended per decay (at most 4; docs/model.md §13) |
    | ``trace_dir`` | ``None`` | the data root of the mixture's traces (default ``$EDGERL_DATA`` or ``../shared/data``) |

    ## Version History

    * v1: measured state, one-way latency, platform load on, η2 = 50, network mixtures with
      a train/test split (docs/model.md §10). The ``history`` option came later (off by
      default: v1's observations and episodes are unchanged without it).
    * v0: the paper's MDP (:class:`MECPartitionEnv`).
    """

    def __init__(
        self,
        *,
        observe: str = "measured",
        latency_reading: str = "one_way",
        dp_features: bool = False,
        history: Sequence[float] = (),
        **kwargs: Any,
    ) -> None:
        self._v1_readings = _check_readings(observe, latency_reading, dp_features, history)
        super().__init__(**{**V1_MEC_DEFAULTS, **kwargs})

    __init__.__signature__ = v1_signature(MECPartitionEnv.__init__, V1_MEC_DEFAULTS, __init__)  # type: ignore[attr-defined]


class D2DPartitionEnvV1(D2DPartitionEnv):
    """D2D partitioning, version 1: collaborators of their own speed (docs/model.md §10).

    Same scenario, cost model, action space and observation layout as
    :class:`D2DPartitionEnv` (v0, unchanged); v1 makes the right split depend on the state
    (``benchmarks/hardness.py``: the best constant decision is 12.7–21.1% above the oracle on
    the four DNNs, v0's 0.1–3.1%).

    ## Description

    One step is one inference request: split the blocks between the user's phone (0) and
    the collaborator ``H_x`` the controller selects among up to ``num_candidates`` nearby
    phones (churn and selection as v0). Unlike v0:

    * **Collaborators have their own speed**: a candidate draws a speed-up ``s ~
      U(collaborator_speedup)`` over the user's phone when it joins, so ``d_H = (d_u / s) /
      availability`` (the paper's Co-H, a faster phone, has ``s ≈ 1.9``); the selection
      score uses ``s_i = 1/d_Hi`` as v0.
    * **Platform load** on the user's phone and on the collaborator (AR(1) utilisation,
      means 0.2 / 0.4, std 0.1 / 0.2, ρ = 0.9, at most 0.95; factor ``1 / (1 - u)``).
    * **Measured state**, **one-way latency** and **a network per candidate and episode**
      (``network="mixture_train"``) as in :class:`MECPartitionEnvV1`. Candidate status,
      availability and the selection are current; every candidate's link and the load are
      observed as measured in the previous frame (a candidate that just joined is measured
      when it joins).

    ## Action Space

    As v0: ``Box(0, 1, (n,), float32)`` with threshold ``ζ``, or ``MultiDiscrete([2] * n)``.

    ## Observation Space

    ``Box(0, 1, (5 + 5n + 6m,), float32)``, the layout of v0 (see :class:`D2DPartitionEnv`);
    the selected link (0-1), the effective factors (2-3), the per-platform compute times and
    every candidate's ``B``, ``L`` are the previous frame's measurements. With ``history`` of
    ``L`` decays, ``2L (4 + 2m)`` entries follow: those of the selected link, the factors and
    every candidate's ``B``, ``L`` against their running means over the episode, then their
    running mean deviations (:mod:`envs.partition.history`).

    ## Rewards

    ``reward = -reward_scale * cost``, ``cost = T + η E`` as v0 with a transfer paying
    ``8G/B + RTT/2``. Worked example (ResNet-32, Table 2 average D2D link, a fully available
    collaborator with speed-up 2, so ``d_H = 2``, no load, every block on it): compute
    ``2·67.085 = 134.17`` ms, image over ``8·3.072/87.6 + 23.14/2 = 11.851`` ms, result back
    ``8·0.04/87.6 + 11.57 = 11.574`` ms, ``T = 157.594`` ms; ``E = 23.425·24938.55e-6 =
    0.5842`` J; cost ``= 157.594 + 10·0.5842 = 163.44`` (all local: 612.45).

    ## Starting State

    As v0, with a speed-up per candidate and a network component per candidate link.

    ## Episode End

    No terminal state; truncated by ``max_episode_steps`` (registered: 100 frames).

    ## Info

    As v0; ``network`` holds the true values the frame was charged on.

    ## Arguments

    Those of :class:`D2DPartitionEnv` (keyword only) with these v1 defaults, plus five:

    | argument | default | meaning |
    |---|---|---|
    | ``network`` | ``"mixture_train"`` | as in :class:`MECPartitionEnvV1` |
    | ``platform_load`` | :data:`V1_D2D_LOAD` | ``False`` disables |
    | ``collaborator_speedup`` | (0.5, 2.5) | range of a candidate's speed-up over the user's phone; ``None``: v0 (every candidate ``collaborator_factor``) |
    | ``observe`` | ``"measured"`` | or ``"current"`` |
    | ``latency_reading`` | ``"one_way"`` | or ``"round_trip"`` |
    | ``dp_features`` | ``False`` | append ``n · 2`` DP regret features, as in :class:`MECPartitionEnvV1` |
    | ``history`` | ``()`` | decays of the observation history, as in :class:`MECPartitionEnvV1` |

    ## Version History

    * v1: collaborators of their own speed, platform load on, measured state, one-way
      latency, network mixtures with a train/test split (docs/model.md §10). The
      ``history`` option came later (off by default, as in :class:`MECPartitionEnvV1`).
    * v0: the paper's MDP (:class:`D2DPartitionEnv`).
    """

    def __init__(
        self,
        *,
        observe: str = "measured",
        latency_reading: str = "one_way",
        collaborator_speedup: Sequence[float] | None = V1_SPEEDUP,
        dp_features: bool = False,
        history: Sequence[float] = (),
        **kwargs: Any,
    ) -> None:
        readings = _check_readings(observe, latency_reading, dp_features, history)
        self._v1_readings = {**readings, "collaborator_speedup": collaborator_speedup}
        super().__init__(**{**V1_D2D_DEFAULTS, **kwargs})

    __init__.__signature__ = v1_signature(D2DPartitionEnv.__init__, V1_D2D_DEFAULTS, __init__)  # type: ignore[attr-defined]
