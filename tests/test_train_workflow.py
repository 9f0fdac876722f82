"""``train.py`` in the research workflow: sweeps (plain, Optuna, joblib) land side by side and
return an objective, reruns of a finished run say so, your own DNN (profile JSON or
``module:function``) and CSV trace train end to end, the HParams columns are common to every
agent, and RLlib runs on a running Ray cluster (a real one, ``@pytest.mark.slow``).

``train.py`` runs in subprocesses on the v0 MEC env (no trace files needed) with tiny budgets.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from pipeline.config import ConfigError, safe_dirname, validate
from pipeline.runners.rllib import ray_init_kwargs
from pipeline.utils import CONFIG_DIR

ENV = {**os.environ, "RAY_AUTH_MODE": "disabled", "PYTHONWARNINGS": "ignore"}
TINY = ["train.total_steps=200", "train.eval_every=0", "train.final_eval_episodes=2",
        "train.progress=false", "train.checkpoint_every=0", "agent.learning_starts=50",
        "agent.batch_size=16", "env=mec", "dnn=lenet"]  # fmt: skip
#: the overrides of TINY that are part of a run dir (train.*, env and dnn are not)
LEVEL = "agent.batch_size=16,agent.learning_starts=50"
OWN = [a for a in TINY if a != "dnn=lenet"]  # with dnn=custom


def train(root: Path, *args: str, cwd: Path = REPO, timeout: float = 240):
    flags = [a for a in args if a == "-m"]  # Hydra's flags go before the overrides
    rest = [a for a in args if a != "-m"]
    return subprocess.run(
        [sys.executable, str(REPO / "train.py"), *flags, f"runs_root={root}", *rest],
        cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


def metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


def compose_train(*overrides: str):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose("train", overrides=list(overrides))


# ------------------------------------------------------------------------ 1. sweeps, reruns
def test_safe_dirname():
    assert safe_dirname("agent.lr_actor=0.001") == "agent.lr_actor=0.001"
    assert safe_dirname("network.path=/data/a b.csv") == "network.path=_data_a_b.csv"
    assert safe_dirname("..x") == "x"
    a = safe_dirname("agent.fcnet_hiddens=[" + ",".join(["64"] * 80) + "]")
    b = safe_dirname("agent.fcnet_hiddens=[" + ",".join(["64"] * 81) + "]")
    assert len(a) == len(b) == 120 and a != b  # cut, but still distinct


def test_sweep_lands_side_by_side_and_reruns_say_finished(tmp_path):
    sweep = ["-m", "agent=iorlo", "agent.lr_actor=0.0001,0.001", *TINY]
    ok(train(tmp_path, *sweep))
    base = tmp_path / "mec-lenet" / "iorlo"
    for lr in ("0.0001", "0.001"):
        run_dir = base / f"{LEVEL},agent.lr_actor={lr}" / "seed0"
        assert metrics(run_dir)["status"] == "done", run_dir
        assert OmegaConf.load(run_dir / "config.yaml").agent.lr_actor == float(lr)
    # the same sweep again: every job says its run is finished and the sweep succeeds
    again = train(tmp_path, *sweep)
    ok(again)
    assert again.stdout.count("is finished (status done, 200 steps)") == 2, again.stdout
    # one of them as a plain run (`make run` twice): the message, the stored table, exit 0
    one = train(tmp_path, "agent=iorlo", "agent.lr_actor=0.001", *TINY)
    ok(one)
    assert one.stdout.splitlines()[0].endswith(
        "is finished (status done, 200 steps); train.overwrite=true to replace it, "
        "train.resume=true with a larger train.total_steps to continue it"
    )
    assert "| **iorlo** |" in one.stdout and "| oracle |" in one.stdout


def test_optuna_sweep_minimises_the_returned_objective(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper")
    proc = train(tmp_path, "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=2",
                 "hydra.sweeper.sampler.seed=0", "agent=iorlo",
                 "agent.lr_actor=interval(0.0001,0.01)", *TINY)  # fmt: skip
    ok(proc)
    runs = sorted((tmp_path / "mec-lenet" / "iorlo").glob("*/seed0"))
    assert len(runs) == 2, runs
    costs = [metrics(r)["eval"]["cost_mean"] for r in runs]
    best = OmegaConf.load(tmp_path / "optimization_results.yaml")
    assert math.isclose(best.best_value, min(costs))


def test_main_returns_the_objective(tmp_path, monkeypatch):
    """The task function of ``train.py`` / ``edgerl-train`` returns the final evaluation's mean
    cost: what the Optuna sweeper minimises."""
    import hydra

    from pipeline.cli import train_main

    run_dir = tmp_path / "run"
    cfg = compose_train(f"run_dir={run_dir}", "agent=iorlo", *TINY)
    returned = []
    monkeypatch.setattr(hydra, "main", lambda **kw: lambda task: lambda: returned.append(task(cfg)))
    train_main()
    assert returned == [metrics(run_dir)["eval"]["cost_mean"]] and math.isfinite(returned[0])


@pytest.mark.slow
def test_joblib_launcher_runs_jobs_in_parallel(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_joblib_launcher")
    proc = train(tmp_path, "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
                 "agent=iorlo", "agent.lr_critic=0.0001,0.001", *TINY)  # fmt: skip
    ok(proc)
    assert len(list((tmp_path / "mec-lenet" / "iorlo").glob("*/seed0/metrics.json"))) == 2


# ------------------------------------------------------------------------ 2. own DNN, CSV
@pytest.fixture(scope="module")
def own_model(tmp_path_factory):
    """A module file with factories, and the profile JSON of a small model."""
    d = tmp_path_factory.mktemp("own")
    (d / "mynets.py").write_text(
        "from torch import nn\n\n\n"
        "def small():\n"
        "    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),\n"
        "                          nn.Linear(4 * 15 * 15, 10))\n"
        "    return model, (3, 32, 32)\n\n\n"
        "def bare():\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.ReLU(), nn.Linear(4, 2))\n"
    )
    from torch import nn

    from envs.dnn import profile_module

    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(4 * 15 * 15, 10))  # fmt: skip
    profile = profile_module(model, (3, 32, 32), block_boundaries=[2, 4], name="tiny")
    (d / "tiny_profile.json").write_text(json.dumps(profile.to_dict()))
    return d


def test_profile_json_trains_and_evaluates(tmp_path, own_model):
    path = own_model / "tiny_profile.json"
    proc = train(tmp_path, "dnn=custom", f"dnn.path={path}", *OWN)
    ok(proc)
    run_dir = tmp_path / "mec-tiny_profile" / "iorlo_plus" / LEVEL / "seed0"
    cfg = OmegaConf.load(run_dir / "config.yaml")
    assert cfg.dnn.name == "tiny_profile" and cfg.dnn.path == str(path)
    assert "| **iorlo_plus** |" in proc.stdout and "| oracle |" in proc.stdout
    assert metrics(run_dir)["eval"]["cost_mean"] > 0
    ev = subprocess.run(
        # a path with = and , in a Hydra override needs quotes (Hydra's own dir convention)
        [sys.executable, "evaluate.py", f"runs='{run_dir}'", "episodes=2", "baselines=[oracle]",
         "plots=false", f"out_dir={tmp_path / 'eval'}", "decision_steps=5"],
        cwd=REPO, env=ENV, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    ok(ev)
    assert "iorlo_plus" in ev.stdout and "oracle" in ev.stdout, ev.stdout


def test_factory_trains_from_the_working_directory(tmp_path, own_model):
    proc = train(tmp_path / "runs", "dnn=custom", "dnn.factory=mynets:small", *OWN,
                 cwd=own_model)  # fmt: skip
    ok(proc)
    run_dir = tmp_path / "runs" / "mec-small" / "iorlo_plus" / LEVEL / "seed0"
    assert metrics(run_dir)["status"] == "done"
    assert OmegaConf.load(run_dir / "config.yaml").dnn.factory == "mynets:small"


def test_custom_dnn_errors_name_the_field(own_model, monkeypatch):
    monkeypatch.chdir(own_model)
    cases = {
        ("dnn=custom",): "exactly one of dnn.path",
        ("dnn=custom", "dnn.path=nope.json"): "dnn.path='nope.json': no such file",
        ("dnn=custom", "dnn.factory=mynets"): "must be 'module:function'",
        ("dnn=custom", "dnn.factory=nomod:f"): "module 'nomod' cannot be imported",
        ("dnn=custom", "dnn.factory=mynets:nothing"): "has no attribute 'nothing'",
        ("dnn=custom", "dnn.factory=mynets:bare"): "set dnn.input_shape",
        ("dnn=custom", "dnn.path=tiny_profile.json", "dnn.input_shape=[3,8,8]"):
            "dnn.input_shape=[3, 8, 8] applies to dnn.factory only",
        ("dnn=custom", "dnn.path=tiny_profile.json", "dnn.name=a/b"): "dnn.name='a/b' is invalid",
        ("dnn.name=my_profile.json",): "dnn=custom dnn.path=<profile.json>",
    }  # fmt: skip
    for overrides, message in cases.items():
        with pytest.raises(ConfigError) as err:
            validate(compose_train("env=mec", *overrides))
        assert message in str(err.value), (overrides, str(err.value))
    (own_model / "bad.json").write_text('{"name": "x", "input_shape": [3], "input_kb": 1}')
    with pytest.raises(ConfigError, match=r"bad.json' is not a DNN profile: .*missing keys"):
        validate(compose_train("env=mec", "dnn=custom", "dnn.path=bad.json"))
    # a factory returning a bare module, with dnn.input_shape
    cfg = compose_train("env=mec", "dnn=custom", "dnn.factory=mynets:bare",
                        "dnn.input_shape=[3,2,2]")  # fmt: skip
    validate(cfg)
    assert cfg.env.tag == "mec-bare"


def test_csv_network_columns_scales_frame(tmp_path):
    from envs.dynamics import make_link_process

    f = tmp_path / "link.csv"
    f.write_text("# own trace\nt,ul,dl,ping,cell\n0,10,50,20,a\n1,12,40,25,b\n2,8,60,30,c\n")
    columns = {"time_s": "t", "uplink_mbps": "ul", "downlink_mbps": "dl", "rtt_ms": "ping"}
    spec = {"type": "csv", "path": str(f), "frame_s": 0.5, "scales": {"b_te_down": 0.5},
            "columns": columns}  # fmt: skip
    proc = make_link_process(spec, "mec")
    assert proc.series["b_te_up"].values.tolist() == [10, 12, 8]
    k = proc.trace_fields.index("b_te_down")
    down = proc._flat[proc._base[k] : proc._base[k] + proc._len[k]]
    assert down[[0, 2, 4]].tolist() == [25.0, 20.0, 30.0]  # dl x 0.5, frames of 0.5 s
    with pytest.raises(ValueError, match="has no column"):
        make_link_process({"type": "csv", "path": str(f), "columns": {"uplink_mbps": "x"}}, "mec")
    cfg = compose_train("env=mec", "network=csv", f"network.path={f}",
                        *[f"network.columns.{k}={v}" for k, v in columns.items()],
                        "network.frame_s=0.5", "network.scales={b_te_down:0.5}")  # fmt: skip
    validate(cfg)


# ------------------------------------------------------------------------ 4. HParams
def _hparams(run_dir: Path) -> dict:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import metadata

    ea = EventAccumulator(str(run_dir))
    ea.Reload()
    content = ea.PluginTagToContent("hparams")
    assert metadata.EXPERIMENT_TAG not in content  # TensorBoard then unions all runs' columns
    info = metadata.parse_session_start_info_plugin_data(content[metadata.SESSION_START_INFO_TAG])
    return {k: getattr(v, v.WhichOneof("kind")) for k, v in info.hparams.items()}


def test_hparams_common_columns_across_agents(tmp_path):
    common = {"agent", "algo", "variant", "action_space", "env", "env_id", "env_tag", "dnn",
              "network", "seed", "total_steps"}  # fmt: skip
    plus = train(tmp_path, "agent=iorlo_plus", *TINY)
    ppo = train(tmp_path, "agent=sb3_ppo", "env=mec", "dnn=lenet", "agent.n_steps=100",
                "agent.batch_size=50", "train.total_steps=100", "train.eval_every=0",
                "train.final_eval_episodes=1", "train.progress=false")  # fmt: skip
    ok(plus)
    ok(ppo)
    hp_plus = _hparams(tmp_path / "mec-lenet" / "iorlo_plus" / LEVEL / "seed0")
    hp_ppo = _hparams(
        tmp_path / "mec-lenet" / "sb3_ppo" / "agent.batch_size=50,agent.n_steps=100" / "seed0"
    )
    assert common <= set(hp_plus) and common <= set(hp_ppo)
    assert hp_plus["agent"] == "iorlo_plus" and hp_plus["variant"] == "td3"
    assert hp_plus["algo"] == "IoRLO" and hp_plus["env_id"] == "EdgeRL/MECPartition-v0"
    assert hp_plus["dnn"] == "lenet" and hp_plus["network"] == "5g_trial"
    assert hp_plus["total_steps"] == 200 and hp_plus["agent.lr_actor"] == 0.0003
    assert hp_ppo["agent"] == "sb3_ppo" and hp_ppo["variant"] == "PPO" and hp_ppo["algo"] == "SB3"
    assert "agent.n_steps" in hp_ppo and "agent.lr_actor" not in hp_ppo


# ------------------------------------------------------------------------ 7. RLlib, Ray
def test_ray_init_kwargs_connect_or_start():
    agent = {"ray_address": None, "num_cpus": 2}
    start = {"include_dashboard": False, "log_to_driver": False, "num_cpus": 2}
    assert ray_init_kwargs(agent, None) == start
    # a running cluster (RAY_ADDRESS / `ray start`): join it, without resources
    joined = ray_init_kwargs(agent, "10.0.0.1:6379")
    assert joined == {"address": "10.0.0.1:6379", "log_to_driver": False}
    for address in ("auto", "10.0.0.2:6379", "ray://head:10001"):
        kw = ray_init_kwargs({**agent, "ray_address": address}, None)
        assert kw == {"address": address, "log_to_driver": False}
    kw = ray_init_kwargs({**agent, "ray_address": "local"}, "10.0.0.1:6379")
    assert kw == {**start, "address": "local"}


def test_unreachable_cluster_fails_fast(monkeypatch):
    """``ray.init`` retries an address nobody answers at for minutes; the runner checks first."""
    from pipeline.runners.base import SetupError
    from pipeline.runners.rllib import check_reachable

    port = _free_port()  # nothing listens there
    with pytest.raises(SetupError, match=f"cannot connect to the Ray cluster at 127.0.0.1:{port}"):
        check_reachable(f"127.0.0.1:{port}", timeout=2)
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{port}")  # `auto` resolves it the way Ray does
    with pytest.raises(SetupError, match="cannot connect to the Ray cluster at auto"):
        check_reachable("auto", timeout=2)


def test_setup_failure_leaves_no_run_dir(tmp_path, monkeypatch, capsys):
    from pipeline.runners.base import SetupError
    from pipeline.runners.iorlo import IoRLORunner
    from pipeline.train import run

    def fail(self, resume):
        raise SetupError("cannot connect to the Ray cluster at 1.2.3.4:1 (ConnectionError: x)")

    monkeypatch.setattr(IoRLORunner, "setup", fail)
    root = tmp_path / "runs"
    run_dir = root / "a" / "b" / "seed0"
    run_dir.mkdir(parents=True)  # as Hydra makes it
    assert run(compose_train(f"runs_root={root}", f"run_dir={run_dir}", "agent=iorlo", *TINY)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot connect to the Ray cluster" in err[0]
    assert not any(root.iterdir())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.rllib
def test_rllib_on_a_running_cluster(tmp_path):
    """A real local cluster (``ray start --head --block``, stopped through its PID): plain
    ``agent=rllib_ppo`` joins it (found through RAY_ADDRESS, as after ``ray start``), and so
    does ``agent.ray_address=auto``."""
    ray_bin = Path(sys.executable).with_name("ray")
    if not ray_bin.exists():
        pytest.skip("ray CLI not installed")
    port = _free_port()
    temp = Path("/tmp") / f"rt{os.getpid()}"  # short: Ray's socket paths have a length limit
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", f"--port={port}", "--num-cpus=1",
         "--include-dashboard=false", f"--temp-dir={temp}", "--disable-usage-stats"],
        env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    env = {**ENV, "RAY_ADDRESS": f"127.0.0.1:{port}"}
    try:
        deadline = time.monotonic() + 90
        while True:  # wait for the GCS port
            assert head.poll() is None, head.stdout.read()
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "ray start --head did not come up"
            time.sleep(0.5)
        time.sleep(2)
        rl = ["env=mec", "dnn=lenet", "agent=rllib_ppo", "agent.train_batch_size_per_learner=100",
              "agent.minibatch_size=50", "agent.num_epochs=1", "train.total_steps=100",
              "train.eval_every=0", "train.final_eval_episodes=1", "train.progress=false"]  # fmt: skip
        for extra in ([], ["agent.ray_address=auto"]):
            proc = subprocess.run(
                [sys.executable, "train.py", f"runs_root={tmp_path / str(len(extra))}", *rl,
                 *extra], cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            ok(proc)
            assert "| **rllib_ppo** |" in proc.stdout
            assert "RLlib: joining" in proc.stdout + proc.stderr  # not a new local instance
    finally:
        os.killpg(head.pid, signal.SIGTERM)  # the session of the `ray start` this test started
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        shutil.rmtree(temp, ignore_errors=True)


def test_env_group_sets_the_default_budget():
    """``train.total_steps`` defaults to the agent's ``agent.train_steps`` where it has one
    (v1's default DP-forecast), else the env group's ``env.train_steps``; the command line
    wins; ``experiment=`` presets keep their own budget."""
    cases = [
        ((), 400000),
        (("agent=iorlo_plus",), 40000),
        (("env=mec",), 40000),
        (("env=mec", "agent=dp_forecast"), 400000),
        (("env=scheduling",), 400000),
        (("env=scheduling", "train.total_steps=123"), 123),
        (("env=scheduling", "env.train_steps=77"), 77),
        (("experiment=paper_drlos",), 5100000),
    ]
    for overrides, steps in cases:
        assert compose_train(*overrides).train.total_steps == steps, overrides
    with pytest.raises(ConfigError, match=r"env\.train_steps=0 is invalid"):
        validate(compose_train("env=scheduling", "env.train_steps=0"))


def test_scheduling_budget_resumes_in_the_same_run(tmp_path):
    args = ["env=scheduling", "agent.n_rollouts=2", "train.eval_every=0",
            "train.final_eval_episodes=1", "train.progress=false", "env.window_slots=20",
            "env.capacities=50", "env.num_users=100"]  # fmt: skip
    ok(train(tmp_path, *args, "env.train_steps=150"))
    runs = list((tmp_path / "scheduling-load0.8" / "drlos").glob("*/seed0"))
    assert len(runs) == 1, runs  # env.train_steps is not part of the run directory
    first = metrics(runs[0])
    ok(train(tmp_path, *args, "env.train_steps=400", "train.resume=true"))
    assert len(list((tmp_path / "scheduling-load0.8" / "drlos").glob("*/seed0"))) == 1
    second = metrics(runs[0])
    assert first["steps"] < 400 <= second["steps"]
    assert second["resumed_from_step"] == first["steps"]
