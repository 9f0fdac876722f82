"""Adam for IoRLO's tiny networks: the kernel of ``torch.optim.Adam(fused=True)`` without the
``torch.optim.Optimizer`` machinery.

An update of IoRLO's networks takes well under a millisecond of arithmetic; ``Optimizer.step``
adds about 0.15 ms of Python per call (hooks, grouping by device, profiler records) and
``zero_grad`` another 0.05 ms, and constructing the first ``torch.optim`` optimiser imports
``torch._dynamo`` (about 0.8 s). :class:`FusedAdam` keeps its state in flat lists and calls
the same fused kernel (``torch._fused_adam_``) with the same arguments, so its steps equal
``torch.optim.Adam(fused=True)``'s bit for bit; it takes the gradients as a list (from
``torch.autograd.grad``) instead of reading ``.grad``. Its ``state_dict`` has
``torch.optim.Adam``'s layout, so checkpoints are interchangeable with that optimiser's.

:func:`unstack_state` and :func:`stack_state` convert the state of stacked parameters
(:class:`~agents.iorlo.networks.CriticStack`, a leading member dimension) from and to one
entry per member's parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

#: ``param_groups`` entries of ``torch.optim.Adam(fused=True)``'s state dict besides lr
_GROUP_DEFAULTS: dict[str, Any] = {
    "amsgrad": False, "maximize": False, "foreach": None, "capturable": False,
    "differentiable": False, "fused": True, "decoupled_weight_decay": False,
}  # fmt: skip


class FusedAdam:
    """Adam (no weight decay, no AMSGrad) over a fixed list of parameters.

    The state (``step``, ``exp_avg``, ``exp_avg_sq`` per parameter) is created at the first
    :meth:`step`, as ``torch.optim.Adam`` does.
    """

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps = float(lr), (float(betas[0]), float(betas[1])), float(eps)
        self.steps: list[torch.Tensor] = []
        self.exp_avgs: list[torch.Tensor] = []
        self.exp_avg_sqs: list[torch.Tensor] = []

    def _init_state(self) -> None:
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]
        self.exp_avgs = [
            torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params
        ]
        self.exp_avg_sqs = [
            torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params
        ]

    @torch.no_grad()
    def step(self, grads: Sequence[torch.Tensor]) -> None:
        """One Adam step with ``grads`` (one per parameter, in order)."""
        if not self.steps:
            self._init_state()
        torch._foreach_add_(self.steps, 1)
        torch._fused_adam_(
            self.params,
            list(grads),
            self.exp_avgs,
            self.exp_avg_sqs,
            [],
            self.steps,
            amsgrad=False,
            lr=self.lr,
            beta1=self.betas[0],
            beta2=self.betas[1],
            weight_decay=0.0,
            eps=self.eps,
            maximize=False,
            grad_scale=None,
            found_inf=None,
        )

    def state_dict(self) -> dict[str, Any]:
        """``torch.optim.Adam(fused=True).state_dict()``'s layout (the state tensors themselves,
        as torch returns them)."""
        state = {
            i: {"step": s, "exp_avg": m, "exp_avg_sq": v}
            for i, (s, m, v) in enumerate(
                zip(self.steps, self.exp_avgs, self.exp_avg_sqs, strict=True)
            )
        }
        group = {
            "lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": 0.0,
            **_GROUP_DEFAULTS, "params": list(range(len(self.params))),
        }  # fmt: skip
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Load a :meth:`state_dict` (or ``torch.optim.Adam``'s, one parameter group); like
        torch, the learning rate and betas come from it."""
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self.params):
            raise ValueError(
                f"optimizer state for {[len(g['params']) for g in groups]} parameters, "
                f"expected one group of {len(self.params)}"
            )
        group, ids = groups[0], list(groups[0]["params"])
        state = state_dict["state"]
        if state and set(state) != set(ids):
            raise ValueError("optimizer state for only some parameters")
        steps, exp_avgs, exp_avg_sqs = [], [], []
        for i, p in zip(ids, self.params, strict=True):
            if not state:
                break
            s = state[i]
            for key in ("exp_avg", "exp_avg_sq"):
                if tuple(s[key].shape) != tuple(p.shape):
                    raise ValueError(
                        f"optimizer {key} of shape {tuple(s[key].shape)} for a parameter of "
                        f"shape {tuple(p.shape)}"
                    )
            steps.append(torch.as_tensor(s["step"], dtype=torch.float32).to(p.device).clone())
            exp_avgs.append(s["exp_avg"].to(p.device, p.dtype).clone())
            exp_avg_sqs.append(s["exp_avg_sq"].to(p.device, p.dtype).clone())
        self.steps, self.exp_avgs, self.exp_avg_sqs = steps, exp_avgs, exp_avg_sqs
        self.lr, self.eps = float(group["lr"]), float(group["eps"])
        self.betas = (float(group["betas"][0]), float(group["betas"][1]))


def unstack_state(state_dict: Mapping[str, Any], members: int) -> dict[str, Any]:
    """An optimiser state of stacked parameters (leading dimension ``members``) as that of
    the members' parameters, member-major: member ``k``'s copy of stacked parameter ``j``
    is entry ``k * n + j`` (``n`` stacked parameters)."""
    (group,) = state_dict["param_groups"]
    n, state = len(group["params"]), state_dict["state"]
    out: dict[int, Any] = {}
    if state:
        for k in range(members):
            for j in range(n):
                s = state[group["params"][j]]
                out[k * n + j] = {
                    "step": s["step"].clone(),
                    "exp_avg": s["exp_avg"][k].clone(),
                    "exp_avg_sq": s["exp_avg_sq"][k].clone(),
                }
    return {"state": out, "param_groups": [{**group, "params": list(range(members * n))}]}


def stack_state(state_dict: Mapping[str, Any], members: int) -> dict[str, Any]:
    """The inverse of :func:`unstack_state`: per-member entries (``members * n``, member-major)
    as the state of the ``n`` stacked parameters."""
    (group,) = state_dict["param_groups"]
    ids, state = list(group["params"]), state_dict["state"]
    if len(ids) % members:
        raise ValueError(f"optimizer state for {len(ids)} parameters, not {members} equal members")
    n = len(ids) // members
    out: dict[int, Any] = {}
    if state:
        for j in range(n):
            parts = [state[ids[k * n + j]] for k in range(members)]
            out[j] = {
                "step": parts[0]["step"],
                "exp_avg": torch.stack([p["exp_avg"] for p in parts]),
                "exp_avg_sq": torch.stack([p["exp_avg_sq"] for p in parts]),
            }
    return {"state": out, "param_groups": [{**group, "params": list(range(n))}]}
