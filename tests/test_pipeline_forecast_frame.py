"""``agent=iorlo_plus_forecast`` through the pipeline: one ``train.py`` run trains the same
two parts as the three-step recipe (``agent=dp_forecast``, ``agent=iorlo_plus
env.observe=current``, ``compose_forecast_frame``), its evaluations are the composite's, an
exact resume, Ctrl-C in the forecaster's phase, config errors naming the field, and
``evaluate.py forecast=`` leaving the composite run alone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import needs_traces, tensor_leaves
from hydra import compose, initialize_config_dir
from test_pipeline import COMMON, _ok, _scalars, interrupt_when, train

from agents.common.evaluation import evaluate_policy
from agents.forecast import ForecastFrameActor, ForecastFrameObservation, compose_forecast_frame
from agents.loading import load_actor
from pipeline.config import ConfigError, validate
from pipeline.envs import build_env
from pipeline.utils import CONFIG_DIR

#: v1 MEC on the synthetic network (no trace files), LeNet; each part at a tiny budget
BASE = ["env=mec_v1", "network=5g_trial", "dnn=lenet", "train.progress=false",
        "train.eval_episodes=2", "train.final_eval_episodes=0", "train.log_every=100",
        "train.eval_every=100", "train.checkpoint_every=0", "torch_threads=1"]  # fmt: skip
POLICY = ["agent.learning_starts=100"]
FORECAST = ["agent.num_envs=8"]
COMPOSITE = ["agent=iorlo_plus_forecast", "agent.forecast_steps=400",
             *(f"agent.policy.{o.removeprefix('agent.')}" for o in POLICY),
             *(f"agent.forecast.{o.removeprefix('agent.')}" for o in FORECAST)]  # fmt: skip


def _run(run_dir: Path, *overrides: str) -> int:
    from pipeline.train import run

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[f"run_dir={run_dir}", f"runs_root={run_dir.parent}",
                                          *BASE, *overrides])  # fmt: skip
    return run(cfg)


def _leaves(path: Path, key: str) -> dict[str, torch.Tensor]:
    return dict(tensor_leaves(torch.load(path, weights_only=True)[key]))


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys() and a
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("forecast_frame")
    out = {"composite": root / "composite", "policy": root / "policy",
           "forecast": root / "forecast"}  # fmt: skip
    assert _run(out["composite"], *COMPOSITE, "train.total_steps=300") == 0
    assert _run(out["policy"], "agent=iorlo_plus", "env.observe=current", *POLICY,
                "train.total_steps=300") == 0  # fmt: skip
    # the composite's forecaster reads the policy's observation: no history (DP-forecast's
    # own default observes one)
    assert _run(out["forecast"], "agent=dp_forecast", *FORECAST, "env.history=[]",
                "train.total_steps=400") == 0  # fmt: skip
    return out


def test_one_run_trains_the_three_step_recipe(runs):
    """The parts' weights and states equal those of the two separate runs with the same seed,
    and the run's checkpoint decides as compose_forecast_frame of those runs."""
    comp = runs["composite"]
    for part in ("policy", "forecast"):
        mine, theirs = comp / f"{part}.pt", runs[part] / "checkpoint.pt"
        _same(_leaves(mine, "actor"), _leaves(theirs, "actor"))
        _same(_leaves(mine, "state"), _leaves(theirs, "state"))
    actor = load_actor(comp)
    assert isinstance(actor, ForecastFrameActor)
    recipe = compose_forecast_frame(runs["policy"], runs["forecast"])
    env = build_env(_cfg(*COMPOSITE), action_mode="continuous")
    obs = np.stack([env.reset(seed=s)[0] for s in range(16)])
    actor.check_fits(env)
    np.testing.assert_array_equal(actor.act_batch(obs), recipe.act_batch(obs))
    state = json.loads((comp / "state.json").read_text())
    assert (state["status"], state["steps"]) == ("done", 300)


def test_evaluations_are_the_composites(runs):
    """eval/* of the run is the composite on the measured env (the policy acting on
    ForecastFrameObservation), not the policy on the current frame; the forecaster's curves
    are a TensorBoard run of their own."""
    comp = runs["composite"]
    curves = _scalars(comp)
    assert sorted({s for s, _ in curves["eval/cost"]}) == [100, 200, 300]
    env = build_env(_cfg(*COMPOSITE), action_mode="continuous")
    res = evaluate_policy(load_actor(comp).act, env, (10000, 10001))
    assert curves["eval/cost"][-1][1] == pytest.approx(res["cost"], rel=1e-6)
    policy_alone = _scalars(runs["policy"])["eval/cost"][-1][1]
    assert policy_alone != pytest.approx(res["cost"], rel=1e-6)  # another env: another number
    forecaster = _scalars(comp / "forecast")
    assert {"losses/loss", "losses/accuracy"} <= forecaster.keys()
    assert "losses/loss" not in curves or curves["losses/loss"] != forecaster["losses/loss"]


def test_wrapper_writes_the_forecast_frame(runs):
    env = build_env(_cfg(*COMPOSITE), action_mode="continuous")
    actor = load_actor(runs["composite"])
    wrapped = ForecastFrameObservation(build_env(_cfg(*COMPOSITE), action_mode="continuous"),
                                       actor.forecaster)  # fmt: skip
    obs, _ = env.reset(seed=3)
    seen, _ = wrapped.reset(seed=3)
    np.testing.assert_array_equal(seen, actor.frame(obs[None])[0])
    np.testing.assert_array_equal(actor.act(obs), actor.policy.act(seen))


def test_resume_continues_exactly(tmp_path, runs):
    run_dir = tmp_path / "half"
    assert _run(run_dir, *COMPOSITE, "train.total_steps=150") == 0
    forecast = _leaves(run_dir / "forecast.pt", "state")
    assert _run(run_dir, *COMPOSITE, "train.total_steps=300", "train.resume=true") == 0
    _same(_leaves(run_dir / "forecast.pt", "state"), forecast)  # not trained again
    for part in ("policy", "forecast"):
        _same(_leaves(run_dir / f"{part}.pt", "actor"),
              _leaves(runs["composite"] / f"{part}.pt", "actor"))  # fmt: skip


def test_ctrl_c_in_the_forecasters_phase_saves_and_resumes(tmp_path):
    """Ctrl-C while the forecaster trains: exit 130, every checkpoint written (the policy
    at step 0); the resume finishes the forecaster, then trains the policy."""
    args = [f"runs_root={tmp_path}", *COMMON, "env=mec_v1", "network=5g_trial", "dnn=lenet",
            "agent=iorlo_plus_forecast", "agent.forecast.num_envs=4",
            "agent.forecast_steps=30000", "train.total_steps=200", "train.eval_every=0",
            "train.checkpoint_every=200", "agent.policy.learning_starts=100"]  # fmt: skip
    interrupt_when(args, lambda: any(tmp_path.rglob("forecast.pt")), "forecaster checkpoint")
    run_dir = next(tmp_path.rglob("forecast.pt")).parent
    state = json.loads((run_dir / "state.json").read_text())
    assert (state["status"], state["steps"]) == ("interrupted", 0)
    frames = int(torch.load(run_dir / "forecast.pt", weights_only=True)["state"]["frames"])
    assert 0 < frames < 30000
    assert (run_dir / "checkpoint.pt").is_file() and (run_dir / "policy.pt").is_file()
    proc = train(tmp_path, *args[len(COMMON) + 1 :], "train.resume=true")
    _ok(proc)
    done = torch.load(run_dir / "forecast.pt", weights_only=True)["state"]["frames"]
    assert int(done) >= 30000
    m = json.loads((run_dir / "metrics.json").read_text())
    assert (m["status"], m["steps"], m["resumed_from_step"]) == ("done", 200, 0)


def _cfg(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose("train", overrides=[*BASE, *overrides])


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["agent.policy.lr_actor=-1"], r"agent\.policy\.lr_actor=-1 is invalid"),
        (["agent.forecast.ratio_clip=1"], r"agent\.forecast\.ratio_clip=1 is invalid"),
        (["agent.forecast_steps=0"], r"agent\.forecast_steps=0 is invalid: must be an integer"),
        (["agent.policy.variant=ddpg"], r"agent\.policy\.imitation_weight > 0 needs"),
        (["env.observe=current"], r"env\.observe='current' does not fit agent iorlo_plus_fore"),
        (["env.dp_features=true"], r"env\.dp_features=True does not fit"),
        (["env.history=[0.9]"], r"env\.history=\[0\.9\] does not fit"),
        (["env=mec"], r"env EdgeRL/MECPartition-v0 does not observe: use env=mec_v1 \| d2d_v1"),
        (["env=scheduling"], r"iorlo_plus_forecast .* does not apply to env=scheduling"),
    ],
)
def test_bad_config_names_the_field(overrides, match):
    net = [] if overrides[0].startswith("env=") else ["network=5g_trial"]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["agent=iorlo_plus_forecast", *net, *overrides])
    with pytest.raises(ConfigError, match=match):
        validate(cfg, build_env_check=False)


def test_evaluate_forecast_leaves_the_composite_run_alone(runs, tmp_path, caplog):
    """forecast=<run> adds no second forecast frame to a run that decides on its own."""
    import csv

    from pipeline.evaluate import run

    out = tmp_path / "eval"
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("evaluate", overrides=[
            f"runs=['{runs['composite']}','{runs['policy']}']", f"forecast='{runs['forecast']}'",
            "episodes=2", "decision_steps=0", "bootstrap_reps=20", "plots=false",
            "baselines=[dp_measured]", f"out_dir={out}"])  # fmt: skip
    assert run(cfg) == 0
    assert "no forecast frame" not in caplog.text
    with open(out / "results.csv") as f:
        rows = {r["agent"]: r for r in csv.DictReader(f)}
    assert {"iorlo_plus_forecast", "iorlo_plus", "iorlo_plus+forecast_frame"} <= rows.keys()
    # the run and the recipe of the same parts decide alike
    mine, recipe = rows["iorlo_plus_forecast"], rows["iorlo_plus+forecast_frame"]
    assert float(mine["cost_mean"]) == pytest.approx(float(recipe["cost_mean"]), rel=1e-9)


def test_hparams_name_both_parts(runs):
    from agents.common.logger import flatten_hparams
    from pipeline.runners.forecast_frame import ForecastFrameRunner

    cfg = _cfg(*COMPOSITE, f"run_dir={runs['composite']}")
    runner = ForecastFrameRunner(cfg, validate(cfg, build_env_check=False), runs["composite"], None)
    flat = flatten_hparams(runner.hparams())
    assert (flat["agent"], flat["algo"], flat["agent.forecast_steps"]) == (
        "iorlo_plus_forecast", "ForecastFrame", 400)  # fmt: skip
    assert flat["agent.policy.learning_starts"] == 100 and flat["agent.forecast.num_envs"] == 8


@pytest.mark.slow
@needs_traces
def test_the_composite_learns_the_measured_state(tmp_path):
    """The defaults (MEC v1 AlexNet, network=mixture_train, 40,000 + 100,000 frames; about
    a minute and a half): the final table's composite is within 0.2 points of
    dp_measured's gap, which no constant placement comes near (the best one is about 10%
    from the oracle)."""
    from pipeline.train import run

    run_dir = tmp_path / "run"
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[
            "agent=iorlo_plus_forecast", f"run_dir={run_dir}", f"runs_root={tmp_path}",
            "train.progress=false", "train.eval_every=0", "torch_threads=1"])  # fmt: skip
    assert run(cfg) == 0
    m = json.loads((run_dir / "metrics.json").read_text())
    gaps = {r["agent"]: r["gap_mean"] for r in m["baselines"]}  # in %
    learned = m["eval"]["gap_mean"]
    assert gaps["best_constant"] > 5 and gaps["random"] > 50
    assert learned <= gaps["dp_measured"] + 0.2, (learned, gaps)
    assert learned < gaps["best_constant"] / 3, (learned, gaps)


def test_evaluate_observe_current_uses_the_composites_policy(runs, tmp_path):
    """With observe=current the composite run decides by its policy: the row equals the
    separately trained policy's (the same weights, test_one_run_trains_the_three_step_recipe)."""
    import csv

    from pipeline.evaluate import run

    out = tmp_path / "eval"
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("evaluate", overrides=[
            f"runs=['{runs['composite']}','{runs['policy']}']", "observe=current",
            "episodes=2", "decision_steps=0", "bootstrap_reps=20", "plots=false",
            "baselines=[dp_measured]", f"out_dir={out}"])  # fmt: skip
    assert run(cfg) == 0
    with open(out / "results.csv") as f:
        rows = {r["agent"]: r for r in csv.DictReader(f)}
    mine, policy = rows["iorlo_plus_forecast"], rows["iorlo_plus"]
    assert mine["observe"] == policy["observe"] == "current"
    assert float(mine["cost_mean"]) == float(policy["cost_mean"])
