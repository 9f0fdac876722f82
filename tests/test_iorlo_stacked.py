"""IoRLO's fast update path: the stacked critics (CriticStack), the hand-written gradients,
FusedAdam, and checkpoints written before the critics were stacked."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import gymnasium as gym
import pytest
import torch
import torch.nn.functional as F

import envs  # noqa: F401  (registers the env ids)
from agents.common.checkpoint import load_checkpoint
from agents.iorlo import IoRLO, IoRLOPlus
from agents.iorlo.networks import CriticStack
from agents.iorlo.optim import FusedAdam, stack_state, unstack_state
from envs.model.thresholds import discretise_array

MEC = "EdgeRL/MECPartition-v0"
TINY = {"learning_starts": 30, "batch_size": 16, "buffer_size": 1000}
DATA = Path(__file__).parent / "data"
# Written by the code before the critics were stacked (IoRLO / IoRLOPlus, seed 3, lenet on
# MEC v0, 100 steps with the replay buffer, hidden_critic=16, hidden_actor=8, TINY).
OLD = {cls: DATA / f"{name}_before_stacked_critics.pt" for cls, name in
       ((IoRLO, "iorlo"), (IoRLOPlus, "iorlo_plus"))}  # fmt: skip
OLD_KW = {**TINY, "hidden_critic": 16, "hidden_actor": 8}
# torch.backends.cpu.get_cpu_capability() and the CPU vendor of the machine that wrote them
# (an Intel Xeon): an AMD EPYC with AVX-512 runs other BLAS kernels and rounds otherwise
OLD_CPU = ("AVX512", "GenuineIntel")


def _cpu() -> tuple[str, str]:
    """(torch's SIMD capability, /proc/cpuinfo's vendor_id or "" where there is none)."""
    vendor = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        vendor = next((ln.split(":", 1)[1].strip() for ln in f
                       if ln.startswith("vendor_id")), "")  # fmt: skip
    return torch.backends.cpu.get_cpu_capability(), vendor


def _separate_loss(stack: CriticStack, obs, act, y):
    """The critics' loss as the code before stacking computed it: member by member."""
    members = [stack.member(k) for k in range(stack.members)]
    for m in members:
        m.requires_grad_(True)
    loss = sum(F.mse_loss(m(obs, act), y) for m in members)
    grads = torch.autograd.grad(loss, [p for m in members for p in m.parameters()])
    return loss, [m(obs, act) for m in members], grads


@pytest.mark.parametrize("members", [1, 2])
@pytest.mark.parametrize("hidden", [30, (16, 8)])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_critic_stack_equals_separate_critics(members, hidden, activation):
    torch.manual_seed(0)
    stack = CriticStack(7, 5, hidden, activation, members=members)
    obs, act, y = torch.randn(64, 7), torch.rand(64, 5), torch.randn(64, 1)
    loss, qs, grads = _separate_loss(stack, obs, act, y)
    q = stack(obs, act)
    assert q.shape == (64, members)
    for k in range(members):
        torch.testing.assert_close(q[:, k : k + 1], qs[k].detach())
    my_loss, my_q, my_grads = stack.mse_grads(obs, act, y)
    torch.testing.assert_close(my_loss, loss.detach())
    torch.testing.assert_close(my_q, q.detach())
    # the stacked gradient of parameter j is member k's gradient of its parameter j
    n = len(stack.param_list())
    for j, g in enumerate(my_grads):
        for k in range(members):
            torch.testing.assert_close(g[k], grads[k * n + j], rtol=1e-5, atol=1e-6)
    if members == 1:  # one critic: autograd's operations, bit for bit
        assert all(torch.equal(g[0], r) for g, r in zip(my_grads, grads, strict=True))


def test_member_state_dicts_round_trip():
    torch.manual_seed(1)
    stack = CriticStack(4, 3, (6, 5), "relu", members=2)
    states = stack.member_state_dicts()
    assert list(states[0]) == ["net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias",
                               "net.4.weight", "net.4.bias"]  # fmt: skip
    other = CriticStack(4, 3, (6, 5), "relu", members=2)
    other.load_member_state_dicts(states)
    assert all(
        torch.equal(a, b) for a, b in zip(stack.param_list(), other.param_list(), strict=True)
    )
    with pytest.raises(RuntimeError, match="size mismatch"):
        CriticStack(4, 3, 7, "relu", members=2).load_member_state_dicts(states)
    with pytest.raises(ValueError, match="2 critic state dicts for 1"):
        CriticStack(4, 3, (6, 5), "relu", members=1).load_member_state_dicts(states)


def _reference_actor_loss(agent: IoRLOPlus, obs, actions, cut=None):
    """IoRLO+'s actor loss as the code before the hand-written gradients computed it
    (autograd through the surrogate, the candidates scored by each critic module); ``cut``
    ``(B, m)``: the one-cut placements drawn for each state (two-segment candidates)."""
    critic, critic2 = agent.critic, agent.critic2
    mu = agent.actor(obs)
    cdf = torch.special.ndtr((agent.thresholds - mu.unsqueeze(-1)) / agent.config.relax_sigma)
    probs = torch.cat([cdf, torch.ones_like(cdf[..., :1])], -1) - torch.cat(
        [torch.zeros_like(cdf[..., :1]), cdf], -1
    )
    loss = -critic(obs, probs.flatten(-2)).mean()
    B, n = mu.shape
    P = agent.num_choices
    with torch.no_grad():
        mu_d = mu.detach()
        fixed = agent._midpoints[agent._placements]  # (C, n) actions of the fixed placements
        cand = [actions.unsqueeze(1), fixed[:P].expand(B, P, n)]
        if cut is not None:
            cand.append(fixed[cut])
        cand = torch.cat(cand, 1)
        obs_c = obs.unsqueeze(1).expand(B, cand.shape[1], obs.shape[-1])
        q_c = agent._q_in(cand)
        q_cand = torch.min(critic(obs_c, q_c), critic2(obs_c, q_c)).squeeze(-1)
        q_mu = agent._q_in(mu_d)
        q_pi = torch.max(critic(obs, q_mu), critic2(obs, q_mu))
        best_q, best = q_cand.max(1)
        jump = best_q.unsqueeze(-1) > q_pi
        chosen = torch.where(jump, cand[torch.arange(B), best], mu_d)
        target = agent._midpoints[discretise_array(chosen, agent.thresholds)]
    bc = (mu - target).pow(2).sum(-1).mean()
    to_cut = bool((jump.squeeze(-1) & (best > P)).any())  # some state jumps to a one-cut one
    return loss + agent.config.imitation_weight * bc, jump.float().mean().item(), to_cut


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"hidden_actor": (12, 8), "hidden_critic": (16, 8), "activation": "tanh", "gamma": 0.5},
        {"jump_candidates": "two_segment", "jump_samples": 5},  # a draw per state
        {"jump_candidates": "two_segment", "jump_samples": 1000},  # every one-cut placement
    ],
)
def test_decision_actor_gradient_equals_autograd_of_the_loss(kw):
    env = gym.make(MEC, dnn="lenet")
    agent = IoRLOPlus(env, seed=0, **TINY, **kw)
    agent.learn(200)  # trained critics: some states jump, some hold
    batch = agent.buffer.sample(64, agent.rng)
    obs = agent._norm_obs_t(batch.observations)
    platforms = discretise_array(batch.actions, agent.thresholds)
    out: dict[str, float] = {}
    P, C = agent.num_choices, agent._placements.shape[0]
    cut = None
    if C > P:  # the one-cut placements the update draws: the same draw for the reference
        m = min(agent.config.jump_samples, C - P)
        state = agent.torch_gen.get_state()
        if m < C - P:
            cut = torch.randint(P, C, (64, m), generator=agent.torch_gen)
        else:
            cut = torch.arange(P, C).expand(64, m)
        agent.torch_gen.set_state(state)
    with torch.no_grad():  # as in update()
        loss, grads = agent._decision_actor_grads(obs, agent._one_hot(platforms), platforms, out)
    ref_loss, ref_frac, to_cut = _reference_actor_loss(agent, obs, batch.actions, cut)
    ref_grads = torch.autograd.grad(ref_loss, list(agent.actor.parameters()))
    torch.testing.assert_close(loss, ref_loss.detach())
    assert out["imitation_fraction"] == ref_frac
    assert to_cut == (kw.get("jump_candidates") == "two_segment")  # they are scored, and win
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-6)


def test_fused_adam_equals_torch_adam_and_shares_its_state_layout():
    torch.manual_seed(0)
    ps = [torch.randn(5, 3, requires_grad=True), torch.randn(3, requires_grad=True)]
    qs = [p.detach().clone().requires_grad_(True) for p in ps]
    mine, ref = FusedAdam(ps, lr=1e-2), torch.optim.Adam(qs, lr=1e-2, fused=True)
    assert mine.state_dict()["state"] == ref.state_dict()["state"] == {}
    for _ in range(3):
        grads = [torch.randn_like(p) for p in ps]
        mine.step(grads)
        for q, g in zip(qs, grads, strict=True):
            q.grad = g.clone()
        ref.step()
    assert all(torch.equal(p, q) for p, q in zip(ps, qs, strict=True))
    sd, rsd = mine.state_dict(), ref.state_dict()
    assert sd["param_groups"] == rsd["param_groups"]
    for k in rsd["state"]:
        assert all(torch.equal(sd["state"][k][f], rsd["state"][k][f]) for f in rsd["state"][k])
    again = FusedAdam(ps, lr=0.5)
    again.load_state_dict(rsd)  # torch's state loads (the lr with it, as in torch)
    assert again.lr == 1e-2 and torch.equal(again.exp_avgs[0], sd["state"][0]["exp_avg"])
    ref.load_state_dict(sd)  # and ours into torch's
    with pytest.raises(ValueError, match="expected one group of 1"):
        FusedAdam(ps[:1], lr=1.0).load_state_dict(sd)


def test_stack_and_unstack_optimizer_state():
    w = torch.nn.Parameter(torch.randn(2, 4, 3))
    opt = FusedAdam([w], lr=1e-3)
    opt.step([torch.randn_like(w)])
    flat = unstack_state(opt.state_dict(), 2)
    assert flat["param_groups"][0]["params"] == [0, 1]
    assert torch.equal(flat["state"][1]["exp_avg"], opt.exp_avgs[0][1])
    back = stack_state(flat, 2)
    assert torch.equal(back["state"][0]["exp_avg_sq"], opt.exp_avg_sqs[0])


@pytest.mark.parametrize("cls", [IoRLO, IoRLOPlus])
def test_checkpoint_before_stacked_critics_loads_and_round_trips(cls):
    """A checkpoint of the two-Critic-module code loads (critics stacked, optimiser state
    stacked), and the agent's state_dict writes the same layout back, tensor for tensor."""
    path = OLD[cls]
    old = load_checkpoint(path)["state"]
    agent = cls.load(path, gym.make(MEC, dnn="lenet"))
    K = 2 if cls is IoRLOPlus else 1
    assert agent.critics.members == K and agent.global_step == 100
    for k, key in enumerate(("critic", "critic2")[:K]):
        for i in range(2):
            assert torch.equal(agent.critics.weights[i][k], old[key][f"net.{2 * i}.weight"])
            assert torch.equal(
                agent.critics_target.biases[i][k], old[f"{key}_target"][f"net.{2 * i}.bias"]
            )
    new = agent.state_dict(include_buffer=True)
    assert set(new) == set(old)
    for key in ("actor", "actor_target", "critic", "critic_target", "critic2", "critic2_target"):
        if key in old:
            assert old[key].keys() == new[key].keys()
            assert all(torch.equal(old[key][p], new[key][p]) for p in old[key])
    for name in ("actor_optimizer", "critic_optimizer"):
        assert new[name]["param_groups"] == old[name]["param_groups"]
        assert new[name]["state"].keys() == old[name]["state"].keys()
        for i, s in old[name]["state"].items():
            assert all(torch.equal(s[f], new[name]["state"][i][f]) for f in s)
    agent.learn(60)  # and trains on
    assert agent.global_step == 160


def _assert_same_weights(x: IoRLO, y: IoRLO, exact: bool) -> None:
    for a, b in ((x.actor, y.actor), (x.critics, y.critics)):
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            if exact:
                assert torch.equal(p, q)
            else:
                torch.testing.assert_close(p, q, rtol=0.0, atol=1e-6)


def test_iorlo_resumed_from_an_old_checkpoint_equals_a_straight_run():
    """IoRLO (one critic) trains bit for bit as before the stacking: 100 steps here equal
    the 100 the old code saved, and those plus 100 more here equal 200 steps here, so the
    conversion loses nothing.

    Bit for bit where torch dispatches to the SIMD kernels of the machine that wrote the
    file (OLD_CPU); with other kernels (AVX2, another vendor's) float32 rounding differs in the
    last bits (1e-8 here), so to 1e-6 there: a conversion that lost, say, the optimiser's
    moments differs by ~1e-2."""
    exact = _cpu() == OLD_CPU
    first = IoRLO(gym.make(MEC, dnn="lenet"), seed=3, **OLD_KW)
    first.learn(100)
    stored = IoRLO.load(OLD[IoRLO], gym.make(MEC, dnn="lenet"))
    _assert_same_weights(first, stored, exact)
    straight = IoRLO(gym.make(MEC, dnn="lenet"), seed=3, **OLD_KW)
    straight.learn(200)
    stored.learn(100)
    _assert_same_weights(straight, stored, exact)


def test_candidate_scores_share_the_observation_projection():
    """The critics' values of the imitation candidates (observation part of the first layer
    computed once) equal the critics' forward on the concatenated input."""
    env = gym.make(MEC, dnn="lenet")
    agent = IoRLOPlus(env, seed=0, **TINY)
    crit = agent.critics
    obs, dec = torch.randn(8, agent.obs_dim), agent._one_hot(agent._placements[1]).expand(8, -1)
    with torch.no_grad():
        z = crit.first_layer(obs, slice(0, agent.obs_dim)) + crit.first_layer(
            dec, slice(agent.obs_dim, None), bias=False
        )
        torch.testing.assert_close(crit.from_first_layer(z), crit(obs, dec))
    assert math.isclose(float(agent._midpoints[1]), 0.5)


@pytest.mark.parametrize("members", [1, 2])
@pytest.mark.parametrize("hidden", [30, (16, 8), (64, 64)])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_member_major_scoring_equals_side_by_side(members, hidden, activation):
    """``from_first_layer_members`` (the candidate scoring's layout) gives the values of
    ``from_first_layer`` to float32 rounding (bit for bit where the BLAS sums a
    matrix-vector product in the same order for both row strides: MKL on the Xeon, not on
    the AMD EPYC, where the output layer's sums differ by an ulp), and overwrites only its
    input."""
    torch.manual_seed(1)
    stack = CriticStack(7, 5, hidden, activation, members=members)
    x = torch.cat([torch.randn(300, 7), torch.rand(300, 5)], 1)
    with torch.no_grad():
        z = stack.first_layer(x)  # (N, K * h)
        ref = stack.from_first_layer(z)  # (N, K)
        zk = z.view(300, members, -1).transpose(0, 1).contiguous()  # (K, N, h)
        q = stack.from_first_layer_members(zk)
    assert q.shape == (members, 300)
    torch.testing.assert_close(q.T, ref, rtol=1e-6, atol=1e-6)
