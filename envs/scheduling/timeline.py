"""Slot clock and FIFO buffer queue of the scheduling simulator (docs/model.md §8).

The queue holds task ids (indices into the episode's ``TaskSet``) in arrival order. The
scheduler sees its first M entries; any subset of them may leave in a step, the rest keep
their order. New arrivals are appended; those that find the queue at ``queue_limit`` are
dropped (tail drop) and counted, never silently lost.
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
        self.queue = np.empty(0, dtype=np.int64)
        self.arrived = 0  # tasks whose arrival slot has passed (dropped ones included)
        self.dropped = 0

    def admit(self) -> int:
        """Append the tasks arriving in the current slot; return how many were dropped."""
        end = int(np.searchsorted(self.tasks.arrival, self.slot, side="right"))
        new = np.arange(self.arrived, end, dtype=np.int64)
        self.arrived = end
        room = new.size if self.queue_limit is None else self.queue_limit - self.queue.size
        dropped = max(0, new.size - room)
        if new.size:
            self.queue = np.concatenate((self.queue, new[: new.size - dropped]))
        self.dropped += dropped
        return dropped

    def head(self, size: int) -> np.ndarray:
        """Ids of the first ``size`` waiting tasks (a view; do not modify)."""
        return self.queue[:size]

    def remove_head(self, leaving: np.ndarray) -> None:
        """Remove the head entries flagged in ``leaving`` (a mask over ``head(len(leaving))``)."""
        n = leaving.size
        self.queue = np.concatenate((self.queue[:n][~leaving], self.queue[n:]))

    def tick(self) -> None:
        self.slot += 1

    @property
    def all_arrived(self) -> bool:
        return self.arrived == self.tasks.size
