"""End-to-end: ``train.py`` subprocess runs with tiny budgets (IoRLO, DRLoS, SB3 PPO, RLlib PPO
on one session-scoped Ray instance), their run dirs, TensorBoard tags and checkpoints,
``evaluate.py`` on them, a bad override, Ctrl-C + resume, and a multirun sweep.

Tests that need Ray are marked ``rllib`` (``-m "not rllib"`` skips them and never starts Ray).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from omegaconf import OmegaConf

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "HYDRA_FULL_ERROR": "1",
       "PYTHONWARNINGS": "ignore"}  # fmt: skip
#: per-run schedules small enough to hit every code path (eval, checkpoint, log) quickly
COMMON = ["train.progress=false", "train.eval_episodes=1", "train.final_eval_episodes=2",
          "train.log_every=50"]  # fmt: skip
TINY: dict[str, list[str]] = {
    "iorlo": ["env=mec", "agent=iorlo", "train.total_steps=400", "agent.learning_starts=100",
              "train.eval_every=200", "train.checkpoint_every=200"],
    "drlos": ["env=scheduling", "agent=drlos", "agent.n_rollouts=2", "train.total_steps=200",
              "train.eval_every=100", "train.checkpoint_every=100"],
    "sb3_ppo": ["env=mec", "agent=sb3_ppo", "agent.n_steps=100", "agent.batch_size=50", "agent.n_epochs=2",
                "train.total_steps=200", "train.eval_every=100", "train.checkpoint_every=100"],
    "rllib_ppo": ["env=mec", "agent=rllib_ppo", "agent.train_batch_size_per_learner=200",
                  "agent.minibatch_size=100", "agent.num_epochs=1", "train.total_steps=200",
                  "agent.num_envs_per_env_runner=1",  # 200 steps: whole 100-step episodes
                  "train.eval_every=200", "train.checkpoint_every=200"],
}  # fmt: skip
TAGS = {
    "iorlo": "mec-alexnet",
    "drlos": "scheduling-load0.8",
    "sb3_ppo": "mec-alexnet",
    "rllib_ppo": "mec-alexnet",
}
SHARED_TAGS = {"charts/episodic_return", "charts/episodic_length", "charts/cost", "charts/SPS",
               "eval/episodic_return", "eval/cost"}  # fmt: skip


def run_script(script: str, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, script, *args], cwd=REPO, env=ENV, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def train(root: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return run_script("train.py", f"runs_root={root}", *COMMON, *args, timeout=timeout)


def the_run(tree: Path) -> Path:
    """The one run dir under ``tree`` (run dirs include the job's overrides, e.g.
    ``iorlo/agent.learning_starts=100/seed0``)."""
    found = [p.parent for p in tree.rglob("state.json")]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="session")
def ray_address():
    """One local Ray instance for the session; RLlib runs connect to it (agent.ray_address)."""
    ray = pytest.importorskip("ray")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAY_AUTH_MODE", "disabled")
        if ray.is_initialized():  # another test module's session: share it
            yield ray.get_runtime_context().gcs_address
            return
        ctx = ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        try:
            yield ctx.address_info["gcs_address"]
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Train the agents that need no Ray once; ``{agent: (CompletedProcess, run_dir)}``."""
    root = tmp_path_factory.mktemp("runs")
    out = {"_root": root}
    for agent, args in TINY.items():
        if not agent.startswith("rllib"):
            out[agent] = (train(root, *args), the_run(root / TAGS[agent] / agent))
    return out


@pytest.fixture(scope="module")
def rllib_run(runs, ray_address):
    """RLlib PPO in the same run tree, on the session's Ray instance."""
    root = runs["_root"]
    proc = train(root, *TINY["rllib_ppo"], f"agent.ray_address={ray_address}")
    runs["rllib_ppo"] = (proc, the_run(root / TAGS["rllib_ppo"] / "rllib_ppo"))
    return runs["rllib_ppo"]


@pytest.fixture
def run_of(request, runs):
    """``run_of(agent)``: that agent's (CompletedProcess, run_dir), training it if needed."""

    def get(agent: str):
        if agent.startswith("rllib"):
            return request.getfixturevalue("rllib_run")
        return runs[agent]

    return get


AGENTS = [pytest.param(a, marks=pytest.mark.rllib) if a.startswith("rllib") else a for a in TINY]


def _ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"


def _scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(run_dir))
    ea.Reload()
    return {t: [(e.step, e.value) for e in ea.Scalars(t)] for t in ea.Tags()["scalars"]}


@pytest.mark.parametrize("agent", AGENTS)
def test_run_dir_layout(run_of, agent):
    proc, run_dir = run_of(agent)
    _ok(proc)
    assert run_dir.is_dir()
    for name in (
        "config.yaml",
        "overrides.yaml",
        "state.json",
        "metrics.json",
        ".hydra",
        "train.log",
    ):
        assert (run_dir / name).exists(), name
    cfg = OmegaConf.load(run_dir / "config.yaml")
    assert cfg.agent.name == agent and cfg.run_dir == str(run_dir)
    assert json.loads((run_dir / "state.json").read_text())["status"] == "done"
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["agent"] == agent and m["status"] == "done"
    assert m["steps"] >= cfg.train.total_steps and m["train_time_s"] > 0 and m["sps"] > 0
    key = "variance_mean" if agent == "drlos" else "cost_mean"
    assert np.isfinite(m["eval"][key]) and m["eval"]["decision_ms"] > 0
    assert len(m["baselines"]) >= 4  # every heuristic of the env was evaluated too
    assert "Evaluation of" in proc.stdout and f"**{agent}**" in proc.stdout  # the table


@pytest.mark.parametrize("agent", AGENTS)
def test_tensorboard_shared_tags(run_of, agent):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, run_dir = run_of(agent)
    scalars = _scalars(run_dir)
    assert SHARED_TAGS <= set(scalars), sorted(scalars)
    assert any(t.startswith("losses/") for t in scalars), sorted(scalars)
    if agent != "drlos":  # partitioning: the oracle gap
        assert {"charts/gap", "eval/gap"} <= set(scalars)
    assert all(np.isfinite(v) for _, v in scalars["charts/episodic_return"])
    for tag in ("eval/cost", "eval/episodic_return"):  # the HParams metrics add no point
        steps = [s for s, _ in scalars[tag]]
        assert steps and len(steps) == len(set(steps)), (tag, steps)
    ea = EventAccumulator(str(run_dir))
    ea.Reload()
    # a session per run and no experiment summary: TensorBoard then shows the union of every
    # run's columns (test_workflow.py checks the columns)
    tags = ea.PluginTagToContent("hparams")
    assert "_hparams_/session_start_info" in tags and "_hparams_/experiment" not in tags


@pytest.mark.parametrize("agent", AGENTS)
def test_checkpoint_loads_and_acts(run_of, agent):
    from pipeline.config import validate
    from pipeline.envs import build_env

    _, run_dir = run_of(agent)
    cfg = OmegaConf.load(run_dir / "config.yaml")
    spec = validate(cfg, build_env_check=False)
    assert spec.runner_cls.checkpoint_path(run_dir).exists()
    env = build_env(cfg, action_mode=spec.action_mode)
    policy = spec.runner_cls.load_policy(run_dir, cfg, env)
    obs, _ = env.reset(seed=0)
    for _ in range(3):
        action = policy.act(obs)
        assert env.action_space.contains(np.asarray(action, dtype=env.action_space.dtype))
        obs, *_ = env.step(action)
    env.close()


@pytest.mark.rllib
def test_evaluate_writes_tables_and_plots(runs, rllib_run):
    """evaluate.py on the custom-agent, SB3 and RLlib runs (a glob over the run tree)."""
    root = runs["_root"]
    for agent in TINY:
        _ok(runs[agent][0])
    proc = run_script("evaluate.py", f"runs={root}/*", "episodes=3", "decision_steps=5",
                      "loads=[0.4,1.0]", "load_episodes=1")  # fmt: skip
    _ok(proc)
    (out,) = (root / "eval").iterdir()  # a fresh dated directory
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    mec = [r for r in rows if r["group"] == "mec-alexnet"]
    sched = [r for r in rows if r["group"] == "scheduling-load0.8"]
    trained = {r["agent"] for r in rows if r["kind"] == "trained"}
    assert trained == set(TINY)
    assert {"self", "edge_only", "cloud_only", "neuro_l", "neuro_e", "deepar", "jalad",
            "random", "oracle"} <= {r["agent"] for r in mec}  # fmt: skip
    assert {"closest", "average", "random", "least_loaded"} <= {r["agent"] for r in sched}
    oracle = next(r for r in mec if r["agent"] == "oracle")
    assert abs(float(oracle["gap_mean"])) < 1e-6
    for r in mec:  # cost, latency, energy, overhead, gap, distribution, decision time
        for k in (
            "cost_mean",
            "cost_std",
            "latency_ms_mean",
            "energy_j_mean",
            "overhead_mean",
            "gap_mean",
            "dist_device_pct",
            "dist_edge_pct",
            "dist_cloud_pct",
            "decision_ms",
        ):
            assert np.isfinite(float(r[k])), (r["agent"], k)
        assert float(r["cost_mean"]) >= float(oracle["cost_mean"]) - 1e-6
        dist = sum(float(r[f"dist_{p}_pct"]) for p in ("device", "edge", "cloud"))
        assert dist == pytest.approx(100.0)
    md = (out / "results.md").read_text()
    assert "## mec-alexnet" in md and "## scheduling-load0.8" in md and "± " in md
    for name in ("cost_mec.png", "scheduling_vs_load_scheduling-load0.8.png"):
        assert (out / name).stat().st_size > 1000
    with open(out / "scheduling_loads_scheduling-load0.8.csv") as f:
        loads = list(csv.DictReader(f))
    assert {float(r["load"]) for r in loads} == {0.4, 1.0}
    assert {"drlos", "closest"} <= {r["agent"] for r in loads}


def test_bad_override_fails_before_training(tmp_path):
    proc = train(tmp_path, "env=mec", "agent=sb3_td3", "agent.lr=-1")
    assert proc.returncode == 2
    assert "agent.lr=-1 is invalid: must be a number > 0" in proc.stderr
    assert not (tmp_path / "mec-alexnet").exists()  # nothing left behind
    proc = train(tmp_path, "agent=sb3_dqn")
    assert proc.returncode == 2 and "needs a Discrete action space" in proc.stderr
    proc = train(tmp_path, "train.totl_steps=5")
    assert proc.returncode != 0 and "totl_steps" in proc.stderr + proc.stdout
    assert not any(tmp_path.iterdir())


def interrupt_when(args: list[str], ready: Callable[[], bool], what: str) -> str:
    """Start ``train.py args``, send Ctrl-C once ``ready()`` holds (within 120 s: ``what``
    names it), check that it exits 130 with the resume command; its output."""
    p = subprocess.Popen([sys.executable, "train.py", *args], cwd=REPO, env=ENV,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not ready():
            assert p.poll() is None, p.communicate()[0]
            assert time.monotonic() < deadline, f"no {what} within 120 s"
            time.sleep(0.1)
        p.send_signal(signal.SIGINT)
        out, _ = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130, out
    assert "train.resume=true" in out
    return out


def interrupt_at_first_checkpoint(args: list[str], run_dir: Path) -> int:
    """:func:`interrupt_when` ``run_dir`` holds a checkpoint, with an "interrupted" state;
    the steps it reached."""
    interrupt_when(args, (run_dir / "checkpoint.pt").exists, "checkpoint")
    state = json.loads((run_dir / "state.json").read_text())
    assert state["status"] == "interrupted" and state["steps"] >= 200
    return state["steps"]


def test_interrupt_saves_and_resume_continues(tmp_path):
    args = [f"runs_root={tmp_path}", *COMMON, "env=mec", "train.total_steps=1000000",
            "train.checkpoint_every=200", "train.eval_every=0", "agent.learning_starts=100"]  # fmt: skip
    # the default agent; the override is part of the run dir
    run_dir = tmp_path / "mec-alexnet" / "iorlo_plus" / "agent.learning_starts=100" / "seed0"
    stopped = interrupt_at_first_checkpoint(args, run_dir)

    # a new run in the same dir is refused, and so is a resume with another config
    proc = train(tmp_path, "env=mec", "train.total_steps=1000000", "agent.learning_starts=100")
    assert proc.returncode == 2 and "holds an unfinished run (status 'interrupted'" in proc.stderr
    proc = train(tmp_path, f"run_dir='{run_dir}'", "env=mec", "train.resume=true",
                 "agent.learning_starts=100", "env.eta1=5.0")  # fmt: skip
    assert proc.returncode == 2 and "env.eta1: run has 10.0, now 5.0" in proc.stderr

    proc = train(tmp_path, "env=mec", "train.resume=true", "agent.learning_starts=100",
                 f"train.total_steps={stopped + 300}", "train.eval_every=0",
                 "train.checkpoint_every=200")  # fmt: skip
    _ok(proc)
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["resumed_from_step"] == stopped and m["steps"] >= stopped + 300
    steps = [s for s, _ in _scalars(run_dir)["charts/episodic_return"]]
    assert steps == sorted(steps) and steps[-1] > stopped  # one continuous step axis


def test_multirun_lands_in_the_run_tree(tmp_path):
    proc = run_script("train.py", "-m", f"runs_root={tmp_path}", *COMMON, "env=mec", "agent=iorlo",
                      "seed=0,1", "train.total_steps=200", "agent.learning_starts=100",
                      "train.eval_every=0", "train.final_eval_episodes=0")  # fmt: skip
    _ok(proc)
    for seed in (0, 1):
        run_dir = tmp_path / "mec-alexnet" / "iorlo" / "agent.learning_starts=100" / f"seed{seed}"
        assert json.loads((run_dir / "state.json").read_text())["status"] == "done"
        assert OmegaConf.load(run_dir / "config.yaml").seed == seed
