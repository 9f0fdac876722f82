"""IoRLO+'s compiled update (agents.iorlo.fast_update, ``update_backend``): the same losses,
gradients and jump targets as the torch path, the "auto" rule, determinism, resume and old
checkpoints."""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401  (registers the env ids)
from agents.iorlo import IoRLO, IoRLOConfig, IoRLOPlus, fast_update
from envs.model.thresholds import discretise_array

pytestmark = pytest.mark.skipif(not fast_update.AVAILABLE, reason="needs numba")

MEC = "EdgeRL/MECPartition-v0"
V1 = {"dnn": "lenet", "network": "mixture_synthetic"}
TINY = {"learning_starts": 30, "batch_size": 16, "buffer_size": 1000}


def _params(agent: IoRLO) -> list[torch.Tensor]:
    nets = [agent.actor, agent.actor_target, agent.critics, agent.critics_target]
    return [p.detach().clone() for n in nets for p in n.parameters()]


@pytest.mark.parametrize(
    ("kw", "jumps"),  # jumps: some states jump and some hold after 200 steps
    [
        ({}, True),
        ({"hidden_actor": (12, 8), "hidden_critic": (16, 8, 4), "activation": "tanh"}, False),
        ({"hidden_critic": 16, "gamma": 0.5}, False),  # one hidden layer; critic targets
        ({"jump_candidates": "two_segment", "jump_samples": 5}, True),  # a draw per state
        ({"jump_candidates": "two_segment", "jump_samples": 1000}, True),  # every one-cut one
    ],
)
def test_compiled_losses_and_gradients_equal_the_torch_path(kw, jumps):
    """On one minibatch of a trained agent (some states jump, some hold), the compiled
    critic and actor steps give the torch path's losses, Q values and jump fraction, and
    gradients equal to float32 rounding."""
    agent = IoRLOPlus(gym.make(MEC, dnn="lenet"), seed=0, update_backend="compiled",
                      **TINY, **kw)  # fmt: skip
    assert agent.compiled_updates
    agent.learn(200)
    batch = agent.buffer.sample(64, agent.rng)
    obs = agent._norm_obs_t(batch.observations)
    y = agent._scaled_rewards(batch.rewards)
    platforms = discretise_array(batch.actions, agent.thresholds)
    fast = agent._fast_update()

    loss, q, grads = agent.critics.mse_grads(obs, agent._one_hot(platforms), y)
    c_loss, c_q1, c_grads = fast.critic_grads(obs.numpy(), platforms.numpy(), y.numpy())
    assert c_loss == pytest.approx(loss.item(), rel=1e-5)
    assert c_q1 == pytest.approx(q[:, 0].mean().item(), rel=1e-5)
    assert [g.shape for g in c_grads] == [tuple(p.shape) for p in agent.critics.param_list()]
    for g, r in zip(c_grads, grads, strict=True):
        torch.testing.assert_close(torch.from_numpy(g), r, rtol=1e-4, atol=1e-6)

    state = agent.torch_gen.get_state()  # the same one-cut draws for both paths
    out: dict[str, float] = {}
    with torch.no_grad():
        a_loss, a_grads = agent._decision_actor_grads(
            obs, agent._one_hot(platforms), platforms, out
        )
    agent.torch_gen.set_state(state)
    cut = agent._jump_cuts(64)
    assert (cut is None) == (kw.get("jump_candidates") != "two_segment" or "1000" in str(kw))
    n_loss, n_grads, fraction = fast.actor_grads(
        obs.numpy(), platforms.numpy(), None if cut is None else cut.numpy()
    )
    assert n_loss == pytest.approx(a_loss.item(), rel=1e-5)
    assert fraction == out["imitation_fraction"]
    assert (0 < fraction < 1) == jumps
    for g, r in zip(n_grads, a_grads, strict=True):
        torch.testing.assert_close(torch.from_numpy(g), r, rtol=1e-4, atol=1e-6)


def test_compiled_updates_train_deterministically_and_resume_exactly(tmp_path):
    """The same seed gives the same run (compiled loops, one BLAS thread); a run saved
    half-way and resumed equals the straight run bit for bit."""
    env = gym.make("EdgeRL/MECPartition-v1", **V1)
    straight = IoRLOPlus(env, seed=1, **TINY)
    assert straight.compiled_updates  # "auto" on v1
    straight.learn(200)
    again = IoRLOPlus(gym.make("EdgeRL/MECPartition-v1", **V1), seed=1, **TINY)
    again.learn(200)
    assert all(torch.equal(a, b) for a, b in zip(_params(straight), _params(again), strict=True))
    first = IoRLOPlus(gym.make("EdgeRL/MECPartition-v1", **V1), seed=1, **TINY)
    first.learn(100)
    path = first.save(tmp_path / "half.pt", include_buffer=True)
    resumed = IoRLOPlus.load(path, gym.make("EdgeRL/MECPartition-v1", **V1))
    assert resumed.compiled_updates
    resumed.learn(100)
    assert all(torch.equal(a, b) for a, b in zip(_params(straight), _params(resumed), strict=True))
    torch_run = IoRLOPlus(gym.make("EdgeRL/MECPartition-v1", **V1), seed=1,
                          update_backend="torch", **TINY)  # fmt: skip
    torch_run.learn(200)  # the other backend: another rounding, so (slightly) other weights
    assert not torch_run.compiled_updates
    diff = max((a - b).abs().max().item()
               for a, b in zip(_params(straight), _params(torch_run), strict=True))  # fmt: skip
    assert 0 < diff < 0.5


def test_update_backend_auto_rule_and_errors():
    """update_backend="auto": compiled on v1 for the decision critic; the torch path on v0 (whose results
    stay as they were) and for IoRLO's action critic; bad values are refused naming the
    field."""
    v1 = gym.make("EdgeRL/MECPartition-v1", **V1)
    assert IoRLOPlus(v1).compiled_updates
    assert not IoRLOPlus(gym.make(MEC, dnn="lenet")).compiled_updates
    assert IoRLOPlus(gym.make(MEC, dnn="lenet"), update_backend="compiled").compiled_updates
    assert not IoRLOPlus(v1, update_backend="torch").compiled_updates
    assert not IoRLO(v1).compiled_updates
    assert not IoRLO(v1, update_backend="auto").compiled_updates
    with pytest.raises(ValueError, match="update_backend must be one of"):
        IoRLOConfig(update_backend="numba")
    needs = "update_backend='compiled' needs critic_input='decision' and device='cpu'"
    with pytest.raises(ValueError, match=needs):
        IoRLO(v1, update_backend="compiled")


def test_checkpoint_from_before_update_backend_resumes_with_torch(tmp_path):
    """A file saved before the field existed resumes on the torch path, as it trained."""
    from agents.common.checkpoint import load_checkpoint, save_checkpoint

    env = gym.make("EdgeRL/MECPartition-v1", **V1)
    agent = IoRLOPlus(env, seed=0, **TINY)
    agent.learn(40)
    path = agent.save(tmp_path / "new.pt")
    assert IoRLOPlus.load(path, env).compiled_updates
    payload = load_checkpoint(path)
    payload.pop("manifest", None)
    del payload["config"]["update_backend"]
    restored = IoRLOPlus.load(save_checkpoint(tmp_path / "old.pt", payload), env)
    assert restored.config.update_backend == "torch" and not restored.compiled_updates


def test_compiled_exploration_uses_the_same_actor():
    """The compiled path's numpy actor gives the torch actor's output (to rounding)."""
    agent = IoRLOPlus(gym.make("EdgeRL/MECPartition-v1", **V1), seed=0, **TINY)
    agent.learn(100)
    obs = np.stack([agent._features(agent.env.observation_space.sample()) for _ in range(5)])
    x = agent._norm_obs_np(obs)
    np.testing.assert_allclose(agent._fast_update().actor_mu(x), agent._actor_np(obs),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def test_a_copied_agent_updates_from_its_own_parameters():
    """The compiled update reads views of the parameters; a deep copy of the agent reads its
    own (not copies frozen at the copy), and training it leaves the original's alone."""
    import copy

    agent = IoRLOPlus(gym.make("EdgeRL/MECPartition-v1", **V1), seed=0, **TINY)
    agent.learn(60)
    twin = copy.deepcopy(agent)
    views = twin._fast_update()
    actor, critics = twin._actor_params, twin.critics
    params = [*actor[0::2], *actor[1::2], *critics.weights, *critics.biases]
    for view, p in zip(views.aw + views.ab + views.cw + views.cb, params, strict=True):
        assert np.shares_memory(view, p.detach().numpy())
    before = _params(agent)
    twin.learn(60)
    assert all(torch.equal(a, b) for a, b in zip(before, _params(agent), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(before, _params(twin), strict=True))


@pytest.mark.parametrize("hidden", [(8,), (16, 12), (16, 12, 8)])
@pytest.mark.parametrize("relu", [True, False])
def test_candidate_scores_equal_a_float64_forward(hidden, relu):
    """The jump candidates' values (the critics' forward from their first hidden layer: the
    batched product of the last hidden layer in transposed layout, then one pass of the
    activation and the output layer) equal a float64 forward of the same weights."""
    rng = np.random.default_rng(0)
    K, N, sizes = 2, 37, [5, *hidden, 1]
    ws = [(rng.standard_normal((K, o, i)) / np.sqrt(i)).astype(np.float32)
          for i, o in itertools.pairwise(sizes)]  # fmt: skip
    bs = [rng.standard_normal((K, o)).astype(np.float32) for o in sizes[1:]]
    fast = fast_update.DecisionUpdate(
        [np.zeros((1, 5), np.float32), np.zeros(1, np.float32)], ws, bs, obs_dim=3,
        thresholds=np.array([0.5], np.float32), midpoints=np.array([0.25, 0.75], np.float32),
        fixed=np.zeros((2, 1), np.int64), relu=relu, sigma=0.1, imitation_weight=1.0,
    )  # fmt: skip
    act = (lambda x: np.maximum(x, 0.0)) if relu else np.tanh
    z = act(rng.standard_normal((K, N, hidden[0])).astype(np.float32))
    expected = z.astype(np.float64)
    for w, b in zip(ws[1:], bs[1:], strict=True):
        expected = np.matmul(expected, w.transpose(0, 2, 1).astype(np.float64)) + b[:, None, :]
        if w is not ws[-1]:
            expected = act(expected)
    q = fast._score(np.ascontiguousarray(z))
    assert q.shape == (K, N)
    np.testing.assert_allclose(q, expected[..., 0], rtol=1e-5, atol=1e-5)


def test_float32_normalisation_equals_the_torch_one():
    """``RunningMeanStd.normalize_f32`` (the compiled update's) gives ``normalize_torch``'s
    values bit for bit, clipped or not."""
    from agents.common.normalization import RunningMeanStd

    rng = np.random.default_rng(3)
    for clip in (None, 2.0):
        rms = RunningMeanStd((6,), clip=clip)
        rms.update(rng.standard_normal((50, 6)) * [1, 10, 1e-3, 5, 1, 100] + 3.0)
        x = (rng.standard_normal((64, 6)) * 20).astype(np.float32)
        expected = rms.normalize_torch(torch.from_numpy(x)).numpy()
        got = rms.normalize_f32(x)
        assert got.dtype == np.float32 and np.array_equal(got, expected)


@pytest.mark.parametrize("kw", [{}, {"gamma": 0.5, "hidden_critic": 16}])
def test_compiled_update_reads_numpy_and_tensor_batches_alike(kw):
    """``buffer.sample(numpy=True)`` draws the same rows as the tensor sample, and the
    compiled update (numpy prologue) trains the same from either, and the same as its
    prologue's torch operations would (the env's learn samples numpy)."""
    agent = IoRLOPlus(gym.make(MEC, dnn="lenet"), seed=0, update_backend="compiled",
                      **TINY, **kw)  # fmt: skip
    agent.learn(80)
    state = agent.rng.bit_generator.state
    as_t = agent.buffer.sample(32, agent.rng)
    agent.rng.bit_generator.state = state
    as_np = agent.buffer.sample(32, agent.rng, numpy=True)
    for t, a in zip(as_t, as_np, strict=True):
        assert isinstance(a, np.ndarray) and np.array_equal(t.numpy(), a)
    import copy

    twin = copy.deepcopy(agent)
    for _ in range(4):
        out_t, out_np = agent.update(as_t), twin.update(as_np)
        assert out_t == out_np
    assert all(torch.equal(a, b) for a, b in zip(_params(agent), _params(twin), strict=True))
    # the numpy prologue: the critics' input and targets of the torch path's operations
    obs = agent._norm_obs_t(as_t.observations).numpy()
    assert np.array_equal(agent.obs_rms.normalize_f32(as_np.observations), obs)
    y = agent._scaled_rewards(as_t.rewards).numpy()
    assert np.array_equal(as_np.rewards * agent._reward_scale(), y)
