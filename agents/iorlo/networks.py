"""IoRLO's actor and critics (Ren et al. Sec. 4.2: one hidden layer of 50 / 30 units)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from agents.common.mlp import ACTIVATIONS, hidden_sizes, linear_modules, mlp

__all__ = ["ACTIVATIONS", "Actor", "Critic", "CriticStack", "forward_mlp", "mlp"]


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


# Backpropagation written out, for the updates that skip autograd: the operations autograd
# runs for F.linear (addmm) and the activations, so the gradients are the same bit for bit.
def linear_grads(
    dz: torch.Tensor, h_in: torch.Tensor, weight: torch.Tensor, input_grad: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """``(dW, db, dh)`` of ``z = F.linear(h_in, weight, b)`` for ``dz = dL/dz`` (``weight``
    ``(out, in)``; ``dh`` only with ``input_grad``)."""
    dh = torch.mm(dz, weight) if input_grad else None
    return torch.mm(dz.t(), h_in), dz.sum(0), dh


def activation_grad(grad: torch.Tensor, out: torch.Tensor, activation: str) -> torch.Tensor:
    """The gradient before an activation from the one after it and its output ``out``."""
    if activation == "relu":
        return torch.ops.aten.threshold_backward(grad, out, 0)
    return torch.ops.aten.tanh_backward(grad, out)


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
        self._layers = linear_modules(self.net)  # (a plain list: deepcopy keeps it in step)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(forward_mlp(self.net, obs))

    def linears(self) -> list[nn.Linear]:
        return linear_modules(self.net)

    @torch.no_grad()
    def forward_kept(self, obs: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``μ(obs)`` (the operations of :meth:`forward`) and every layer's input, for
        :meth:`grads`."""
        layers, act = self._layers, torch.relu if self.activation == "relu" else torch.tanh
        inputs, h = [obs], obs
        for i, layer in enumerate(layers):
            h = F.linear(h, layer.weight, layer.bias)
            if i < len(layers) - 1:
                h = act(h)
                inputs.append(h)
        return torch.sigmoid(h), inputs

    @torch.no_grad()
    def grads(
        self, inputs: list[torch.Tensor], mu: torch.Tensor, d_mu: torch.Tensor
    ) -> list[torch.Tensor]:
        """The gradient of a loss with ``dL/dμ = d_mu`` for every parameter (the order of
        ``parameters()``), from :meth:`forward_kept`'s ``μ`` and inputs."""
        layers = self._layers
        dz = torch.ops.aten.sigmoid_backward(d_mu, mu)
        grads: list[torch.Tensor] = []
        for i in range(len(layers) - 1, -1, -1):
            dw, db, dh = linear_grads(dz, inputs[i], layers[i].weight, input_grad=i > 0)
            grads[:0] = [dw, db]
            if dh is not None:
                dz = activation_grad(dh, inputs[i], self.activation)
        return grads


class Critic(nn.Module):
    """``Q(s, a)``: an MLP on the concatenated observation and [0, 1] action.

    The agents train :class:`CriticStack` (every critic of an agent in one module); a
    ``Critic`` is one member of it in the layout of IoRLO checkpoints (``net.<i>.weight``).
    """

    def __init__(
        self, obs_dim: int, act_dim: int, hidden: int | Sequence[int] = 30, activation: str = "relu"
    ) -> None:
        super().__init__()
        self.net = mlp(obs_dim + act_dim, hidden, 1, activation)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return forward_mlp(self.net, torch.cat([obs, action], dim=-1))


class CriticStack(nn.Module):
    """``K`` critics ``Q_k(s, a)`` of one shape (IoRLO: one; TD3: the twins) as one module.

    Layer ``i`` of every member is stacked: ``weights[i]`` ``(K, out, in)`` and ``biases[i]``
    ``(K, out)``, so one forward and one backward serve all ``K`` critics (for these tiny
    networks the cost of an update is largely the number of operations): the first layer,
    whose input all members share, is one ``linear`` with ``K * hidden`` outputs, each later
    layer one ``linear`` with the block-diagonal matrix of the members' weights. With
    ``K = 1`` every layer is a plain ``linear``, the operations of :class:`Critic`.

    The members are created as :class:`Critic` modules in order (the same draws from the
    global torch RNG as ``K`` separate critics); :meth:`member_state_dicts` and
    :meth:`load_member_state_dicts` convert from and to their layout (that of the
    checkpoints: ``critic``, ``critic2``).
    """

    def __init__(
        self, obs_dim: int, act_dim: int, hidden: int | Sequence[int] = 30,
        activation: str = "relu", members: int = 1,
    ) -> None:  # fmt: skip
        super().__init__()
        if members < 1:
            raise ValueError(f"members must be >= 1, got {members}")
        self.obs_dim, self.act_dim, self.members = int(obs_dim), int(act_dim), int(members)
        self.hidden, self.activation = hidden_sizes(hidden), activation
        self._act = torch.relu if activation == "relu" else torch.tanh
        self._act_ = torch.relu_ if activation == "relu" else torch.tanh_  # in place
        layers = [Critic(obs_dim, act_dim, hidden, activation).net for _ in range(members)]
        per_member = [linear_modules(net) for net in layers]
        self.weights = nn.ParameterList(
            torch.stack([ls[i].weight.detach() for ls in per_member])
            for i in range(len(per_member[0]))
        )
        self.biases = nn.ParameterList(
            torch.stack([ls[i].bias.detach() for ls in per_member])
            for i in range(len(per_member[0]))
        )
        # plain tuples of the same Parameter objects: ParameterList indexing costs ~2 µs
        # (deepcopy maps both to the same copies; loading copies into them in place)
        self._w, self._b = tuple(self.weights), tuple(self.biases)

    def param_list(self) -> list[nn.Parameter]:
        """The parameters in member-layer order ``[W_1, b_1, W_2, b_2, ...]`` (each stacked)."""
        return [p for wb in zip(self.weights, self.biases, strict=True) for p in wb]

    # ------------------------------------------------------------------ forward
    # Activations hold the members side by side, (N, K * width): the first layer is one
    # linear with K * hidden outputs, every later layer one linear with the block-diagonal
    # matrix of the members' weights (K * out, K * in); a single member's are plain linears.
    def first_layer(
        self, x: torch.Tensor, cols: slice = slice(None), bias: bool = True
    ) -> torch.Tensor:
        """The first layer's pre-activations of every member, ``(N, K * hidden)``, from
        ``x`` ``(N, D)``; ``cols`` selects the input columns ``x`` holds (``slice(0,
        obs_dim)``: the observation part alone, which candidate actions can share)."""
        w = self._w[0][:, :, cols]
        w = w.reshape(-1, w.shape[-1])  # (K * out, D): a view
        return F.linear(x, w, self._b[0].view(-1) if bias else None)

    def from_first_layer(self, z: torch.Tensor) -> torch.Tensor:
        """``Q_k`` ``(N, K)`` from the first layer's pre-activations ``z`` ``(N, K * hidden)``."""
        h = self._act(z)
        for i in range(1, len(self._w)):
            h = self._later_layer(h, i)
            if i < len(self._w) - 1:
                h = self._act(h)
        return h

    def from_first_layer_members(self, z: torch.Tensor) -> torch.Tensor:
        """``Q_k`` ``(K, N)`` from the first layer's pre-activations in member-major layout
        ``z`` ``(K, N, hidden)`` (``z[k]``: member ``k``'s), overwritten by the activations.

        :meth:`from_first_layer`'s values with the members' axis first: every layer is one
        batched product over contiguous ``(N, width)`` blocks, without the transposes and
        copies of the side-by-side layout (what scoring many candidate decisions costs).
        The same operations per member (``baddbmm`` blocks, ``mv`` for the output), so the
        same values to float32 rounding (``tests/test_iorlo_stacked.py``); bit for bit where
        the BLAS sums a matrix-vector product the same way for both row strides (MKL on the
        2-core Xeon; on the AMD EPYC the output layer's sums can differ by an ulp)."""
        K, N = z.shape[0], z.shape[1]
        h = self._act_(z)
        for i in range(1, len(self._w)):
            w, b = self._w[i], self._b[i]
            if K == 1:  # a plain linear, as _later_layer
                h = F.linear(h[0], w[0], b[0]).unsqueeze(0)
            elif w.shape[1] == 1:  # the output layer: one matrix-vector product per member
                h = torch.stack([torch.mv(h[k], w[k, 0]) for k in range(K)]).unsqueeze(-1)
                h.add_(b.unsqueeze(1))
            else:
                h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            if i < len(self._w) - 1:
                h = self._act_(h)
        return h.view(K, N)

    def _later_layer(self, h: torch.Tensor, i: int) -> torch.Tensor:
        """Layer ``i >= 1`` of every member: ``(N, K * in) -> (N, K * out)``."""
        w, b, K = self._w[i], self._b[i], self.members
        if K == 1:
            return F.linear(h, w[0], b.view(-1))
        N, out = h.shape[0], w.shape[1]
        if out == 1:  # the output layer: one matrix-vector product per member
            hk = h.view(N, K, -1)
            return torch.stack([torch.mv(hk[:, k], w[k, 0]) for k in range(K)], 1).add_(b.view(-1))
        h = torch.baddbmm(b.unsqueeze(1), h.view(N, K, -1).transpose(0, 1), w.transpose(1, 2))
        return h.transpose(0, 1).reshape(N, K * out)

    @torch.no_grad()
    def mse_grads(
        self, obs: torch.Tensor, action: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """The critics' loss ``sum_k mean((Q_k(s, a) - y)^2)`` (``y`` ``(N, 1)``), ``Q``
        ``(N, K)`` and the loss's gradient (one tensor per :meth:`param_list` entry).

        Backpropagation written out (no autograd graph: a third of the cost of an update
        with autograd). With one member the operations are those autograd runs for
        :class:`Critic` (``mse_loss_backward``, ``mm``, ``threshold_backward``), the same
        gradients bit for bit.
        """
        ws, bs, K, L = self._w, self._b, self.members, len(self._w)
        x = torch.cat([obs, action], dim=-1)
        hs, z = [x], self.first_layer(x)  # hs: the input of every layer
        for i in range(1, L):
            a = self._act(z)
            hs.append(a)
            z = self._later_layer(a, i)
        q = z  # (N, K)
        target = y.expand_as(q)
        loss = torch.ops.aten.mse_loss(q, target, 1)  # 1: mean (F.mse_loss's op)
        grad_out = torch.ones_like(loss)
        if K > 1:  # the sum over members: K times the mean over all entries
            loss = loss * K
            grad_out = grad_out * K
        dz = torch.ops.aten.mse_loss_backward(grad_out, q, target, 1)  # 1: mean
        grads: list[torch.Tensor] = []
        for i in range(L - 1, -1, -1):
            h_in, w = hs[i], ws[i]
            if i == 0 or K == 1:  # a plain linear on (N, K * out)
                dw, db, dh = linear_grads(dz, h_in, w.view(-1, w.shape[-1]), input_grad=i > 0)
                grads[:0] = [dw.view_as(w), db.view_as(bs[i])]
            else:
                N, out = dz.shape[0], w.shape[1]
                dzk = dz.view(N, K, out)
                hk = h_in.view(N, K, -1)
                if out == 1:
                    dw = (dzk * hk).sum(0).view_as(w)
                    dh = (dzk * w.view(1, K, -1)).view(N, -1)
                else:
                    dw = torch.bmm(dzk.permute(1, 2, 0), hk.transpose(0, 1))
                    dh = torch.bmm(dzk.transpose(0, 1), w).transpose(0, 1).reshape(N, -1)
                grads[:0] = [dw, dzk.sum(0).view_as(bs[i])]
            if i > 0:
                dz = activation_grad(dh, h_in, self.activation)
        return loss, q, grads

    @torch.no_grad()
    def q1_and_input_grad(self, z: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        """``Q_1`` ``(N, 1)`` from member 1's first-layer pre-activations ``z`` ``(N, hidden)``
        and the gradient of ``scale * sum(Q_1)`` with respect to ``z`` (weights fixed)."""
        ws, bs = self._w, self._b
        hs, h = [], z
        for i in range(1, len(ws)):
            h = self._act(h)
            hs.append(h)
            h = F.linear(h, ws[i][0], bs[i][0])
        dz = torch.full_like(h, scale)
        for i in range(len(ws) - 1, 0, -1):
            dz = activation_grad(torch.mm(dz, ws[i][0]), hs[i - 1], self.activation)
        return h, dz

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """``Q_k(s, a)`` of every member: ``(N, K)`` for ``obs`` ``(N, obs_dim)``."""
        return self.from_first_layer(self.first_layer(torch.cat([obs, action], dim=-1)))

    def q1_frozen(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """``Q_1(s, a)`` ``(N, 1)`` with the weights detached: the critic term of the actor's
        loss (its gradient reaches the action only, as the actor's optimiser needs)."""
        h = torch.cat([obs, action], dim=-1)
        for i, (w, b) in enumerate(zip(self._w, self._b, strict=True)):
            if i:
                h = self._act(h)
            h = F.linear(h, w[0].detach(), b[0].detach())
        return h

    # ------------------------------------------------------- member layout
    def member_state_dicts(self) -> list[dict[str, torch.Tensor]]:
        """Every member's weights as a :class:`Critic` ``state_dict`` (copies)."""
        return [
            {
                f"net.{2 * i}.{name}": t[k].detach().clone()
                for i, wb in enumerate(zip(self.weights, self.biases, strict=True))
                for name, t in zip(("weight", "bias"), wb, strict=True)
            }
            for k in range(self.members)
        ]

    def load_member_state_dicts(self, states: Sequence[Mapping[str, torch.Tensor]]) -> None:
        """Load one :class:`Critic` ``state_dict`` per member (strict: keys and shapes)."""
        if len(states) != self.members:
            raise ValueError(f"{len(states)} critic state dicts for {self.members} critics")
        with torch.random.fork_rng(devices=[]):  # a Critic's init draws from the global RNG
            critics = [Critic(self.obs_dim, self.act_dim, self.hidden, self.activation)]
        ref = critics[0]
        with torch.no_grad():
            for k, state in enumerate(states):
                ref.load_state_dict(state)
                for i, layer in enumerate(linear_modules(ref.net)):
                    self.weights[i][k].copy_(layer.weight)
                    self.biases[i][k].copy_(layer.bias)

    def member(self, k: int) -> Critic:
        """Member ``k`` as a standalone :class:`Critic` (a copy, for inspection)."""
        with torch.random.fork_rng(devices=[]):
            critic = Critic(self.obs_dim, self.act_dim, self.hidden, self.activation)
        critic.load_state_dict(self.member_state_dicts()[k])
        return critic.to(self.weights[0].device)
