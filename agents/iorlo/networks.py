"""IoRLO's actor and critic (Ren et al. Sec. 4.2: one hidden layer of 50 / 30 units)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from agents.common.mlp import ACTIVATIONS, linear_modules, mlp

__all__ = ["ACTIVATIONS", "Actor", "Critic", "forward_mlp", "mlp"]


def forward_mlp(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """``net(x)`` for an :func:`mlp` with the same operations, called directly (no module
    call per layer: these nets are small enough for Python overhead to dominate)."""
    for m in net:
        if type(m) is nn.Linear:
            x = F.linear(x, m.weight, m.bias)
        elif type(m) is nn.ReLU:
            x = torch.relu(x)
        else:
            x = m(x)
    return x


class Actor(nn.Module):
    """``μ(s) = sigmoid(z(s)) ∈ [0, 1]^n``: one entry per DNN block (Ren et al. Sec. 4.2.2).

    The env's intent thresholds turn each entry into a platform. ``out_init`` scales the
    output layer's initial weights (the DDPG paper's ±3e-3 final-layer init keeps the first
    actions near 0.5; ``None`` keeps PyTorch's default init).
    """

    def __init__(
        self, obs_dim: int, act_dim: int, hidden: int | Sequence[int] = 50, activation: str = "relu",
        out_init: float | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.activation = activation
        self.net = mlp(obs_dim, hidden, act_dim, activation)
        if out_init is not None:
            nn.init.uniform_(self.net[-1].weight, -out_init, out_init)
            nn.init.uniform_(self.net[-1].bias, -out_init, out_init)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(forward_mlp(self.net, obs))

    def linears(self) -> list[nn.Linear]:
        return linear_modules(self.net)


class Critic(nn.Module):
    """``Q(s, a)``: an MLP on the concatenated observation and [0, 1] action."""

    def __init__(
        self, obs_dim: int, act_dim: int, hidden: int | Sequence[int] = 30, activation: str = "relu"
    ) -> None:
        super().__init__()
        self.net = mlp(obs_dim + act_dim, hidden, 1, activation)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return forward_mlp(self.net, torch.cat([obs, action], dim=-1))
