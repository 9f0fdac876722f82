"""Task sets of the multi-edge scheduling simulator (docs/model.md §8).

A task set is the whole input of one episode: ``K`` requests, each with the slot it arrives
in, its home (nearest) server and its service time in slots. It is a frozen bundle of arrays
so the same task set can be replayed exactly, N times (DRLoS / DeepRM training, docs/model.md §8).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

SERVICE_DISTRIBUTIONS: tuple[str, ...] = ("geometric", "constant", "uniform")
# 1e5 slots is 1000 s at the default 10 ms slot, far beyond the paper's ~10 slots; the
# departure calendar spans ~32 mean service times (about 100 MB at this bound, m = 3).
MAX_MEAN_SERVICE_SLOTS = 1e5


@dataclass(frozen=True)
class TaskSet:
    """``K`` tasks ordered by arrival slot (FIFO order within a slot is the array order).

    Attributes:
        arrival: int64 (K,), non-decreasing slot index at which each task joins the queue.
        home: int64 (K,), index of the task's home (nearest) server.
        service: int64 (K,), service time in slots (>= 1); the task holds one unit of its
            server's capacity for that many slots.
    """

    arrival: np.ndarray
    home: np.ndarray
    service: np.ndarray

    def __post_init__(self) -> None:
        for name in ("arrival", "home", "service"):
            arr = np.ascontiguousarray(getattr(self, name), dtype=np.int64)
            if arr.ndim != 1:
                raise ValueError(f"TaskSet.{name} must be 1-D, got shape {arr.shape}")
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        k = self.arrival.size
        if self.home.size != k or self.service.size != k:
            raise ValueError(
                "TaskSet arrays must have equal length, got "
                f"arrival={k}, home={self.home.size}, service={self.service.size}"
            )
        if k and (self.arrival[0] < 0 or np.any(np.diff(self.arrival) < 0)):
            raise ValueError("TaskSet.arrival must be non-negative and non-decreasing")
        if k and self.service.min() < 1:
            raise ValueError("TaskSet.service must be >= 1 slot for every task")
        if k and self.home.min() < 0:
            raise ValueError("TaskSet.home must be >= 0")

    @property
    def size(self) -> int:
        """Number of tasks K."""
        return int(self.arrival.size)

    @cached_property
    def slot_run_end(self) -> np.ndarray:
        """int64 (K,): one past the last task arriving in the same slot as task i (the end of
        its slot's run; computed once per task set, read-only)."""
        out = np.searchsorted(self.arrival, self.arrival, side="right").astype(np.int64)
        out.setflags(write=False)
        return out

    def check_servers(self, num_servers: int) -> None:
        """Raise ValueError if a home index is outside ``[0, num_servers)``."""
        if self.size and self.home.max() >= num_servers:
            raise ValueError(
                f"TaskSet.home must be in [0, {num_servers}) for num_servers={num_servers}, "
                f"got max {int(self.home.max())}"
            )


def validate_service(service_time: str, mean_service_slots: float) -> None:
    """Raise ValueError on an unknown distribution or a mean below one slot."""
    if not isinstance(service_time, str) or service_time not in SERVICE_DISTRIBUTIONS:
        raise ValueError(
            f"service_time must be one of {SERVICE_DISTRIBUTIONS}, got {service_time!r}"
        )
    is_num = isinstance(mean_service_slots, int | float | np.integer | np.floating)
    if (
        not is_num
        or isinstance(mean_service_slots, bool)
        or not 1.0 <= mean_service_slots <= MAX_MEAN_SERVICE_SLOTS  # also rejects NaN
    ):
        raise ValueError(
            f"mean_service_slots must be a finite number in [1, {MAX_MEAN_SERVICE_SLOTS:.0e}], "
            f"got {mean_service_slots!r}"
        )


def expected_service(service_time: str, mean_service_slots: float) -> float:
    """Exact expected service time (slots) of ``sample_service`` with these arguments."""
    validate_service(service_time, mean_service_slots)
    if service_time == "constant":
        return float(max(1, round(mean_service_slots)))
    if service_time == "uniform":
        return (1 + max(1, round(2.0 * mean_service_slots - 1.0))) / 2.0
    return float(mean_service_slots)


def sample_service(
    rng: np.random.Generator, n: int, service_time: str, mean_service_slots: float
) -> np.ndarray:
    """Draw ``n`` service times (slots, >= 1) with the given mean.

    - ``geometric``: P(s) = p(1-p)^(s-1), s >= 1, p = 1/mean (memoryless, the default).
    - ``constant``: every task takes round(mean) slots.
    - ``uniform``: integers uniform on [1, round(2*mean - 1)] (mean exact when 2*mean is an integer).
    """
    validate_service(service_time, mean_service_slots)
    if service_time == "geometric":
        return rng.geometric(1.0 / mean_service_slots, size=n).astype(np.int64)
    if service_time == "constant":
        return np.full(n, max(1, round(mean_service_slots)), dtype=np.int64)
    high = max(1, round(2.0 * mean_service_slots - 1.0))
    return rng.integers(1, high + 1, size=n, dtype=np.int64)
