"""DP-forecast (agents/forecast.py): starts as dp_measured, learns a forecast that lowers the
expected cost, acts through ``load_actor`` without an env, trains through the pipeline."""

from __future__ import annotations

import csv

import gymnasium as gym
import numpy as np
import pytest
from conftest import needs_traces
from test_pipeline import _ok, run_script, the_run, train

import envs  # noqa: F401  (registers the ids)
from agents.forecast import DPForecast, ForecastConfig, ForecastDPActor
from agents.loading import load_actor

SYNTH = {"network": "mixture_synthetic"}  # no trace files needed
IDS = {"mec": "EdgeRL/MECPartition-v1", "d2d": "EdgeRL/D2DPartition-v1"}
SMALL = {"num_envs": 8, "frames_per_iter": 25, "batch_size": 64}


def _frames(scenario: str, observe: str, episodes: int = 8, seed: int = 3):
    """(observations, dp_measured decisions, oracle decisions, problems) of fixed frames."""
    vec = gym.make_vec(IDS[scenario], num_envs=episodes, vectorization_mode="vector_entry_point",
                       action_mode="discrete", dnn="alexnet", observe=observe, **SYNTH)  # fmt: skip
    obs, _ = vec.reset(seed=seed)
    u = vec.unwrapped
    out = []
    for _ in range(20):
        out.append((obs, u.measured_problem.optimum()[0], u.problem.optimum()[0], u.problem))
        obs, *_ = vec.step(np.zeros((episodes, u.n_blocks), dtype=np.int64))
    vec.close()
    return out


@pytest.mark.parametrize("scenario", ["mec", "d2d"])
@pytest.mark.parametrize("observe", ["measured", "current"])
def test_untrained_agent_is_dp_on_the_observation(scenario, observe):
    """Zero corrections: the DP on the observed frame (dp_measured; the oracle when the
    observation is the current frame), up to the float32 rounding of the observation."""
    agent = DPForecast(IDS[scenario], {"dnn": "alexnet", "observe": observe, **SYNTH}, **SMALL)
    actor = agent.fast_actor()
    same = total = 0
    for obs, measured, oracle, _ in _frames(scenario, observe):
        mine = actor.decide_batch(obs)
        ref = measured if observe == "measured" else oracle
        same += int((mine == ref).all(1).sum())
        total += len(obs)
    agent.close()
    assert same >= 0.98 * total


def test_labels_are_one_when_the_observation_is_the_frame():
    agent = DPForecast(IDS["mec"], {"dnn": "alexnet", "observe": "current", **SYNTH}, **SMALL)
    agent.learn(200)
    k = agent._out_dim()
    ratio, weight = agent.label_buf[:, :k], agent.label_buf[:, k:]
    assert np.all(weight == 1.0)
    np.testing.assert_allclose(ratio, 1.0, rtol=2e-4)  # float32 observation rounding only
    agent.close()


@pytest.mark.parametrize("scenario", ["mec", "d2d"])
def test_forecast_lowers_the_expected_cost_below_dp_measured(scenario):
    """A few seconds of training: on held-out frames the mean cost is below dp_measured's."""
    agent = DPForecast(IDS[scenario], {"dnn": "alexnet", **SYNTH}, seed=0)
    agent.learn(40_000)
    actor = agent.fast_actor()
    mine = ref = 0.0
    for obs, measured, _, problem in _frames(scenario, "measured", episodes=64, seed=99):
        mine += float(problem.evaluate(actor.decide_batch(obs)).cost.sum())
        ref += float(problem.evaluate(measured).cost.sum())
    agent.close()
    assert mine < ref


def test_checkpoint_loads_as_an_actor_without_an_env(tmp_path):
    agent = DPForecast(IDS["d2d"], {"dnn": "alexnet", **SYNTH}, **SMALL)
    agent.learn(400)
    path = agent.save(tmp_path / "checkpoint.pt")
    actor = load_actor(path)
    assert isinstance(actor, ForecastDPActor)
    obs = _frames("d2d", "measured")[3][0]
    np.testing.assert_array_equal(actor.act_batch(obs), agent.fast_actor().act_batch(obs))
    np.testing.assert_array_equal(actor.act(obs[0]), actor.act_batch(obs)[0])
    env = gym.make(IDS["d2d"], dnn="alexnet", action_mode="discrete", **SYNTH)
    load_actor(path, env)  # fits
    with pytest.raises(ValueError, match="does not match the env"):
        load_actor(path, gym.make(IDS["d2d"], dnn="vgg16", action_mode="discrete", **SYNTH))
    resumed = DPForecast.load(path, IDS["d2d"], {"dnn": "alexnet", **SYNTH})
    np.testing.assert_array_equal(resumed.label_buf, agent.label_buf)
    agent.close()
    resumed.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"objective": "regret"}, "objective must be one of"),
        ({"ratio_clip": 1.0}, "ratio_clip must be"),
        ({"hidden": []}, "hidden"),
    ],
)
def test_bad_config_names_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ForecastConfig(**kwargs)


def test_early_exits_are_refused():
    with pytest.raises(ValueError, match="early exits"):
        DPForecast(IDS["mec"], {"dnn": "alexnet", "early_exit": [0.2] * 10, **SYNTH}, **SMALL)


@needs_traces
def test_pipeline_trains_and_evaluates_dp_forecast(tmp_path):
    proc = train(tmp_path, "agent=dp_forecast", "agent.num_envs=4", "agent.frames_per_iter=50",
                 "train.total_steps=400", "train.eval_every=200", "train.checkpoint_every=200")  # fmt: skip
    _ok(proc)
    assert "| **dp_forecast** |" in proc.stdout
    run_dir = the_run(tmp_path)
    actor = load_actor(run_dir)
    assert isinstance(actor, ForecastDPActor)
    # trained on mixture_train, tested on every test network on its own, with the mean
    out = run_script("evaluate.py", f"runs='{run_dir}'", "split_networks=test", "episodes=2", "baselines=[dp_measured]",
                     "decision_steps=5", "plots=false", f"out_dir={tmp_path / 'eval'}")  # fmt: skip
    _ok(out)
    assert "Mean over the 8 networks" in out.stdout
    assert "| dp_forecast (trained on mixture_train) |" in out.stdout
    # each network's row: the cost relative to dp_measured's on the same episodes, with its CI
    with open(tmp_path / "eval" / "results.csv") as f:
        rows = list(csv.DictReader(f))
    ref = {r["network"]: float(r["cost_mean"]) for r in rows if r["agent"] == "dp_measured"}
    mine = [r for r in rows if r["agent"] == "dp_forecast"]
    assert len(ref) == len(mine) == 8
    for r in mine:
        ratio, lo, hi = (float(r[f"cost_vs_dp_measured{k}"]) for k in ("", "_lo", "_hi"))
        assert ratio == pytest.approx(float(r["cost_mean"]) / ref[r["network"]], rel=1e-12)
        assert lo <= ratio <= hi
    label = "| dp_forecast (trained on mixture_train) |"
    line = next(x for x in out.stdout.splitlines() if label in x and x.count("|") == 9)
    above = sum(float(r["cost_vs_dp_measured_lo"]) > 1 for r in mine)
    assert line.rstrip(" |").endswith(f"| {above}/8")
    ref_line = next(
        x for x in out.stdout.splitlines() if "| dp_measured |" in x and x.count("|") == 9
    )
    assert ref_line.rstrip(" |").endswith("| 8/8 | –")  # the reference: no ratio to itself
    bad = run_script("evaluate.py", f"runs='{run_dir}'", "split_networks=validation")
    assert bad.returncode == 2 and "split_networks='validation' is invalid" in bad.stderr
