"""Batched simulator of the scheduling env for its vector env (docs/model.md §8).

:class:`SchedulingBatch` steps ``num`` independent copies of one configuration with numpy
operations over all copies at once (no Python loop over copies in a step), on
:class:`BatchTimeline` (clocks, arrival cursors, FIFO queues) and :class:`BatchServerPool`
(loads, departure calendars), the batched counterparts of
:class:`~envs.scheduling.timeline.Timeline` and :class:`~envs.scheduling.servers.ServerPool`.
:class:`~envs.scheduling.vector.EdgeSchedulingVectorEnv` is built on it.

Why the single env does not run this code as a batch of one: per step it makes about twice
as many numpy calls as the single env's 1-D code (masks for queues of different lengths,
2-D index arithmetic), so a batch of one costs about twice a single-env step (128 vs 62 µs
at the defaults, the vector env of one copy against the single env, on 2 cores). The two implementations are kept equal by ``tests/test_scheduling_vector.py``,
which replays single-env episodes through the vector env, step by step and bit for bit.

Every floating-point result is formed with the same operations, in the same order, as the
single env computes it, including the utilisation variance, which replicates Python's
``sum`` and ``** 2`` (:func:`sample_variance_rows`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from envs.scheduling.servers import (
    _Servers,
    cap_assignments_rows,
    fill_shares_batch,
    share_offers,
)
from envs.scheduling.tasks import TaskSet

if TYPE_CHECKING:
    from envs.scheduling.env import EdgeSchedulingEnv

# CPython 3.12 made ``sum`` of floats compensated (Neumaier); 3.11 and earlier add in order.
_COMPENSATED_SUM = sys.version_info >= (3, 12)


def _python_sum(columns: Sequence[np.ndarray]) -> np.ndarray:
    """``sum([c[j] for c in columns])`` for every j, exactly as Python computes it."""
    total = 0.0 + columns[0]  # sum starts from the int 0
    if not _COMPENSATED_SUM:
        for col in columns[1:]:
            total = total + col
        return total
    comp = np.zeros_like(total)
    for col in columns[1:]:
        t = total + col
        comp = comp + np.where(np.abs(total) >= np.abs(col), (total - t) + col, (col - t) + total)
        total = t
    return np.where((comp != 0) & np.isfinite(comp), total + comp, total)


def _py_variance(x: list[float]) -> float:
    """Σ(x - x̄)² / (m - 1) in plain Python: the v0 env's reward formula (the reference)."""
    mean = sum(x) / len(x)
    return sum((v - mean) ** 2 for v in x) / (len(x) - 1)


def sample_variance_rows(values: np.ndarray) -> np.ndarray:
    """Row-wise ``Σ(x - x̄)² / (m - 1)`` of ``(B, m)`` values, bit-identical to the v0 env's
    plain-Python formula (``sum(x) / m``, ``(v - mean) ** 2`` with the C library's ``pow``,
    which ``np.float_power`` also calls; ``x * x`` differs in the last bit in ~0.1% of cases).
    """
    b, m = values.shape
    if b <= 2:  # a few rows: the plain-Python formula itself is faster
        return np.array([_py_variance(row) for row in values.tolist()])
    cols = [values[:, i] for i in range(m)]
    mean = _python_sum(cols) / m
    return _python_sum([np.float_power(c - mean, 2.0) for c in cols]) / (m - 1)


class BatchTimeline:
    """Clocks (``slot``), arrival cursors and FIFO buffer queues of ``num`` copies.

    The batched :class:`~envs.scheduling.timeline.Timeline`, with the same queue layout: a
    copy's queue is the window ``queue_at[j, start[j]:end[j]]`` of a preallocated row.

    Per copy j: ``slot[j]``, ``arrived[j]`` (tasks whose arrival slot has passed, dropped
    ones included), ``dropped[j]``, ``size[j]`` (K of its task set), ``length[j]`` (waiting
    tasks) and the queue. Task attributes are kept as padded ``(num, capacity)`` tables
    (``arrival``, ``home``, ``service``, ...); the queue holds each task's position in the
    flattened tables (``base[j]`` + its id), so batched steps gather attributes with one
    ``np.take``. Per-copy counters are rebound, never changed in place, so arrays handed
    out (infos) keep their values.

    Args:
        num: Number of copies (>= 1).
        queue_limit: Maximum number of waiting tasks per copy (``None``: no limit).
        service_norm: The observation's service-time scale (``service_feature`` holds
            ``min(service / service_norm, 1)`` of every task).
    """

    def __init__(self, num: int, queue_limit: int | None, service_norm: float = 1.0) -> None:
        self.num = int(num)
        self.queue_limit = queue_limit
        self.service_norm = float(service_norm)
        self.task_sets: list[TaskSet | None] = [None] * self.num
        z = np.zeros(self.num, dtype=np.int64)
        self.slot, self.arrived, self.dropped, self.size = z.copy(), z.copy(), z.copy(), z.copy()
        self.start, self.end = z.copy(), z.copy()
        # Waiting tasks per copy (end - start). Rebound, never changed in place, so an array
        # handed out (e.g. as an info value) keeps its values.
        self.length = z.copy()
        self._alloc(1)

    def _alloc(self, capacity: int) -> None:
        """(Re)allocate the per-task tables with room for ``capacity`` tasks per copy."""
        shape = (self.num, max(int(capacity), 1))
        old = getattr(self, "arrival", None)
        tables = {}
        for name in ("arrival", "home", "service", "run_end", "queue_at", "service_feature"):
            new = np.zeros(shape, dtype=np.float64 if name == "service_feature" else np.int64)
            if old is not None:
                prev = getattr(self, name)
                new[:, : prev.shape[1]] = prev
            tables[name] = new
        # Row j's entries start at base[j] in the flattened tables (fast 1-D gathers).
        base = np.arange(self.num, dtype=np.int64) * shape[1]
        if old is not None:  # the queues hold flat positions: move them to the new rows
            tables["queue_at"][:, : old.shape[1]] += (base - self.base)[:, None]
        for name, arr in tables.items():
            setattr(self, name, arr)
        self.base = base

    @property
    def capacity(self) -> int:
        """Tasks per copy the tables hold (the largest task set loaded so far)."""
        return int(self.arrival.shape[1])

    def load(self, rows: Sequence[int], task_sets: Sequence[TaskSet]) -> None:
        """Restart copies ``rows`` at slot 0 with empty queues on ``task_sets`` (one each)."""
        need = max((t.size for t in task_sets), default=0)
        if need > self.capacity:
            self._alloc(max(need, 2 * self.capacity))
        groups: dict[int, tuple[TaskSet, list[int]]] = {}  # copies replaying one task set
        for j, tasks in zip(rows, task_sets, strict=True):
            groups.setdefault(id(tasks), (tasks, []))[1].append(int(j))
            self.task_sets[j] = tasks
        for tasks, members in groups.values():
            k, at = tasks.size, np.array(members)[:, None]
            self.arrival[at, :k] = tasks.arrival
            self.home[at, :k] = tasks.home
            self.service[at, :k] = tasks.service
            self.run_end[at, :k] = tasks.slot_run_end
            # The observation's service feature, as the single env computes it (float64).
            self.service_feature[at, :k] = np.minimum(tasks.service / self.service_norm, 1.0)
            self.size[members] = k
        rows = np.asarray(rows, dtype=np.int64)
        for name in ("slot", "arrived", "dropped", "start", "end"):
            arr = getattr(self, name).copy()  # per-copy counters are rebound, never changed
            arr[rows] = 0  # in place: arrays handed out (infos) keep their values
            setattr(self, name, arr)
        self.length = self.end - self.start

    def admit(self) -> np.ndarray:
        """Append the tasks arriving in each copy's current slot; return the drops per copy.

        Called once per slot (at reset for slot 0, then after every tick), so the tasks not
        yet arrived that arrive by the current slot are the run of tasks arriving exactly in
        it, starting at the arrival cursor.
        """
        at = self.base + np.minimum(self.arrived, self.capacity - 1)
        due = (self.arrived < self.size) & (self.arrival.ravel()[at] <= self.slot)
        if not due.any():
            return np.zeros(self.num, dtype=np.int64)
        new = np.where(due, self.run_end.ravel()[at] - self.arrived, 0)
        if self.queue_limit is None:
            dropped = np.zeros(self.num, dtype=np.int64)
            joining = new
        else:
            dropped = np.maximum(0, new - (self.queue_limit - self.length))
            joining = new - dropped
        total = int(joining.sum())
        if total:
            which = np.repeat(np.arange(self.num), joining)
            offset = np.arange(total) - np.repeat(np.cumsum(joining) - joining, joining)
            first = self.base[which] + offset  # row start + offset, the queue's flat positions
            self.queue_at.ravel()[first + self.end[which]] = first + self.arrived[which]
            self.end = self.end + joining
            self.length = self.length + joining
        self.arrived = self.arrived + new
        self.dropped = self.dropped + dropped
        return dropped

    def head(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """The first ``size`` waiting tasks of every copy, padded.

        Returns ``(flat, valid)``, both ``(num, w)`` with ``w = min(size, longest queue)``:
        ``flat`` the tasks' positions in the flattened task tables
        (``np.take(self.home, flat)`` are their homes, ``flat - base[:, None]`` their ids),
        ``valid[j, c]`` marks the entries that hold a task (the first ``min(size,
        length[j])`` of row j; elsewhere ``flat`` is some position of the tables).
        """
        length = self.length
        width = int(min(size, length.max(initial=0)))
        cols = np.arange(width)
        valid = cols < length[:, None]
        # Past a queue's end the index may run into the next row (or is clipped to the
        # table's end): what it reads there is still a position in the tables.
        flat = np.take(self.queue_at, (self.base + self.start)[:, None] + cols, mode="clip")
        return flat, valid

    def remove_head(self, head_flat: np.ndarray, staying: np.ndarray) -> None:
        """Drop the head entries that leave; ``staying`` (num, w) marks the valid ones that stay.

        ``head_flat`` is this step's :meth:`head` (a copy, so rewriting the queue rows in
        place is safe). The entries that stay keep their order, right before the rest.
        """
        width = head_flat.shape[1]
        kept = staying.sum(axis=1)
        leaving = np.minimum(self.length, width) - kept
        new_start = self.start + leaving
        self.length = self.length - leaving
        if kept.any():
            at = np.flatnonzero(staying)
            rank = np.cumsum(staying, axis=1).ravel()[at] - 1  # among the staying of the row
            target = (self.base + new_start)[at // width] + rank
            self.queue_at.ravel()[target] = head_flat.ravel()[at]
        self.start = new_start

    def tick(self) -> None:
        """Advance every copy's clock by one slot."""
        self.slot = self.slot + 1

    def queue(self, j: int) -> np.ndarray:
        """Copy j's waiting task ids in queue (FIFO) order (a new array)."""
        return self.queue_at[j, self.start[j] : self.end[j]] - self.base[j]


class BatchServerPool(_Servers):
    """``m`` servers with capacities c_i, in ``num`` independent copies (rows): the batched
    :class:`~envs.scheduling.servers.ServerPool`.

    ``load[j, i]`` (g_i of copy j) counts the tasks in service on server i. Each copy has its
    own slot clock (passed in by the caller) and its own departure calendar:
    ``_departures[j, s, i]`` tasks leave server i of copy j at the start of slot s, and
    ``_latency_ms[j, s]`` is their summed end-to-end latency. The calendar spans ``horizon``
    slots, shared by all copies, and grows geometrically when a task leaves later.

    Args:
        capacities: The m capacities c_i (integers >= 1).
        num: Number of copies (>= 1).
    """

    def __init__(self, capacities: Sequence[int] | np.ndarray, num: int = 1) -> None:
        self._set_capacities(capacities)
        self.num = int(num)
        self.load = np.zeros((self.num, self.num_servers), dtype=np.int64)
        # Calendar rows hold horizon + 1 cells: the last one stays empty and stands for
        # every slot past the horizon, where nothing leaves.
        self._departures = np.zeros((self.num, 2, self.num_servers), dtype=np.int64)
        self._latency_ms = np.zeros((self.num, 2), dtype=np.float64)
        self._base = np.arange(self.num, dtype=np.int64) * 2  # row j's cells start at _base[j]

    @property
    def horizon(self) -> int:
        """Slots the departure calendar spans (it grows on demand; later slots are empty)."""
        return int(self._latency_ms.shape[1]) - 1

    def reset(self, rows: np.ndarray | slice = slice(None), horizon: int = 256) -> None:
        """Empty the servers of the copies ``rows``; make the calendar span >= ``horizon`` slots."""
        if horizon > self.horizon:
            self._grow(horizon)
        self.load[rows] = 0
        self._departures[rows] = 0
        self._latency_ms[rows] = 0.0

    def _grow(self, horizon: int) -> None:
        h = self.horizon
        dep = np.zeros((self.num, horizon + 1, self.num_servers), dtype=np.int64)
        dep[:, :h] = self._departures[:, :h]
        lat = np.zeros((self.num, horizon + 1), dtype=np.float64)
        lat[:, :h] = self._latency_ms[:, :h]
        self._departures, self._latency_ms = dep, lat
        self._base = np.arange(self.num, dtype=np.int64) * (horizon + 1)

    def place(
        self,
        rows: np.ndarray,
        servers: np.ndarray,
        service: np.ndarray,
        latency_ms: np.ndarray,
        slots: np.ndarray,
    ) -> None:
        """Start tasks: task t runs on server ``servers[t]`` of copy ``rows[t]`` from slot
        ``slots[t]`` and leaves at the start of ``slots[t] + service[t]``.

        Tasks of one copy are booked in the order given (the calendar's latency sums add up
        in that order).
        """
        if servers.size == 0:
            return
        leave = slots + service
        last = int(leave.max())
        if last >= self.horizon:  # grow the calendar geometrically
            self._grow(max(2 * self.horizon, last + 1))
        m = self.num_servers
        cell = self._base[rows] + leave
        np.add.at(self._departures.reshape(-1), cell * m + servers, 1)
        np.add.at(self._latency_ms.reshape(-1), cell, latency_ms)
        self.load += np.bincount(rows * m + servers, minlength=self.num * m).reshape(self.num, m)
        if np.any(self.load > self.capacities):  # the matching rules must make this impossible
            raise RuntimeError(f"server capacity exceeded: load {self.load}, c {self.capacities}")

    def release(self, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tasks whose service ends at the start of ``slots[j]`` leave copy j.

        Returns (count (num,) int64, summed latency ms (num,) float64).
        """
        cell = self._base + np.minimum(slots, self.horizon)  # past the horizon: the empty cell
        leaving = self._departures.reshape(-1, self.num_servers)[cell]
        self.load -= leaving
        return leaving.sum(axis=1), self._latency_ms.reshape(-1)[cell]


class StepResult(NamedTuple):
    """Per-copy outcome of :meth:`SchedulingBatch.step` (all ``(num,)`` arrays)."""

    reward: np.ndarray  # float64
    variance: np.ndarray  # float64, utilisation variance after the step
    terminated: np.ndarray  # bool
    dropped: np.ndarray  # int64, tasks dropped on arrival in this step
    mean_latency_ms: np.ndarray  # float64, mean latency of the tasks completed in this step


class SchedulingBatch:
    """State and dynamics of ``num`` copies of one scheduling configuration.

    Args:
        cfg: The configuration: an :class:`~envs.scheduling.env.EdgeSchedulingEnv` (its
            validated settings are read, nothing of its state).
        num: Number of copies (>= 1).
    """

    def __init__(self, cfg: EdgeSchedulingEnv, num: int) -> None:
        self.cfg = cfg
        self.num = int(num)
        self.num_servers = cfg.num_servers
        self.timeline = BatchTimeline(self.num, cfg.queue_limit, cfg._service_norm)
        self.pool = BatchServerPool(cfg.capacities, self.num)
        z = np.zeros(self.num, dtype=np.int64)
        self.completed, self.forwarded, self.rejected = z.copy(), z.copy(), z.copy()
        self.latency_ms = np.full((self.num, 1), np.nan)
        self._head: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        lay = cfg.obs_layout  # flat index of the first entry of each slot's one-hot block
        self._onehot_at = (np.arange(self.num) * lay.size + lay.tasks_start)[:, None] + (
            np.arange(cfg.buffer_size) * lay.task_features
        )
        self.utilization = self.pool.utilization  # of the current state, (num, m)

    # ------------------------------------------------------------------ state
    def reset_rows(self, rows: Sequence[int], task_sets: Sequence[TaskSet]) -> np.ndarray:
        """Restart copies ``rows`` on ``task_sets`` (empty servers, slot-0 arrivals queued).

        Returns the drops per copy of the slot-0 arrivals (non-zero only for the reset
        copies, and only with a ``queue_limit`` below the slot-0 arrivals).
        """
        tl = self.timeline
        tl.load(rows, task_sets)
        if self.latency_ms.shape[1] < tl.capacity:  # the tables grew: keep the other copies'
            grown = np.full((self.num, tl.capacity), np.nan)
            grown[:, : self.latency_ms.shape[1]] = self.latency_ms
            self.latency_ms = grown
        idx = np.asarray(rows, dtype=np.int64)
        last = max((int(t.arrival[-1]) if t.size else 0 for t in task_sets), default=0)
        self.pool.reset(idx, horizon=last + int(8 * self.cfg._service_norm) + 1)
        self.latency_ms[idx] = np.nan
        for name in ("completed", "forwarded", "rejected"):
            arr = getattr(self, name).copy()  # rebound, as every per-copy counter
            arr[idx] = 0
            setattr(self, name, arr)
        self._head = None
        self.utilization = self.pool.utilization
        return tl.admit()

    def head(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(flat, valid, homes)`` of the visible tasks (the first M of each queue),
        ``(num, w)`` (see :meth:`BatchTimeline.head`; ``homes``: their home servers); computed
        once per state."""
        if self._head is None:
            flat, valid = self.timeline.head(self.cfg.buffer_size)
            self._head = (flat, valid, np.take(self.timeline.home, flat))
        return self._head

    # ------------------------------------------------------------------ dynamics
    def step(self, actions: np.ndarray, active: np.ndarray | None = None) -> StepResult:
        """One slot for every copy: place, advance the clock, release, admit.

        ``actions``: validated actions, ``(num,)`` share actions or ``(num, M)`` assignments
        (``m`` = keep waiting). Copies where ``active`` is False place nothing (their action
        is ignored); they still advance, which a caller resetting them afterwards discards.
        """
        cfg, tl, pool, m = self.cfg, self.timeline, self.pool, self.num_servers
        flat, visible, homes = self.head()
        width = flat.shape[1]
        valid = visible if active is None else visible & active[:, None]
        free = pool.free
        if cfg.action_mode == "shares":
            offers = share_offers(cfg._share_fractions[actions], free)
            servers = fill_shares_batch(homes, valid, offers)
        else:
            targets = actions[:, :width]
            targets = np.where(valid & (targets != m), targets, -1)
            servers, rejected = cap_assignments_rows(targets, free)
            self.rejected = self.rejected + rejected
        placed = servers >= 0
        placed_forwarded = 0
        if placed.any():
            which = np.flatnonzero(placed)  # row-major: each copy's tasks in queue order
            rows = which // width
            at = flat.ravel()[which]
            srv = servers.ravel()[which]
            forwarded = srv != homes.ravel()[which]
            service = tl.service.ravel()[at]
            slots = tl.slot[rows]
            latency = (slots - tl.arrival.ravel()[at] + service) * cfg.slot_ms + (
                cfg.rpc_latency_ms * forwarded
            )
            pool.place(rows, srv, service, latency, slots)
            self.latency_ms.ravel()[at] = latency
            fwd_rows = np.bincount(rows[forwarded], minlength=self.num)
            self.forwarded = self.forwarded + fwd_rows
            placed_forwarded = fwd_rows
            tl.remove_head(flat, visible & ~placed)
        left_waiting = tl.length

        tl.tick()
        done, latency_sum = pool.release(tl.slot)
        self.completed = self.completed + done  # rebound, not in place: info arrays keep theirs
        dropped = tl.admit()
        self._head = None
        self.utilization = util = pool.utilization

        mean_latency = np.where(done > 0, latency_sum / np.maximum(done, 1), 0.0)
        variance = sample_variance_rows(util)
        reward = cfg._step_reward(variance, left_waiting, dropped, placed_forwarded)
        terminated = self.completed + tl.dropped == tl.size
        return StepResult(reward, variance, terminated, dropped, mean_latency)

    # ------------------------------------------------------------------ outputs
    def info_arrays(
        self, mean_latency_ms: np.ndarray, variance: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """The single env's ``info`` keys as ``(num, ...)`` arrays (docs of the env).

        ``variance``: this state's utilisation variance when already known (a step's).
        """
        tl, pool = self.timeline, self.pool
        util = self.utilization
        return {
            "utilization": util,
            "variance": sample_variance_rows(util) if variance is None else variance,
            "arrived": tl.arrived,
            "completed": self.completed,
            "dropped": tl.dropped,
            "waiting": tl.length,
            "in_service": pool.load.sum(axis=1),
            "forwarded": self.forwarded,
            "rejected": self.rejected,
            "mean_latency_ms": np.asarray(mean_latency_ms, dtype=np.float64),
            "slot": tl.slot,
        }

    def observation(self) -> np.ndarray:
        """``(num, obs size)`` float32 observations (layout: the env's ``ObsLayout``)."""
        cfg, tl, pool, lay = self.cfg, self.timeline, self.pool, self.cfg.obs_layout
        m, big_m = self.num_servers, cfg.buffer_size
        obs = np.zeros((self.num, lay.size), dtype=np.float32)
        obs[:, :m] = self.utilization
        obs[:, m : 2 * m] = pool.free / cfg._cmax
        obs[:, 2 * m] = np.minimum(tl.length / cfg.queue_norm, 1.0)
        obs[:, 2 * m + 1] = np.where(tl.size > 0, tl.arrived / np.maximum(tl.size, 1), 1.0)
        flat, valid, homes = self.head()
        width = flat.shape[1]
        if width:
            f = lay.task_features
            rows = obs[:, lay.tasks_start : lay.mask_start].reshape(self.num, big_m, f)
            # One-hot home: 1 at each valid entry's home column (past a queue's end: 0, the
            # value already there).
            obs.ravel()[self._onehot_at[:, :width] + homes] = valid
            wait = np.minimum((tl.slot[:, None] - np.take(tl.arrival, flat)) / cfg._wait_norm, 1.0)
            service = np.take(tl.service_feature, flat)
            if not valid.all():
                wait = np.where(valid, wait, 0.0)
                service = np.where(valid, service, 0.0)
            rows[:, :width, m] = wait
            rows[:, :width, m + 1] = service
            obs[:, lay.mask_start : lay.mask_start + width] = valid
        return obs

    def mean_task_latency_ms(self, row: int) -> float:
        """Mean latency of the tasks of copy ``row`` placed so far (NaN if none)."""
        lat = self.latency_ms[row, : self.timeline.size[row]]
        lat = lat[~np.isnan(lat)]
        return float(lat.mean()) if lat.size else float("nan")
