"""Multi-edge request scheduling environment (DRLoS MDP; docs/model.md §8, Huang et al. Sec. 3.3, 4.5)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any, ClassVar, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.limits import MAX_COUNT, MAX_DURATION_MS, MAX_WEIGHT, check_alloc
from envs.scheduling.arrivals import (
    ArrivalProcess,
    AzureTraceArrivals,
    CsvTraceArrivals,
    PlainTraceArrivals,
    home_probabilities,
    make_arrivals,
)
from envs.scheduling.objective import OBJECTIVES, step_latency_ms, step_reward
from envs.scheduling.servers import (
    ServerPool,
    cap_assignments,
    fill_shares,
    share_fractions,
    share_offers,
)
from envs.scheduling.tasks import MAX_MEAN_SERVICE_SLOTS, TaskSet
from envs.scheduling.timeline import Timeline
from envs.signatures import v1_signature

ENV_ID = "EdgeRL/EdgeScheduling-v0"
ENTRY_POINT = "envs.scheduling.env:EdgeSchedulingEnv"
# Default episodes last ~150-250 slots; 1000 leaves room for slow (all-low-share) policies at
# ρ = 1.3 and truncates policies that never schedule ("assign" mode, all keep-waiting).
RECOMMENDED_MAX_EPISODE_STEPS = 1000
ACTION_MODES: tuple[str, ...] = ("shares", "assign")
MAX_SERVERS = 5  # the paper keeps the share action space within 2^5 (Sec. 3.3.1)
_RESET_OPTIONS = frozenset({"task_set_seed"})
MAX_LOAD = 1000.0  # ρ; the paper sweeps 0.1-1.3
DEFAULT_LATENCY_WEIGHT = 0.1  # w of objective="combined" (docs/model.md §8.1)
# Rough bytes per task of a task set: its three int64 arrays, the sampling temporaries and the
# episode's per-task state (latency, queue copies).
_BYTES_PER_TASK = 128


class ObsParts(NamedTuple):
    """Decoded observation (leading batch dimensions kept)."""

    utilization: np.ndarray  # (..., m)   g_i / c_i
    free: np.ndarray  # (..., m)          (c_i - g_i) / max_j c_j
    queue: np.ndarray  # (...,)           min(queue length / queue_norm, 1)
    arrived: np.ndarray  # (...,)         arrived / K
    home: np.ndarray  # (..., M) int      home server of each visible task, -1 for empty slots
    wait: np.ndarray  # (..., M)          min(waiting slots / wait_norm, 1)
    service: np.ndarray  # (..., M)       min(service slots / service_norm, 1)
    mask: np.ndarray  # (..., M) bool     slot holds a task


@dataclass(frozen=True)
class ObsLayout:
    """Index layout of the flat observation (see the env docstring's table)."""

    num_servers: int
    buffer_size: int

    @cached_property
    def task_features(self) -> int:
        return self.num_servers + 2  # home one-hot, wait, service

    @cached_property
    def tasks_start(self) -> int:
        return 2 * self.num_servers + 2

    @cached_property
    def mask_start(self) -> int:
        return self.tasks_start + self.buffer_size * self.task_features

    @cached_property
    def size(self) -> int:
        return self.mask_start + self.buffer_size

    def decode(self, obs: np.ndarray) -> ObsParts:
        obs = np.asarray(obs)
        m, big_m = self.num_servers, self.buffer_size
        rows = obs[..., self.tasks_start : self.mask_start].reshape(
            (*obs.shape[:-1], big_m, self.task_features)
        )
        mask = obs[..., self.mask_start :] > 0.5
        home = np.where(mask, rows[..., :m].argmax(axis=-1), -1)
        return ObsParts(
            obs[..., :m], obs[..., m : 2 * m], obs[..., 2 * m], obs[..., 2 * m + 1],
            home, rows[..., m], rows[..., m + 1], mask,
        )  # fmt: skip


def action_masks_from_obs(obs: np.ndarray, layout: ObsLayout, cmax: float) -> np.ndarray:
    """``EdgeSchedulingEnv.action_masks`` from observation(s): ``(..., M·(m+1))`` bool (free
    slots are exact in the observation: (c_i − g_i) / max c)."""
    parts = layout.decode(np.asarray(obs))
    m = layout.num_servers
    has_free = np.rint(parts.free.astype(np.float64) * cmax) > 0  # (..., m)
    mask = np.empty((*parts.mask.shape, m + 1), dtype=bool)
    mask[..., :m] = parts.mask[..., None] & has_free[..., None, :]
    mask[..., m] = True
    return mask.reshape(*parts.mask.shape[:-1], -1)


def _int_arg(name: str, value: Any, low: int, high: int | None = MAX_COUNT) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        allowed = f"an integer >= {low}" if high is None else f"an integer in [{low}, {high}]"
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return int(value)


def _float_arg(
    name: str, value: Any, low: float = 0.0, high: float = MAX_WEIGHT, *, open_low: bool = False
) -> float:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    # NaN fails every comparison; the bound keeps sums and products of it finite.
    if not ok or not (value >= low and value <= high) or (open_low and value == low):
        raise ValueError(
            f"{name} must be a finite number in {'(' if open_low else '['}{low}, {high}], "
            f"got {value!r}"
        )
    return float(value)


def _choice_arg(name: str, value: Any, allowed: Sequence[str | None]) -> Any:
    # isinstance first: ``in`` on an array or a mapping raises or answers the wrong question.
    if not (value is None or isinstance(value, str)) or value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")
    return value


def _check_sizes_before(
    m: int, capacities: np.ndarray, buffer_size: int, window_slots: int, action_mode: str
) -> None:
    """Refuse arguments whose spaces or matching tables exceed ``MAX_ALLOC_BYTES``."""
    size = 2 * m + 2 + buffer_size * (m + 3)
    check_alloc(
        "buffer_size",
        32.0 * size,
        f"the observation has 2m + 2 + buffer_size·(m + 3) = {size} float32 entries, and the "
        "Box space and every step hold several arrays of that size",
    )
    if action_mode == "shares":
        total = float(capacities.sum())
        check_alloc(
            "capacities",
            64.0 * total,
            f"a 'shares' action lists each of up to sum(capacities) = {total:.0f} offered slots "
            "(about 8 int64 arrays) when it matches waiting tasks to servers",
        )
    check_alloc(
        "window_slots",
        32.0 * window_slots * m,
        f"Bernoulli arrivals draw a (window_slots, m) = ({window_slots}, {m}) table per task set",
    )


def _check_sizes_after(
    m: int, proc: ArrivalProcess, window_slots: int, service_norm: float
) -> None:
    """Refuse task sets and departure calendars larger than ``MAX_ALLOC_BYTES`` (estimates)."""
    if isinstance(proc, PlainTraceArrivals) or (
        isinstance(proc, CsvTraceArrivals) and not proc.scaled
    ):
        return  # exact sizes, checked when the trace was turned into slots
    lam = proc.rate_per_slot
    tasks = lam * window_slots + 10.0 * math.sqrt(lam * window_slots)
    check_alloc(
        "window_slots",
        _BYTES_PER_TASK * tasks,
        f"a task set holds about λ·window_slots = {lam * window_slots:.3g} tasks (λ = "
        f"load·sum(capacities)/E[service slots] = {lam:.3g} per slot), ~{_BYTES_PER_TASK} "
        "bytes each; lower load, capacities or window_slots",
    )
    longest = 8.0 * service_norm
    field = "mean_service_slots" if longest > window_slots else "window_slots"
    if isinstance(proc, AzureTraceArrivals):  # one request may cost many times the mean
        longest = max(longest, float(proc.service_slots.max()))
        field = "arrivals (Azure trace rescaled to mean_service_slots)"
    elif isinstance(proc, CsvTraceArrivals) and proc.service_slots is not None:
        longest = max(longest, float(proc.service_slots.max()))
        field = "arrivals (the trace's service times, with service_unit and service_scale)"
    horizon = window_slots + longest + 1
    check_alloc(
        field,
        2 * 8.0 * (m + 1) * horizon,
        f"the departure calendar has window_slots + max(32·E[service slots], longest "
        f"service) = {horizon:.3g} rows of m + 1 = {m + 1} 8-byte entries, and may double "
        "while it grows",
    )


def _sample_variance(x: list[float]) -> float:
    """Σ(x - x̄)² / (m - 1); plain Python because m <= 5 and np.var costs ~20 µs a call."""
    mean = sum(x) / len(x)
    return sum((v - mean) ** 2 for v in x) / (len(x) - 1)


class EdgeSchedulingEnv(gym.Env[np.ndarray, Any]):
    """Spread requests over m edge servers through a FIFO buffer queue, keeping them balanced.

    ## Description

    The DRLoS scheduling MDP of Huang et al. (IEEE TMC), Sec. 3.3, with the readings fixed in
    docs/model.md §8. ``m`` edge servers have capacities ``c_i`` (concurrent tasks) and load ``g_i``
    (tasks in service). Requests arrive in discrete slots at their home (nearest) server and
    join one FIFO buffer queue; each step (= one slot of ``slot_ms`` ms) the agent schedules
    some of the first ``M`` waiting tasks, each task then holds one unit of its server's
    capacity for its service time (default geometric, mean 10 slots) and frees it when done.

    Arrivals (``envs.scheduling.arrivals``): Bernoulli users per region (default), whose home
    shares follow ``home_skew`` (default Zipf 1.0: 54.5 / 27.3 / 18.2 %, so serving every task
    at home overloads server 0 — the imbalance the paper motivates), or a replayed trace (Azure
    LLM inference 2023 CSV, a plain ``time_s,home,service`` CSV, or any request log CSV,
    replayed as is or scaled to the load level with its home servers from a column, a hash
    of a user/group column or ``home_skew``; see ``arrivals`` below). The load level ρ is
    defined by

        λ · E[service slots] = ρ · Σ_i c_i,

    λ the expected arrivals per slot: at ρ = 1 the arrivals exactly fill all servers. The paper
    sweeps ρ from 0.1 to 1.3. A task set is the ``K`` tasks of one arrival window of
    ``window_slots`` slots; by default (ρ = 0.8, 3 × 500, 100 slots) λ = 120 and K ≈ 12,000, so
    the queue backs up at the overloaded home server, and an episode is ~150–250 steps (~30 ms
    at M = 500). Tasks that find ``queue_limit`` tasks waiting are dropped and counted.

    A task placed on another server than its home pays ``rpc_latency_ms``. Its latency is
    ``(waiting slots + service slots) · slot_ms + rpc_latency_ms·[forwarded]``.

    ## Action Space

    ``action_mode="shares"`` (default, DRLoS): ``Discrete(2**m)``. Bit i of the action
    (``(a >> i) & 1``) set gives server i the high share ``floor((1-η)(c_i - g_i))`` of its
    free capacity, clear the low share ``floor(η(c_i - g_i))``. The visible tasks fill the
    offered slots FIFO, home server first: each server's offer goes to the earliest visible
    tasks homed there; slots still offered then take the earliest remaining tasks (forwarded),
    dealt round-robin over the servers with slots left, most slots left first. Example: m = 3,
    free = (100, 250, 400), η = 0.05, a = 5 = 0b101 offers (95, 12, 380).

    ``action_mode="assign"``: ``MultiDiscrete([m + 1] * M)``; entry j is the server of visible
    task j, ``m`` keeps it waiting; entries of empty slots are ignored. Assignments beyond a
    server's free capacity are rejected (earliest tasks first), the task keeps waiting, and
    ``info["rejected"]`` counts them. Both modes share one simulator core.

    ## Observation Space

    ``Box(0, 1, (2m + 2 + M(m + 3),), float32)``, the same in both modes (m = 3, M = 500: 3008):

    | index                      | content                                           |
    |----------------------------|---------------------------------------------------|
    | ``[0, m)``                 | utilisation u_i = g_i / c_i                       |
    | ``[m, 2m)``                | free capacity (c_i - g_i) / max_j c_j             |
    | ``2m``                     | min(queue length / queue_norm, 1); queue_norm = ``queue_limit`` (10·M if None) |
    | ``2m + 1``                 | tasks arrived so far / K                          |
    | ``2m+2 + j(m+2) + [0, m)`` | visible task j: one-hot home server               |
    | ``2m+2 + j(m+2) + m``      | task j: min(waiting slots / (10·E[service]), 1)   |
    | ``2m+2 + j(m+2) + m + 1``  | task j: min(service slots / (4·E[service]), 1)    |
    | ``2m+2 + M(m+2) + j``      | mask: 1 if visible slot j holds a task, else 0    |

    Rows of empty slots are zero. ``env.unwrapped.obs_layout.decode(obs)`` splits an
    observation (or a batch) into named parts. The paper's state (server usage + waiting tasks)
    is the utilisation block and the task rows. The observation is the state at the start of a
    slot, after the previous slot's departures and this slot's arrivals.

    ## Rewards

    Per step, on the state after the step (docs/model.md §8, the paper's eq. 10 on utilisations):

        r_t = -Σ_i (u_i - ū)² / (m - 1) - λ_wait · (tasks left waiting by the action) / M
              - λ_drop · (tasks dropped this step)

    Tasks dropped on arrival in slot 0 (only possible when ``queue_limit`` is below the slot-0
    arrivals) come before the first action and are counted in ``info`` but not penalised.
    The paper's setting is λ_wait = λ_drop = 0 (γ = 1 then penalises slow scheduling through
    more steps). Beware: with λ_wait = 0, holding tasks back costs nothing while the servers
    stay evenly (lightly) loaded, and learners exploit it (tabular Q-learning at ρ = 0.8
    quadruples the mean latency and drops tasks); a small λ_wait (0.01) removes that.

    Example: c = (500, 500, 500), g = (400, 250, 100) → u = (0.8, 0.5, 0.2), variance
    (0.09 + 0 + 0.09) / 2 = 0.09, r = -0.09; with λ_wait = 0.1 and 250 tasks left waiting at
    M = 500, r = -0.09 - 0.05 = -0.14.

    ## Starting State

    Empty servers; the queue holds the tasks arriving in slot 0. The task set is drawn from
    ``np.random.default_rng(task_set_seed)``: ``reset(options={"task_set_seed": k})`` replays
    task set k exactly (the dynamics are deterministic given the task set and the actions, so
    N rollouts of one task set — DRLoS / DeepRM baselines — are possible from outside).
    Without it, k is drawn from ``self.np_random`` (seeded by ``reset(seed=...)``) and reported
    in ``info["task_set_seed"]``.

    ## Episode End

    Terminated when every task of the task set is done (completed or dropped). Truncation is
    left to ``TimeLimit`` (registered with ``max_episode_steps=1000``); an "assign" policy that
    never schedules would otherwise run forever.

    ``info`` (plain Python / numpy values): ``utilization`` (float64 array, m), ``variance``,
    cumulative ``arrived``, ``completed``, ``dropped``, ``forwarded``, ``rejected``; current
    ``waiting``, ``in_service``; ``mean_latency_ms`` of the tasks completed in this step (0 when
    none); ``slot``. At every step ``arrived == completed + waiting + in_service + dropped``.
    ``reset`` adds ``task_set_seed`` and ``num_tasks`` (K).

    ## Arguments

    Every argument is checked up front; a bad one raises ValueError naming it and its allowed
    range (integers must be ints, numbers real and finite; bools are not numbers). Counts are
    at most ``envs.limits.MAX_COUNT`` (1e12), durations ``MAX_DURATION_MS`` (1e9 ms), reward
    weights ``MAX_WEIGHT`` (1e9), which keeps every observation in the Box and every reward
    finite. Sizes that would make one structure larger than ``MAX_ALLOC_BYTES`` (2 GiB) are
    refused, naming the argument and the structure: the observation (``buffer_size``), the
    share-matching table (sum of ``capacities``, "shares" mode), a task set
    (λ·``window_slots`` tasks) and the departure calendar (``window_slots`` + 32·mean service,
    or a plain trace's span in slots of ``slot_ms`` plus its longest service).

    - ``num_servers`` (3): m, 2 to 5.
    - ``capacities`` (None → 500 each): an int for all, or m ints, in [1, 1e12].
    - ``load`` (0.8): ρ in (0, 1000] (Bernoulli and Azure arrivals, and CSV logs with
      ``time_scale="load"``; a CSV replayed as is keeps its own rate).
    - ``home_skew`` (1.0): Zipf exponent s >= 0 of the home shares (0 = uniform) or m finite
      weights >= 0 with a positive sum. Weights whose sum overflows (``[1e308] * 3``) are
      rejected, not rescaled, so accepted weights normalise exactly as before.
    - ``num_users`` (1000): Bernoulli users, in [1, 1e12]; must be >= λ.
    - ``window_slots`` (100): arrival window of a task set, in slots, in [1, 1e12].
    - ``slot_ms`` (10.0): slot length in ms, in (0, 1e9].
    - ``buffer_size`` (500): M, visible tasks, in [1, 1e12].
    - ``queue_limit`` (5000): max waiting tasks in [1, 1e12], None for no limit.
    - ``eta`` (0.05): η in the open interval (0, 0.1).
    - ``action_mode`` ("shares"): "shares" or "assign".
    - ``arrivals`` ("bernoulli"): "bernoulli", a CSV path, or a mapping (see ``make_arrivals``:
      ``{"kind": "trace", "path", "format", "prefill_ms_per_token", "decode_ms_per_token"}``,
      per-token costs in [0, 1e9] ms, for Azure traces; for plain/csv logs ``columns``,
      ``time_unit``, ``time_scale`` ("exact", "load" or a compression factor),
      ``service_unit``, ``service_scale`` (a factor or "mean") and ``homes`` ("column",
      "hash" or "skew"); docs/model.md §8). Files may start with a UTF-8 byte-order mark;
      errors in them name the file and line.
    - ``service_time`` ("geometric"): "geometric", "constant" or "uniform" (Bernoulli arrivals
      and CSV logs without a service column).
    - ``mean_service_slots`` (10.0): mean service time in slots, in [1, 1e5]; Azure traces
      rescale token costs to it, CSV logs their service column with ``service_scale="mean"``.
    - ``rpc_latency_ms`` (20.0): forwarding latency to a non-home server, in [0, 1e9].
    - ``lambda_wait``, ``lambda_drop`` (0.0): reward weights in [0, 1e9].
    - ``render_mode`` (None): None or "ansi".
    - ``objective`` ("variance"): the reward above (the paper's), or "combined", which adds
      ``latency_weight`` x the waiting + RPC latency of the step (docs/model.md §8.1,
      ``envs.scheduling.objective``; v1's default).
    - ``latency_weight`` (None): w of "combined", in [0, 1e9]; None → 0.1 for "combined"
      and 0 for "variance" (which accepts no other value).

    ``step`` takes an action of the action space only: one integer (Python or numpy, 0-d) in
    "shares" mode, an integer array of shape (M,) in "assign" mode; anything else (floats,
    bools, complex, strings, other shapes) raises ValueError naming the space. ``reset``
    takes ``seed`` None or an int >= 0 and ``options`` None or a dict with keys among
    ``{"task_set_seed"}``.

    ## Vector env

    ``gymnasium.make_vec("EdgeRL/EdgeScheduling-v0", num_envs=N)`` returns the native
    numpy-batched :class:`~envs.scheduling.vector.EdgeSchedulingVectorEnv` (``NEXT_STEP``
    autoreset), which reproduces this env bit for bit, copy by copy.

    ## Version History

    - v1 (:class:`EdgeSchedulingEnvV1`): new defaults, see there.
    - v0: initial version. Later additions keep every v0 episode bit-identical
      (``tests/test_scheduling_pinned.py``): the native vector env, scaled CSV logs
      (``arrivals`` options), O(M) queue steps, ``objective`` / ``latency_weight`` and
      ``action_masks()`` (v0's defaults unchanged).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 10}

    def __init__(
        self,
        *,
        num_servers: int = 3,
        capacities: int | Sequence[int] | None = None,
        load: float = 0.8,
        home_skew: float | Sequence[float] = 1.0,
        num_users: int = 1000,
        window_slots: int = 100,
        slot_ms: float = 10.0,
        buffer_size: int = 500,
        queue_limit: int | None = 5000,
        eta: float = 0.05,
        action_mode: str = "shares",
        arrivals: str | os.PathLike[str] | Mapping[str, Any] = "bernoulli",
        service_time: str = "geometric",
        mean_service_slots: float = 10.0,
        rpc_latency_ms: float = 20.0,
        lambda_wait: float = 0.0,
        lambda_drop: float = 0.0,
        render_mode: str | None = None,
        objective: str = "variance",
        latency_weight: float | None = None,
    ) -> None:
        m = _int_arg("num_servers", num_servers, 2, MAX_SERVERS)
        if capacities is None:
            capacities = 500
        try:
            caps = np.atleast_1d(np.asarray(capacities))
        except (TypeError, ValueError):  # ragged or exotic sequences
            caps = np.zeros(0)
        if caps.size == 1:
            caps = np.repeat(caps, m)
        if (
            caps.shape != (m,)
            or not np.issubdtype(caps.dtype, np.integer)
            or np.any(caps < 1)
            or np.any(caps > MAX_COUNT)
        ):
            raise ValueError(
                f"capacities must be an integer in [1, {MAX_COUNT}] or {m} such integers "
                f"(num_servers={m}), got {capacities!r}"
            )
        self.num_servers = m
        self.capacities = caps.astype(np.int64)
        self.load = _float_arg("load", load, 0.0, MAX_LOAD, open_low=True)
        self.buffer_size = _int_arg("buffer_size", buffer_size, 1)
        if queue_limit is not None:
            queue_limit = _int_arg("queue_limit", queue_limit, 1)
        self.queue_limit = queue_limit
        is_num = isinstance(eta, int | float | np.integer | np.floating) and not isinstance(
            eta, bool
        )
        if not (is_num and 0.0 < eta < 0.1):  # also rejects NaN
            raise ValueError(f"eta must be a number in the open interval (0, 0.1), got {eta!r}")
        self.eta = float(eta)
        self.action_mode = _choice_arg("action_mode", action_mode, ACTION_MODES)
        self.slot_ms = _float_arg("slot_ms", slot_ms, 0.0, MAX_DURATION_MS, open_low=True)
        self.rpc_latency_ms = _float_arg("rpc_latency_ms", rpc_latency_ms, 0.0, MAX_DURATION_MS)
        self.lambda_wait = _float_arg("lambda_wait", lambda_wait)
        self.lambda_drop = _float_arg("lambda_drop", lambda_drop)
        self.objective = _choice_arg("objective", objective, OBJECTIVES)
        if latency_weight is None:
            latency_weight = DEFAULT_LATENCY_WEIGHT if objective == "combined" else 0.0
        self.latency_weight = _float_arg("latency_weight", latency_weight)
        if objective == "variance" and self.latency_weight:
            raise ValueError(
                f"latency_weight applies to objective='combined' only; objective='variance' "
                f"(the paper's reward) needs latency_weight None or 0, got {latency_weight!r}"
            )
        self.render_mode = _choice_arg("render_mode", render_mode, (None, "ansi"))
        window = _int_arg("window_slots", window_slots, 1)
        _check_sizes_before(m, self.capacities, self.buffer_size, window, action_mode)

        self.arrival_process: ArrivalProcess = make_arrivals(
            arrivals,
            num_servers=m,
            load=self.load,
            total_capacity=int(self.capacities.sum()),
            home_probs=home_probabilities(home_skew, m),
            num_users=_int_arg("num_users", num_users, 1),
            window_slots=window,
            service_time=service_time,
            mean_service_slots=_float_arg(
                "mean_service_slots", mean_service_slots, 1.0, MAX_MEAN_SERVICE_SLOTS
            ),
            slot_ms=self.slot_ms,
        )
        mu = self.arrival_process.mean_service_slots
        self._wait_norm = 10.0 * mu
        self._service_norm = 4.0 * mu
        _check_sizes_after(m, self.arrival_process, window, self._service_norm)
        self.queue_norm = float(queue_limit if queue_limit is not None else 10 * self.buffer_size)
        # ℓ_ref of the combined objective (envs/scheduling/objective.py): λ·E[service]·slot_ms.
        self.latency_norm_ms = self.arrival_process.rate_per_slot * mu * self.slot_ms

        self.obs_layout = ObsLayout(m, self.buffer_size)
        self.observation_space = spaces.Box(0.0, 1.0, (self.obs_layout.size,), np.float32)
        if action_mode == "shares":
            self.action_space = spaces.Discrete(2**m)
            self._share_fractions = share_fractions(m, self.eta)
        else:
            self.action_space = spaces.MultiDiscrete(np.full(self.buffer_size, m + 1))

        self.server_pool = ServerPool(self.capacities)
        self._cmax = float(self.capacities.max())
        self._task_set_cache: tuple[int, TaskSet] | None = None
        self._timeline: Timeline | None = None

    # ------------------------------------------------------------------ task sets

    def task_set(self, task_set_seed: int) -> TaskSet:
        """Task set number ``task_set_seed`` of this configuration (cached: the last one)."""
        _int_arg("task_set_seed", task_set_seed, 0, None)
        if self._task_set_cache is None or self._task_set_cache[0] != task_set_seed:
            tasks = self.arrival_process.sample(np.random.default_rng(task_set_seed))
            tasks.check_servers(self.num_servers)
            self._task_set_cache = (task_set_seed, tasks)
        return self._task_set_cache[1]

    @property
    def tasks(self) -> TaskSet:
        """The current episode's task set."""
        return self._require_reset().tasks

    @property
    def waiting_tasks(self) -> np.ndarray:
        """Ids (indices into ``tasks``) of the waiting tasks, in queue (FIFO) order."""
        return self._require_reset().queue.copy()

    @property
    def task_latency_ms(self) -> np.ndarray:
        """Latency of every task of the episode (known when placed); NaN if not placed yet."""
        self._require_reset()
        return self._latency_ms.copy()

    # ------------------------------------------------------------------ gym API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        if options is not None and not isinstance(options, Mapping):
            raise ValueError(
                f"options must be a dict (or None) with keys among {sorted(_RESET_OPTIONS)}, "
                f"got {type(options).__name__}"
            )
        if seed is not None:  # gymnasium's own check raises a non-ValueError
            seed = _int_arg("seed", seed, 0, None)
        options = dict(options or {})
        if unknown := set(options) - _RESET_OPTIONS:
            raise ValueError(
                f"reset options: unknown keys {sorted(unknown, key=repr)}; allowed "
                f"{sorted(_RESET_OPTIONS)}"
            )
        super().reset(seed=seed)
        k = options.get("task_set_seed")
        if k is None:
            k = int(self.np_random.integers(2**63 - 1))
        k = _int_arg("options['task_set_seed']", k, 0, None)
        tasks = self.task_set(k)
        self._timeline = Timeline(tasks, self.queue_limit)
        last = int(tasks.arrival[-1]) if tasks.size else 0
        self.server_pool.reset(horizon=last + int(8 * self._service_norm) + 1)
        self._latency_ms = np.full(tasks.size, np.nan)
        self._completed = self._forwarded = self._rejected = 0
        self._timeline.admit()  # slot 0 arrivals (drops possible with a tiny queue_limit)
        info = self._info(0.0)
        info["task_set_seed"] = k
        info["num_tasks"] = tasks.size
        return self._observation(), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        tl = self._require_reset()
        tasks, pool = tl.tasks, self.server_pool
        head = tl.head(self.buffer_size)
        if self.action_mode == "shares":
            offers = share_offers(self._share_fractions[self._share_action(action)], pool.free)
            servers = fill_shares(tasks.home[head], offers)
        else:
            targets = self._assign_action(action)[: head.size]
            servers, rejected = cap_assignments(
                np.where(targets == self.num_servers, -1, targets), pool.free
            )
            self._rejected += rejected
        placed = servers >= 0
        placed_forwarded = 0
        if placed.any():
            ids, srv = head[placed], servers[placed]
            forwarded = srv != tasks.home[ids]
            service = tasks.service[ids]
            latency = (
                tl.slot - tasks.arrival[ids] + service
            ) * self.slot_ms + self.rpc_latency_ms * forwarded
            pool.place(srv, service, latency, tl.slot)
            self._latency_ms[ids] = latency
            placed_forwarded = int(forwarded.sum())
            self._forwarded += placed_forwarded
            tl.remove_head(placed)
        left_waiting = tl.length

        tl.tick()
        done, latency_sum = pool.release(tl.slot)
        self._completed += done
        dropped = tl.admit()

        info = self._info(latency_sum / done if done else 0.0)
        reward = self._step_reward(info["variance"], left_waiting, dropped, placed_forwarded)
        terminated = self._completed + tl.dropped == tasks.size
        return self._observation(), float(reward), bool(terminated), False, info

    def _step_reward(
        self, variance: Any, left_waiting: Any, dropped: Any, placed_forwarded: Any
    ) -> Any:
        """The step's reward (:func:`~envs.scheduling.objective.step_reward`) under this env's
        settings: scalars here, ``(num,)`` arrays in :class:`~envs.scheduling.batch.SchedulingBatch`.
        """
        return step_reward(
            variance,
            left_waiting,
            dropped,
            step_latency_ms(left_waiting, placed_forwarded, self.slot_ms, self.rpc_latency_ms),
            buffer_size=self.buffer_size,
            lambda_wait=self.lambda_wait,
            lambda_drop=self.lambda_drop,
            latency_weight=self.latency_weight,
            latency_norm_ms=self.latency_norm_ms,
        )

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        tl = self._require_reset()
        util = " ".join(f"{u:4.0%}" for u in self.server_pool.utilization)
        return (
            f"slot {tl.slot:5d} | util [{util}] | waiting {tl.length:5d} | "
            f"done {self._completed}/{tl.tasks.size} | dropped {tl.dropped}"
        )

    def action_masks(self) -> np.ndarray:
        """Valid choices of the current state, flat ``(M·(m+1),)`` bool ("assign" mode; the
        layout sb3-contrib's ``MaskablePPO`` reads for a ``MultiDiscrete`` space): entry
        ``j·(m+1) + i`` is True when visible slot j holds a task and server i has a free
        slot; the last choice of each slot (``m``, keep waiting) is always valid."""
        if self.action_mode != "assign":
            raise ValueError("action_masks() applies to action_mode='assign' only")
        tl = self._require_reset()
        m, big_m = self.num_servers, self.buffer_size
        mask = np.zeros((big_m, m + 1), dtype=bool)
        n = min(tl.length, big_m)
        mask[:n, :m] = self.server_pool.free > 0
        mask[:, m] = True
        return mask.ravel()

    # ------------------------------------------------------------------ internals

    def _require_reset(self) -> Timeline:
        if self._timeline is None:
            raise RuntimeError("EdgeSchedulingEnv: call reset() before step()")
        return self._timeline

    def _share_action(self, action: Any) -> int:
        n = 2**self.num_servers
        if type(action) is int and 0 <= action < n:  # fast path for plain ints
            return action
        try:
            a = np.asarray(action)
        except (TypeError, ValueError):  # ragged sequences and other non-arrays
            a = np.zeros((0,), dtype=object)
        if a.shape != () or a.dtype.kind not in "iu" or not 0 <= a < n:
            raise ValueError(
                f"action must be one integer in [0, {n}) (Discrete({n}), 'shares' mode), got "
                f"{action!r}"
            )
        return int(a)

    def _assign_action(self, action: Any) -> np.ndarray:
        m, big_m = self.num_servers, self.buffer_size
        space = f"MultiDiscrete([{m + 1}] * {big_m}), 'assign' mode"
        try:
            a = np.asarray(action)
        except (TypeError, ValueError):  # ragged sequences and other non-arrays
            a = np.zeros((0,), dtype=object)
        if a.shape != (big_m,) or a.dtype.kind not in "iu":
            raise ValueError(
                f"action must be {big_m} integers in [0, {m}] ({space}), got shape {a.shape} "
                f"dtype {a.dtype}"
            )
        if a.size and (a.min() < 0 or a.max() > m):
            raise ValueError(
                f"action entries must be in [0, {m}] (a server, or {m} = keep waiting; "
                f"{space}), got min {a.min()} max {a.max()}"
            )
        return a.astype(np.int64, copy=False)

    def _info(self, mean_latency_ms: float) -> dict[str, Any]:
        tl, pool = self._timeline, self.server_pool
        assert tl is not None
        util = pool.utilization
        return {
            "utilization": util,
            "variance": _sample_variance(util.tolist()),
            "arrived": tl.arrived,
            "completed": self._completed,
            "dropped": tl.dropped,
            "waiting": int(tl.length),
            "in_service": int(pool.load.sum()),
            "forwarded": self._forwarded,
            "rejected": self._rejected,
            "mean_latency_ms": float(mean_latency_ms),
            "slot": tl.slot,
        }

    def _observation(self) -> np.ndarray:
        tl, pool, lay = self._timeline, self.server_pool, self.obs_layout
        assert tl is not None
        m = self.num_servers
        obs = np.zeros(lay.size, dtype=np.float32)
        obs[:m] = pool.utilization
        obs[m : 2 * m] = pool.free / self._cmax
        obs[2 * m] = min(tl.length / self.queue_norm, 1.0)
        obs[2 * m + 1] = tl.arrived / tl.tasks.size if tl.tasks.size else 1.0
        head = tl.head(self.buffer_size)
        n = head.size
        if n:
            rows = obs[lay.tasks_start : lay.mask_start].reshape(
                self.buffer_size, lay.task_features
            )
            rows[np.arange(n), tl.tasks.home[head]] = 1.0
            rows[:n, m] = np.minimum((tl.slot - tl.tasks.arrival[head]) / self._wait_norm, 1.0)
            rows[:n, m + 1] = np.minimum(tl.tasks.service[head] / self._service_norm, 1.0)
            obs[lay.mask_start : lay.mask_start + n] = 1.0
        return obs


V1_ENV_ID = "EdgeRL/EdgeScheduling-v1"
V1_ENTRY_POINT = "envs.scheduling.env:EdgeSchedulingEnvV1"
V1_CAPACITIES: tuple[int, ...] = (120, 80, 50)
V1_ARRIVALS: dict[str, Any] = {"kind": "bursty", "burst_ratio": 4.0, "on_fraction": 0.25,
                               "mean_on_slots": 8.0}  # fmt: skip


#: The arguments whose defaults v1 changes; the others keep :class:`EdgeSchedulingEnv`'s.
V1_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {
        "capacities": V1_CAPACITIES,
        "buffer_size": 100,
        "queue_limit": 1000,
        "action_mode": "assign",
        "arrivals": "bursty",
        "rpc_latency_ms": 30.0,
        "lambda_drop": 1.0,
        "objective": "combined",
    }
)


class EdgeSchedulingEnvV1(EdgeSchedulingEnv):
    """Multi-edge request scheduling, version 1: balance and latency trade off (docs/model.md §8.1).

    ## Description

    The v0 simulator (:class:`EdgeSchedulingEnv`: m edge servers with capacities c_i, one FIFO
    buffer queue, the first M waiting tasks visible, geometric service times) with the defaults
    changed so that no simple rule is best, as the paper motivates: forwarding a task over RPC
    costs latency, and an overloaded home server makes its tasks queue.

    - heterogeneous capacities ``(120, 80, 50)`` against Zipf home shares 54.5 / 27.3 / 18.2 %;
    - a non-trivial RPC latency, 30 ms (a mean service time is 100 ms);
    - bursty arrivals: each region's users switch between on and off (a two-state Markov chain
      per region, on 25 % of the slots in spells of 8 slots on average, 4x the off rate; the
      mean rate keeps ρ's meaning), drawn from the task set's generator;
    - per-task actions (``action_mode="assign"``), M = 100 visible tasks, queue limit 1000;
    - the combined objective (below): utilisation variance plus the latency a scheduler adds.

    At ρ = 0.8 (λ = 20 tasks per slot, ~2,000 tasks and ~170 steps per episode) Closest (never
    forward) queues at the hot home server, Least-loaded forwards ~61 % of the tasks and
    Latency-greedy (forward only what home cannot take soon) leaves the utilisations uneven;
    the best policy lies between them (docs/results.md §3).

    ## Action Space

    ``MultiDiscrete([m + 1] * M)`` (``"assign"``, default): entry j is the server of visible task
    j, m keeps it waiting; assignments beyond free capacity are rejected (earliest first) and
    counted in ``info["rejected"]``. ``action_masks()`` returns the valid choices, flat
    ``(M·(m+1),)`` (full servers masked; sb3-contrib's MaskablePPO reads it).
    ``action_mode="shares"`` gives DRLoS's ``Discrete(2**m)`` share actions, as in v0.

    ## Observation Space

    As v0: ``Box(0, 1, (2m + 2 + M(m + 3),), float32)`` (m = 3, M = 100: 608):

    | index                      | content                                           |
    |----------------------------|---------------------------------------------------|
    | ``[0, m)``                 | utilisation u_i = g_i / c_i                       |
    | ``[m, 2m)``                | free capacity (c_i - g_i) / max_j c_j             |
    | ``2m``                     | min(queue length / queue_limit, 1)                |
    | ``2m + 1``                 | tasks arrived so far / K                          |
    | ``2m+2 + j(m+2) + [0, m)`` | visible task j: one-hot home server               |
    | ``2m+2 + j(m+2) + m``      | task j: min(waiting slots / (10·E[service]), 1)   |
    | ``2m+2 + j(m+2) + m + 1``  | task j: min(service slots / (4·E[service]), 1)    |
    | ``2m+2 + M(m+2) + j``      | mask: 1 if visible slot j holds a task, else 0    |

    ## Rewards

    ``objective="combined"`` (default; ``envs.scheduling.objective``), per step:

        r_t = -Var(u) - w · (slot_ms·W_t + rpc_ms·F_t) / (λ·E[S]·slot_ms) - λ_drop·D_t

    with Var(u) = Σ_i (u_i - ū)² / (m - 1) after the step (the paper's eq. 10 on utilisations),
    W_t the tasks left waiting, F_t the tasks placed away from home this step, D_t the tasks
    dropped on arrival, w = ``latency_weight`` (0.1) and λ_drop = 1. A task's latency is
    waiting + service + RPC; its service time is the same on every server, so the objective
    charges waiting and RPC, as they accrue. ``objective="variance"`` (with ``lambda_drop=0``)
    is the paper's variance-only reward of v0.

    Example (defaults, ρ = 0.8: λ = 20, E[S] = 10 slots, so λ·E[S]·slot_ms = 2000 ms): loads
    g = (96, 40, 40) → u = (0.8, 0.5, 0.8), Var = (0.01 + 0.04 + 0.01) / 2 = 0.03; 10 tasks
    left waiting and 5 forwarded → latency term 0.1 · (10·10 + 30·5) / 2000 = 0.0125;
    r = -0.03 - 0.0125 = -0.0425.

    The episode objective J = -(Σ_t r_t) / window_slots (lower is better) is the scoreboard's
    (``agents.common.evaluation``, ``benchmarks/scheduling_scoreboard.py``).

    ## Starting State

    As v0: empty servers, the slot-0 arrivals queued; ``reset(options={"task_set_seed": k})``
    replays task set k exactly, else k is drawn from ``self.np_random``.

    ## Episode End

    As v0: terminated when every task is completed or dropped; truncated by ``TimeLimit``
    (registered with ``max_episode_steps=1000``).

    ## Arguments

    Those of :class:`EdgeSchedulingEnv` (all validated, ValueError naming the argument), with
    these defaults: ``capacities=(120, 80, 50)``, ``buffer_size=100``, ``queue_limit=1000``,
    ``action_mode="assign"``, ``arrivals={"kind": "bursty", "burst_ratio": 4.0,
    "on_fraction": 0.25, "mean_on_slots": 8.0}`` (also ``"bursty"``, ``"bernoulli"`` or a
    trace), ``rpc_latency_ms=30.0``, ``lambda_drop=1.0``, ``objective="combined"`` and
    ``latency_weight=None`` (→ 0.1 for "combined"; with "variance" it must be None or 0).

    ## Vector env

    ``gymnasium.make_vec("EdgeRL/EdgeScheduling-v1", num_envs=N)`` returns
    :class:`~envs.scheduling.vector.EdgeSchedulingVectorEnvV1`, which reproduces this env bit
    for bit, copy by copy (``tests/test_scheduling_v1.py``).

    ## Version History

    - v1: heterogeneous capacities, 30 ms RPC, bursty arrivals, per-task actions and the
      combined balance + latency objective by default.
    - v0: the paper's MDP (:class:`EdgeSchedulingEnv`), unchanged.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**V1_DEFAULTS, **kwargs})

    __init__.__signature__ = v1_signature(EdgeSchedulingEnv.__init__, V1_DEFAULTS, __init__)  # type: ignore[attr-defined]
