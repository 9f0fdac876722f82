"""Slot clock and FIFO buffer queue of the scheduling simulator (docs/model.md §8).

The queue holds task ids (indices into the episode's ``TaskSet``) in arrival order. The
scheduler sees its first M entries; any subset of them may leave in a step, the rest keep
their order. New arrivals are appended; those that find the queue at ``queue_limit`` are
dropped (tail drop) and counted, never silently lost.

Data structure: a task enters the queue at most once and in id order, so the queue lives in
one preallocated array of K ids (K = the task-set size) as the window ``ids[start:end]``.
Appending writes past ``end``; removing some of the first M entries moves the ones that stay
to the right, next to the rest of the queue, and advances ``start``. A step therefore costs
O(M + arrivals) whatever the queue length (re-concatenating the whole queue every step made
it O(queue length): 0.15 -> 0.47 ms per step from 1,000 to 300,000 waiting tasks, see
``benchmarks/bench_scheduling.py --queue-scaling``). The batched queues of the vector env
(:class:`envs.scheduling.batch.BatchTimeline`) use the same layout, one row per copy.
"""

from __future__ import annotations

import numpy as np

from envs.scheduling.tasks import TaskSet


class Timeline:
    """Clock (``slot``), arrival cursor over a task set and the FIFO buffer queue."""

    def __init__(self, tasks: TaskSet, queue_limit: int | None) -> None:
        self.tasks = tasks
        self.queue_limit = queue_limit
        self.slot = 0
        self.arrived = 0  # tasks whose arrival slot has passed (dropped ones included)
        self.dropped = 0
        self._ids = np.empty(tasks.size, dtype=np.int64)
        self._start = self._end = 0

    @property
    def queue(self) -> np.ndarray:
        """Waiting task ids in FIFO order (a view; do not modify)."""
        return self._ids[self._start : self._end]

    @property
    def length(self) -> int:
        """Number of waiting tasks."""
        return self._end - self._start

    def admit(self) -> int:
        """Append the tasks arriving in the current slot; return how many were dropped."""
        end = int(np.searchsorted(self.tasks.arrival, self.slot, side="right"))
        new = end - self.arrived
        room = new if self.queue_limit is None else self.queue_limit - self.length
        dropped = max(0, new - room)
        joining = new - dropped
        if joining:
            self._ids[self._end : self._end + joining] = np.arange(
                self.arrived, self.arrived + joining, dtype=np.int64
            )
            self._end += joining
        self.arrived = end
        self.dropped += dropped
        return dropped

    def head(self, size: int) -> np.ndarray:
        """Ids of the first ``size`` waiting tasks (a view; do not modify)."""
        return self._ids[self._start : min(self._start + size, self._end)]

    def remove_head(self, leaving: np.ndarray) -> None:
        """Remove the head entries flagged in ``leaving`` (a mask over ``head(len(leaving))``)."""
        n = leaving.size
        stay = self._ids[self._start : self._start + n][~leaving]  # a copy
        self._start += n - stay.size
        self._ids[self._start : self._start + stay.size] = stay

    def tick(self) -> None:
        self.slot += 1

    @property
    def all_arrived(self) -> bool:
        return self.arrived == self.tasks.size
