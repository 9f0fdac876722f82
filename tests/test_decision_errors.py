"""benchmarks/decision_errors.py: the per-placement breakdown of a policy's gap."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
from omegaconf import OmegaConf

from agents.iorlo import IoRLOPlus
from agents.loading import load_actor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import decision_errors as de  # noqa: E402
from conftest import DATA_DIR, needs_traces  # noqa: E402

SYNTHETIC = "mixture_synthetic"  # no trace files


class Constant:
    """Every block on one platform (discrete actions)."""

    def __init__(self, platform: int, n: int) -> None:
        self.platform, self.n = platform, n

    def act_batch(self, obs: np.ndarray) -> np.ndarray:
        return np.full((len(obs), self.n), self.platform, dtype=np.int64)


def test_placement_label():
    names = ("device", "edge", "cloud")
    assert de.placement_label((2, 2, 2, 1), names) == "cloud×3 edge×1"
    assert de.placement_label((0, 1, 0), names) == "device×1 edge×1 device×1"
    assert de.placement_label((1,), ("user", "collaborator")) == "collaborator×1"


# by scenario, not env id: the synthetic network runs without the shared traces (conftest
# skips tests parametrised over a v1 id when they are absent)
@pytest.mark.parametrize(("scenario", "platform"), [("MEC", 2), ("D2D", 1)])
def test_constant_policy_rows_add_up_and_match_the_env(scenario, platform):
    env_id = f"EdgeRL/{scenario}Partition-v1"
    n = gym.make(env_id, dnn="alexnet", network=SYNTHETIC).unwrapped.n_blocks
    kw = {"dnn": "alexnet", "network": SYNTHETIC, "observe": "current", "action_mode": "discrete"}
    frames = de.frame_decisions(Constant(platform, n), env_id, kw, episodes=4, seed=3)
    rows = de.placement_table(frames, top=3)
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    assert sum(r["gap_share"] for r in rows) == pytest.approx(1.0)
    assert sum(r["excess_share"] for r in rows) == pytest.approx(1.0)
    whole = de.placement_label((platform,) * n, frames["platforms"])
    for r in rows:  # exact only where the oracle's placement is the constant one
        assert r["exact"] == (1.0 if r["placement"] == whole else 0.0), r
        assert r["choice"] in (whole, "—")
        if r["placement"] == whole:
            assert r["gap"] == pytest.approx(0.0, abs=1e-12)
    # the gaps are the env's own: the same frames stepped with the oracle on
    vec = gym.make_vec(env_id, num_envs=4, vectorization_mode="vector_entry_point",
                       dnn="alexnet", network=SYNTHETIC, observe="current",
                       action_mode="discrete", oracle=True)  # fmt: skip
    vec.reset(seed=3)
    gaps, costs = [], []
    action = Constant(platform, n).act_batch(np.zeros(4))
    for _ in range(vec.unwrapped.max_episode_steps):
        _, _, _, _, info = vec.step(action)
        keep = ~info["no_collaborator"] if "no_collaborator" in info else np.ones(4, bool)
        gaps.append(info["gap"][keep])
        costs.append(info["cost"][keep])
    vec.close()
    mine = frames["cost"] / frames["optimal_cost"] - 1.0
    assert np.concatenate(costs) == pytest.approx(frames["cost"])
    assert np.concatenate(gaps) == pytest.approx(mine)


def test_cli_on_a_trained_checkpoint(tmp_path):
    env = gym.make("EdgeRL/MECPartition-v1", dnn="alexnet", network=SYNTHETIC)
    agent = IoRLOPlus(env, seed=0, learning_starts=30, batch_size=16, buffer_size=1000)
    path = agent.learn(60).save(tmp_path / "agent.pt")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "decision_errors.py"), str(path),
         "--network", SYNTHETIC, "--episodes", "2", "--top", "2", "--observe", "current"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    table = [ln for ln in proc.stdout.splitlines() if ln.startswith("| ") and "---" not in ln]
    assert table[0].startswith("| oracle's placement") and 2 <= len(table) - 1 <= 3
    assert "mean gap" in proc.stdout and "200 frames" in proc.stdout
    bad = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "decision_errors.py"), str(path),
         "--episodes", "0"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 2 and "--episodes" in bad.stderr
    missing = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "decision_errors.py"), str(tmp_path / "no")],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert missing.returncode == 2 and "no checkpoint" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_cli_on_an_sb3_run(tmp_path):
    """A library policy (agents.loading.TrainedPolicy) records its env in the run's config."""
    run = tmp_path / "ppo"
    train = subprocess.run(
        [sys.executable, "train.py", "agent=sb3_ppo", "network=mixture", "network.split=null",
         "~network.components.traces", "train.total_steps=256", "train.eval_episodes=1",
         f"run_dir={run}"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr[-2000:]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "decision_errors.py"), str(run),
         "--network", SYNTHETIC, "--episodes", "2", "--top", "2"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "EdgeRL/MECPartition-v1 (alexnet)" in proc.stdout and "observe=measured" in proc.stdout
    assert "dp_measured mean gap" in proc.stdout


def test_the_runs_env_settings_are_used(tmp_path):
    """A run's env settings (here eta2, the weight of the deployment overhead) and DNN come
    from its config.yaml, not the env's defaults; a bare checkpoint's from its signature."""
    cfg = {"env": {"id": "EdgeRL/MECPartition-v1", "name": "mec", "observe": "measured",
                   "eta2": 7.0, "max_episode_steps": 100},
           "dnn": {"name": "vgg16"}, "network": {"mec": "mixture_train"}}  # fmt: skip
    run = tmp_path / "run"
    run.mkdir()
    OmegaConf.save(OmegaConf.create(cfg), run / "config.yaml")

    policy = SimpleNamespace(signature={"env_id": "EdgeRL/MECPartition-v1",
                                        "action_mode": "discrete"})  # fmt: skip
    env_id, kw = de.policy_env(policy, str(run / "checkpoint.pt"))
    assert env_id == "EdgeRL/MECPartition-v1"
    assert (kw["eta2"], kw["dnn"], kw["observe"], kw["action_mode"]) == (
        7.0, "vgg16", "measured", "discrete")  # fmt: skip
    env = gym.make(env_id, **{**kw, "network": SYNTHETIC})
    assert env.unwrapped.params.cost_kw["eta_overhead"] == 7.0
    # the observation it was trained on (a composite run's policy.pt: the current state)
    policy.signature["env_params"] = {"observe": "current"}
    assert de.policy_env(policy, str(run / "policy.pt"))[1]["observe"] == "current"
    # a checkpoint outside a run directory: its signature
    env_cur = gym.make("EdgeRL/MECPartition-v1", dnn="lenet", network=SYNTHETIC,
                       observe="current", eta2=9.0)  # fmt: skip
    agent = IoRLOPlus(env_cur, seed=0, learning_starts=30, batch_size=16, buffer_size=1000)
    path = agent.learn(40).save(tmp_path / "bare.pt")
    env_id, kw = de.policy_env(load_actor(path), str(path))
    assert (kw["eta2"], kw["dnn"], kw["observe"], kw["action_mode"]) == (
        9.0, "lenet", "current", "continuous")  # fmt: skip


@needs_traces
def test_network_arg_names_one_network_of_a_split():
    """--network: ``<split>:<name>`` is that network of the split (as evaluate.py's
    split_networks groups name them), a JSON spec is parsed, a name passes through; a bad
    name lists the split's networks, bad JSON says so."""
    from envs.mixture import split_networks

    nets = split_networks(DATA_DIR, "test")
    assert de.network_arg("test:static/5g/away_p3") == nets["static/5g/away_p3"]
    assert (
        de.network_arg("train:generator", str(DATA_DIR))
        == split_networks(DATA_DIR, "train")["generator"]
    )
    assert de.network_arg("mixture_test") == "mixture_test"
    assert de.network_arg('{"type": "constant"}') == {"type": "constant"}
    with pytest.raises(ValueError, match=r"--network test:nowhere: the test split has generator, "):
        de.network_arg("test:nowhere")
    with pytest.raises(ValueError, match="--network: not a JSON spec"):
        de.network_arg("{bad")
