"""Property-based fuzzing of every input the envs and readers take (about one minute).

Each generated input must either work — observations inside the observation space, finite
rewards and costs, for a few steps; a parsed trace with finite, bounded, increasing values —
or raise ``ValueError``/``TypeError`` whose message names the argument (for files: the file,
and the line where there is one). Covered: the constructor arguments, actions and reset
options of ``EdgeRL/MECPartition-v0``, ``EdgeRL/D2DPartition-v0`` and
``EdgeRL/EdgeScheduling-v0``, the constructors of the v1 partition envs (their own arguments
and the network mixture spec), the network trace readers (:mod:`envs.traces`) and the arrival
trace readers (:mod:`envs.scheduling.arrivals`). Inputs mix plausible values with hostile
ones (NaN, ±inf, 1e308, huge ints, complex, strings, wrong containers).

Examples are derandomised (the same every run) so a failure is reproducible in CI; hypothesis
prints the shrunk example. ``benchmarks/probe_inputs.py`` counts outcomes over a fixed probe
set instead of asserting.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest
from conftest import ARRIVALS_DIR, AZURE_CODE
from gymnasium.envs.registration import load_env_creator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import envs  # noqa: F401  (registers the ids)
from envs.limits import MAX_BANDWIDTH_MBPS, MAX_LATENCY_MS, MAX_TRACE_TIME_S
from envs.scheduling.arrivals import read_azure_trace, read_plain_trace
from envs.traces import read_csv_trace, read_lumos5g, read_mmwave_list

MEC_ID, D2D_ID, SCHED_ID = (
    "EdgeRL/MECPartition-v0",
    "EdgeRL/D2DPartition-v0",
    "EdgeRL/EdgeScheduling-v0",
)
AZURE = ARRIVALS_DIR

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _few(n: int) -> settings:
    return settings(FUZZ, max_examples=n)


# ------------------------------------------------------------------------------ values

HUGE = [1e308, -1e308, 1e300, 1e12, 1e-308, 5e-324, 2.0**63, -0.0, 10**20, 2**64]
nasty = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),  # NaN and ±inf included
    st.sampled_from(HUGE),
    st.complex_numbers(max_magnitude=1e3),
    st.text(max_size=4),
    st.lists(st.floats(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)

# One branch, not flattened into the caller's one_of (hypothesis flattens nested one_of, which
# would make hostile values 9 branches out of 10).
hostile = nasty.map(lambda v: v)
# Finite values a range check may let through, which then overflow (1e308 * 10 = inf).
extreme = st.sampled_from([1e308, 1e300, 1e200, 1e30, 1e-300, 5e-324, 2.0**63, 10**20])


def real(lo: float, hi: float) -> st.SearchStrategy[Any]:
    """Plausible numbers in [lo, hi] plus hostile values."""
    return st.one_of(st.floats(lo, hi), st.integers(math.ceil(lo), int(hi)), extreme, hostile)


def count(lo: int, hi: int) -> st.SearchStrategy[Any]:
    return st.one_of(st.integers(lo, hi), hostile)


def names_in(value: Any, depth: int = 0) -> set[str]:
    """String keys inside a (nested) mapping argument: an error may name those instead.

    Only keys of 4+ characters: generated junk keys (up to 3) must not match by accident.
    """
    out: set[str] = set()
    if isinstance(value, Mapping) and depth < 4:
        for k, v in value.items():
            if isinstance(k, str) and len(k) >= 4:
                out.add(k)
            out |= names_in(v, depth + 1)
    elif isinstance(value, list | tuple) and depth < 4:
        for v in value:
            out |= names_in(v, depth + 1)
    return out


# An outcome is (kind, detail): kind "works" or "clear" (ValueError/TypeError naming the
# argument) pass; "unhelpful" (another exception, or a message naming no argument) and
# "silent" (accepted, but non-finite or out-of-space results) fail.
Outcome = tuple[str, str]
PASSING = ("works", "clear")


class SilentlyWrong(AssertionError):
    """An accepted input produced a non-finite or out-of-space result."""


def judge_error(exc: BaseException, kwargs: Mapping[str, Any], extra: set[str]) -> Outcome:
    """``clear`` if ``exc`` is a ValueError/TypeError whose message names an argument."""
    if not isinstance(exc, ValueError | TypeError):
        return "unhelpful", f"{type(exc).__name__}: {exc}"
    msg = str(exc)
    names = set(kwargs) | extra
    for v in kwargs.values():
        names |= names_in(v)
    if not any(n in msg for n in names):
        return "unhelpful", f"{type(exc).__name__} names none of {sorted(names)}: {msg!r}"
    return "clear", ""


def judge_run(run: Callable[[], None]) -> Outcome:
    try:
        run()
    except SilentlyWrong as exc:
        return "silent", str(exc)
    except Exception as exc:  # accepted, then crashed
        return "unhelpful", f"accepted, then {type(exc).__name__}: {exc}"
    return "works", ""


def require(ok: Any, msg: str) -> None:
    if not ok:
        raise SilentlyWrong(msg)


def assert_passes(outcome: Outcome, what: Any) -> None:
    kind, detail = outcome
    assert kind in PASSING, f"{kind}: {detail} (input {what!r})"


def make(env_id: str, kwargs: Mapping[str, Any]) -> gymnasium.Env:
    """The registered entry point called with the registered kwargs updated by ``kwargs``.

    Not ``gymnasium.make``: its own handling of e.g. ``render_mode`` is not under test.
    """
    spec = gymnasium.spec(env_id)
    creator = load_env_creator(spec.entry_point)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return creator(**{**spec.kwargs, **kwargs})


def check_step(env: gymnasium.Env, obs: Any, reward: float, info: Mapping[str, Any]) -> None:
    """Outputs of an accepted input: in the space, finite, costs consistent."""
    require(np.all(np.isfinite(obs)), "non-finite observation")
    require(env.observation_space.contains(obs), "observation outside the observation space")
    require(math.isfinite(reward), f"non-finite reward {reward}")
    if "cost" in info:  # partition envs: T, E, D and their weights are all >= 0
        cost = info["cost"]
        require(math.isfinite(cost) and cost >= 0, f"cost {cost} (must be finite and >= 0)")
        if "gap" in info:
            gap, exp, opt = info["gap"], info["expected_cost"], info["optimal_cost"]
            require(math.isfinite(gap) and gap >= -1e-9, f"gap {gap}")
            require(exp >= opt - 1e-9 * abs(opt), f"expected cost {exp} below optimum {opt}")


def run_a_few_steps(env: gymnasium.Env, steps: int = 3) -> None:
    env.action_space.seed(0)
    obs, info = env.reset(seed=0)
    check_step(env, obs, 0.0, {})
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        check_step(env, obs, reward, info)
        if terminated or truncated:
            obs, info = env.reset()


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool | np.bool_)


def _nonneg_weights(v: Any) -> bool:
    try:
        w = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return bool(np.all(np.isfinite(w)) and np.all(w >= 0))


# What an accepted argument must have been: accepting anything else is silently wrong
# (``platform_load={"enabled": "false"}`` enabling the load, negative overhead weights).
ACCEPTED_ONLY_IF: dict[str, Callable[[Any], bool]] = {
    "oracle": _is_bool,
    "sticky_selection": _is_bool,
    "platform_load": lambda v: (
        v is None or _is_bool(v) or (isinstance(v, Mapping) and _is_bool(v.get("enabled", True)))
    ),
    "overhead_weights": _nonneg_weights,
}


def probe_constructor(
    env_id: str,
    base: Mapping[str, Any],
    kwargs: Mapping[str, Any],
    extra: frozenset[str] = frozenset(),
) -> Outcome:
    full = {**base, **kwargs}
    try:
        env = make(env_id, full)
    except Exception as exc:  # the property is about which exceptions, and their messages
        return judge_error(exc, full, set(extra))
    for field, ok in ACCEPTED_ONLY_IF.items():
        if field in kwargs and not ok(kwargs[field]):
            return "silent", f"accepted {field}={kwargs[field]!r}"
    return judge_run(lambda: run_a_few_steps(env))


# ------------------------------------------------------------------ constructor arguments

SMALL_SCHED = {"capacities": 50, "buffer_size": 32, "window_slots": 20, "num_users": 100}
PARTITION_BASE = {"dnn": "lenet"}  # a small DNN keeps the oracle fast
ARRIVALS = [
    "bernoulli",
    {"kind": "bernoulli"},
    {"kind": "trace"},
    {"kind": "poisson"},
    "/nonexistent/arrivals.csv",
    {"kind": "trace", "path": "/nonexistent.csv", "format": "plain"},
]
if AZURE_CODE.exists():
    ARRIVALS += [str(AZURE_CODE)]
azure_costs = st.fixed_dictionaries(
    {"kind": st.just("trace"), "path": st.just(str(AZURE_CODE))},
    optional={"prefill_ms_per_token": real(0, 10), "decode_ms_per_token": real(0, 100)},
)
SCHED_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "num_servers": count(1, 6),
    "capacities": st.one_of(count(-1, 400), st.lists(count(-1, 400), min_size=1, max_size=6)),
    "load": real(0, 2),
    "home_skew": st.one_of(real(-1, 5), st.lists(real(0, 10), min_size=1, max_size=6)),
    "num_users": count(0, 3000),
    "window_slots": count(0, 60),
    "slot_ms": real(0, 100),
    "buffer_size": count(0, 80),
    "queue_limit": st.one_of(st.none(), count(0, 400)),
    "eta": real(-0.1, 0.2),
    "action_mode": st.one_of(st.sampled_from(["shares", "assign", "both"]), hostile),
    "arrivals": st.one_of(st.sampled_from(ARRIVALS), hostile)
    if not AZURE_CODE.exists()
    else st.one_of(st.sampled_from(ARRIVALS), azure_costs, hostile),
    "service_time": st.one_of(st.sampled_from(["geometric", "constant", "uniform", "x"]), hostile),
    "mean_service_slots": real(0, 40),
    "rpc_latency_ms": real(-1, 100),
    "lambda_wait": real(-1, 2),
    "lambda_drop": real(-1, 2),
    "render_mode": st.one_of(st.sampled_from([None, "ansi", "human"]), hostile),
}


def tiny_profile() -> dict[str, Any]:
    return {
        "name": "t",
        "input_shape": [3, 4],
        "input_kb": 0.012,
        "blocks": [
            {
                "name": "b0",
                "in_kb": 0.012,
                "out_kb": 0.04,
                "layers": [{"kind": "conv", "in_elems": 12, "out_elems": 40}],
            },
            {
                "name": "b1",
                "in_kb": 0.04,
                "out_kb": 0.004,
                "layers": [{"kind": "fc", "in_elems": 10, "out_elems": 1}],
            },
        ],
    }


@st.composite
def profiles(draw: st.DrawFn) -> Any:
    """A profile dict with one field replaced by a generated value."""
    d = tiny_profile()
    where = draw(
        st.sampled_from(
            [
                ("input_kb",),
                ("input_shape",),
                ("name",),
                ("blocks", 0, "in_kb"),
                ("blocks", 1, "out_kb"),
                ("blocks", 0, "layers", 0, "in_elems"),
                ("blocks", 1, "layers", 0, "out_elems"),
                ("blocks", 0, "layers", 0, "kind"),
                ("blocks",),
            ]
        )
    )
    node = d
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = draw(st.one_of(real(0, 1e4), st.sampled_from(["pool", "gelu"]), hostile))
    return d


dnn_values = st.one_of(st.sampled_from(["lenet", "alexnet", "nope"]), profiles(), hostile)
shape_values = st.one_of(
    st.none(), st.lists(count(-1, 40), max_size=4).map(tuple), st.lists(count(0, 40)), hostile
)
probability_lists = st.one_of(st.lists(real(-0.5, 1.5), max_size=20), hostile)


def network_values(fields: tuple[str, ...]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(["5g_trial", "constant", "nope"]),
        st.dictionaries(st.sampled_from(fields), real(-1, 1e3), min_size=1, max_size=3),
        st.dictionaries(st.sampled_from(fields), real(-1, 1e3), max_size=2).map(
            lambda d: {"type": "constant", **d}
        ),
        hostile,
    )


platform_load_values = st.one_of(
    st.booleans(),
    st.fixed_dictionaries(
        {},
        optional={
            "enabled": st.one_of(st.booleans(), st.sampled_from(["false", "true", 0, 1])),
            "mean_util": real(-0.5, 1.5),
            "max_util": real(-0.5, 1.5),
            "rho": real(-0.5, 1.5),
            "std_util": real(-0.5, 1.5),
        },
    ),
    hostile,
)
early_exit_values = st.one_of(
    st.none(),
    probability_lists,
    st.fixed_dictionaries({"probs": probability_lists}, optional={"num_classes": count(0, 20)}),
)
PARTITION_COMMON: dict[str, st.SearchStrategy[Any]] = {
    "dnn": dnn_values,
    "input_shape": shape_values,
    "d_energy": real(-1, 10),
    "early_exit": early_exit_values,
    "platform_load": platform_load_values,
    "action_mode": st.one_of(st.sampled_from(["continuous", "discrete", "x"]), hostile),
    "oracle": st.one_of(st.booleans(), hostile),
    "reward_scale": real(-1, 10),
    "trace_dir": st.one_of(st.none(), st.text(max_size=5), hostile),
}
MEC_FIELDS = {
    **PARTITION_COMMON,
    "network": network_values(("b_te_up", "b_te_down", "b_ec_up", "b_ec_down", "l_te", "l_ec")),
    "d_t": real(-1, 10),
    "d_e": real(-1, 10),
    "d_c": real(-1, 10),
    "eta1": real(-1, 100),
    "eta2": real(-1, 100),
    "overhead_weights": st.one_of(st.lists(real(-5, 5), max_size=4), hostile),
    "epsilon": real(-0.5, 1.5),
    "phi": real(-0.5, 1.5),
}
D2D_FIELDS = {
    **PARTITION_COMMON,
    "network": network_values(("b", "l")),
    "d_u": real(-1, 10),
    "eta": real(-1, 100),
    "zeta": real(-0.5, 1.5),
    "num_candidates": count(-1, 8),
    "churn": st.one_of(
        st.none(),
        st.dictionaries(
            st.sampled_from(["join", "leave", "overload", "recover", "disconnect", "x"]),
            real(-0.5, 1.5),
            max_size=3,
        ),
        hostile,
    ),
    "availability": st.one_of(st.lists(real(-0.5, 1.5), max_size=3).map(tuple), hostile),
    "collaborator_factor": st.one_of(st.none(), real(-1, 10)),
    "sticky_selection": st.one_of(st.booleans(), hostile),
}


def some_of(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """One or two changed arguments (mostly), or any subset: keeps "works" outcomes common
    enough to test the outputs, while every argument still meets hostile values."""
    one = st.sampled_from(sorted(fields)).flatmap(lambda k: fields[k].map(lambda v: {k: v}))
    return st.one_of(
        one,
        st.tuples(one, one).map(lambda t: {**t[0], **t[1]}),
        st.fixed_dictionaries({}, optional=fields),
    )


@_few(2500)
@given(kwargs=some_of(SCHED_FIELDS))
def test_scheduling_constructor(kwargs: dict[str, Any]) -> None:
    assert_passes(probe_constructor(SCHED_ID, SMALL_SCHED, kwargs), kwargs)


@_few(2000)
@given(kwargs=some_of(MEC_FIELDS))
def test_mec_constructor(kwargs: dict[str, Any]) -> None:
    assert_passes(probe_constructor(MEC_ID, PARTITION_BASE, kwargs), kwargs)


@_few(2000)
@given(kwargs=some_of(D2D_FIELDS))
def test_d2d_constructor(kwargs: dict[str, Any]) -> None:
    assert_passes(probe_constructor(D2D_ID, PARTITION_BASE, kwargs), kwargs)


# v1 (SPEC §10): its own arguments and the mixture network spec, on the synthetic mixture
# (no trace files needed)
mixture_specs = st.one_of(
    st.sampled_from(["mixture_synthetic", "mixture_nope"]),
    st.fixed_dictionaries(
        {"type": st.just("mixture")},
        optional={
            "split": st.one_of(st.none(), st.sampled_from(["train", "val"]), hostile),
            "components": st.one_of(
                st.dictionaries(
                    st.sampled_from(["generator", "5g_trial", "lte"]), real(-1, 5), max_size=2
                ),
                hostile,
            ),
            "frame_s": real(-1, 5),
            "ranges": st.one_of(
                st.dictionaries(
                    st.sampled_from(["b_te_up", "l_te", "b", "l"]),
                    st.lists(real(-1, 500), max_size=3),
                ),
                hostile,
            ),
        },
    ).map(lambda d: {**d, "components": d.get("components", {"generator": 1.0})}),
)
V1_FIELDS = {
    "network": mixture_specs,
    "observe": st.one_of(st.sampled_from(["measured", "current", "future"]), hostile),
    "latency_reading": st.one_of(st.sampled_from(["one_way", "round_trip", "x"]), hostile),
}
V1_BASE = {"dnn": "lenet", "network": "mixture_synthetic"}


@_few(300)
@given(kwargs=some_of({**MEC_FIELDS, **V1_FIELDS}))
def test_mec_v1_constructor(kwargs: dict[str, Any]) -> None:
    assert_passes(probe_constructor("EdgeRL/MECPartition-v1", V1_BASE, kwargs), kwargs)


V1_D2D_FIELDS = {
    **V1_FIELDS,
    "collaborator_speedup": st.one_of(st.none(), st.lists(real(-1, 30), max_size=3), hostile),
}


@_few(300)
@given(kwargs=some_of({**D2D_FIELDS, **V1_D2D_FIELDS}))
def test_d2d_v1_constructor(kwargs: dict[str, Any]) -> None:
    assert_passes(probe_constructor("EdgeRL/D2DPartition-v1", V1_BASE, kwargs), kwargs)


# ------------------------------------------------------------------ actions, reset options

ENVS: dict[str, tuple[str, dict[str, Any]]] = {
    "mec-continuous": (MEC_ID, {"dnn": "lenet"}),
    "mec-discrete": (MEC_ID, {"dnn": "lenet", "action_mode": "discrete"}),
    "d2d-continuous": (D2D_ID, {"dnn": "lenet"}),
    "d2d-discrete": (D2D_ID, {"dnn": "lenet", "action_mode": "discrete"}),
    "sched-shares": (SCHED_ID, SMALL_SCHED),
    "sched-assign": (SCHED_ID, {**SMALL_SCHED, "action_mode": "assign"}),
}
_ENV_CACHE: dict[str, gymnasium.Env] = {}


def get_env(name: str) -> gymnasium.Env:
    if name not in _ENV_CACHE:
        env_id, kw = ENVS[name]
        _ENV_CACHE[name] = make(env_id, kw)
    return _ENV_CACHE[name]


def action_shape(env: gymnasium.Env) -> tuple[int, ...]:
    return env.action_space.shape or ()


@st.composite
def actions(draw: st.DrawFn, shape: tuple[int, ...]) -> Any:
    """Arrays of the right and wrong shapes and dtypes, and plain hostile values."""
    n = int(np.prod(shape)) if shape else 1
    kind = draw(st.sampled_from(["float", "int", "complex", "str", "bool", "object", "hostile"]))
    shp = draw(
        st.sampled_from([shape, (), (n + 1,), (1, *shape), (2, n), (1,)]) if shape else st.just(())
    )
    size = int(np.prod(shp)) if shp else 1
    if kind == "hostile":
        return draw(nasty)
    if kind == "float":
        vals = draw(
            st.lists(
                st.floats(-2, 3) | st.sampled_from(HUGE) | st.floats(), min_size=size, max_size=size
            )
        )
        dtype = draw(st.sampled_from([np.float32, np.float64]))
        with np.errstate(over="ignore"):  # 1e308 as float32 is inf: one more hostile value
            return np.asarray(vals, dtype=dtype).reshape(shp)
    if kind == "int":
        vals = draw(st.lists(st.integers(-3, 40), min_size=size, max_size=size))
        dtype = draw(st.sampled_from([np.int64, np.int8, np.uint8]))
        if dtype is np.uint8:
            vals = [abs(v) for v in vals]
        return np.asarray(vals, dtype=dtype).reshape(shp)
    if kind == "complex":
        return (np.zeros(shp) + 1j).astype(complex)
    if kind == "str":
        return np.full(shp, draw(st.sampled_from(["0", "1", "a"])))
    if kind == "bool":
        return np.ones(shp, dtype=bool)
    return np.full(shp, None, dtype=object)


def in_space(space: gymnasium.Space, action: Any) -> bool:
    try:
        return bool(space.contains(action))
    except Exception:
        return False


def probe_action(name: str, action: Any) -> Outcome:
    env = get_env(name)
    env.reset(seed=0)
    try:
        obs, reward, _, _, info = env.step(action)
    except Exception as exc:
        return judge_error(exc, {"action": action}, set())

    def accepted() -> None:
        a = np.asarray(action)
        # Accepted: a real, finite action (integral floats count for discrete spaces).
        require(a.dtype.kind in "iufb", f"accepted a {a.dtype} action")
        require(np.all(np.isfinite(a.astype(np.float64))), "accepted a non-finite action")
        if name.startswith("sched"):
            require(in_space(env.action_space, action), "accepted an action outside the space")
        check_step(env, obs, reward, info)

    return judge_run(accepted)


@pytest.mark.parametrize("name", list(ENVS))
def test_actions(name: str) -> None:
    @_few(1200)
    @given(action=actions(action_shape(get_env(name))))
    def check(action: Any) -> None:
        assert_passes(probe_action(name, action), action)

    check()


@st.composite
def reset_calls(draw: st.DrawFn) -> tuple[Any, Any]:
    keys = st.sampled_from(["offset", "task_set_seed", "seed", "x"])
    options = draw(
        st.one_of(
            st.none(),
            st.dictionaries(keys, st.one_of(count(-5, 10**6), st.lists(count(-5, 50))), max_size=2),
            hostile,
        )
    )
    seed = draw(st.one_of(st.none(), count(-5, 2**64), hostile))
    return seed, options


def probe_reset(name: str, seed: Any, options: Any) -> Outcome:
    env = get_env(name)
    try:
        obs, _ = env.reset(seed=seed, options=options)
    except Exception as exc:
        return judge_error(exc, {"seed": seed, "options": options}, set())

    def accepted() -> None:
        check_step(env, obs, 0.0, {})
        obs2, reward, _, _, info2 = env.step(env.action_space.sample())
        check_step(env, obs2, reward, info2)

    return judge_run(accepted)


RESET_ENVS = ("mec-continuous", "d2d-discrete", "sched-shares")


@pytest.mark.parametrize("name", RESET_ENVS)
def test_reset_options(name: str) -> None:
    @_few(1200)
    @given(call=reset_calls())
    def check(call: tuple[Any, Any]) -> None:
        assert_passes(probe_reset(name, *call), call)

    check()


# ------------------------------------------------------------------------ file readers

number_tokens = st.one_of(
    st.integers(-5, 500).map(str),
    st.floats(-10, 1e4, allow_nan=False).map(repr),
    st.sampled_from(
        ["1e12", "1e308", "-1e308", "nan", "inf", "-0", "1e-320", "99999999999999999999"]
    ),
)
tokens = st.one_of(number_tokens, st.sampled_from(["", "x", " ", "1,2", "\x00", "é", "#"]))
_counter = itertools.count()


def write(tmp: Path, name: str, text: str, bom: bool, crlf: bool) -> Path:
    # A fresh name per example: parsed arrival traces are cached per file.
    path = tmp / f"{next(_counter)}_{name}"
    if crlf:
        text = text.replace("\n", "\r\n")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8", "surrogatepass"))
    return path


def judge_reader_error(exc: BaseException, path: Path) -> Outcome:
    if not isinstance(exc, ValueError | TypeError):
        return "unhelpful", f"{type(exc).__name__}: {exc}"
    msg = str(exc)
    if path.name not in msg:
        return "unhelpful", f"message does not name the file: {msg!r}"
    if "line " not in msg and "MAX_ALLOC_BYTES" not in msg:
        return "unhelpful", f"message names no line: {msg!r}"
    return "clear", ""


def check_trace(tr: Any) -> None:
    top = MAX_BANDWIDTH_MBPS if tr.unit == "Mbps" else MAX_LATENCY_MS
    require(np.all(np.diff(tr.times_s) > 0), "times not increasing")
    require(np.all(np.abs(tr.times_s) <= MAX_TRACE_TIME_S), "times beyond the bound")
    require(np.all(tr.values >= 0) and np.all(tr.values <= top), "values outside [0, bound]")
    require(math.isfinite(tr.period_s) and tr.period_s > 0, "bad period")


def probe_reader(read: Callable[[Path], Any], path: Path, check: Callable[[Any], None]) -> Outcome:
    try:
        out = read(path)
    except Exception as exc:
        return judge_reader_error(exc, path)
    return judge_run(lambda: check(out))


def lumos_text(rows: list[list[str]], sep: str) -> str:
    return "".join(sep.join(r) + "\n" for r in rows)


def csv_text(header: str, rows: list[list[str]] | list[tuple[str, str, str]]) -> str:
    return header + "\n" + "".join(",".join(r) + "\n" for r in rows)


def check_arrival_trace(trace: Any, path: Path) -> None:
    require(np.all(np.diff(trace.time_s) >= 0) and trace.time_s[0] == 0, "times not sorted")
    require(np.all(np.isfinite(trace.time_s)), "non-finite times")
    # The env built on it either works or names the file/field.
    kind, detail = probe_constructor(
        SCHED_ID, SMALL_SCHED, {"arrivals": str(path), "num_servers": 3}, frozenset({path.name})
    )
    if kind == "silent":
        raise SilentlyWrong(detail)
    if kind == "unhelpful":
        raise RuntimeError(detail)


plain_number = st.one_of(
    st.integers(0, 500).map(str),
    st.floats(0, 1e4).map(repr),
    st.sampled_from(["1e12", "1e308", "1e-320", "0"]),
)


def sorted_rows(ncols: int) -> st.SearchStrategy[list[list[str]]]:
    """Well-formed-looking rows (numbers, sorted by the first column)."""
    row = st.lists(plain_number, min_size=ncols, max_size=ncols)
    return st.lists(row, min_size=1, max_size=6).map(
        lambda rows: sorted(rows, key=lambda r: float(r[0]))
    )


junk_rows = st.lists(st.lists(tokens, min_size=0, max_size=4), min_size=0, max_size=6)
lines = st.one_of(junk_rows, sorted_rows(2), sorted_rows(4))
flags = st.tuples(st.booleans(), st.booleans())


@_few(1500)
@given(rows=lines, sep=st.sampled_from([" ", "\t", ","]), fl=flags)
def test_lumos5g_reader(
    tmp_path: Path, rows: list[list[str]], sep: str, fl: tuple[bool, bool]
) -> None:
    path = write(tmp_path, "lumos", lumos_text(rows, sep), *fl)
    assert_passes(probe_reader(read_lumos5g, path, check_trace), path.read_bytes())


@st.composite
def list_files(draw: st.DrawFn) -> str:
    out = []
    for run in range(draw(st.integers(0, 3))):
        out.append("#####")
        out.append(draw(st.sampled_from([f"Run {run + 1}", "Run x", f"Run {run}"])))
        for _ in range(draw(st.integers(0, 3))):
            out.append(",".join(draw(st.lists(tokens, min_size=1, max_size=5))))
    return "\n".join(out) + "\n"


def read_list_run(run: int | None) -> Callable[[Path], Any]:
    def read(path: Path) -> Any:
        try:
            return read_mmwave_list(path, run, unit="Mbps")
        except ValueError as exc:
            if "run must be one of" in str(exc) and path.name in str(exc):
                return None  # an argument error that names the file and its runs
            raise

    return read


def check_maybe_trace(tr: Any) -> None:
    if tr is not None:
        check_trace(tr)


@_few(1500)
@given(text=list_files(), run=st.one_of(st.none(), st.integers(0, 3)), fl=flags)
def test_mmwave_reader(tmp_path: Path, text: str, run: int | None, fl: tuple[bool, bool]) -> None:
    path = write(tmp_path, "x.list", text, *fl)
    assert_passes(probe_reader(read_list_run(run), path, check_maybe_trace), text)


CSV_HEADERS = [
    "time_s,uplink_mbps,downlink_mbps,rtt_ms",
    "rtt_ms,time_s,uplink_mbps,downlink_mbps",
    "a,b",
]


def check_csv(out: dict[str, Any]) -> None:
    for tr in out.values():
        check_trace(tr)


@_few(1500)
@given(rows=lines, fl=flags, header=st.sampled_from(CSV_HEADERS))
def test_csv_trace_reader(
    tmp_path: Path, rows: list[list[str]], fl: tuple[bool, bool], header: str
) -> None:
    path = write(tmp_path, "t.csv", csv_text(header, rows), *fl)
    assert_passes(probe_reader(read_csv_trace, path, check_csv), path.read_bytes())


stamp = st.one_of(
    st.sampled_from(
        [
            "2023-11-16 18:17:03.9799600",
            "2023-11-16 18:17:04.5",
            "2023-11-17 00:00:00",
            "9999-12-31 00:00:00",
            "1500-01-01 00:00:00",
            "yesterday",
            "",
        ]
    ),
    number_tokens,
)
good_plain_rows = st.lists(
    st.tuples(plain_number, st.integers(0, 3).map(str), st.integers(1, 30).map(str)),
    min_size=1,
    max_size=6,
).map(lambda rows: sorted(rows, key=lambda r: float(r[0])))
good_azure_rows = st.lists(
    st.tuples(
        st.floats(0, 59.9).map(lambda x: f"2023-11-16 18:17:{x:09.6f}"),
        st.integers(0, 5000).map(str),
        st.integers(0, 500).map(str),
    ),
    min_size=1,
    max_size=6,
)
arrival_rows = st.one_of(
    st.lists(st.tuples(st.one_of(stamp, tokens), tokens, tokens), max_size=6),
    good_plain_rows,
    good_azure_rows,
)
ARRIVAL_HEADERS = {
    "plain": "time_s,home,service",
    "azure": "TIMESTAMP,ContextTokens,GeneratedTokens",
}


def probe_arrival_file(path: Path, kind: str) -> Outcome:
    reader = read_plain_trace if kind == "plain" else read_azure_trace
    return probe_reader(reader, path, lambda trace: check_arrival_trace(trace, path))


@_few(1500)
@given(kind=st.sampled_from(["plain", "azure"]), rows=arrival_rows, fl=flags)
def test_arrival_readers(
    tmp_path: Path, kind: str, rows: list[tuple[str, str, str]], fl: tuple[bool, bool]
) -> None:
    path = write(tmp_path, f"{kind}.csv", csv_text(ARRIVAL_HEADERS[kind], rows), *fl)
    assert_passes(probe_arrival_file(path, kind), path.read_bytes())
