"""The one MLP builder of the torch agents (IoRLO's actor and critics, the DRLoS policy head,
the DRLoS+ scorer, the DP-distill and DP-forecast networks)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh}


def hidden_sizes(hidden: int | Sequence[int]) -> tuple[int, ...]:
    """``hidden`` as a non-empty tuple of widths >= 1 (an int: one hidden layer)."""
    sizes = (hidden,) if isinstance(hidden, int) else tuple(int(h) for h in hidden)
    if not sizes or any(h < 1 for h in sizes):
        raise ValueError(f"hidden sizes must be integers >= 1, got {hidden!r}")
    return sizes


def mlp(
    in_dim: int,
    hidden: int | Sequence[int],
    out_dim: int,
    activation: str,
    init: Callable[[nn.Linear, bool], object] | None = None,
) -> nn.Sequential:
    """``Linear -> act -> ... -> Linear`` (no output activation).

    Each layer gets PyTorch's default init when it is created, then ``init(layer, is_last)``
    if given, before the next layer is created (the order in which a global or private RNG
    is drawn from is that of the layers).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
    sizes = (in_dim, *hidden_sizes(hidden), out_dim)
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layer = nn.Linear(sizes[i], sizes[i + 1])
        if init is not None:
            init(layer, i == len(sizes) - 2)
        layers += [layer, ACTIVATIONS[activation]()]
    return nn.Sequential(*layers[:-1])


def linear_modules(net: nn.Sequential) -> list[nn.Linear]:
    """The linear layers of ``net``, in order."""
    return [m for m in net if isinstance(m, nn.Linear)]
