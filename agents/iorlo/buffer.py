"""Experience replay for IoRLO (Ren et al. Sec. 4.2: "the experience replay mechanism")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import torch


class ReplayBatch(NamedTuple):
    """A sampled minibatch; every field is a float32 tensor (numpy array with
    ``sample(..., numpy=True)``) with a leading batch dimension."""

    observations: torch.Tensor  # (B, obs_dim)
    actions: torch.Tensor  # (B, act_dim) the [0, 1] actions actually sent to the env
    rewards: torch.Tensor  # (B, 1) env rewards as returned (the agent applies its scale)
    next_observations: torch.Tensor  # (B, obs_dim)
    terminations: torch.Tensor  # (B, 1) 1.0 only for true terminal states, never truncation


class ReplayBuffer:
    """A FIFO ring buffer of transitions ``(s, a, r, s', terminated)`` in numpy arrays.

    Truncated episodes (time limits) are stored as non-terminal so the critic bootstraps
    through them. Sampling is uniform with replacement from a passed numpy Generator.

    The fields are column blocks of one ``(capacity, width)`` float32 array (the attributes
    ``observations``, ``actions``, ... are views of it), so a minibatch is one gather of
    whole rows: one random memory access per transition instead of one per field (the
    buffer outgrows the caches), and the batch's fields are views of one tensor.
    """

    FIELDS: tuple[str, ...] = (
        "observations",
        "actions",
        "rewards",
        "next_observations",
        "terminations",
    )

    def __init__(self, capacity: int, obs_dim: int, act_dim: int, device: str = "cpu") -> None:
        if capacity < 1:
            raise ValueError(f"buffer_size must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.obs_dim, self.act_dim = int(obs_dim), int(act_dim)
        self.device = torch.device(device)
        widths = (self.obs_dim, self.act_dim, 1, self.obs_dim, 1)  # FIELDS' widths
        ends = np.cumsum(widths).tolist()
        self._columns = [slice(e - w, e) for w, e in zip(widths, ends, strict=True)]
        self._rows = np.zeros((self.capacity, ends[-1]), np.float32)
        self.observations, self.actions, self.rewards, self.next_observations, self.terminations = (
            self._rows[:, cols] for cols in self._columns
        )
        self.pos = 0
        self.full = False

    def __len__(self) -> int:
        return self.capacity if self.full else self.pos

    def add(
        self,
        obs: np.ndarray,
        action: np.ndarray,
        reward: float,
        next_obs: np.ndarray,
        terminated: bool,
    ) -> None:
        i = self.pos
        self.observations[i] = obs
        self.actions[i] = action
        self.rewards[i, 0] = reward
        self.next_observations[i] = next_obs
        self.terminations[i, 0] = float(terminated)
        self.pos = (i + 1) % self.capacity
        self.full = self.full or self.pos == 0

    def sample(self, batch_size: int, rng: np.random.Generator, numpy: bool = False) -> ReplayBatch:
        """``batch_size`` transitions drawn uniformly with replacement; ``numpy``: fields as
        numpy views of the gathered rows (the compiled updates' input; the same draws)."""
        n = len(self)
        if n == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        idx = rng.integers(0, n, size=batch_size)
        rows = self._rows[idx]
        if not numpy:
            rows = torch.from_numpy(rows).to(self.device)
        return ReplayBatch(*(rows[:, cols] for cols in self._columns))

    def state_dict(self) -> dict[str, Any]:
        """The filled part as tensors plus the ring position (weights_only-safe)."""
        n = len(self)
        state: dict[str, Any] = {
            f: torch.from_numpy(getattr(self, f)[:n].copy()) for f in self.FIELDS
        }
        state.update(capacity=self.capacity, pos=self.pos, full=self.full)
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if int(state["capacity"]) != self.capacity:
            raise ValueError(
                f"buffer capacity {state['capacity']} in the checkpoint, {self.capacity} here"
            )
        n = state["observations"].shape[0]
        for f in self.FIELDS:
            arr = np.asarray(state[f], dtype=np.float32)
            if arr.shape[1:] != getattr(self, f).shape[1:]:
                raise ValueError(
                    f"buffer field {f} has shape {arr.shape[1:]} per row, expected "
                    f"{getattr(self, f).shape[1:]}"
                )
            getattr(self, f)[:n] = arr
        self.pos, self.full = int(state["pos"]), bool(state["full"])
