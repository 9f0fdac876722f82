"""Per-(task, server) features of DRLoS+ (docs/model.md §8.2), computed in numpy from the
observation and the env's static configuration, for training and the numpy actor alike.

For visible task j (home h) and choice i (a server, or i = m: keep waiting), row
``feats[..., j, i, :]`` holds (servers' rows; the wait row has zeros in 0-5 and 1 in 12):

| # | feature |
|---|---|
| 0 | u_i, utilisation of server i |
| 1 | free_i / c_i |
| 2 | 1 if i is the task's home |
| 3 | c_i / max c |
| 4 | (visible tasks homed at i ahead of j) / max(free_i, 1), clipped to [0, 2] (< 1: j still fits at i after them) |
| 5 | (visible tasks homed at i) / max(free_i, 1), clipped to [0, 2] (< 1: i keeps free slots for others) |
| 6 | j's expected wait for home in RPC units: max(0, rank - free_h + 1)·slot_ms / (g_h/E[S] · rpc_ms), clipped to [0, 3] |
| 7 | j's waiting time (observation feature) |
| 8 | j's service time (observation feature) |
| 9 | queue length (observation feature) |
| 10 | feature 4 of the home server (does j fit at home) |
| 11 | u_h, utilisation of the home server |
| 12 | 1 for the wait choice |
| 13 | 1 if ``latency_greedy`` would make this choice for j (wait row: if it keeps j waiting) |
| 14 | 1 if ``least_loaded`` would make this choice for j (wait row: if it keeps j waiting) |

Features 13-14 let the scorer start from, and mix, the two heuristics that each win one half
of the objective (a per-task, state-dependent mixture of them is already a policy between
them); the other features let it depart from both.

The choice mask allows the servers with a free slot, and always the wait choice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.scheduling_baselines import latency_greedy_targets, least_loaded_targets
from envs.scheduling.env import EdgeSchedulingEnv, ObsLayout

NUM_FEATURES = 15


@dataclass(frozen=True)
class FeatureSpec:
    """The static settings the features need (from the env, saved with the actor)."""

    num_servers: int
    buffer_size: int
    capacities: tuple[int, ...]
    mean_service_slots: float
    slot_ms: float
    rpc_latency_ms: float

    @classmethod
    def from_env(cls, env: EdgeSchedulingEnv) -> FeatureSpec:
        return cls(
            int(env.num_servers), int(env.buffer_size),
            tuple(int(c) for c in env.capacities),
            float(env.arrival_process.mean_service_slots), float(env.slot_ms),
            float(env.rpc_latency_ms),
        )  # fmt: skip

    @property
    def layout(self) -> ObsLayout:
        return ObsLayout(self.num_servers, self.buffer_size)


def task_server_features(
    obs: np.ndarray, spec: FeatureSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(feats (B, w, m+1, F) float32, valid (B, w) bool, allowed (B, w, m+1) bool)`` for a
    batch of observations; ``w`` = the widest queue head in the batch (<= M), so empty
    columns past it are not computed (their actions are "wait")."""
    parts = spec.layout.decode(np.asarray(obs))
    m = spec.num_servers
    caps = np.asarray(spec.capacities, dtype=np.float64)
    valid_full = parts.mask
    width = int(valid_full.sum(axis=1).max(initial=0))
    valid = valid_full[:, :width]
    batch = valid.shape[0]
    home = np.maximum(parts.home[:, :width], 0)
    util = parts.utilization.astype(np.float64)  # (B, m)
    free = np.rint(parts.free.astype(np.float64) * caps.max())  # exact free slots
    onehot = (home[..., None] == np.arange(m)) & valid[..., None]  # (B, w, m)
    ahead = np.cumsum(onehot, axis=1) - onehot  # tasks of home i ahead of j
    total = onehot.sum(axis=1)  # (B, m)
    denom = np.maximum(free, 1.0)[:, None, :]
    f4 = np.clip(ahead / denom, 0.0, 2.0)
    f5 = np.broadcast_to(np.clip(total / np.maximum(free, 1.0), 0.0, 2.0)[:, None, :], f4.shape)
    rank = np.take_along_axis(ahead, home[..., None], axis=2)[..., 0]
    home_free = np.take_along_axis(free, home, axis=1)
    load = caps - free
    rate = np.maximum(load, 1.0) / spec.mean_service_slots
    home_rate = np.take_along_axis(rate, home, axis=1)
    pos = np.maximum(rank - home_free + 1.0, 0.0)
    wait_rpc = np.clip(pos * spec.slot_ms / (home_rate * max(spec.rpc_latency_ms, 1e-9)), 0, 3)
    fit_home = np.take_along_axis(f4, home[..., None], axis=2)[..., 0]
    u_home = np.take_along_axis(util, home, axis=1)

    feats = np.zeros((batch, width, m + 1, NUM_FEATURES), dtype=np.float32)
    srv = feats[:, :, :m]
    srv[..., 0] = util[:, None, :]
    srv[..., 1] = (free / caps)[:, None, :]
    srv[..., 2] = home[..., None] == np.arange(m)
    srv[..., 3] = (caps / caps.max())[None, None, :]
    srv[..., 4] = f4
    srv[..., 5] = f5
    task = (
        wait_rpc,
        parts.wait[:, :width],
        parts.service[:, :width],
        np.broadcast_to(parts.queue[:, None], (batch, width)),
        fit_home,
        u_home,
    )
    for k, v in enumerate(task, start=6):
        feats[..., k] = v[..., None]
    feats[:, :, m, 12] = 1.0
    free_i = free.astype(np.int64)
    caps_i = np.asarray(spec.capacities, dtype=np.int64)
    lg = latency_greedy_targets(
        home, valid, free_i, caps_i, spec.mean_service_slots,
        spec.rpc_latency_ms / spec.slot_ms,
    )  # fmt: skip
    ll = np.where(valid, least_loaded_targets(free_i, caps_i, width), -1)
    choices = np.arange(m + 1)
    feats[..., 13] = np.where(lg < 0, m, lg)[..., None] == choices
    feats[..., 14] = np.where(ll < 0, m, ll)[..., None] == choices
    feats *= valid[..., None, None]
    allowed = np.ones((batch, width, m + 1), dtype=bool)
    allowed[:, :, :m] = (free > 0)[:, None, :] & valid[..., None]
    return feats, valid, allowed
