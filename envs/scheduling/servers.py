"""Edge servers and the rules that match waiting tasks to their free slots (docs/model.md §8).

``ServerPool`` tracks the load g_i (tasks in service) of each server with a departure
calendar indexed by absolute slot, so a step costs O(m) whatever the number of tasks in
service. The matching rules are pure functions over the visible head of the queue:

- ``share_fractions`` + ``share_offers`` + ``fill_shares``: the DRLoS action (Huang et al. Sec. 3.3.1) — each server
  offers a high or low share of its free capacity; waiting tasks fill the offers.
  ``fill_shares_batch`` is the same rule for a batch of queue heads (the vector env).
- ``cap_assignments``: explicit per-task assignments, cut to each server's free capacity
  (``cap_assignments_rows``: with the rejections counted per row).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_FLOOR_EPS = 1e-9  # keeps floor((1-η)·free) exact where the float product lands just below


class _Servers:
    """What :class:`ServerPool` and :class:`~envs.scheduling.batch.BatchServerPool` share: the
    capacities c_i (read-only int64) and, from the loads g_i (``(m,)`` or ``(num, m)``), the free
    capacity and the utilisation."""

    capacities: np.ndarray
    num_servers: int
    load: np.ndarray

    def _set_capacities(self, capacities: Sequence[int] | np.ndarray) -> None:
        caps = np.array(capacities, dtype=np.int64)
        caps.setflags(write=False)
        self.capacities = caps
        self.num_servers = int(caps.size)

    @property
    def free(self) -> np.ndarray:
        """Free capacity c_i - g_i, shaped as :attr:`load`."""
        return self.capacities - self.load

    @property
    def utilization(self) -> np.ndarray:
        """u_i = g_i / c_i, shaped as :attr:`load` (float64)."""
        return self.load / self.capacities


class ServerPool(_Servers):
    """``m`` servers with capacities c_i; load g_i = tasks in service on server i."""

    def __init__(self, capacities: Sequence[int] | np.ndarray) -> None:
        self._set_capacities(capacities)
        self.reset()

    def reset(self, horizon: int = 256) -> None:
        self.load = np.zeros(self.num_servers, dtype=np.int64)
        # _departures[s, i]: tasks leaving server i at the start of slot s;
        # _latency_ms[s]: summed end-to-end latency of the tasks leaving at slot s.
        self._departures = np.zeros((max(horizon, 1), self.num_servers), dtype=np.int64)
        self._latency_ms = np.zeros(max(horizon, 1), dtype=np.float64)

    def place(
        self, servers: np.ndarray, service: np.ndarray, latency_ms: np.ndarray, slot: int
    ) -> None:
        """Start tasks on ``servers`` in ``slot``; each leaves at the start of slot + service."""
        if servers.size == 0:
            return
        leave = slot + service
        last = int(leave.max())
        if last >= self._latency_ms.size:  # grow the calendar geometrically
            size = max(2 * self._latency_ms.size, last + 1)
            dep = np.zeros((size, self.num_servers), dtype=np.int64)
            dep[: self._departures.shape[0]] = self._departures
            lat = np.zeros(size, dtype=np.float64)
            lat[: self._latency_ms.size] = self._latency_ms
            self._departures, self._latency_ms = dep, lat
        np.add.at(self._departures, (leave, servers), 1)
        np.add.at(self._latency_ms, leave, latency_ms)
        self.load += np.bincount(servers, minlength=self.num_servers)
        if np.any(self.load > self.capacities):  # the matching rules must make this impossible
            raise RuntimeError(f"server capacity exceeded: load {self.load}, c {self.capacities}")

    def release(self, slot: int) -> tuple[int, float]:
        """Tasks whose service ends at the start of ``slot`` leave: (count, summed latency ms)."""
        if slot >= self._latency_ms.size:
            return 0, 0.0
        leaving = self._departures[slot]
        self.load -= leaving
        return int(leaving.sum()), float(self._latency_ms[slot])


def share_fractions(num_servers: int, eta: float) -> np.ndarray:
    """(2^m, m) table: the fraction of free capacity each DRLoS action offers each server.

    Bit i of the action (``(a >> i) & 1``) set gives server i the high share 1 - η, clear the
    low share η (docs/model.md §8).
    """
    bits = (np.arange(2**num_servers)[:, None] >> np.arange(num_servers)) & 1
    return np.where(bits == 1, 1.0 - eta, eta)


def share_offers(fractions: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Slots offered: floor(fraction · (c_i - g_i)), with ``fractions`` a row of ``share_fractions``."""
    return np.floor(fractions * free + _FLOOR_EPS).astype(np.int64)


def _rank_within(groups: np.ndarray, num_groups: int) -> np.ndarray:
    """0-based position of each element among the earlier elements of its group (FIFO rank).

    Works along the last axis; leading axes are batch axes.
    """
    onehot = groups[..., None] == np.arange(num_groups)
    counts = np.cumsum(onehot, axis=-2)
    return np.take_along_axis(counts, groups[..., None], axis=-1)[..., 0] - 1


def fill_shares(homes: np.ndarray, offers: np.ndarray) -> np.ndarray:
    """Fill offered slots with waiting tasks (FIFO, home server first).

    ``homes``: home server of each visible task, in queue order. Returns the server of each
    task, -1 where it keeps waiting. Reading of docs/model.md §8 "fill FIFO, home server first":
    1. each server's offer goes to the earliest visible tasks homed there;
    2. the offers left over take the earliest remaining tasks (all homed at servers whose
       offer is used up, so they are forwarded), dealt round-robin over the servers with
       slots left, the server with the most slots left first (ties: lower index first).

    :func:`fill_shares_batch` is the same rule for a batch of heads (tested equal).
    """
    m = offers.size
    out = np.full(homes.size, -1, dtype=np.int64)
    if homes.size == 0:
        return out
    at_home = _rank_within(homes, m) < offers[homes]
    out[at_home] = homes[at_home]
    left = offers - np.bincount(homes[at_home], minlength=m)
    rest = np.flatnonzero(~at_home)
    total = int(left.sum())
    if rest.size == 0 or total == 0:
        return out
    slot_server = np.repeat(np.arange(m), left)
    slot_rank = np.arange(total) - np.repeat(np.cumsum(left) - left, left)
    priority = np.empty(m, dtype=np.int64)
    priority[np.argsort(-left, kind="stable")] = np.arange(m)
    order = np.lexsort((priority[slot_server], slot_rank))  # round r over servers, then r+1
    k = min(rest.size, total)
    out[rest[:k]] = slot_server[order[:k]]
    return out


def fill_shares_batch(homes: np.ndarray, valid: np.ndarray, offers: np.ndarray) -> np.ndarray:
    """:func:`fill_shares` for B queue heads at once.

    Args:
        homes: (B, n) home server of each visible task, in [0, m) (any such value where not
            ``valid``).
        valid: (B, n) bool, the slot holds a task; valid slots come first in each row.
        offers: (B, m) slots offered by each server.

    Returns:
        (B, n) int64: the server of each task, -1 where it keeps waiting (and where not valid).

    Step 2 in closed form: with the leftover offers L sorted descending (``order``, stable)
    and ascending as a_0 <= ... <= a_{m-1}, round r of the deal visits the servers with
    L > r, a prefix of ``order``. The first k slots of the deal fill rounds up to
    ``B_q = Σ_{i<q} a_i + (m - q)·a_q`` (the slots in rounds r < a_q); the remaining task
    of rank k lies in the first segment q with ``B_q > k``, where m - q servers are still
    dealt to, and goes to ``order[(k - B_{q-1}) mod (m - q)]``.
    """
    b, n = homes.shape
    m = offers.shape[1]
    if n == 0:
        return np.full((b, n), -1, dtype=np.int64)
    bits = 64 // m
    if n < 1 << (bits - 1) and np.all(offers < 1 << (bits - 1)):
        # One cumulative sum for all servers: task i adds 1 to the bit field of its home
        # (m fields of 64 // m bits in an int64), so field g of the running sum counts the
        # tasks homed at g so far (never reaching the next field or the sign bit); the
        # offers are packed the same way to compare each task with its home's offer.
        field = (1 << bits) - 1
        shift = bits * homes
        counts = np.cumsum(np.left_shift(valid.astype(np.int64), shift), axis=1)
        packed = (offers << (bits * np.arange(m))).sum(axis=1)[:, None]
        rank = np.right_shift(counts, shift) & field  # 1-based FIFO rank among its home's
        at_home = valid & (rank <= (np.right_shift(packed, shift) & field))
        totals = (counts[:, -1:] >> (bits * np.arange(m))) & field
        left = np.maximum(offers - totals, 0)  # each home took min(offer, its tasks)
    else:  # queue heads too long for the packed counts: one pass per server
        at_home = np.zeros((b, n), dtype=bool)
        left = np.empty((b, m), dtype=np.int64)
        for g in range(m):
            mine = valid & (homes == g)
            rank = np.cumsum(mine, axis=1)
            at_home |= mine & (rank <= offers[:, g : g + 1])
            left[:, g] = np.maximum(offers[:, g] - rank[:, -1], 0)
    out = np.where(at_home, homes, -1)
    rest = valid & ~at_home
    total = left.sum(axis=1)
    if not (total.any() and rest.any()):
        return out
    at = np.flatnonzero(rest)  # the remaining tasks in row-major (queue) order
    rows = at // n
    per_row = np.bincount(rows, minlength=b)
    k = np.arange(at.size) - np.repeat(np.cumsum(per_row) - per_row, per_row)  # rank in row
    dealt = k < total[rows]
    at, rows, k = at[dealt], rows[dealt], k[dealt]
    order = np.argsort(-left, axis=1, kind="stable")  # most slots left first
    asc = np.sort(left, axis=1)  # a_0 <= ... <= a_{m-1}
    bounds = np.cumsum(asc, axis=1) - asc + (m - np.arange(m)) * asc  # B_q, non-decreasing
    # q = #{B_q <= k}; before = B_{q-1} (0 for q = 0), the largest B_q <= k. The last
    # bound B_{m-1} is the total, above every dealt rank.
    q = np.zeros(at.size, dtype=np.int64)
    before = np.zeros(at.size, dtype=np.int64)
    for g in range(m - 1):
        bound = bounds[:, g][rows]
        passed = bound <= k
        q += passed
        before = np.where(passed, bound, before)
    pos = (k - before) % (m - q)
    out.ravel()[at] = order.ravel()[rows * m + pos]
    return out


def _cap(targets: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(assigned, kept) masks: the first ``free`` tasks assigned to each server are kept."""
    assigned = targets >= 0
    m = free.shape[-1]
    group = np.where(assigned, targets, m)  # waiting tasks form their own group m
    room = np.concatenate((free, np.zeros((*free.shape[:-1], 1), free.dtype)), axis=-1)
    return assigned, assigned & (
        _rank_within(group, m + 1) < np.take_along_axis(room, group, axis=-1)
    )


def cap_assignments_rows(targets: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut explicit assignments to free capacity, earliest tasks first, per row.

    ``targets``: (..., n) server per visible task, -1 = keep waiting; ``free``: (..., m).
    Leading axes are batch axes (one queue head and one server pool per row). Returns the
    accepted servers (-1 where rejected or waiting) and the number rejected for lack of
    capacity in each row (shape ``targets.shape[:-1]``).
    """
    if not (targets >= 0).any():
        return targets, np.zeros(targets.shape[:-1], dtype=np.int64)
    assigned, keep = _cap(targets, free)
    rejected = assigned.sum(axis=-1) - keep.sum(axis=-1)
    return np.where(keep, targets, -1), rejected.astype(np.int64)


def cap_assignments(targets: np.ndarray, free: np.ndarray) -> tuple[np.ndarray, int]:
    """Cut explicit assignments to free capacity, earliest tasks first.

    ``targets``: (..., n) server per visible task, -1 = keep waiting; ``free``: (..., m).
    Leading axes are batch axes (one queue head and one server pool per row). Returns the
    accepted servers (-1 where rejected or waiting) and the number rejected for lack of
    capacity (summed over the batch; :func:`cap_assignments_rows` counts per row).
    """
    if not (targets >= 0).any():
        return targets, 0
    assigned, keep = _cap(targets, free)
    return np.where(keep, targets, -1), int(assigned.sum() - keep.sum())
