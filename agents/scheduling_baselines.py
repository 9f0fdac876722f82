"""Heuristic schedulers for ``EdgeRL/EdgeScheduling-v0`` (Huang et al. Sec. 4.5 baselines).

All work through the env's ``"assign"`` action mode: they read the queue head and the free
capacities from the observation (exact: free capacity is stored as (c_i - g_i) / max c) and
the static configuration (m, M, capacities) from ``env.unwrapped``, so ``act_batch`` also
serves vector envs of one configuration (a policy built on the native
:class:`~envs.scheduling.vector.EdgeSchedulingVectorEnv` acts on its batched observations).
Each keeps its assignments within free capacity (tasks whose chosen server is full keep
waiting), so the env never has to reject them.

- ``closest``: every task to its home server only (proximity service; tasks wait when home
  is full — the imbalance DRLoS is meant to fix).
- ``average``: round-robin over the servers; the cycle continues from the last task placed.
- ``random``: a uniformly random server per task, from a seeded ``numpy`` Generator.
- ``least_loaded``: greedy, each task in FIFO order to the server with the lowest utilisation
  after the tasks already placed this step (``key="free"``: the most free slots instead; the
  two agree when capacities are equal).
- ``latency_greedy``: each task to the choice of least expected latency (waiting + RPC if
  forwarded + service; service is the same on every server): home when it has a free slot;
  else wait for home while the expected wait (the task's place among those waiting for it,
  over its departure rate g_h / E[service]) is at most the RPC latency; else forwarded to
  the least-utilised server with a free slot (after this step's placements).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from agents.common.envcheck import scheduling_base
from envs.scheduling.env import ObsParts
from envs.scheduling.servers import cap_assignments
from envs.scheduling.vector import EdgeSchedulingVectorEnv


def _merge_slots(load: np.ndarray, free: np.ndarray, caps: np.ndarray, n: int) -> np.ndarray:
    """(B, n) server of the k-th task of a least-utilisation greedy that fills ``free``
    slots (-1 past the free slots): the k-th extra task on server i has key (g_i + k) / c_i;
    sorting all keys gives the greedy order (stable: lower index wins ties)."""
    batch = load.shape[0]
    k = np.arange(n)
    keys = (load[:, :, None] + k) / caps[:, None]
    keys = np.where(k < free[:, :, None], keys, np.inf).reshape(batch, -1)
    order = np.argsort(keys, axis=1, kind="stable")[:, :n]
    has_slot = np.isfinite(np.take_along_axis(keys, order, axis=1))
    return np.where(has_slot, order // n, -1)


class SchedulingHeuristic(ABC):
    """Base: decode observations, propose a server per visible task, cut to capacity."""

    name = "heuristic"

    def __init__(self, env: gym.Env | EdgeSchedulingVectorEnv) -> None:
        base = env.unwrapped
        if isinstance(base, EdgeSchedulingVectorEnv):  # act_batch on its observations
            base = base.env
        name = type(self).__name__
        base = scheduling_base(base, name, "assign", f"{name} acts through per-task assignments")
        self.layout = base.obs_layout
        self.num_servers = base.num_servers
        self.capacities = base.capacities.copy()
        self._cmax = float(self.capacities.max())
        self.base_env = base

    def reset(self) -> None:  # noqa: B027 - optional hook, stateless policies keep it empty
        """Forget any state carried between steps (none by default)."""

    def act(self, obs: np.ndarray) -> np.ndarray:
        """Action (M,) for one observation: a server per visible task, m = keep waiting."""
        return self.act_batch(np.asarray(obs)[None])[0]

    def act_batch(self, obs_batch: np.ndarray) -> np.ndarray:
        """Actions (B, M) for a batch of observations of envs with this configuration."""
        obs_batch = np.asarray(obs_batch)
        if obs_batch.ndim != 2 or obs_batch.shape[1] != self.layout.size:
            raise ValueError(
                f"obs_batch must have shape (B, {self.layout.size}), got {obs_batch.shape}"
            )
        parts = self.layout.decode(obs_batch)
        free = np.rint(parts.free.astype(np.float64) * self._cmax).astype(np.int64)
        targets = np.where(parts.mask, self._propose(parts, free), -1)
        accepted, _ = cap_assignments(targets, free)
        self._after(accepted)
        return np.where(accepted >= 0, accepted, self.num_servers)

    @abstractmethod
    def _propose(self, parts: ObsParts, free: np.ndarray) -> np.ndarray:
        """(B, M) proposed server per visible slot (entries of empty slots are ignored)."""

    def _after(self, accepted: np.ndarray) -> None:  # noqa: B027 - optional hook
        """Hook to update state from the accepted assignments (B, M)."""


class ClosestPolicy(SchedulingHeuristic):
    """Home server only."""

    name = "closest"

    def _propose(self, parts: ObsParts, free: np.ndarray) -> np.ndarray:
        return parts.home


class AveragePolicy(SchedulingHeuristic):
    """Round-robin over the servers, one cycle position per env row, kept across steps."""

    name = "average"

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._next = np.zeros(0, dtype=np.int64)

    def reset(self) -> None:
        self._next = np.zeros(0, dtype=np.int64)

    def _propose(self, parts: ObsParts, free: np.ndarray) -> np.ndarray:
        batch = parts.home.shape[0]
        if self._next.size != batch:
            self._next = np.zeros(batch, dtype=np.int64)
        return (self._next[:, None] + np.arange(parts.home.shape[1])) % self.num_servers

    def _after(self, accepted: np.ndarray) -> None:
        # Continue the cycle after the last task that was actually placed.
        placed = accepted >= 0
        last = np.where(
            placed.any(axis=1), accepted.shape[1] - 1 - placed[:, ::-1].argmax(axis=1), -1
        )
        self._next = (self._next + last + 1) % self.num_servers


class RandomPolicy(SchedulingHeuristic):
    """A uniformly random server per task (seeded)."""

    name = "random"

    def __init__(self, env: gym.Env, seed: int | None = None) -> None:
        super().__init__(env)
        self.rng = np.random.default_rng(seed)

    def _propose(self, parts: ObsParts, free: np.ndarray) -> np.ndarray:
        return self.rng.integers(0, self.num_servers, size=parts.home.shape)


class LeastLoadedPolicy(SchedulingHeuristic):
    """Greedy: each task, in FIFO order, to the least-loaded server with a free slot."""

    name = "least_loaded"
    KEYS = ("utilization", "free")

    def __init__(self, env: gym.Env, key: str = "utilization") -> None:
        super().__init__(env)
        if key not in self.KEYS:
            raise ValueError(f"key must be one of {self.KEYS}, got {key!r}")
        self.key = key

    def _propose(self, parts: ObsParts, free: np.ndarray) -> np.ndarray:
        # The greedy sequence is the merge of the servers' next-slot keys: the k-th extra task
        # on server i has key (g_i + k) / c_i (or -(free_i - k)); sorting all keys gives the
        # order in which greedy fills slots (stable sort: lower server index wins ties).
        batch, big_m = parts.home.shape
        k = np.arange(big_m)
        load = self.capacities - free  # (B, m)
        if self.key == "utilization":
            keys = (load[:, :, None] + k) / self.capacities[:, None]
        else:
            keys = (k - free[:, :, None]).astype(np.float64)
        keys = np.where(k < free[:, :, None], keys, np.inf).reshape(batch, -1)
        order = np.argsort(keys, axis=1, kind="stable")[:, :big_m]
        has_slot = np.isfinite(np.take_along_axis(keys, order, axis=1))
        return np.where(has_slot, order // big_m, -1)


class LatencyGreedyPolicy(SchedulingHeuristic):
    """Least expected latency per task: home if free, wait for home while cheaper than the
    RPC, else forward to the least-utilised server with a free slot (module docstring)."""

    name = "latency_greedy"

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        base = self.base_env
        self.mean_service = float(base.arrival_process.mean_service_slots)
        # Longest wait (slots) for home that costs no more than the forwarding RPC.
        self.max_wait_slots = base.rpc_latency_ms / base.slot_ms

    def _propose(self, parts: ObsParts, free: np.ndarray) -> np.ndarray:
        return latency_greedy_targets(
            parts.home, parts.mask, free, self.capacities, self.mean_service, self.max_wait_slots
        )


def least_loaded_targets(free: np.ndarray, caps: np.ndarray, n: int) -> np.ndarray:
    """(B, n): ``least_loaded``'s server for each of the first n visible tasks (-1: none)."""
    return _merge_slots(caps - free, free, caps, n)


def latency_greedy_targets(
    home: np.ndarray,
    mask: np.ndarray,
    free: np.ndarray,
    caps: np.ndarray,
    mean_service: float,
    max_wait_slots: float,
) -> np.ndarray:
    """(B, w): ``latency_greedy``'s server per visible task (-1: keep waiting); ``home``,
    ``mask`` (B, w), ``free`` (B, m) exact free slots, ``caps`` (m,)."""
    m = caps.size
    big_m = home.shape[1]
    onehot = (home[..., None] == np.arange(m)) & mask[..., None]  # (B, w, m)
    seen = np.cumsum(onehot, axis=1)
    # place among the visible tasks of the same home
    rank = np.take_along_axis(seen, np.maximum(home, 0)[..., None], axis=2)[..., 0] - 1
    home_free = np.take_along_axis(free, np.maximum(home, 0), axis=1)
    at_home = mask & (rank < home_free)
    # Overflow: position p >= 1 among those waiting for home; home frees g_h / E[S] per slot.
    load = caps - free
    rate = np.maximum(load, 1) / mean_service  # (B, m) departures per slot when full
    pos = rank - home_free + 1
    home_rate = np.take_along_axis(rate, np.maximum(home, 0), axis=1)
    forward = mask & ~at_home & (pos > max_wait_slots * home_rate)
    # Forwarded tasks fill the slots left after the home placements, least-utilised first.
    used = np.minimum(onehot.sum(axis=1), free)
    seq = _merge_slots(load + used, free - used, caps, big_m)  # (B, w)
    nth = np.cumsum(forward, axis=1) - 1
    target = np.take_along_axis(seq, np.clip(nth, 0, max(big_m - 1, 0)), axis=1)
    return np.where(at_home, home, np.where(forward, target, -1))


SCHEDULING_POLICIES: dict[str, Callable[..., SchedulingHeuristic]] = {
    "closest": ClosestPolicy,
    "average": AveragePolicy,
    "random": RandomPolicy,
    "least_loaded": LeastLoadedPolicy,
    "latency_greedy": LatencyGreedyPolicy,
}


def make_scheduling_policy(name: str, env: gym.Env, **kwargs: Any) -> SchedulingHeuristic:
    """``SCHEDULING_POLICIES[name](env, **kwargs)`` with a clear error for unknown names."""
    if name not in SCHEDULING_POLICIES:
        raise ValueError(
            f"unknown scheduling policy {name!r}; choose from {sorted(SCHEDULING_POLICIES)}"
        )
    return SCHEDULING_POLICIES[name](env, **kwargs)
