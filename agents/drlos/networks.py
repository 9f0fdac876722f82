"""DRLoS policy network (Huang et al. Sec. 3.3.2, 4.5): observation → logits over 2^m shares.

The paper's policy is "a fully connected layer with 20 neurons" followed by a softmax over the
share actions (DeepRM's policy network has the same shape); ``hidden`` takes any tuple of
widths, the default ``(20,)`` is the paper's.

Input features (``features``):

- ``"pooled"`` (default): the first layer's weights are shared across the M buffer slots,
  i.e. the network sees the server block of the observation (utilisation, free capacity,
  queue level, arrived fraction) and the *mean over the M slots* of each per-slot feature
  (home one-hot, waiting time, service time): 3m + 4 inputs instead of 2m + 2 + M(m + 3).
  This is a linear map of the observation, so it folds into the first layer of a plain MLP
  on the raw observation (:meth:`PolicyNetwork.linear_layers`) and the fast
  :class:`~agents.common.fast_actor.NumpyActor` runs it unchanged. Why: with the raw input
  the 3 utilisations are drowned by ~2000 per-slot entries and REINFORCE learns a
  state-independent action mix (deterministic evaluation then always picks one action);
  see ``benchmarks/bench_drlos.py`` and the DRLoS module docstring.
- ``"raw"``: the flat observation as is (the paper's literal input).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from agents.common.mlp import ACTIVATIONS, linear_modules, mlp
from envs.scheduling.env import ObsLayout

FEATURES: tuple[str, ...] = ("pooled", "raw")


def check_hidden(hidden: int | Sequence[int]) -> tuple[int, ...]:
    """``hidden`` as a tuple of positive widths (an int means one hidden layer)."""
    widths = (hidden,) if isinstance(hidden, int) and not isinstance(hidden, bool) else hidden
    try:
        widths = tuple(widths)
    except TypeError:
        widths = ()
    if not widths or any(not isinstance(w, int) or isinstance(w, bool) or w < 1 for w in widths):
        raise ValueError(
            f"hidden must be a positive integer or a non-empty sequence of them, got {hidden!r}"
        )
    return widths


def pooling_matrix(layout: ObsLayout) -> np.ndarray:
    """(obs_dim, 3m + 4) float32 matrix P with ``obs @ P`` = the pooled features.

    Columns: the 2m + 2 server-block entries copied; then, averaged over the M slots (sum / M,
    so empty slots count as zeros), the m home one-hot entries, the waiting time and the
    service time of each slot. ``sum_i mean(home_i)`` is the fraction of occupied slots.
    """
    m, big_m = layout.num_servers, layout.buffer_size
    head = 2 * m + 2
    p = np.zeros((layout.size, head + m + 2), dtype=np.float32)
    p[np.arange(head), np.arange(head)] = 1.0
    slot_starts = layout.tasks_start + layout.task_features * np.arange(big_m)
    for f in range(m + 2):  # per-slot feature f -> pooled column head + f
        p[slot_starts + f, head + f] = 1.0 / big_m
    return p


class PolicyNetwork(nn.Module):
    """``encode`` (fixed linear features) then an MLP ``head`` returning unnormalised logits.

    Initialisation as in CleanRL: orthogonal hidden layers (gain √2) and an output layer with
    gain 0.01 so the untrained policy is close to uniform over the share actions.
    ``generator`` makes the initial weights reproducible without touching torch's global RNG.
    """

    def __init__(
        self,
        obs_dim: int,
        num_actions: int,
        hidden: int | Sequence[int] = 20,
        activation: str = "relu",
        projection: np.ndarray | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.obs_dim, self.num_actions = int(obs_dim), int(num_actions)
        self.hidden, self.activation = check_hidden(hidden), activation
        if projection is not None:
            projection = torch.as_tensor(np.asarray(projection, dtype=np.float32))
            if projection.ndim != 2 or projection.shape[0] != self.obs_dim:
                raise ValueError(
                    f"projection must have shape ({self.obs_dim}, F), got {tuple(projection.shape)}"
                )
        self.register_buffer("projection", projection)
        self.in_dim = self.obs_dim if projection is None else int(projection.shape[1])

        def init(layer: nn.Linear, last: bool) -> None:
            _init(layer, 0.01 if last else 2**0.5, generator)

        self.head = mlp(self.in_dim, self.hidden, self.num_actions, activation, init)

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        """The policy input: ``obs @ projection`` (the observation itself without one)."""
        return obs if self.projection is None else obs @ self.projection

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.encode(obs))

    def linear_layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``(W, b)`` of every layer of the equivalent MLP on the raw observation.

        The projection is folded into the first layer: ``W_1 (obs P)ᵀ = (W_1 Pᵀ) obs``.
        """
        out = [
            (m.weight.detach().clone(), m.bias.detach().clone()) for m in linear_modules(self.head)
        ]
        if self.projection is not None:
            w0, b0 = out[0]
            out[0] = (w0 @ self.projection.T, b0)
        return out


def _init(layer: nn.Linear, gain: float, generator: torch.Generator | None) -> nn.Linear:
    with torch.no_grad():
        nn.init.orthogonal_(layer.weight, gain, generator=generator)
        layer.bias.zero_()
    return layer
