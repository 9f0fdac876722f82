"""The research workflow: evaluation researchers can publish, an installable package, one
loader for every trained policy, and batch decisions whose speed does not depend on the
caller's BLAS settings.

* ``evaluate.py`` on a list of runs (subprocess): the aggregate table on stdout, a fresh
  dated output directory per call, rliable aggregates (IQM, 95% CIs over seeds); runs
  evaluated on another network than they trained on, one group of rows per network.
* ``pip install .`` into a scratch venv (offline: ``--no-deps --no-build-isolation``, the
  project's site-packages reached through a ``.pth``), then ``edgerl-train --help`` and
  ``python -m pipeline.train --help`` from another directory; a local ``envs/`` folder is
  refused with a clear error.
* ``agents.load_actor`` on an SB3 run dir (and its ``sb3_checkpoint/``, ``model.zip``
  paths) and on an RLlib checkpoint (``module.pt``), acting in the env's ``Box(0, 1)``.
* ``NumpyActor.act_batch`` runs with its own BLAS thread limit (threadpoolctl).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from conftest import DATA_DIR, REPO
from omegaconf import OmegaConf

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "HYDRA_FULL_ERROR": "1",
       "PYTHONWARNINGS": "ignore"}  # fmt: skip
TINY = ["env=mec", "dnn=lenet", "train.progress=false", "train.eval_every=0",
        "train.checkpoint_every=0", "train.final_eval_episodes=0", "torch_threads=1"]  # fmt: skip
DATA = DATA_DIR


def _run(args: list[str], cwd: Path = REPO, timeout: float = 300) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        args, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout
    )  # fmt: skip
    return proc


def _ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )


def _train(root: Path, *args: str) -> Path:
    proc = _run([sys.executable, "train.py", f"runs_root={root}", *TINY, *args])
    _ok(proc)
    line = next(x for x in proc.stdout.splitlines() if x.startswith("Run dir: "))
    return Path(line.split(": ", 1)[1].strip())


@pytest.fixture(scope="module")
def iorlo_runs(tmp_path_factory) -> list[Path]:
    """Two IoRLO+ runs (seeds 0, 1) of 200 steps on MEC v0 / LeNet."""
    root = tmp_path_factory.mktemp("runs")
    args = ["agent=iorlo_plus", "train.total_steps=200", "agent.learning_starts=50"]
    return [_train(root, *args, f"seed={s}") for s in (0, 1)]


@pytest.fixture(scope="module")
def td3_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sb3")
    return _train(root, "agent=sb3_td3", "agent.net_arch=[16,16]", "agent.learning_starts=20",
                  "agent.batch_size=16", "agent.buffer_size=500", "train.total_steps=60")  # fmt: skip


# ----------------------------------------------------------------------- 3. evaluation
def test_evaluate_list_of_runs_prints_aggregates_into_a_fresh_dir(iorlo_runs):
    args = [sys.executable, "evaluate.py", f"runs=['{iorlo_runs[0]}','{iorlo_runs[1]}']",  # quoted: run dirs may hold "=" and ","
            "episodes=4", "decision_steps=3", "bootstrap_reps=100",
            "baselines=[oracle,edge_only,random]"]  # fmt: skip
    first, second = _run(args), _run([*args, "plots=false"])
    _ok(first)
    _ok(second)
    # the aggregate table is on stdout: the trained agent with its 2 seeds, IQM with a CI
    assert "IQM [95% CI]" in first.stdout
    assert "| **iorlo_plus** | 2 |" in first.stdout
    assert "| random | 1 |" in first.stdout
    # each call writes into its own new directory under <common root>/eval
    root = Path(os.path.commonpath([str(p) for p in iorlo_runs])) / "eval"
    outs = sorted(p for p in root.iterdir() if p.is_dir())
    assert len(outs) == 2
    assert {p.name for p in outs[0].iterdir()} >= {"aggregates.csv", "results.csv", "results.md",
        "evaluation.json", "cost_mec.png", "gap_mec.png", "profile_mec-lenet.png"}  # fmt: skip
    assert not list(outs[1].glob("*.png"))  # plots=false: nothing stale from the first call
    with open(outs[0] / "aggregates.csv") as f:
        agg = {r["agent"]: r for r in csv.DictReader(f)}
    me = agg["iorlo_plus"]
    assert int(me["runs"]) == 2 and int(me["episodes"]) == 4
    for m in ("gap", "cost"):
        for s in ("iqm", "mean"):
            lo, pt, hi = (float(me[f"{m}_{s}{x}"]) for x in ("_lo", "", "_hi"))
            assert lo <= pt + 1e-9 and pt <= hi + 1e-9, (m, s, lo, pt, hi)
    assert float(agg["oracle"]["gap_iqm"]) == pytest.approx(0.0, abs=1e-9)
    with open(outs[0] / "results.csv") as f:  # per-run rows: one per training seed
        rows = [r for r in csv.DictReader(f) if r["kind"] == "trained"]
    assert sorted(r["train_seed"] for r in rows) == ["0", "1"]


@pytest.mark.skipif(not (DATA / "traces").is_dir(), reason="network=mixture_test needs traces")
def test_evaluate_on_another_network(iorlo_runs, tmp_path, capsys):
    """Runs trained on 5g_trial, evaluated on mixture_test and on their own network."""
    from hydra import compose, initialize_config_dir

    from pipeline.evaluate import run
    from pipeline.utils import CONFIG_DIR

    out = tmp_path / "eval"
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("evaluate", overrides=[
            f"runs='{iorlo_runs[0]}'", "network=mixture_test", "networks=[5g_trial]",
            "episodes=3", "decision_steps=0", "bootstrap_reps=50", "plots=false",
            "baselines=[oracle,edge_only]", f"out_dir={out}"])  # fmt: skip
    assert run(cfg) == 0
    stdout = capsys.readouterr().out
    assert "## mec-lenet@mixture_test (mec, lenet, network mixture_test" in stdout
    assert "**iorlo_plus (trained on 5g_trial)**" in stdout
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    by_net = {(r["network"], r["agent"]): r for r in rows}
    assert set(by_net) == {(n, a) for n in ("mixture_test", "5g_trial")
                           for a in ("oracle", "edge_only", "iorlo_plus")}  # fmt: skip
    mine = by_net[("mixture_test", "iorlo_plus")]
    assert mine["train_network"] == "5g_trial" and mine["group"] == "mec-lenet@mixture_test"
    # another network, other frames: the oracle's cost differs
    assert (
        by_net[("mixture_test", "oracle")]["cost_mean"]
        != by_net[("5g_trial", "oracle")]["cost_mean"]
    )


def test_evaluate_with_another_observation(tmp_path, capsys):
    """A v1 run trained on the frame it decides (``env.observe=current``) evaluated on the
    last frame's measurement (``observe=measured``), and as trained; bad values name the
    field and the allowed values."""
    from hydra import compose, initialize_config_dir

    from pipeline.evaluate import run
    from pipeline.utils import CONFIG_DIR

    run_dir = _train(tmp_path / "runs", "env=mec_v1", "network=5g_trial", "agent=iorlo_plus",
                     "env.observe=current", "train.total_steps=120", "agent.learning_starts=40")  # fmt: skip

    def evaluate(*extra: str) -> dict[str, dict[str, str]]:
        out = tmp_path / f"eval{len(extra)}"
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose("evaluate", overrides=[
                f"runs='{run_dir}'", "episodes=2", "decision_steps=0", "bootstrap_reps=20",
                "plots=false", "baselines=[oracle,dp_measured]", f"out_dir={out}", *extra])  # fmt: skip
        assert run(cfg) == 0
        with open(out / "results.csv") as f:
            return {r["agent"]: r for r in csv.DictReader(f)}

    measured = evaluate("observe=measured")
    stdout = capsys.readouterr().out
    assert "## mecv1-lenet+measured (" in stdout
    assert "**iorlo_plus (trained with observe=current)**" in stdout
    mine = measured["iorlo_plus"]
    assert (mine["observe"], mine["train_observe"]) == ("measured", "current")
    assert mine["group"] == "mecv1-lenet+measured"
    # the stale measurement costs dp_measured something; on the frame itself it is the oracle
    assert float(measured["dp_measured"]["gap_mean"]) > 0.0
    own = evaluate()
    assert "(trained with" not in capsys.readouterr().out
    assert (own["iorlo_plus"]["observe"], own["iorlo_plus"]["group"]) == ("current", "mecv1-lenet")
    assert float(own["dp_measured"]["gap_mean"]) == pytest.approx(0.0, abs=1e-9)

    # the run dir as train.py printed it ("=" in it: quoted for Hydra by evaluate.py)
    assert "=" in run_dir.name or "=" in run_dir.parent.name
    bad = _run([sys.executable, "evaluate.py", f"runs={run_dir}", "observe=stale"])
    assert bad.returncode == 2
    assert (
        "observe='stale' is invalid: must be null or one of ['measured', 'current']" in bad.stderr
    )


@pytest.mark.parametrize("env_id", ["EdgeRL/MECPartition-v1", "EdgeRL/D2DPartition-v1"])
@pytest.mark.parametrize("key", ["history", "dp_features"])
def test_observation_keys_leave_the_frames_alone(env_id, key):
    """What evaluate.py groups runs by: an OBSERVATION_KEYS option changes the observation,
    not the frames (same seed and actions, the same costs and networks)."""
    from pipeline.evaluate import OBSERVATION_KEYS

    assert key in OBSERVATION_KEYS
    kw = {"dnn": "alexnet", "network": "mixture_synthetic"}
    plain = gym.make(env_id, **kw)
    other = gym.make(env_id, **kw, **{key: [0.7, 0.95] if key == "history" else True})
    assert other.observation_space.shape[0] > plain.observation_space.shape[0]
    plain.reset(seed=5)
    other.reset(seed=5)
    plain.action_space.seed(0)
    for _ in range(150):  # across an episode's end
        act = plain.action_space.sample()
        _, ra, term, trunc, ia = plain.step(act)
        _, rb, *_, ib = other.step(act)
        assert ra == rb and ia["network"] == ib["network"]
        if term or trunc:
            plain.reset()
            other.reset()


def test_evaluate_groups_runs_that_differ_in_their_observation_only(tmp_path, capsys):
    """DP-forecast (observing a history by default) and IoRLO+ (none) on the same env are one
    group: one table, the baselines once, each run on its own observation (its cost as
    evaluated alone)."""
    from hydra import compose, initialize_config_dir

    from pipeline.evaluate import run
    from pipeline.utils import CONFIG_DIR

    root = tmp_path / "runs"
    common = ("env=mec_v1", "network=5g_trial")
    forecast = _train(root, *common, "agent=dp_forecast", "train.total_steps=200",
                      "agent.num_envs=8", "agent.frames_per_iter=25")  # fmt: skip
    policy = _train(root, *common, "agent=iorlo_plus", "train.total_steps=60",
                    "agent.learning_starts=40")  # fmt: skip
    rows = {}
    for name, runs in (("both", f"['{forecast}','{policy}']"), ("alone", f"['{forecast}']")):
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose("evaluate", overrides=[
                f"runs={runs}", "episodes=2", "decision_steps=0", "bootstrap_reps=20",
                "plots=false", "baselines=[dp_measured]", f"out_dir={tmp_path / name}"])  # fmt: skip
        assert run(cfg) == 0
        with open(tmp_path / name / "results.csv") as f:
            rows[name] = list(csv.DictReader(f))
    assert sorted(r["agent"] for r in rows["both"]) == ["dp_forecast", "dp_measured", "iorlo_plus"]
    assert len({r["env"] for r in rows["both"]}) == 1
    cost = {n: {r["agent"]: float(r["cost_mean"]) for r in rs} for n, rs in rows.items()}
    assert cost["both"]["dp_forecast"] == cost["alone"]["dp_forecast"]
    assert cost["both"]["dp_measured"] == cost["alone"]["dp_measured"]


def test_evaluate_deciding_on_a_forecast_frame(tmp_path, capsys):
    """``forecast=<dp_forecast run>``: each custom-agent run of the same env and DNN is also
    evaluated deciding on that run's forecast of the frame, on the measured state; its rows
    are the composite's decisions (the checkpoint composed by hand gives the same cost)."""
    from hydra import compose, initialize_config_dir

    from agents.common.evaluation import evaluate_partition
    from agents.forecast import compose_forecast_frame
    from pipeline.evaluate import run
    from pipeline.utils import CONFIG_DIR

    root = tmp_path / "runs"
    policy = _train(root, "env=mec_v1", "network=5g_trial", "agent=iorlo_plus",
                    "env.observe=current", "train.total_steps=120", "agent.learning_starts=40")  # fmt: skip
    # DP-forecast's default observes a history; the policy reads the layout without it
    forecast = _train(root, "env=mec_v1", "network=5g_trial", "agent=dp_forecast",
                      "train.total_steps=200", "agent.num_envs=8", "agent.frames_per_iter=25")  # fmt: skip
    other = _train(root, "env=mec_v1", "dnn=alexnet", "network=5g_trial", "agent=iorlo_plus",
                   "train.total_steps=60", "agent.learning_starts=40")  # fmt: skip
    out = tmp_path / "eval"
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("evaluate", overrides=[
            f"runs=['{policy}','{forecast}','{other}']", f"forecast='{forecast}'", "episodes=2",
            "decision_steps=0", "bootstrap_reps=20", "plots=false", "baselines=[dp_measured]",
            f"out_dir={out}"])  # fmt: skip
    assert run(cfg) == 0
    stdout = capsys.readouterr().out
    assert "**iorlo_plus+forecast_frame (trained with observe=current)**" in stdout
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    composed = [r for r in rows if r["agent"].endswith("+forecast_frame")]
    assert len(composed) == 1  # not the DP-forecast run itself, not the run of another DNN
    row = composed[0]
    assert (row["observe"], row["train_observe"], row["run"]) == (
        "measured",
        "current",
        str(policy),
    )
    assert row["forecast"] == str(forecast)
    assert all(r["forecast"] == "" for r in rows if r is not row)
    actor = compose_forecast_frame(policy, forecast)
    venv = gym.make_vec("EdgeRL/MECPartition-v1", num_envs=2, vectorization_mode="vector_entry_point",
                        dnn="lenet", network="5g_trial", observe="measured",
                        history=[0.7, 0.95])  # fmt: skip
    res = evaluate_partition(actor, venv, 0, name="x", kind="trained")
    assert float(row["cost_mean"]) == pytest.approx(res.summary()["cost_mean"], rel=1e-9)

    def fails(*args: str) -> str:
        bad = _run([sys.executable, "evaluate.py", f"runs='{policy}'", *args])
        assert bad.returncode == 2
        return bad.stderr

    assert "an agent=dp_forecast run is needed, got agent=iorlo_plus" in fails(
        f"forecast='{policy}'"
    )
    assert "observe must be null or measured, got 'current'" in fails(
        f"forecast='{forecast}'", "observe=current"
    )
    assert "not a run directory" in fails(f"forecast='{tmp_path}'")


def test_agent_label_says_where_and_how_a_run_trained():
    from pipeline.evaluate import agent_label

    row = {"agent": "iorlo_plus", "kind": "trained", "network": "mixture_test",
           "train_network": "mixture_train", "observe": "measured", "train_observe": "current"}  # fmt: skip
    assert agent_label(row) == "iorlo_plus (trained on mixture_train, with observe=current)"
    assert agent_label({**row, "train_observe": "measured"}) == (
        "iorlo_plus (trained on mixture_train)"
    )
    assert agent_label({**row, "network": "mixture_train"}) == (
        "iorlo_plus (trained with observe=current)"
    )
    assert agent_label({**row, "kind": "heuristic"}) == "iorlo_plus"


def test_gap_tags_are_percent():
    from agents.common.logger import RunLogger

    log = RunLogger()
    log.scalars({"eval/gap": 0.0125, "charts/gap": 0.5, "charts/cost": 0.0125}, step=1)
    assert log.last("eval/gap") == pytest.approx(1.25)
    assert log.last("charts/gap") == pytest.approx(50.0)
    assert log.last("charts/cost") == pytest.approx(0.0125)


# ----------------------------------------------------------------------- 5. installable
def test_pip_install_console_scripts_work_from_another_directory(tmp_path):
    """``pip install .`` (a copy of the sources; offline) and the entry points from a
    directory that is not the repository."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("envs", "agents", "pipeline", "configs", "setup.py", "pyproject.toml",
                 "README.md"):  # fmt: skip
        p = REPO / name
        if p.is_dir():
            import shutil

            shutil.copytree(p, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (src / name).write_bytes(p.read_bytes())
    venv = tmp_path / "venv"
    _ok(_run([sys.executable, "-m", "venv", "--without-pip", str(venv)]))
    site = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    # the project's dependencies (and pip, setuptools) without downloading them; a plain
    # .pth line adds the directory but runs none of its .pth files (no editable finder)
    (site / "_edgerl_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    py = venv / "bin" / "python"
    _ok(_run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
              "--no-index", str(src)], cwd=tmp_path))  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = _run([str(venv / "bin" / "edgerl-train"), "--help"], cwd=elsewhere)
    _ok(proc)
    assert "agent: dp_distill, dp_forecast, drlos, drlos_plus, iorlo, iorlo_plus" in proc.stdout
    assert "network: 5g_trial" in proc.stdout
    proc = _run([str(venv / "bin" / "edgerl-evaluate"), "--help"], cwd=elsewhere)
    _ok(proc)
    assert "bootstrap_reps" in proc.stdout
    where = _run([str(py), "-c", "import pipeline.utils as u; print(u.CONFIG_DIR)"], cwd=elsewhere)
    _ok(where)
    assert Path(where.stdout.strip()) == site / "pipeline" / "configs"
    proc = _run([str(py), "-m", "pipeline.train", "--help"], cwd=elsewhere)
    _ok(proc)
    assert "== Configuration groups ==" in proc.stdout
    # a bad override fails in the installed configs' validation, not with "no config"
    proc = _run([str(venv / "bin" / "edgerl-train"), "agent=sb3_td3", "agent.lr=-1"],
                cwd=elsewhere)  # fmt: skip
    assert proc.returncode == 2 and "agent.lr=-1 is invalid" in proc.stderr
    # a local folder named envs/ would shadow EdgeRL's: refused with a clear error
    (elsewhere / "envs").mkdir()
    (elsewhere / "envs" / "__init__.py").write_text("")
    proc = _run([str(py), "-c", "import pipeline"], cwd=elsewhere)
    assert proc.returncode == 1 and "shadows it" in proc.stderr and "not EdgeRL's" in proc.stderr


def test_python_m_entry_points_run():
    for module in ("pipeline.train", "pipeline.evaluate"):
        proc = _run([sys.executable, "-m", module, "--help"])
        _ok(proc)
        assert "== Configuration groups ==" in proc.stdout
    proc = _run([sys.executable, "-m", "pipeline.evaluate"])  # runs, and says what is missing
    assert proc.returncode == 2 and "runs=" in proc.stderr


# ------------------------------------------------------------------------ 6. one loader
def test_load_actor_sb3_run_dir(td3_run):
    from agents import load_actor
    from agents.common.checkpoint import CheckpointError
    from agents.loading import TrainedPolicy

    env = gym.make("EdgeRL/MECPartition-v0", dnn="lenet")
    obs, _ = env.reset(seed=3)
    batch = np.stack([env.observation_space.sample() for _ in range(16)])
    actions = []
    for path in (td3_run, td3_run / "sb3_checkpoint", td3_run / "model.zip"):
        actor = load_actor(path)
        assert isinstance(actor, TrainedPolicy) and actor.library == "sb3"
        a = actor.act(obs)
        assert env.action_space.contains(np.asarray(a, dtype=np.float32))  # Box(0, 1)
        b = actor.act_batch(batch)
        assert b.shape == (16, env.action_space.shape[0]) and b.min() >= 0 and b.max() <= 1
        actions.append(a)
    np.testing.assert_array_equal(actions[0], actions[1])
    np.testing.assert_array_equal(actions[0], actions[2])
    # the same policy the evaluation uses (runner.load_policy), against a given env
    actor = load_actor(td3_run, env=env)
    assert actor.cfg.agent.name == "sb3_td3"
    obs2, *_ = env.step(actor.act(obs))
    assert obs2.shape == obs.shape
    with pytest.raises(CheckpointError, match="mec|MEC|D2D|env"):
        load_actor(td3_run, env=gym.make("EdgeRL/D2DPartition-v0", dnn="lenet"))
    bad = td3_run.parent / "bad"
    import shutil

    shutil.copytree(td3_run, bad)
    (bad / "sb3_checkpoint" / "params.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="params.pt: checksum mismatch"):
        load_actor(bad)
    (bad / "config.yaml").unlink()
    with pytest.raises(CheckpointError, match="config.yaml"):
        load_actor(bad)


def test_load_actor_rllib_module(tmp_path):
    """An RLlib run dir (config.yaml + rllib_checkpoint/ with module.pt and its manifest),
    written as the runner writes it, loads without a Ray session."""
    pytest.importorskip("ray.rllib")
    from hydra import compose, initialize_config_dir

    from agents import load_actor
    from agents.common.checkpoint import env_signature, save_checkpoint_dir, save_tensors
    from pipeline.config import validate
    from pipeline.envs import build_env
    from pipeline.runners.rllib import CHECKPOINT_FORMAT, MODULE_FILE, RLlibRunner, make_rllib_env
    from pipeline.utils import CONFIG_DIR, to_plain

    run_dir = tmp_path / "rllib_run"
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["env=mec", "dnn=lenet", "agent=rllib_sac",
                                           f"run_dir={run_dir}"])  # fmt: skip
    plain = {k: v for k, v in to_plain(cfg).items() if k != "hydra"}
    cfg = OmegaConf.create(plain)
    spec = validate(cfg, build_env_check=False)
    runner = RLlibRunner(cfg, spec, run_dir, None)
    rl_env = make_rllib_env(runner._env_config())
    module = runner._build_config().get_rl_module_spec(env=rl_env, inference_only=True).build()
    rl_env.close()
    env = build_env(cfg, action_mode=spec.action_mode)
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg))

    def fill(tmp: Path) -> None:
        save_tensors({"state_dict": module.state_dict(), "inference_only": True},
                     tmp / MODULE_FILE)  # fmt: skip

    meta = {"format": CHECKPOINT_FORMAT, "version": 2, "algo": "SAC", "steps": 0,
            "action_kind": "continuous", "action_mode": spec.action_mode,
            "rescaled_actions": True, "signature": env_signature(env)}  # fmt: skip
    save_checkpoint_dir(run_dir / "rllib_checkpoint", fill, meta)
    for path in (run_dir, run_dir / "rllib_checkpoint", run_dir / "rllib_checkpoint" / MODULE_FILE):
        actor = load_actor(path)
        assert actor.library == "rllib"
        obs, _ = env.reset(seed=0)
        a = actor.act(obs)
        assert env.action_space.contains(np.asarray(a, dtype=np.float32))
        b = actor.act_batch(np.stack([obs, obs]))
        assert b.shape == (2, env.action_space.shape[0]) and b.min() >= 0 and b.max() <= 1
    env.close()


# --------------------------------------------------------------- fast actor: BLAS threads
def test_act_batch_sets_its_own_blas_threads(monkeypatch):
    from threadpoolctl import threadpool_limits
    from torch import nn

    from agents.common.fast_actor import NumpyActor, blas_controller, mlp_actor_spec

    def blas_threads() -> set[int]:  # of the BLAS libraries loaded with numpy (and torch)
        return {int(i["num_threads"]) for i in blas_controller().info()}

    if not blas_threads():
        pytest.skip("numpy has no BLAS that threadpoolctl can control")
    spec = mlp_actor_spec([nn.Linear(8, 16), nn.Linear(16, 3)])
    x = np.random.default_rng(0).random((64, 8), dtype=np.float32)
    seen: list[set[int]] = []
    for threads in (1, 2, None):
        actor = NumpyActor(spec, blas_threads=threads)
        forward = actor._forward

        def spy(*args, forward=forward):
            seen.append(blas_threads())
            return forward(*args)

        monkeypatch.setattr(actor, "_forward", spy)
        with threadpool_limits(limits=3, user_api="blas"):  # what the caller set
            out = actor.act_batch(x)
            assert blas_threads() == {3}  # restored after the call
        assert out.shape == (64, 3)
    assert seen == [{1}, {2}, {3}]
    with pytest.raises(ValueError, match="blas_threads"):
        NumpyActor(spec, blas_threads=0)


def test_named_out_dir_drops_what_the_previous_evaluation_wrote(tmp_path):
    """``out_dir=`` reused: the files listed in the old ``evaluation.json`` go (no stale plot
    survives), anything else in the directory stays."""
    from pipeline.report import MANIFEST, write_outputs

    out = tmp_path / "named"
    out.mkdir()
    (out / "cost_d2d.png").write_bytes(b"old plot")
    (out / "notes.txt").write_text("mine")
    (out / MANIFEST).write_text('{"files": ["cost_d2d.png", "results.csv", "../escape"]}')
    row = {"group": "scheduling-load0.8", "env": "scheduling", "dnn": "none",
           "network": "none", "agent": "closest", "kind": "heuristic", "variance_mean": 0.1}  # fmt: skip
    files = write_outputs([row], {}, out, plots=False, episodes=1, seed=0)
    assert not (out / "cost_d2d.png").exists() and (out / "notes.txt").read_text() == "mine"
    assert {f.name for f in files} == {"results.csv", "results.md", MANIFEST}
