"""Deciding on a forecast frame: the env side (:class:`envs.partition.sim.FrameReadings`, the
observation other readings give) and the composite policy
(:class:`agents.forecast.ForecastFrameActor`, :func:`agents.forecast.compose_forecast_frame`)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import envs  # noqa: F401  (registers the ids)
from agents.common.checkpoint import CheckpointError, load_checkpoint
from agents.forecast import (
    DPForecast,
    ForecastDPActor,
    ForecastFrameActor,
    compose_forecast_frame,
)
from agents.iorlo import IoRLOPlus
from agents.loading import load_actor
from envs.partition.sim import FrameReadings

SYNTH = {"network": "mixture_synthetic"}  # no trace files needed
IDS = {"mec": "EdgeRL/MECPartition-v1", "d2d": "EdgeRL/D2DPartition-v1"}
SMALL = {"num_envs": 8, "frames_per_iter": 25, "batch_size": 64}


def _paired_frames(scenario: str, episodes: int = 64, frames: int = 100, **kw):
    """Same seed, measured and current vector envs: (measured observations, current
    observations, the frame's readings from ``info["network"]``), stacked over frames.
    Both observations are those the frame is decided on; the frames are the same (the
    processes do not depend on the actions nor on what is observed)."""

    def make(observe):
        return gym.make_vec(IDS[scenario], num_envs=episodes, dnn="alexnet", observe=observe,
                            vectorization_mode="vector_entry_point", oracle=False,
                            **SYNTH, **kw)  # fmt: skip

    vm, vc = make("measured"), make("current")
    om, _ = vm.reset(seed=5)
    oc, _ = vc.reset(seed=5)
    fr = vm.unwrapped.sim.readings
    obs_m, obs_c, reads = [], [], []
    zero = np.zeros(vm.action_space.shape, dtype=vm.action_space.dtype)
    for _ in range(frames):
        obs_m.append(om)
        obs_c.append(oc)
        om, _, _, _, info = vm.step(zero)
        oc, *_ = vc.step(zero)
        # without platform load the factors are constant and not in info: the sim's own
        net, slowdown = info["network"], vm.unwrapped.sim.slowdown
        P = slowdown.shape[1]
        reads.append(np.stack([np.asarray(net[f], dtype=np.float64) if f in net
                               else slowdown[:, j - (len(fr.fields) - P)]
                               for j, f in enumerate(fr.fields)], 1))  # fmt: skip
    vm.close()
    vc.close()
    return fr, np.concatenate(obs_m), np.concatenate(obs_c), np.concatenate(reads)


def _other_candidates(fr: FrameReadings, obs: np.ndarray) -> np.ndarray:
    """Mask of the D2D entries a frame's readings do not determine: the links of the
    candidates that are not selected."""
    mask = np.zeros(obs.shape, dtype=bool)
    for j in range(fr.m):
        other = obs[:, fr.cand + 6 * j + 5] < 0.5
        mask[other, fr.cand + 6 * j + 3] = mask[other, fr.cand + 6 * j + 4] = True
    return mask


@pytest.mark.parametrize("scenario", ["mec", "d2d"])
@pytest.mark.parametrize("platform_load", [True, False])
def test_written_readings_give_the_observation_of_that_frame(scenario, platform_load):
    """The measured observation with the frame's true readings written in is, entry for
    entry, the observation of the same frame with ``observe="current"`` (D2D: but the
    links of candidates not selected, which stay measured); the measurement written back
    is the observation itself up to the float32 rounding it was read from."""
    kw = {} if platform_load else {"platform_load": False}
    fr, obs_m, obs_c, reads = _paired_frames(scenario, **kw)
    assert (obs_m != obs_c).any()  # the measurement is stale
    written = fr.write(obs_m, reads)
    if scenario == "d2d":
        alone = obs_m[:, 4] < 0.5  # no collaborator: returned as they are (nothing offloads)
        assert alone.any()
        np.testing.assert_array_equal(written[alone], obs_m[alone])
        other = _other_candidates(fr, obs_m) | alone[:, None]
        np.testing.assert_array_equal(written[~other], obs_c[~other])
        np.testing.assert_array_equal(written[other], obs_m[other])
    else:
        np.testing.assert_array_equal(written, obs_c)
    np.testing.assert_allclose(fr.write(obs_m, fr.read(obs_m)), obs_m, rtol=0, atol=5e-7)


def test_write_refuses_other_layouts():
    env = gym.make(IDS["mec"], dnn="alexnet", history=(0.9,), **SYNTH)
    obs, _ = env.reset(seed=0)
    fr = env.unwrapped.sim.readings
    with pytest.raises(ValueError, match=r"no dp_features or history entries"):
        fr.write(obs[None], fr.read(obs[None]))
    base = obs[None, : fr.obs_dim]
    with pytest.raises(ValueError, match=r"readings must have shape \(1, 9\)"):
        fr.write(base, np.ones((1, 4)))
    with pytest.raises(ValueError, match="scenario must be one of"):
        FrameReadings("cloud", np.ones(3))
    with pytest.raises(ValueError, match="needs the D2D layout's candidates"):
        FrameReadings("d2d", np.ones(3)).write(np.zeros((1, 20)), np.ones((1, 4)))


def _visited(env: gym.Env, actor, seed: int, steps: int) -> np.ndarray:
    """The observations ``(steps + 1, obs_dim)`` of one episode's start where ``actor``
    acts."""
    obs, _ = env.reset(seed=seed)
    batch = [obs]
    for _ in range(steps):
        obs, *_ = env.step(actor.act(obs))
        batch.append(obs)
    return np.stack(batch)


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    """Tiny checkpoints per scenario: IoRLO+ trained on the frame it decides, a
    DP-forecast on the measurement (same env and DNN), and a DP-forecast of another DNN."""
    root = tmp_path_factory.mktemp("parts")
    out = {}
    for scenario in IDS:
        torch.manual_seed(0)
        pol = IoRLOPlus(gym.make(IDS[scenario], dnn="alexnet", observe="current", **SYNTH),
                        seed=0, learning_starts=50)  # fmt: skip
        pol.learn(200)
        fc = DPForecast(IDS[scenario], {"dnn": "alexnet", **SYNTH}, seed=0, **SMALL)
        fc.learn(400)
        other = DPForecast(IDS[scenario], {"dnn": "lenet", **SYNTH}, seed=0, **SMALL)
        out[scenario] = {
            "policy": pol.save(root / f"{scenario}_policy.pt"),
            "forecast": fc.save(root / f"{scenario}_forecast.pt"),
            "other": other.save(root / f"{scenario}_other.pt"),
        }
        fc.close()
        other.close()
    return out


@pytest.mark.parametrize("scenario", ["mec", "d2d"])
def test_composite_decides_on_the_forecast_frame_and_round_trips(scenario, parts, tmp_path):
    p = parts[scenario]
    composite = compose_forecast_frame(p["policy"], p["forecast"], tmp_path / "c.pt")
    loaded = load_actor(tmp_path / "c.pt")
    assert isinstance(loaded, ForecastFrameActor)
    env = gym.make(IDS[scenario], dnn="alexnet", **SYNTH)  # deployed on the measurement
    loaded.check_fits(env)
    batch = _visited(env, loaded, seed=1, steps=40)
    policy, forecaster = load_actor(p["policy"]), load_actor(p["forecast"])
    frame = env.unwrapped.sim.readings.write(batch, forecaster.terms(batch))
    want = policy.act_batch(frame)
    np.testing.assert_array_equal(composite.act_batch(batch), want)
    np.testing.assert_array_equal(loaded.act_batch(batch), want)
    np.testing.assert_array_equal(np.stack([loaded.act(o) for o in batch]), want)
    np.testing.assert_array_equal(loaded.decide_batch(batch), policy.decide_batch(frame))
    np.testing.assert_array_equal(np.stack([loaded.decide(o) for o in batch]),
                                  policy.decide_batch(frame))  # fmt: skip
    assert loaded.signature["env_params"]["observe"] == "measured"
    with pytest.warns(UserWarning, match="use the policy alone"):
        loaded.check_fits(gym.make(IDS[scenario], dnn="alexnet", observe="current", **SYNTH))
    assert loaded.signature["action_mode"] == "continuous"


@pytest.mark.parametrize("scenario", ["mec", "d2d"])
def test_a_forecaster_with_a_history_serves_a_policy_without(scenario, parts, tmp_path):
    """A DP-forecast that observes a history (v1's default) reads the deployed observation;
    the policy reads the simulator's layout at its start, with the forecast written in."""
    decays = [0.7, 0.95]
    fc = DPForecast(IDS[scenario], {"dnn": "alexnet", "history": decays, **SYNTH}, seed=0,
                    **SMALL)  # fmt: skip
    fc.learn(400)
    path = fc.save(tmp_path / "fh.pt")
    fc.close()
    p = parts[scenario]
    compose_forecast_frame(p["policy"], path, tmp_path / "c.pt")
    env = gym.make(IDS[scenario], dnn="alexnet", history=decays, **SYNTH)
    loaded = load_actor(tmp_path / "c.pt", env=env)  # the signature is the history env's
    loaded.check_fits(env)
    with pytest.raises(ValueError, match="observation values, the env gives"):
        loaded.check_fits(gym.make(IDS[scenario], dnn="alexnet", **SYNTH))
    batch = _visited(env, loaded, seed=2, steps=30)
    policy, forecaster = load_actor(p["policy"]), load_actor(path)
    width = env.unwrapped.sim.readings.obs_dim
    assert loaded.policy_dim == width < loaded.obs_dim == batch.shape[1]
    frame = env.unwrapped.sim.readings.write(batch[:, :width], forecaster.terms(batch))
    np.testing.assert_array_equal(loaded.act_batch(batch), policy.act_batch(frame))
    np.testing.assert_array_equal(np.stack([loaded.decide(o) for o in batch]),
                                  policy.decide_batch(frame))  # fmt: skip
    # a checkpoint that does not record its layout (saved before the key) must match exactly
    old = load_checkpoint(path)
    del old["dp"]["layout_dim"]
    with pytest.raises(ValueError, match="must read the policy's layout"):
        ForecastFrameActor(policy, ForecastDPActor.from_checkpoint(old))


def test_compose_refuses_parts_that_do_not_fit(parts, tmp_path):
    p = parts["mec"]
    with pytest.raises(CheckpointError, match="not a dp_forecast checkpoint"):
        compose_forecast_frame(p["policy"], p["policy"])
    with pytest.raises(CheckpointError, match="the policy must decide itself"):
        compose_forecast_frame(p["forecast"], p["forecast"])
    with pytest.raises(CheckpointError, match="different envs: .*profile_fingerprint"):
        compose_forecast_frame(p["policy"], p["other"])
    with pytest.raises(CheckpointError, match="different envs: env_id"):
        compose_forecast_frame(p["policy"], parts["d2d"]["forecast"])
    assert not (tmp_path / "c.pt").exists()
    env = gym.make(IDS["mec"], dnn="alexnet", observe="current", history=(0.9,), **SYNTH)
    hist = IoRLOPlus(env, seed=0, learning_starts=50)
    path = hist.save(tmp_path / "hist.pt")
    with pytest.raises(
        CheckpointError, match="cannot compose: policy reads .* without dp_features"
    ):
        compose_forecast_frame(path, p["forecast"], tmp_path / "c.pt")
    assert not (tmp_path / "c.pt").exists()
    with pytest.raises(ValueError, match="actor takes 69 observation values, the env gives 87"):
        compose_forecast_frame(p["policy"], p["forecast"]).check_fits(env)
