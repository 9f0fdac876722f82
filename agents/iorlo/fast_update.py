"""IoRLO+'s updates with the decision critic in numpy and compiled loops.

:meth:`agents.iorlo.networks.CriticStack.mse_grads` (the critics' step) and
:meth:`agents.iorlo.IoRLO._decision_actor_grads` (the actor's, with the critic-guided jumps)
written without torch's eager operations: the same losses and gradients (module doc of
:mod:`agents.iorlo.agent`, 1., 2. and 10.) on numpy views of the same
parameters, with the matrix products in numpy (BLAS) and the elementwise work, the
candidates' assembly and the jump selection each in one compiled loop (numba); the
candidates' one large product runs in torch's batched product (MKL) on the same memory.
For these tiny networks an update costs mostly the number of operations: torch's eager
path runs about 500 (views included) at several µs each, this one a few dozen numpy calls
and loops (``benchmarks/bench_iorlo.py``). The arithmetic is the same up to rounding (sums in
another order, ``erfc`` for the normal CDF), so a training run differs from the torch
path's in the last bits and, through training, in its result: the ``update_backend``
field chooses (``agents/iorlo/agent.py``), and ``tests/test_iorlo_fast_update.py`` checks
this path's losses, gradients and jump targets against the torch path's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from envs.model import kernels
from envs.model.thresholds import discretise

#: ``"numba"``: this module's compiled loops are available (else the torch path runs)
AVAILABLE = kernels.AVAILABLE
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _surrogate_py(
    mu: np.ndarray, thresholds: np.ndarray, sigma: float, u: np.ndarray, probs: np.ndarray
) -> None:
    """``u = (t_j - μ) / σ`` ``(B, n, P - 1)`` and the interval probabilities ``probs``
    ``(B, n * P)``: ``p_j = Φ(u_j) - Φ(u_{j-1})`` with ``Φ(u_{-1}) = 0``, ``Φ(u_{P-1}) = 1``."""
    B, n = mu.shape
    T = thresholds.shape[0]
    for b in range(B):
        for i in range(n):
            prev = np.float32(0.0)
            for j in range(T):
                x = (thresholds[j] - mu[b, i]) / np.float32(sigma)
                u[b, i, j] = x
                c = np.float32(0.5 * math.erfc(-x * _INV_SQRT2))
                probs[b, i * (T + 1) + j] = c - prev
                prev = c
            probs[b, i * (T + 1) + T] = np.float32(1.0) - prev


def _surrogate_grad_py(d_probs: np.ndarray, u: np.ndarray, sigma: float, d_mu: np.ndarray) -> None:
    """``dL/dμ`` ``(B, n)`` from ``dL/dprobs`` ``(B, n * P)`` through :func:`_surrogate_py`."""
    B, n, T = u.shape
    scale = np.float32(-_INV_SQRT_2PI / sigma)
    for b in range(B):
        for i in range(n):
            acc = np.float32(0.0)
            for j in range(T):
                d_cdf = d_probs[b, i * (T + 1) + j] - d_probs[b, i * (T + 1) + j + 1]
                acc += d_cdf * np.float32(math.exp(-0.5 * u[b, i, j] * u[b, i, j]))
            d_mu[b, i] = acc * scale


def _decision_rows_py(w_dec_t: np.ndarray, platforms: np.ndarray, P: int, out: np.ndarray) -> None:
    """First-layer pre-activations (no bias) of one-hot decisions: row ``r`` of ``out``
    ``(R, H)`` is the sum over blocks ``i`` of ``w_dec_t[i * P + platforms[r, i]]``
    (``w_dec_t`` ``(n * P, H)``: the decision columns of every member's first layer)."""
    R, n = platforms.shape
    H = w_dec_t.shape[1]
    for r in range(R):
        for c in range(H):
            out[r, c] = 0.0
        for i in range(n):
            row = i * P + platforms[r, i]
            for c in range(H):
                out[r, c] += w_dec_t[row, c]


def _assemble_py(
    z_dec: np.ndarray, z_obs: np.ndarray, idx: np.ndarray, relu: bool, out: np.ndarray
) -> None:
    """``out[k, b * S + s] = act(z_dec[idx[b, s], k-th block] + z_obs[b, k-th block])``:
    every candidate's first hidden layer, member-major ``(K, B * S, h)``."""
    K, _, h = out.shape
    B, S = idx.shape
    for k in range(K):
        for b in range(B):
            for s in range(S):
                r = idx[b, s]
                o = b * S + s
                for c in range(h):
                    x = z_dec[r, k * h + c] + z_obs[b, k * h + c]
                    if relu:
                        out[k, o, c] = x if x > 0.0 else np.float32(0.0)
                    else:
                        out[k, o, c] = np.float32(math.tanh(x))


def _bias_act_py(h: np.ndarray, bias: np.ndarray, relu: bool) -> None:
    """``h[k] = act(h[k] + bias[k])`` in place, ``h`` ``(K, N, w)``."""
    K, N, w = h.shape
    for k in range(K):
        for r in range(N):
            for c in range(w):
                x = h[k, r, c] + bias[k, c]
                if relu:
                    h[k, r, c] = x if x > 0.0 else np.float32(0.0)
                else:
                    h[k, r, c] = np.float32(math.tanh(x))


def _act_out_py(
    h_t: np.ndarray, bias: np.ndarray, w_out: np.ndarray, b_out: np.ndarray, relu: bool,
    q: np.ndarray,
) -> None:  # fmt: skip
    """The last hidden layer's activation and the output layer in one pass, from that
    layer's pre-activations transposed, ``h_t`` ``(K, w, N)``: ``q[k, r] = b_out[k] +
    sum_c w_out[k, c] * act(h_t[k, c, r] + bias[k, c])``, summed over ``c`` in order. The
    transposed layout keeps that order and makes the loop over the ``N`` rows the inner,
    contiguous one (vector instructions: with ReLU about 9x the row-by-row sum; same bits)."""
    K, w, N = h_t.shape
    for k in range(K):
        qk = q[k]
        for r in range(N):
            qk[r] = np.float32(0.0)
        for c in range(w):
            bc, wc, row = bias[k, c], w_out[k, c], h_t[k, c]
            for r in range(N):
                x = row[r] + bc
                if relu:
                    x = x if x > 0.0 else np.float32(0.0)
                else:
                    x = np.float32(math.tanh(x))
                qk[r] += wc * x
        for r in range(N):
            qk[r] += b_out[k]


def _select_py(
    q: np.ndarray, scored: np.ndarray, platforms: np.ndarray, fixed: np.ndarray,
    mu_platforms: np.ndarray, chosen: np.ndarray,
) -> int:  # fmt: skip
    """The jump rule on the candidates' values ``q`` ``(K, B * S)`` (per state: replayed,
    scored fixed ones, actor's own): ``chosen`` ``(B, n)`` gets the best candidate's
    platforms where the lower critic's value of it exceeds the higher critic's value of the
    actor's own decision, else the actor's own platforms. Returns the number of jumps."""
    K = q.shape[0]
    B, n = chosen.shape
    S = q.shape[1] // B
    jumps = 0
    for b in range(B):
        best, best_q = 0, np.float32(0.0)
        for s in range(S - 1):
            v = q[0, b * S + s]
            for k in range(1, K):
                v = min(v, q[k, b * S + s])
            if s == 0 or v > best_q:
                best, best_q = s, v
        own = q[0, b * S + S - 1]
        for k in range(1, K):
            own = max(own, q[k, b * S + S - 1])
        if best_q > own:
            jumps += 1
            if best == 0:
                for i in range(n):
                    chosen[b, i] = platforms[b, i]
            else:
                f = scored[b, best - 1]
                for i in range(n):
                    chosen[b, i] = fixed[f, i]
        else:
            for i in range(n):
                chosen[b, i] = mu_platforms[b, i]
    return jumps


def _one_hot_into_py(platforms: np.ndarray, P: int, d: int, x: np.ndarray) -> None:
    """``x[:, d:]`` ``(B, n * P)`` = the one-hot platforms ``(B, n)`` (the decision critic's
    input after the observation's ``d`` entries)."""
    B, n = platforms.shape
    for b in range(B):
        for j in range(n * P):
            x[b, d + j] = 0.0
        for i in range(n):
            x[b, d + i * P + platforms[b, i]] = 1.0


def _relu_grad_py(grad: np.ndarray, out: np.ndarray) -> None:
    """``grad`` where ``out > 0``, else 0, in place (ReLU backward), any shape (flat views)."""
    g, o = grad.reshape(-1), out.reshape(-1)
    for j in range(g.shape[0]):
        if not o[j] > 0.0:
            g[j] = 0.0


_surrogate = kernels.jit(_surrogate_py)
_surrogate_grad = kernels.jit(_surrogate_grad_py)
_decision_rows = kernels.jit(_decision_rows_py)
_assemble = kernels.jit(_assemble_py)
_bias_act = kernels.jit(_bias_act_py)
_select = kernels.jit(_select_py)
_act_out = kernels.jit(_act_out_py)
_one_hot_into = kernels.jit(_one_hot_into_py)
_relu_grad = kernels.jit(_relu_grad_py)


def _act(x: np.ndarray, relu: bool) -> np.ndarray:
    return np.maximum(x, 0.0, out=x) if relu else np.tanh(x, out=x)


def _act_grad(grad: np.ndarray, out: np.ndarray, relu: bool) -> np.ndarray:
    """The gradient before an activation from the one after it (``grad``, overwritten) and
    its output ``out``."""
    if relu:
        _relu_grad(grad, out)
        return grad
    grad *= np.float32(1.0) - out * out
    return grad


class DecisionUpdate:
    """The critics' and the actor's loss and gradient with the decision critic (see the
    module docstring).

    Args:
        actor_params: The actor's parameters in ``parameters()`` order ``[W_1, b_1, ...]``
            (numpy float32 views of the torch parameters: updates in place are seen).
        critic_weights, critic_biases: The critic stack's stacked layers ``(K, out, in)`` and
            ``(K, out)`` (views, as above).
        obs_dim: Observation entries at the start of the critics' input.
        thresholds: The intent thresholds ``(P - 1,)``.
        midpoints: The interval midpoints ``(P,)``.
        fixed: The fixed placements ``(C, n)`` (the ``P`` whole-model ones first).
        relu: ReLU hidden activations (else tanh).
        sigma: ``relax_sigma``; ``imitation_weight``: the jumps' weight (0: none).
    """

    def __init__(
        self, actor_params: Sequence[np.ndarray], critic_weights: Sequence[np.ndarray],
        critic_biases: Sequence[np.ndarray], obs_dim: int, thresholds: np.ndarray,
        midpoints: np.ndarray, fixed: np.ndarray, relu: bool, sigma: float,
        imitation_weight: float,
    ) -> None:  # fmt: skip
        if not AVAILABLE:
            raise RuntimeError("the compiled updates need numba")
        self.aw, self.ab = list(actor_params[0::2]), list(actor_params[1::2])
        self.cw, self.cb = list(critic_weights), list(critic_biases)
        self.d = int(obs_dim)
        self.thresholds = np.ascontiguousarray(thresholds, dtype=np.float32)
        self.mid = np.ascontiguousarray(midpoints, dtype=np.float32)
        self.fixed = np.ascontiguousarray(fixed, dtype=np.int64)
        self.P = self.thresholds.shape[0] + 1
        self.relu, self.sigma, self.w_im = bool(relu), float(sigma), float(imitation_weight)
        self._buf: dict[str, np.ndarray] = {}

    def _buffer(self, name: str, shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
        buf = self._buf.get(name)
        if buf is None or buf.shape != shape:
            buf = self._buf[name] = np.empty(shape, dtype=dtype)
        return buf

    def actor_mu(self, obs: np.ndarray) -> np.ndarray:
        """The actor's output ``μ(obs)`` ``(B, n)`` for normalised observations ``(B, D)``."""
        return self._actor_forward(obs)[0]

    def _actor_forward(self, obs: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        inputs, h = [obs], obs
        last = len(self.aw) - 1
        for i, (w, b) in enumerate(zip(self.aw, self.ab, strict=True)):
            h = h @ w.T
            h += b
            if i < last:
                h = _act(h, self.relu)
                inputs.append(h)
        # sigmoid; below -88 exp(-x) overflows float32 (the output is 0 to float32 either way)
        mu = np.maximum(h, np.float32(-88.0), out=h)
        np.negative(mu, out=mu)
        np.exp(mu, out=mu)
        mu += np.float32(1.0)
        return np.reciprocal(mu, out=mu), inputs

    def _actor_grads(
        self, inputs: list[np.ndarray], mu: np.ndarray, d_mu: np.ndarray
    ) -> list[np.ndarray]:
        dz = d_mu * mu * (np.float32(1.0) - mu)  # sigmoid backward
        grads: list[np.ndarray] = []
        for i in range(len(self.aw) - 1, -1, -1):
            h_in = inputs[i]
            grads[:0] = [dz.T @ h_in, dz.sum(0)]
            if i > 0:
                dz = _act_grad(dz @ self.aw[i], h_in, self.relu)
        return grads

    def _q1_and_input_grad(self, z: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """Critic 1's value ``(B,)`` from its first-layer pre-activations ``z`` ``(B, h)``
        (overwritten) and the gradient of ``scale * sum(Q_1)`` with respect to ``z``."""
        hs, h = [], z
        for i in range(1, len(self.cw)):
            h = _act(h, self.relu)
            hs.append(h)
            h = h @ self.cw[i][0].T
            h += self.cb[i][0]
        dz = np.full(h.shape, scale, dtype=np.float32)
        for i in range(len(self.cw) - 1, 0, -1):
            dz = _act_grad(dz @ self.cw[i][0], hs[i - 1], self.relu)
        return h[:, 0], dz

    def _score(self, z: np.ndarray) -> np.ndarray:
        """Every member's value ``(K, N)`` from its first hidden layer (after the activation)
        ``z`` ``(K, N, h)``. The large products (``N`` is batch x candidates) run in torch's
        batched product (MKL, faster than numpy's OpenBLAS at these shapes) on the same
        memory."""
        cw, cb, L = self.cw, self.cb, len(self.cw)
        if L == 2:  # one hidden layer: the output layer alone
            return np.matmul(z, cw[1][:, 0, :, None])[..., 0] + cb[1]
        h = torch.from_numpy(z)
        for i in range(1, L - 2):
            h = torch.bmm(h, torch.from_numpy(cw[i]).transpose(1, 2))
            _bias_act(h.numpy(), cb[i], self.relu)
        # the last hidden layer transposed, (K, w, N) = W h^T, the layout _act_out reads
        # fastest: the same dot products (bit for bit with MKL on the AMD EPYC, where the
        # trained actor's checksum is unchanged; another BLAS may round them differently)
        h_t = torch.bmm(torch.from_numpy(cw[L - 2]), h.transpose(1, 2))
        q = self._buffer("q", (z.shape[0], z.shape[1]))
        _act_out(h_t.numpy(), cb[L - 2], cw[L - 1][:, 0, :], cb[L - 1][:, 0], self.relu, q)
        return q

    def critic_grads(
        self, obs: np.ndarray, platforms: np.ndarray, y: np.ndarray
    ) -> tuple[float, float, list[np.ndarray]]:
        """``(loss, mean Q_1, gradients)`` of :meth:`agents.iorlo.networks.CriticStack.
        mse_grads` (``sum_k mean((Q_k(s, a) - y)^2)``, gradients in ``param_list`` order)
        for normalised observations ``obs`` ``(B, D)``, the replayed decisions ``platforms``
        ``(B, n)`` and the targets ``y`` ``(B, 1)``."""
        d, P, L = self.d, self.P, len(self.cw)
        B, n = platforms.shape
        x = self._buffer("x", (B, d + n * P))
        x[:, :d] = obs
        _one_hot_into(platforms, P, d, x)
        hs, h = [x], None  # hs: every layer's input ((B, D) shared, then (K, B, w))
        for i in range(L):
            w, b = self.cw[i], self.cb[i]
            if i < L - 1:
                h = np.matmul(hs[-1], w.transpose(0, 2, 1))  # (K, B, out)
                _bias_act(h, b, self.relu)
                hs.append(h)
            else:
                h = np.matmul(hs[-1], w[:, 0, :, None])[..., 0] + b  # (K, B)
        err = h - y[:, 0]
        loss = float((err * err).sum()) / B  # sum over members of the mean over the batch
        dz = err * np.float32(2.0 / B)  # of sum_k mean_b: (K, B)
        grads: list[np.ndarray] = []
        for i in range(L - 1, -1, -1):
            h_in = hs[i]
            if i == L - 1:  # the output layer
                dw = np.matmul(dz[:, None, :], h_in)  # (K, 1, in)
                db = dz.sum(1)[:, None]
                dh = dz[:, :, None] * self.cw[i]  # (K, B, in)
            else:
                dw = np.matmul(dz.transpose(0, 2, 1), h_in)  # (K, out, in)
                db = dz.sum(1)
                dh = np.matmul(dz, self.cw[i]) if i > 0 else None
            grads[:0] = [dw, db]
            if i > 0:
                dz = _act_grad(dh, h_in, self.relu)
        return loss, float(h[0].sum()) / B, grads  # (the means: logged only)

    def actor_grads(
        self, obs: np.ndarray, platforms: np.ndarray, cut: np.ndarray | None
    ) -> tuple[float, list[np.ndarray], float]:
        """``(loss, gradients in parameter order, jump fraction)`` for normalised
        observations ``obs`` ``(B, D)`` and the replayed decisions ``platforms`` ``(B, n)``;
        ``cut`` ``(B, m)``: the one-cut placements (rows of ``fixed``) scored per state, or
        ``None`` for all of them."""
        d, P, sigma = self.d, self.P, self.sigma
        B = obs.shape[0]
        mu, inputs = self._actor_forward(obs)
        n = mu.shape[1]
        w1 = self.cw[0]  # (K, h, D + n P)
        K, hdim = w1.shape[0], w1.shape[1]
        z_obs = obs @ w1[:, :, :d].reshape(K * hdim, d).T
        z_obs += self.cb[0].reshape(-1)  # (B, K h)
        u = self._buffer("u", (B, n, P - 1))
        probs = self._buffer("probs", (B, n * P))
        _surrogate(mu, self.thresholds, sigma, u, probs)
        w_dec = w1[0, :, d:]  # critic 1's decision part (h, n P)
        z_pi = z_obs[:, :hdim] + probs @ w_dec.T
        q_pi, dz = self._q1_and_input_grad(z_pi, -1.0 / B)
        loss = -float(q_pi.sum()) / B
        d_probs = dz @ w_dec
        d_mu = self._buffer("d_mu", (B, n))
        _surrogate_grad(d_probs, u, sigma, d_mu)
        jump_fraction = math.nan
        if self.w_im > 0:
            target, jump_fraction = self._imitation_target(z_obs, mu, platforms, cut)
            diff = mu - target
            loss += self.w_im * float((diff * diff).sum()) / B
            d_mu += diff * np.float32(2.0 * self.w_im / B)
        return loss, self._actor_grads(inputs, mu, d_mu), jump_fraction

    def _imitation_target(
        self, z_obs: np.ndarray, mu: np.ndarray, platforms: np.ndarray, cut: np.ndarray | None
    ) -> tuple[np.ndarray, float]:
        """The jumps' target midpoints ``(B, n)`` and the fraction of states that jump
        (:meth:`agents.iorlo.IoRLO._imitation_target`'s rule)."""
        P, fixed, w1 = self.P, self.fixed, self.cw[0]
        B, n = mu.shape
        C = fixed.shape[0]
        K, hdim = w1.shape[0], w1.shape[1]
        mu_platforms = discretise(mu, self.thresholds)
        # the decisions' first-layer rows: replayed (B), fixed (C), the actor's own (B)
        decisions = self._buffer("decisions", (2 * B + C, n), np.int64)
        decisions[:B], decisions[B : B + C], decisions[B + C :] = platforms, fixed, mu_platforms
        w_dec_t = np.ascontiguousarray(w1[:, :, self.d :].reshape(K * hdim, -1).T)
        z_dec = self._buffer("z_dec", (2 * B + C, K * hdim))
        _decision_rows(w_dec_t, decisions, P, z_dec)
        whole = np.broadcast_to(np.arange(P), (B, P))
        if cut is None:
            cut = np.broadcast_to(np.arange(P, C), (B, C - P))
        scored = np.concatenate([whole, cut], 1)  # (B, P + m)
        rows = np.arange(B)[:, None]
        idx = np.concatenate([rows, scored + B, rows + (B + C)], 1)  # (B, S)
        S = idx.shape[1]
        z = self._buffer("cand", (K, B * S, hdim))
        _assemble(z_dec, z_obs, idx, self.relu, z)
        q = np.ascontiguousarray(self._score(z))  # (K, B S)
        chosen = self._buffer("chosen", (B, n), np.int64)
        jumps = _select(q, np.ascontiguousarray(scored), platforms, fixed, mu_platforms, chosen)
        return self.mid[chosen], jumps / B
