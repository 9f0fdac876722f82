"""``agent=dp_distill`` through the pipeline: tiny ``train.py`` runs on the v1 envs (run dir,
final table, TensorBoard tags, checkpoint, ``load_actor``), config errors naming the field,
same seed -> same curve, an exact resume mid-episode, and Ctrl-C + resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import needs_traces, tensor_leaves
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from test_pipeline import (
    COMMON,
    SHARED_TAGS,
    _ok,
    _scalars,
    interrupt_at_first_checkpoint,
    the_run,
    train,
)

from agents.common.fast_actor import NumpyActor
from agents.distill import DPDistill
from agents.loading import load_actor
from pipeline.config import ConfigError, validate
from pipeline.envs import build_env
from pipeline.utils import CONFIG_DIR

#: 4 copies x 50 frames = 200 frames per iteration; 100-frame episodes end at 400 and 800
TINY = ["agent=dp_distill", "agent.num_envs=4", "agent.frames_per_iter=50", "agent.batch_size=64",
        "train.total_steps=800", "train.eval_every=400", "train.checkpoint_every=400"]  # fmt: skip
DISTILL_TAGS = {"losses/loss", "losses/accuracy", "charts/oracle_accuracy",
                "charts/oracle_match", "charts/gap", "eval/gap"}  # fmt: skip
#: in-process runs on v0 (no trace files needed): 4 copies x 25 frames per iteration
QUICK = ["env=mec", "dnn=lenet", "agent=dp_distill", "agent.num_envs=4", "agent.batch_size=32",
         "train.progress=false", "train.eval_episodes=1", "train.final_eval_episodes=0",
         "train.log_every=100", "train.eval_every=200", "train.checkpoint_every=0"]  # fmt: skip


@pytest.fixture(scope="module")
def distill_runs(tmp_path_factory):
    """``{env: (CompletedProcess, run_dir)}``, trained on first use."""
    root = tmp_path_factory.mktemp("distill")
    out = {}

    def get(env: str):
        if env not in out:
            proc = train(root / env, f"env={env}", *TINY)
            _ok(proc)
            out[env] = (proc, the_run(root / env))
        return out[env]

    return get


@needs_traces
@pytest.mark.parametrize("env", ["mec_v1", "d2d_v1"])
def test_distill_run_dir_table_tags_and_actor(distill_runs, env):
    proc, run_dir = distill_runs(env)
    assert "Evaluation of dp_distill" in proc.stdout and "| **dp_distill** |" in proc.stdout
    assert "| oracle |" in proc.stdout
    assert json.loads((run_dir / "state.json").read_text())["status"] == "done"
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["agent"] == "dp_distill" and m["status"] == "done" and m["steps"] >= 800
    assert np.isfinite(m["eval"]["cost_mean"]) and np.isfinite(m["eval"]["gap_mean"])
    scalars = _scalars(run_dir)
    assert SHARED_TAGS | DISTILL_TAGS <= set(scalars), sorted(scalars)
    assert [s for s, _ in scalars["charts/episodic_return"]] == [400, 800]
    assert [s for s, _ in scalars["eval/cost"]][:2] == [400, 800]
    acc = [v for _, v in scalars["losses/accuracy"]]
    assert all(0 <= v <= 1 for v in acc)

    # the checkpoint loads as the fast numpy actor and acts as the restored torch policy
    cfg = OmegaConf.load(run_dir / "config.yaml")
    spec = validate(cfg, build_env_check=False)
    assert spec.action_mode == "discrete"
    vec = build_env(cfg, action_mode="discrete", num_envs=int(cfg.agent.num_envs))
    agent = DPDistill.load(run_dir / "checkpoint.pt", vec)
    assert agent.frames == m["steps"]
    env = build_env(cfg, action_mode="discrete")
    actor = load_actor(run_dir, env=env)
    assert isinstance(actor, NumpyActor)
    again = spec.runner_cls.load_policy(run_dir, cfg, env)
    obs, _ = vec.reset(seed=3)
    batch = [obs]
    for _ in range(5):
        obs, *_ = vec.step(actor.act_batch(obs))
        batch.append(obs)
    obs = np.concatenate(batch)
    expected = agent._decide(obs)
    np.testing.assert_array_equal(actor.act_batch(obs), expected)
    np.testing.assert_array_equal(again.act_batch(obs), expected)
    single, _ = env.reset(seed=0)
    assert env.action_space.contains(actor.act(single))
    env.close()
    vec.close()


def test_bad_distill_config_names_the_field(tmp_path):
    proc = train(tmp_path, "env=mec", "agent=dp_distill", "agent.lr=-1")
    assert proc.returncode == 2, proc.stderr
    assert "agent.lr=-1 is invalid: must be a number in (0, 1]" in proc.stderr
    assert not any(tmp_path.iterdir())  # nothing left behind
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        for overrides, match in (
            (["agent.hidden=[]"], r"agent\.hidden=\[\] is invalid: must be a non-empty list"),
            (["agent.num_envs=0"], r"agent\.num_envs=0 is invalid: must be an integer >= 1"),
            (["agent.beta0=2"], r"agent\.beta0=2 is invalid: must be a number in \[0, 1\]"),
            (["agent.action_space=continuous"], r"agent\.action_space='continuous' is invalid"),
            (["+agent.gamma=0.9"], r"agent: unknown key\(s\) \['gamma'\]"),
            (["env=scheduling"], r"dp_distill .* does not apply to env=scheduling"),
        ):
            cfg = compose("train", overrides=["env=mec", "agent=dp_distill", *overrides])
            with pytest.raises(ConfigError, match=match):
                validate(cfg, build_env_check=False)


def _run(run_dir: Path, *overrides: str) -> int:
    from pipeline.train import run

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[f"run_dir={run_dir}", f"runs_root={run_dir.parent}",
                                          "torch_threads=1", *QUICK, *overrides])  # fmt: skip
    return run(cfg)


def test_distill_same_seed_same_curve_and_exact_resume(tmp_path):
    """600 frames = 150 vector steps: the 100-step episodes end at frame 400. The resumed run
    stops at 300 frames (mid-episode: the resume replays the episode's first 75 steps)."""
    assert _run(tmp_path / "full", "train.total_steps=600") == 0
    assert _run(tmp_path / "again", "train.total_steps=600") == 0
    assert _run(tmp_path / "seed1", "train.total_steps=600", "seed=1") == 0
    assert _run(tmp_path / "half", "train.total_steps=300") == 0
    assert _run(tmp_path / "half", "train.total_steps=600", "train.resume=true") == 0
    curves = {r: _scalars(tmp_path / r) for r in ("full", "again", "seed1", "half")}
    for tag in (
        "losses/loss",
        "losses/accuracy",
        "charts/oracle_accuracy",
        "charts/oracle_match",
        "charts/episodic_return",
        "charts/cost",
        "charts/gap",
    ):
        assert curves["full"][tag] == curves["again"][tag], tag
        assert curves["full"][tag] == curves["half"][tag], tag
    assert [s for s, _ in curves["full"]["charts/episodic_return"]] == [400]
    assert curves["full"]["losses/loss"] != curves["seed1"]["losses/loss"]
    a, b = (dict(tensor_leaves(torch.load(tmp_path / r / "checkpoint.pt", weights_only=True)))
            for r in ("full", "half"))  # fmt: skip
    assert a.keys() == b.keys() and len(a[".buffer.obs"]) == 600
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_distill_ctrl_c_saves_and_resumes(tmp_path):
    args = [f"runs_root={tmp_path}", *COMMON, "env=mec", "dnn=lenet", "agent=dp_distill",
            "agent.num_envs=4", "train.total_steps=100000000", "train.checkpoint_every=200",
            "train.eval_every=0"]  # fmt: skip
    run_dir = tmp_path / "mec-lenet" / "dp_distill" / "agent.num_envs=4" / "seed0"
    stopped = interrupt_at_first_checkpoint(args, run_dir)
    assert DPDistill.load(run_dir / "checkpoint.pt", "EdgeRL/MECPartition-v0",
                          {"dnn": "lenet"}).frames == stopped  # fmt: skip
    proc = train(tmp_path, "env=mec", "dnn=lenet", "agent=dp_distill", "agent.num_envs=4",
                 "train.resume=true", f"train.total_steps={stopped + 200}", "train.eval_every=0",
                 "train.checkpoint_every=200")  # fmt: skip
    _ok(proc)
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["resumed_from_step"] == stopped and m["steps"] >= stopped + 200
