"""Reliability and security of run directories and checkpoints.

* loading a run never executes code from its files (SB3, RLlib, custom agents);
* one writer per run directory (an OS lock naming the holder's PID);
* checkpoints are one atomic unit with a checksum, and SB3 TD3 resumes bit-identically;
* loaders reject wrong sizes, non-finite weights and corrupted files with one CheckpointError;
  evaluate.py skips a bad run and goes on;
* faults (full disk, Ctrl-C in set-up / final evaluation, SIGKILL leftovers) end with one
  line and a consistent state.json.

Training runs are in-process (``pipeline.train.run`` on a composed config) with tiny budgets.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from conftest import REPO, tensor_leaves
from hydra import compose, initialize_config_dir

import envs  # noqa: F401
from agents.common.checkpoint import (
    CheckpointError,
    content_digest,
    load_checkpoint,
    read_manifest,
    save_checkpoint,
)
from agents.loading import load_actor
from pipeline.utils import CONFIG_DIR, RunLock, clean_stale_temp, sha256_file

MEC = "EdgeRL/MECPartition-v0"
QUIET = ["train.progress=false", "train.eval_episodes=1", "train.final_eval_episodes=0",
         "train.log_every=50", "train.eval_every=0", "train.checkpoint_every=0",
         "torch_threads=1", "env=mec", "dnn=lenet"]  # fmt: skip
TD3 = ["agent=sb3_td3", "agent.net_arch=[16,16]", "agent.learning_starts=20",
       "agent.batch_size=16", "agent.buffer_size=1000"]  # fmt: skip
SCHED = {"capacities": 100, "buffer_size": 64, "window_slots": 40, "num_users": 200,
         "action_mode": "shares"}  # fmt: skip
IORLO = ["agent=iorlo", "agent.learning_starts=20", "agent.batch_size=16"]


def cfg_of(run_dir: Path, *overrides: str, config: str = "train"):
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        if config == "evaluate":
            return compose(config, overrides=list(overrides))
        return compose(
            config, overrides=[f"run_dir={run_dir}", f"runs_root={run_dir.parent}", *QUIET,
                               *overrides],
        )  # fmt: skip


def train(run_dir: Path, *overrides: str) -> int:
    from pipeline.train import run

    return run(cfg_of(run_dir, *overrides))


def state(run_dir: Path) -> dict:
    return json.loads((run_dir / "state.json").read_text())


class Evil:
    """Unpickling this creates the marker file: the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _malicious_model_zip(path: Path, marker: Path) -> None:
    """An SB3 archive whose "data" holds a cloudpickle SB3 would unpickle on load."""
    blob = base64.b64encode(pickle.dumps(Evil(marker))).decode()
    data = {"policy_class": {":type:": "<class 'abc.ABCMeta'>", ":serialized:": blob}}
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("data", json.dumps(data))
        z.writestr("_stable_baselines3_version", "2.9.2")


def _rewrite_manifest(ckpt: Path) -> None:
    """What an attacker would do: make the manifest's checksums match the edited files."""
    mf = ckpt / "manifest.json"
    meta = json.loads(mf.read_text())
    meta["files"] = {n: sha256_file(ckpt / n) for n in meta["files"]}
    mf.write_text(json.dumps(meta))


@pytest.fixture(scope="module")
def td3_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("td3") / "run"
    assert train(run_dir, *TD3, "train.total_steps=60") == 0
    return run_dir


def _copy(run_dir: Path, dest: Path) -> Path:
    """A copy of a finished run (run_dir may differ on resume: it is a train.* setting)."""
    import shutil

    shutil.copytree(run_dir, dest)
    return dest


# ------------------------------------------------------------------------ 1. no code execution
def _load_policy(run_dir: Path):
    from omegaconf import OmegaConf

    from pipeline.config import validate
    from pipeline.envs import build_env

    cfg = OmegaConf.load(run_dir / "config.yaml")
    spec = validate(cfg, build_env_check=False)
    env = build_env(cfg, action_mode=spec.action_mode)
    return spec.runner_cls.load_policy(run_dir, cfg, env)


def test_malicious_sb3_model_zip_is_never_unpickled(td3_run, tmp_path, capsys):
    run_dir = _copy(td3_run, tmp_path / "evil")
    marker = tmp_path / "PWNED"
    import shutil

    # a run in the old layout (model.zip + checkpoint.json), with a crafted archive: the old
    # loaders handed model.zip to SB3's load, which unpickles it (and so creates the marker)
    meta = json.loads((run_dir / "sb3_checkpoint" / "manifest.json").read_text())
    meta.pop("files")
    (run_dir / "checkpoint.json").write_text(json.dumps(meta))
    shutil.rmtree(run_dir / "sb3_checkpoint")
    _malicious_model_zip(run_dir / "model.zip", marker)
    with pytest.raises(CheckpointError, match="model.zip"):
        _load_policy(run_dir)
    assert not marker.exists()
    from pipeline.evaluate import run as evaluate

    ev = cfg_of(run_dir, f"runs={run_dir}", "episodes=2", "baselines=[oracle]", "plots=false",
                f"out_dir={tmp_path / 'eval'}", config="evaluate")  # fmt: skip
    assert evaluate(ev) == 1  # the baselines are evaluated, the bad run is reported
    assert "model.zip" in capsys.readouterr().err and not marker.exists()
    assert train(run_dir, *TD3, "train.total_steps=80", "train.resume=true") == 2
    assert "model.zip is an SB3 pickle archive" in capsys.readouterr().err
    assert not marker.exists()


def test_malicious_sb3_weights_file_is_refused(td3_run, tmp_path, capsys):
    run_dir = _copy(td3_run, tmp_path / "evil")
    marker = tmp_path / "PWNED"
    ckpt = run_dir / "sb3_checkpoint"
    for name in ("params.pt", "state.pt"):
        torch.save({"params": {"policy": Evil(marker)}}, ckpt / name)
    _rewrite_manifest(ckpt)  # checksums alone would not stop this; weights_only does
    with pytest.raises(CheckpointError, match="weights_only"):
        _load_policy(run_dir)
    rc = train(run_dir, *TD3, "train.total_steps=80", "train.resume=true")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and not marker.exists()
    assert len(err) == 1 and "weights_only" in err[0] and "params.pt" in err[0]
    assert state(run_dir)["status"] == "failed"


def test_malicious_rllib_module_is_refused(tmp_path):
    """RLlib evaluation rebuilds the module from the config and loads module.pt weights_only."""
    from pipeline.runners.rllib import RLlibRunner

    marker = tmp_path / "PWNED"
    ckpt = tmp_path / "rllib_checkpoint"
    ckpt.mkdir()
    torch.save({"state_dict": Evil(marker), "inference_only": False}, ckpt / "module.pt")
    meta = {"format": "edgerl-rllib", "files": {"module.pt": sha256_file(ckpt / "module.pt")},
            "signature": {}, "rescaled_actions": True}  # fmt: skip
    (ckpt / "manifest.json").write_text(json.dumps(meta))  # checksums that match
    cfg = cfg_of(tmp_path, "agent=rllib_ppo")  # (env=mec in QUIET)
    with pytest.raises(CheckpointError, match="weights_only"):
        RLlibRunner.load_policy(tmp_path, cfg, gym.make(MEC, dnn="lenet"))
    assert not marker.exists()


def test_rllib_resume_refuses_a_modified_checkpoint_before_unpickling(tmp_path):
    """RLlib's restore unpickles: it only runs on files whose checksums match the manifest
    (checked before Ray even starts)."""
    from pipeline.config import validate
    from pipeline.runners.rllib import RLlibRunner

    marker = tmp_path / "PWNED"
    ckpt = tmp_path / "rllib_checkpoint"
    (ckpt / "algorithm").mkdir(parents=True)
    torch.save({"state_dict": {}, "inference_only": False}, ckpt / "module.pt")
    (ckpt / "algorithm" / "algorithm_state.pkl").write_bytes(b"saved by the pipeline")
    meta = {"format": "edgerl-rllib", "steps": 200,
            "files": {n: sha256_file(ckpt / n) for n in ("module.pt", "algorithm/algorithm_state.pkl")}}  # fmt: skip
    (ckpt / "manifest.json").write_text(json.dumps(meta))
    (ckpt / "algorithm" / "algorithm_state.pkl").write_bytes(pickle.dumps(Evil(marker)))
    cfg = cfg_of(tmp_path, "agent=rllib_ppo")
    runner = RLlibRunner(cfg, validate(cfg, build_env_check=False), tmp_path, None)
    with pytest.raises(CheckpointError, match="algorithm_state.pkl: checksum mismatch"):
        runner.setup(True)
    assert runner.algo is None and not marker.exists()


def test_directory_checkpoint_checksums(td3_run, tmp_path):
    run_dir = _copy(td3_run, tmp_path / "r")
    ckpt = run_dir / "sb3_checkpoint"
    read_manifest(ckpt, "edgerl-sb3")
    good = (ckpt / "replay_buffer.npz").read_bytes()
    raw = bytearray(good)
    raw[len(raw) // 2] ^= 0x01
    (ckpt / "replay_buffer.npz").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="replay_buffer.npz: checksum mismatch"):
        read_manifest(ckpt, "edgerl-sb3")
    (ckpt / "replay_buffer.npz").write_bytes(good)
    (ckpt / "state.pt").unlink()
    with pytest.raises(CheckpointError, match="state.pt: missing"):
        read_manifest(ckpt, "edgerl-sb3")


# ------------------------------------------------------------------------- 2. one writer
def _hold_lock(run_dir: Path) -> subprocess.Popen:
    code = ("import sys, time; from pipeline.utils import RunLock; "
            f"RunLock({str(run_dir)!r}).acquire(); print('locked', flush=True); time.sleep(60)")  # fmt: skip
    p = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "locked"
    return p


def test_second_writer_and_overwrite_are_refused_naming_the_pid(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "keep.txt").write_text("the live run's file")
    holder = _hold_lock(run_dir)
    try:
        for extra in ([], ["train.overwrite=true"]):
            proc = subprocess.run(
                [sys.executable, "train.py", f"run_dir={run_dir}", *QUIET, *IORLO,
                 "train.total_steps=30", *extra],
                cwd=REPO, capture_output=True, text=True, timeout=120,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )  # fmt: skip
            assert proc.returncode == 75, proc.stderr[-2000:]
            lines = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
            assert len(lines) == 1 and f"pid {holder.pid}" in lines[0], proc.stderr[-2000:]
            assert (run_dir / "keep.txt").read_text() == "the live run's file"
    finally:
        holder.kill()
        holder.wait()
    assert train(run_dir, *IORLO, "train.total_steps=30") == 0  # the lock died with its holder


def test_lock_is_released_and_reacquirable_in_process(tmp_path):
    from pipeline.utils import RunDirBusy

    with RunLock(tmp_path):
        with pytest.raises(RunDirBusy, match=f"pid {os.getpid()}"):
            RunLock(tmp_path).acquire()  # flock is per open file: also within one process
    RunLock(tmp_path).acquire().release()


@pytest.mark.slow
def test_two_train_processes_on_one_run_dir(tmp_path):
    run_dir = tmp_path / "run"
    args = [sys.executable, "train.py", f"run_dir={run_dir}", *QUIET, *IORLO]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    # A must still hold the lock when B starts: 30,000 steps (about 25 s on a 2-core Xeon),
    # against B's few seconds of start-up; 3,000 steps (2.6 s) once finished before B looked
    a = subprocess.Popen([*args, "train.total_steps=30000", "agent.lr_actor=0.0003"], cwd=REPO,
                         env=env, stderr=subprocess.PIPE, text=True)  # fmt: skip
    for _ in range(600):  # until A holds the lock (its PID is in the file)
        if RunLock(run_dir).holder() == a.pid:
            break
        time.sleep(0.1)
    b = subprocess.run([*args, "train.total_steps=3000", "agent.lr_actor=0.003"], cwd=REPO,
                       env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert a.wait(timeout=300) == 0
    assert b.returncode == 75 and f"pid {a.pid}" in b.stderr
    assert "lr_actor: 0.0003" in (run_dir / "config.yaml").read_text()


# --------------------------------------------------------- 3. atomic checkpoints, exact resume
def test_sb3_td3_resume_is_bit_identical(tmp_path):
    n = 120  # episodes are 100 steps: the split at 60 is mid-episode (the env is replayed)
    assert train(tmp_path / "full", *TD3, f"train.total_steps={n}") == 0
    assert train(tmp_path / "half", *TD3, f"train.total_steps={n // 2}") == 0
    assert train(tmp_path / "half", *TD3, f"train.total_steps={n}", "train.resume=true") == 0
    a, b = (torch.load(tmp_path / r / "sb3_checkpoint/params.pt", weights_only=True)
            for r in ("full", "half"))  # fmt: skip
    for name in a["params"]:
        for k, v in a["params"][name].items():
            if isinstance(v, torch.Tensor):
                assert torch.equal(v, b["params"][name][k]), (name, k)
    sa, sb = (torch.load(tmp_path / r / "sb3_checkpoint/state.pt", weights_only=True)
              for r in ("full", "half"))  # fmt: skip
    assert sa["counters"] == sb["counters"] and torch.equal(sa["last_obs"], sb["last_obs"])
    ba, bb = (np.load(tmp_path / r / "sb3_checkpoint/replay_buffer.npz")
              for r in ("full", "half"))  # fmt: skip
    assert int(ba["meta"][0]) == n  # every transition, the last one included
    for key in ba.files:
        np.testing.assert_array_equal(ba[key], bb[key], err_msg=key)


def test_iorlo_resume_mid_episode_is_bit_identical(tmp_path):
    """Saved at step 150 of 100-step episodes: the resume replays the episode's first half."""
    assert train(tmp_path / "full", *IORLO, "train.total_steps=240") == 0
    assert train(tmp_path / "half", *IORLO, "train.total_steps=150") == 0
    assert train(tmp_path / "half", *IORLO, "train.total_steps=240", "train.resume=true") == 0
    a, b = (dict(tensor_leaves(torch.load(tmp_path / r / "checkpoint.pt", weights_only=True)))
            for r in ("full", "half"))  # fmt: skip
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_failed_save_keeps_the_previous_checkpoint_whole(td3_run, tmp_path, monkeypatch):
    run_dir = _copy(td3_run, tmp_path / "r")
    before = read_manifest(run_dir / "sb3_checkpoint", "edgerl-sb3")
    import pipeline.runners.sb3 as sb3

    def crash(buffer, path):  # the process dies after params.pt and state.pt are written
        raise KeyboardInterrupt

    monkeypatch.setattr(sb3, "_save_buffer", crash)
    rc = train(run_dir, *TD3, "train.total_steps=80", "train.resume=true")
    assert rc == 130 and state(run_dir)["status"] == "interrupted"
    assert state(run_dir)["steps"] == 60  # the last good checkpoint
    after = read_manifest(run_dir / "sb3_checkpoint", "edgerl-sb3")
    assert after == before and not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]


def test_native_checkpoint_is_one_file_with_a_checksum(tmp_path):
    from agents.iorlo import IoRLO

    path = IoRLO(gym.make(MEC, dnn="lenet"), seed=0).save(tmp_path / "checkpoint.pt")
    data = torch.load(path, weights_only=True)
    assert data["manifest"]["sha256"] == content_digest(data)


def test_qlearning_steps_live_in_its_checkpoint(tmp_path):
    from agents.qlearning import QLearningAgent

    env = gym.make("EdgeRL/EdgeScheduling-v0", **SCHED)
    path = QLearningAgent(env).save(tmp_path / "q.pt", extra={"steps": 123})
    assert QLearningAgent.load(path, env).extra == {"steps": 123}


# ----------------------------------------------------------------------------- 5. loaders
@pytest.fixture(scope="module")
def iorlo_ckpt(tmp_path_factory) -> Path:
    from agents.iorlo import IoRLO

    return IoRLO(gym.make(MEC, dnn="lenet"), seed=0).save(
        tmp_path_factory.mktemp("iorlo") / "checkpoint.pt"
    )


def _edited(src: Path, dest: Path, edit) -> Path:
    """A validly checksummed copy of checkpoint ``src`` after ``edit(payload)``."""
    payload = torch.load(src, weights_only=True)
    edit(payload)
    return save_checkpoint(dest, payload)


def test_load_actor_checks_sizes_against_the_env(iorlo_ckpt, tmp_path):
    env = gym.make(MEC, dnn="lenet")
    n = env.action_space.shape[0]

    def shrink(p):  # an actor with one output too few, with the env's own signature
        p["actor"]["weights"][-1] = p["actor"]["weights"][-1][: n - 1]
        p["actor"]["biases"][-1] = p["actor"]["biases"][-1][: n - 1]

    bad = _edited(iorlo_ckpt, tmp_path / "small.pt", shrink)
    with pytest.raises(CheckpointError, match=f"small.pt: actor: actor gives {n - 1} action"):
        load_actor(bad, env=env)


def test_load_actor_rejects_nan_flipped_and_truncated(iorlo_ckpt, tmp_path):
    bad = _edited(iorlo_ckpt, tmp_path / "nan.pt",
                  lambda p: p["actor"]["weights"][0].__setitem__((0, 0), float("nan")))  # fmt: skip
    with pytest.raises(CheckpointError, match="nan.pt: non-finite"):
        load_actor(bad)
    raw = bytearray(iorlo_ckpt.read_bytes())
    payload = torch.load(iorlo_ckpt, weights_only=True)
    weights = payload["actor"]["weights"][0].numpy().tobytes()
    at = bytes(raw).find(weights[:64])  # a byte inside the stored actor weights
    assert at > 0
    raw[at + 3] ^= 0x10
    flipped = tmp_path / "flipped.pt"
    flipped.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="flipped.pt: (checksum mismatch|not a loadable)"):
        load_actor(flipped)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(iorlo_ckpt.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="truncated.pt: not a loadable"):
        load_actor(truncated)


def test_load_actor_finds_the_checkpoint_in_a_run_dir(iorlo_ckpt):
    actor = load_actor(iorlo_ckpt.parent, env=gym.make(MEC, dnn="lenet"))
    assert actor.out_dim == gym.make(MEC, dnn="lenet").action_space.shape[0]
    with pytest.raises(CheckpointError, match="directory without checkpoint.pt"):
        load_actor(iorlo_ckpt.parent.parent)


def test_load_actor_on_a_tree_of_runs_names_runs_below_it(iorlo_ckpt, tmp_path):
    """A directory above run directories (``runs/<tag>/<agent>``): the error names the first
    runs below it, so the fix is one copy away."""
    for run in ("a/seed0", "a/seed1", "b/seed0", "b/seed1"):
        (tmp_path / run).mkdir(parents=True)
        shutil.copy(iorlo_ckpt, tmp_path / run / "checkpoint.pt")
    with pytest.raises(CheckpointError) as err:
        load_actor(tmp_path)
    assert str(err.value) == (f"{tmp_path}: directory without checkpoint.pt (runs below it: "
                              "a/seed0, a/seed1, b/seed0 and 1 more; pass one of them)")  # fmt: skip
    env = gym.make(MEC, dnn="lenet")
    assert load_actor(tmp_path / "b" / "seed1", env=env).out_dim == env.action_space.shape[0]


def test_agent_loaders_raise_checkpoint_errors(iorlo_ckpt, tmp_path):
    from agents.iorlo import IoRLOPlus
    from agents.qlearning import QLearningAgent

    env = gym.make(MEC, dnn="lenet")
    missing = _edited(iorlo_ckpt, tmp_path / "nostate.pt", lambda p: p["state"].pop("actor"))
    with pytest.raises(CheckpointError, match="nostate.pt: .*missing entry 'actor'"):
        IoRLOPlus.load(missing, env)
    senv = gym.make("EdgeRL/EdgeScheduling-v0", **SCHED)
    q = QLearningAgent(senv).save(tmp_path / "q.pt")
    q.write_bytes(q.read_bytes()[:50])
    with pytest.raises(CheckpointError, match="q.pt: not a loadable"):
        QLearningAgent.load(q, senv)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty.pt"):
        QLearningAgent.load(empty, senv)
    with pytest.raises(CheckpointError, match="checkpoint"):
        load_checkpoint(tmp_path / "nothing.pt")


def test_evaluate_reports_a_bad_run_and_goes_on(td3_run, tmp_path, capsys):
    good = _copy(td3_run, tmp_path / "runs" / "good")
    bad = _copy(td3_run, tmp_path / "runs" / "bad")
    (bad / "sb3_checkpoint" / "params.pt").write_bytes(b"junk")
    broken = _copy(td3_run, tmp_path / "runs" / "broken")
    (broken / "config.yaml").write_text("agent: {name: [unclosed\n")
    from pipeline.evaluate import run as evaluate

    out = tmp_path / "eval"
    ev = cfg_of(tmp_path, f"runs={tmp_path / 'runs'}", "episodes=2", "baselines=[oracle]",
                "plots=false", f"out_dir={out}", "decision_steps=5", config="evaluate")  # fmt: skip
    assert evaluate(ev) == 1
    err = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error:")]
    assert len(err) == 2, err
    assert any(str(bad) in e and "params.pt: checksum mismatch" in e for e in err)
    assert any(str(broken) in e for e in err)
    rows = (out / "results.csv").read_text()
    assert str(good) in rows and str(bad) not in rows and str(broken) not in rows


# ------------------------------------------------------------------------------- 6. faults
def test_full_disk_is_one_line_and_a_failed_state(tmp_path, monkeypatch, capsys):
    from pipeline.runners.iorlo import IoRLORunner

    def full(self):
        path = self.checkpoint_path(self.run_dir)
        raise RuntimeError("PytorchStreamWriter failed") from OSError(
            errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)
        )

    run_dir = tmp_path / "run"
    monkeypatch.setattr(IoRLORunner, "save", full)
    rc = train(run_dir, *IORLO, "train.total_steps=30")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1, err
    assert "ENOSPC (errno 28)" in err[0] and str(run_dir / "checkpoint.pt") in err[0]
    st = state(run_dir)
    assert st["status"] == "failed" and st["steps"] == 0 and st["reached_steps"] == 30


def test_real_write_error_names_errno_and_path(tmp_path):
    """A real failing write (RLIMIT_FSIZE: EFBIG) from a train.py subprocess."""
    code = (
        "import resource, signal, sys, runpy; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)); "
        "sys.argv = ['train.py'] + sys.argv[1:]; runpy.run_path('train.py', run_name='__main__')"
    )
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-c", code, f"run_dir={run_dir}", *QUIET, *IORLO, "train.total_steps=30",
         "agent.buffer_size=1000"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore", "HYDRA_FULL_ERROR": "1"},
    )  # fmt: skip
    lines = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr[-3000:]
    assert "EFBIG (errno 27)" in lines[0] and "checkpoint.pt" in lines[0]
    assert "Traceback" not in proc.stderr
    assert state(run_dir)["status"] == "failed"
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]


def test_ctrl_c_during_setup_is_interrupted(tmp_path, monkeypatch, capsys):
    from pipeline.runners.iorlo import IoRLORunner

    def interrupted(self, resume):
        raise KeyboardInterrupt

    run_dir = tmp_path / "run"
    monkeypatch.setattr(IoRLORunner, "setup", interrupted)
    assert train(run_dir, *IORLO, "train.total_steps=30") == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted during set-up" in err[0]
    assert state(run_dir)["status"] == "interrupted"
    monkeypatch.undo()
    assert train(run_dir, *IORLO, "train.total_steps=30") == 0  # nothing saved: start over


def test_ctrl_c_during_final_evaluation_is_interrupted_then_resumable(tmp_path, monkeypatch,
                                                                      capsys):  # fmt: skip
    import pipeline.evaluate

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    run_dir = tmp_path / "run"
    monkeypatch.setattr(pipeline.evaluate, "final_evaluation", interrupted)
    rc = train(run_dir, *IORLO, "train.total_steps=30", "train.final_eval_episodes=1")
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 130 and len(err) == 1 and "interrupted during final evaluation" in err[0]
    assert state(run_dir)["status"] == "interrupted" and state(run_dir)["steps"] == 30
    assert json.loads((run_dir / "metrics.json").read_text())["status"] == "interrupted"
    monkeypatch.undo()
    assert train(run_dir, *IORLO, "train.total_steps=30", "train.resume=true",
                 "train.final_eval_episodes=1") == 0  # fmt: skip
    assert state(run_dir)["status"] == "done"


def test_leftovers_of_a_killed_run_are_cleaned_on_next_start(td3_run, tmp_path):
    run_dir = _copy(td3_run, tmp_path / "r")
    (run_dir / ".checkpoint.pt.x1y2.tmp").write_bytes(b"\0" * 1000)
    (run_dir / ".sb3_checkpoint.abcd.tmp").mkdir()
    (run_dir / ".sb3_checkpoint.abcd.tmp" / "params.pt").write_bytes(b"\0" * 1000)
    # killed between the two renames of a directory swap: only the old copy exists
    (run_dir / "sb3_checkpoint").rename(run_dir / ".sb3_checkpoint.old")
    assert train(run_dir, *TD3, "train.total_steps=80", "train.resume=true") == 0
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == [".lock"]
    assert read_manifest(run_dir / "sb3_checkpoint", "edgerl-sb3")["steps"] == 80


def test_clean_stale_temp_only_touches_temp_names(tmp_path):
    (tmp_path / "a.tmp").write_text("a user's file")
    (tmp_path / ".x.123.tmp").write_text("")
    (tmp_path / ".hydra").mkdir()
    removed = clean_stale_temp(tmp_path)
    assert [p.name for p in removed] == [".x.123.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hydra", "a.tmp"]


def test_atomic_write_error_names_the_path(tmp_path):
    from pipeline.utils import atomic_write

    def full(tmp: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as exc:
        atomic_write(tmp_path / "f.bin", full)
    assert exc.value.errno == errno.ENOSPC and exc.value.filename == str(tmp_path / "f.bin")
    assert list(tmp_path.iterdir()) == []


def test_content_digest_distinguishes_types_and_bytes():
    a = {"x": torch.zeros(3), "y": [1, 2.0, "3"]}
    assert content_digest(a) == content_digest({"y": (1, 2.0, "3"), "x": torch.zeros(3)})
    assert content_digest(a) != content_digest({"x": torch.zeros(3), "y": [1, 2, "3"]})
    b = {"x": torch.zeros(3), "y": [1, 2.0, "3"]}
    b["x"][1] = -0.0  # same value, another bit pattern
    assert content_digest(a) != content_digest(b)
