"""NumpyActor: same decisions as the torch actor, env-valid actions, export, load_actor."""

from __future__ import annotations

import itertools
import pickle

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

import envs  # noqa: F401  (registers the env ids)
from agents.common.fast_actor import AUTO_MIN_BATCH, NumpyActor, mlp_actor_spec
from agents.iorlo import IoRLO, IoRLOPlus
from agents.loading import load_actor
from agents.partition_policies import make_partition_policy
from envs.model import kernels

MEC = "EdgeRL/MECPartition-v0"
D2D = "EdgeRL/D2DPartition-v0"


def _mlp(sizes: list[int], seed: int = 0) -> list[nn.Linear]:
    torch.manual_seed(seed)
    layers = [nn.Linear(a, b) for a, b in itertools.pairwise(sizes)]
    with torch.no_grad():
        for lin in layers:
            lin.weight.mul_(3.0)  # large enough to reach saturated outputs too
    return layers


def _torch_forward(layers, x, act=torch.relu):
    h = torch.as_tensor(x, dtype=torch.float32)
    for i, lin in enumerate(layers):
        h = lin(h)
        if i < len(layers) - 1:
            h = act(h)
    return h


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A briefly trained IoRLO on MEC/lenet and its checkpoint."""
    env = gym.make(MEC, dnn="lenet")
    agent = IoRLO(env, seed=3, learning_starts=50, batch_size=16)
    agent.learn(150)
    path = agent.save(tmp_path_factory.mktemp("ckpt") / "iorlo.pt")
    return env, agent, path


def test_matches_torch_sigmoid_actor_single_and_batch():
    layers = _mlp([12, 50, 5])
    actor = NumpyActor(mlp_actor_spec(layers, output="sigmoid"))
    x = np.random.default_rng(0).random((64, 12), dtype=np.float32)
    with torch.no_grad():
        ref = torch.sigmoid(_torch_forward(layers, x)).numpy()
    batch = actor.act_batch(x)
    assert batch.dtype == np.float32 and batch.shape == (64, 5)
    np.testing.assert_allclose(batch, ref, atol=1e-6)
    for i in range(5):
        a = actor.act(x[i])
        assert a.dtype == np.float32 and a.shape == (5,)
        np.testing.assert_allclose(a, ref[i], atol=1e-6)
    # float64 / list inputs are accepted
    np.testing.assert_allclose(actor.act(x[0].astype(np.float64).tolist()), ref[0], atol=1e-6)


def test_act_does_not_alias_or_modify_inputs():
    actor = NumpyActor(mlp_actor_spec(_mlp([4, 8, 3]), output="sigmoid"))
    x = np.ones(4, np.float32)
    a1 = actor.act(x)
    a2 = actor.act(x)
    assert a1 is not a2 and np.array_equal(a1, a2)
    assert np.array_equal(x, np.ones(4, np.float32))


@pytest.mark.parametrize("clip", [None, 2.0])
def test_observation_normalisation(clip):
    layers = _mlp([6, 10, 4], seed=1)
    rng = np.random.default_rng(1)
    mean, std = rng.random(6).astype(np.float32), (0.1 + rng.random(6)).astype(np.float32)
    actor = NumpyActor(mlp_actor_spec(layers, obs_mean=mean, obs_std=std, obs_clip=clip))
    x = rng.random((32, 6), dtype=np.float32) * 3
    z = (x - mean) / std
    if clip is not None:
        z = np.clip(z, -clip, clip)
    with torch.no_grad():
        ref = torch.sigmoid(_torch_forward(layers, z)).numpy()
    np.testing.assert_allclose(actor.act_batch(x), ref, atol=1e-5)
    np.testing.assert_allclose(actor.act(x[3]), ref[3], atol=1e-5)
    np.testing.assert_allclose(actor.to_torch()(torch.as_tensor(x)).detach(), ref, atol=1e-5)


@pytest.mark.parametrize("norm", [False, True])
def test_log_inputs_append_log_ratios_on_every_path(norm, tmp_path):
    """log_inputs: the MLP reads the observation followed by log(v / (1 - v)) of the listed
    entries (clipped to 1e-6 from 0 and 1) on every path: act, act_batch, decide (compiled
    and numpy), decide_batch (numpy and onnxruntime), the torch module and its exports."""
    rng = np.random.default_rng(4)
    idx = np.array([0, 3, 5])
    layers = _mlp([9, 16, 4], seed=2)
    kw = {"obs_mean": rng.random(9), "obs_std": rng.random(9) + 0.5, "obs_clip": 4.0}
    spec = mlp_actor_spec(layers, log_inputs=idx, **(kw if norm else {}))
    x = rng.random((AUTO_MIN_BATCH, 6), dtype=np.float32)
    x[:4, 0], x[4:8, 3] = 0.0, 1.0  # saturated entries: clipped, finite
    v = np.clip(x[:, idx], np.float32(1e-6), np.float32(1 - 1e-6))  # float32, as the actor
    z = np.concatenate([x, np.log(v) - np.log1p(-v)], 1)
    if norm:
        z = np.clip((z - kw["obs_mean"]) / kw["obs_std"], -4.0, 4.0)
    with torch.no_grad():
        ref = torch.sigmoid(_torch_forward(layers, z.astype(np.float32))).numpy()
    plain = NumpyActor(spec, thresholds=[0.3, 0.7], batch_backend="numpy", compiled=False)
    assert (plain.obs_dim, plain.in_dim) == (6, 9)
    np.testing.assert_allclose(plain.act_batch(x), ref, atol=1e-5)
    np.testing.assert_allclose(plain.act(x[2]), ref[2], atol=1e-5)
    want = plain.decide_batch(x)
    np.testing.assert_array_equal([plain.decide(o) for o in x], want)
    fast = NumpyActor(spec, thresholds=[0.3, 0.7])
    np.testing.assert_array_equal([fast.decide(o) for o in x], want)
    np.testing.assert_array_equal(fast.decide(x[1].astype(np.float64)), want[1])
    np.testing.assert_array_equal(fast.decide_batch(x), want)
    np.testing.assert_allclose(fast.to_torch()(torch.as_tensor(x)).detach(), ref, atol=1e-5)
    with pytest.raises(ValueError, match=r"obs must have shape \(6,\)"):
        fast.act(np.zeros(9, np.float32))
    pytest.importorskip("onnxruntime")
    ort = NumpyActor(spec, thresholds=[0.3, 0.7], batch_backend="onnxruntime")
    np.testing.assert_allclose(ort.act_batch(x), ref, atol=1e-5)
    import onnxruntime

    path = fast.export(tmp_path / "a.onnx", format="onnx")
    got = onnxruntime.InferenceSession(str(path)).run(None, {"obs": x})[0]
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_log_inputs_must_index_the_observation():
    layers = _mlp([9, 4])
    for bad in ([0, 7], [-1], [[0, 1]], [0.5], list(range(9))):
        with pytest.raises(ValueError, match="log_inputs must"):
            NumpyActor(mlp_actor_spec(layers, log_inputs=np.array(bad)))
    spec = mlp_actor_spec(layers)
    del spec["log_inputs"]  # a spec written before the field: the observation alone
    assert NumpyActor(spec).obs_dim == 9


def test_argmax_tanh_identity_outputs():
    layers = _mlp([5, 7, 8], seed=2)
    x = np.random.default_rng(2).random((10, 5), dtype=np.float32)
    with torch.no_grad():
        z = _torch_forward(layers, x, torch.tanh).numpy()
    disc = NumpyActor(mlp_actor_spec(layers, activation="tanh", output="argmax"))
    assert isinstance(disc.act(x[0]), np.integer) and disc.act(x[0]) == z[0].argmax()
    np.testing.assert_array_equal(disc.act_batch(x), z.argmax(-1))
    groups = NumpyActor(mlp_actor_spec(layers, activation="tanh", output="argmax", argmax_groups=4))
    np.testing.assert_array_equal(groups.act_batch(x), z.reshape(10, 4, 2).argmax(-1))
    np.testing.assert_array_equal(groups.act(x[1]), z[1].reshape(4, 2).argmax(-1))
    low, high = -np.arange(8.0), np.arange(8.0) + 1
    tanh = NumpyActor(
        mlp_actor_spec(layers, activation="tanh", output="tanh", action_low=low, action_high=high)
    )
    np.testing.assert_allclose(
        tanh.act_batch(x), low + (np.tanh(z) + 1) / 2 * (high - low), rtol=1e-5, atol=1e-5
    )
    ident = NumpyActor(
        mlp_actor_spec(
            layers,
            activation="tanh",
            output="identity",
            action_low=-0.1 * np.ones(8),
            action_high=0.1 * np.ones(8),
        )
    )
    np.testing.assert_allclose(ident.act_batch(x), np.clip(z, -0.1, 0.1), atol=1e-6)


def test_bad_inputs_raise_clear_errors():
    actor = NumpyActor(mlp_actor_spec(_mlp([4, 8, 3]), output="sigmoid"))
    with pytest.raises(ValueError, match=r"obs must have shape \(4,\)"):
        actor.act(np.zeros(5, np.float32))
    with pytest.raises(ValueError, match=r"\(batch, 4\)"):
        actor.act_batch(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="decide"):
        actor.decide(np.zeros(4, np.float32))  # no thresholds known
    with pytest.raises(ValueError, match="output"):
        mlp_actor_spec(_mlp([4, 3]), output="softplus")
    with pytest.raises(ValueError, match="thresholds"):
        NumpyActor(mlp_actor_spec(_mlp([4, 3])), thresholds=[0.7, 0.2])


def test_actions_are_valid_and_decisions_match_env(trained):
    env, agent, _ = trained
    actor = agent.fast_actor()
    base = env.unwrapped
    obs, _ = env.reset(seed=11)
    batch = []
    for _ in range(30):
        a = actor.act(obs)
        assert env.action_space.contains(a)
        np.testing.assert_allclose(a, agent.predict(obs), atol=1e-6)
        np.testing.assert_array_equal(actor.decide(obs), base.action_to_decision(a))
        batch.append(obs)
        obs, *_ = env.step(a)
    batch = np.asarray(batch)
    np.testing.assert_array_equal(
        actor.decide_batch(batch), base.action_to_decision(actor.act_batch(batch))
    )


def test_thresholds_at_the_boundary_match_env_discretisation():
    # Output exactly at a threshold goes up (a >= ε -> edge), as in the env.
    w = np.zeros((3, 2), np.float32)
    eps, phi = 0.25, 0.75
    b = np.log(np.array([eps, phi, 0.5]) / (1 - np.array([eps, phi, 0.5]))).astype(np.float32)
    actor = NumpyActor(mlp_actor_spec([(w, b)]), thresholds=[eps, phi])
    d = actor.decide(np.zeros(2, np.float32))
    env = gym.make(MEC, dnn="lenet", epsilon=eps, phi=phi)
    a = actor.act(np.zeros(2, np.float32))
    assert d.tolist() == [1, 2, 1]
    assert env.unwrapped.action_to_decision(np.r_[a, a[:2]]).tolist()[:3] == d.tolist()


def test_same_interface_as_baseline_policies(trained):
    env, _, path = trained
    actor = load_actor(path)
    baseline = make_partition_policy("edge_only", env)
    obs, _ = env.reset(seed=0)
    for policy in (actor, baseline):
        a = policy.act(obs)
        assert env.action_space.contains(a)
        assert policy.act_batch(obs[None]).shape == (1, *env.action_space.shape)


def test_load_actor_from_checkpoint_matches_agent(trained, tmp_path):
    env, agent, path = trained
    actor = load_actor(path)
    assert actor.signature["profile_name"] == "lenet"
    assert actor.thresholds.tolist() == pytest.approx([1 / 3, 2 / 3])
    obs = np.random.default_rng(5).random((20, env.observation_space.shape[0]), np.float32)
    np.testing.assert_allclose(actor.act_batch(obs), agent.predict(obs), atol=1e-6)
    # improved variant: observation normalisation travels with the actor
    plus = IoRLOPlus(env, seed=0, learning_starts=40, batch_size=16)
    plus.learn(120)
    p2 = plus.save(tmp_path / "plus.pt")
    np.testing.assert_allclose(load_actor(p2).act_batch(obs), plus.predict(obs), atol=1e-5)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:DeprecationWarning")
def test_export_torchscript_and_onnx(trained, tmp_path):
    path = trained[2]
    actor = load_actor(path)
    obs = np.random.default_rng(6).random((8, actor.obs_dim), np.float32)
    ts = actor.export(tmp_path / "actor.ts")
    loaded = torch.jit.load(str(ts))
    np.testing.assert_allclose(
        loaded(torch.as_tensor(obs)).numpy(), actor.act_batch(obs), atol=1e-6
    )
    onnx = pytest.importorskip("onnx")
    op = actor.export(tmp_path / "actor.onnx", format="onnx")
    model = onnx.load(str(op))
    onnx.checker.check_model(model)
    assert [i.name for i in model.graph.input] == ["obs"]
    np.testing.assert_allclose(_run_onnx(model, obs), actor.act_batch(obs), atol=1e-5)
    with pytest.raises(ValueError, match="format"):
        actor.export(tmp_path / "x", format="tflite")


def _run_onnx(model, obs: np.ndarray) -> np.ndarray:
    """A tiny evaluator for the ops an MLP actor exports to (onnxruntime is not installed)."""
    from onnx import numpy_helper

    vals = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    vals[model.graph.input[0].name] = obs
    for node in model.graph.node:
        ins = [vals[i] for i in node.input if i]
        attrs = {a.name: a for a in node.attribute}
        if node.op_type == "Gemm":
            a, b = ins[0], ins[1]
            if attrs.get("transA") and attrs["transA"].i:
                a = a.T
            if attrs.get("transB") and attrs["transB"].i:
                b = b.T
            out = a @ b + (ins[2] if len(ins) > 2 else 0)
        elif node.op_type == "MatMul":
            out = ins[0] @ ins[1]
        elif node.op_type == "Add":
            out = ins[0] + ins[1]
        elif node.op_type == "Relu":
            out = np.maximum(ins[0], 0)
        elif node.op_type == "Sigmoid":
            out = 1 / (1 + np.exp(-ins[0]))
        elif node.op_type == "Tanh":
            out = np.tanh(ins[0])
        else:
            raise NotImplementedError(node.op_type)
        vals[node.output[0]] = out
    return vals[model.graph.output[0].name]


@pytest.mark.parametrize("sizes", [[12, 50, 5], [12, 5], [12, 30, 20, 7]])
@pytest.mark.parametrize("norm", [False, True])
def test_compiled_decide_and_batch_backends_give_identical_decisions(sizes, norm):
    """The compiled single decision (numba) and every batch backend (numpy, onnxruntime,
    "auto") decide exactly what numpy decides; batch backends give identical actions."""
    rng = np.random.default_rng(len(sizes))
    kw = {"obs_mean": rng.random(12), "obs_std": rng.random(12) + 0.5, "obs_clip": 1.5}
    spec = mlp_actor_spec(_mlp(sizes), output="sigmoid", **(kw if norm else {}))
    plain = NumpyActor(spec, thresholds=[0.3, 0.7], batch_backend="numpy", compiled=False)
    x = rng.normal(0, 2, (AUTO_MIN_BATCH, 12)).astype(np.float32)
    want = plain.decide_batch(x)
    np.testing.assert_array_equal(want, [plain.decide(o) for o in x])
    fast = NumpyActor(spec, thresholds=[0.3, 0.7])
    assert fast.compiled == kernels.AVAILABLE
    np.testing.assert_array_equal([fast.decide(o) for o in x], want)
    np.testing.assert_array_equal(fast.decide(x[0].astype(np.float64).tolist()), want[0])
    np.testing.assert_array_equal(fast.decide(x[:, 0:12:1][1, ::-1][::-1]), want[1])
    assert fast.batch_backend_used is None  # "auto" waits for a large batch
    np.testing.assert_array_equal(fast.decide_batch(x), want)
    assert fast.batch_backend_used in ("numpy", "onnxruntime")
    np.testing.assert_array_equal(fast.act_batch(x), plain.act_batch(x))
    np.testing.assert_array_equal(fast.act_batch(x[:5]), plain.act_batch(x[:5]))  # small: numpy
    pytest.importorskip("onnxruntime")
    # forced, onnxruntime may sum in another order (for some layer sizes): float32 rounding
    ort = NumpyActor(spec, thresholds=[0.3, 0.7], batch_backend="onnxruntime")
    np.testing.assert_array_equal(ort.decide_batch(x), want)
    np.testing.assert_allclose(ort.act_batch(x), plain.act_batch(x), rtol=1e-5, atol=1e-6)
    again = pickle.loads(pickle.dumps(ort))  # the session is rebuilt, not pickled
    np.testing.assert_array_equal(again.act_batch(x[:3]), ort.act_batch(x[:3]))
    with pytest.raises(ValueError, match="batch_backend"):
        NumpyActor(spec, batch_backend="tensorrt")
