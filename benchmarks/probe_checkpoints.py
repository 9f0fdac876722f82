"""Probe the checkpoint loaders with damaged and hostile files and count the outcomes.

``python benchmarks/probe_checkpoints.py [--workdir DIR]``

Trains a tiny IoRLO checkpoint, a Q-learning table and a tiny SB3 TD3 run (seconds), then
loads damaged copies through every loader: ``load_actor`` (with the env), ``IoRLO.load``,
``QLearningAgent.load``, SB3 ``load_policy`` (evaluate.py) and SB3 resume (``setup(True)``),
RLlib ``load_policy`` (module file only; no Ray needed). Damage: flipped bytes, truncations,
empty and missing files, NaN/inf weights, wrong layer sizes, missing entries, malicious
pickles (with checksums made to match, as an attacker would), an SB3 ``model.zip`` with a
cloudpickle payload. Outcomes:

* ``clear error``: a CheckpointError naming a file of the checkpoint;
* ``unhelpful``: any other exception, or a CheckpointError without the file;
* ``silent wrong``: loaded, but the weights differ from the saved ones (or should not load);
* ``harmless``: loaded with the saved weights unchanged (a flip in unused bytes);
* ``code execution``: the marker file a pickle payload creates exists.
"""

from __future__ import annotations

import argparse
import base64
import json
import pickle
import shutil
import sys
import tempfile
import warnings
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import envs  # noqa: E402,F401
from agents.common.checkpoint import CheckpointError, save_checkpoint  # noqa: E402
from pipeline.utils import sha256_file  # noqa: E402

MEC = "EdgeRL/MECPartition-v0"
SCHED = {"capacities": 100, "buffer_size": 64, "window_slots": 40, "num_users": 200,
         "action_mode": "shares"}  # fmt: skip
OUTCOMES = ("clear error", "unhelpful", "silent wrong", "harmless", "code execution")


class Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


class Probe:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.marker = root / "PWNED"
        self.counts: Counter[str] = Counter()
        self.rows: list[tuple[str, str, str]] = []

    def run(self, name: str, load: Callable[[], Any], same: Callable[[Any], bool] | None) -> None:
        """``same(result)``: True if what loaded equals the saved model (None: must fail)."""
        self.marker.unlink(missing_ok=True)
        detail = ""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = load()
        except CheckpointError as exc:
            outcome = "clear error" if str(exc.path) in str(exc) else "unhelpful"
            detail = str(exc).splitlines()[0][:150]
        except Exception as exc:  # counting what escapes
            outcome, detail = "unhelpful", f"{type(exc).__name__}: {exc}".splitlines()[0][:150]
        else:
            outcome = "harmless" if same is not None and same(result) else "silent wrong"
        if self.marker.exists():
            outcome = "code execution"
        self.counts[outcome] += 1
        self.rows.append((outcome, name, detail))


def _train_td3(run_dir: Path) -> None:
    from hydra import compose, initialize_config_dir

    from pipeline.train import run
    from pipeline.utils import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose("train", overrides=[
            f"run_dir={run_dir}", f"runs_root={run_dir.parent}", "agent=sb3_td3", "env=mec", "dnn=lenet",
            "agent.net_arch=[16,16]", "agent.learning_starts=20", "agent.batch_size=16",
            "agent.buffer_size=1000", "train.total_steps=60", "train.progress=false",
            "train.eval_every=0", "train.checkpoint_every=0", "train.final_eval_episodes=0",
            "torch_threads=1",
        ])  # fmt: skip
    assert run(cfg) == 0


def _damaged(src: Path, dest: Path, data: bytes) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest


def file_probes(p: Probe, label: str, src: Path, load: Callable[[Path], Any],
                same: Callable[[Any], bool], work: Path) -> None:  # fmt: skip
    raw = src.read_bytes()
    n = len(raw)
    for i, at in enumerate(np.linspace(0, n - 1, 24).astype(int)):
        b = bytearray(raw)
        b[at] ^= 0x20
        f = _damaged(src, work / f"flip{i}" / src.name, bytes(b))
        p.run(f"{label}: flip byte {at}/{n}", lambda f=f: load(f), same)
    for frac in (0.0, 0.1, 0.5, 0.9, 0.999):
        f = _damaged(src, work / f"trunc{frac}" / src.name, raw[: int(n * frac)])
        p.run(f"{label}: truncated to {frac:.1%}", lambda f=f: load(f), None)
    p.run(f"{label}: missing file", lambda: load(work / "missing" / src.name), None)


def payload_probes(p: Probe, label: str, src: Path, load: Callable[[Path], Any],
                   edits: dict[str, tuple[Callable[[dict], None], str]], uses: str,
                   same: Callable[[Any], bool], work: Path) -> None:  # fmt: skip
    """``edits``: name -> (edit, the part it damages: "actor" spec or agent "state");
    a loader that ``uses`` only the other part must load the saved model unchanged."""
    for name, (edit, part) in edits.items():
        payload = torch.load(src, weights_only=True)
        edit(payload)
        f = save_checkpoint(work / f"edit-{name}" / src.name, payload)  # a valid checksum
        p.run(f"{label}: {name}", lambda f=f: load(f), None if part == uses else same)
    evil = work / "evil" / src.name
    evil.parent.mkdir(parents=True, exist_ok=True)
    payload = torch.load(src, weights_only=True)
    payload["actor"] = Evil(p.marker)
    torch.save(payload, evil)
    p.run(f"{label}: malicious pickle", lambda: load(evil), None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--verbose", action="store_true", help="print every probe")
    args = ap.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="edgerl-probe-"))
    root.mkdir(parents=True, exist_ok=True)
    p = Probe(root)

    from agents.iorlo import IoRLO
    from agents.loading import load_actor
    from agents.qlearning import QLearningAgent

    env = gym.make(MEC, dnn="lenet")
    agent = IoRLO(env, seed=0)
    ck = agent.save(root / "iorlo" / "checkpoint.pt", include_buffer=True)
    ref = agent.fast_actor()
    obs = np.stack([env.reset(seed=s)[0] for s in range(8)])
    same_actor = lambda a: np.array_equal(a.act_batch(obs), ref.act_batch(obs))  # noqa: E731
    w0 = agent.actor.state_dict()
    same_agent = lambda a: all(torch.equal(v, a.actor.state_dict()[k]) for k, v in w0.items())  # noqa: E731

    file_probes(p, "load_actor", ck, lambda f: load_actor(f, env=env), same_actor,
                root / "la")  # fmt: skip
    file_probes(p, "IoRLO.load", ck, lambda f: IoRLO.load(f, env), same_agent, root / "il")
    n = env.action_space.shape[0]

    def shrink(pl: dict) -> None:
        pl["actor"]["weights"][-1] = pl["actor"]["weights"][-1][: n - 1]
        pl["actor"]["biases"][-1] = pl["actor"]["biases"][-1][: n - 1]

    def grow_state(pl: dict) -> None:
        k = next(iter(pl["state"]["actor"]))
        pl["state"]["actor"][k] = torch.zeros(3, 3)

    def nan_actor(pl: dict) -> None:
        pl["actor"]["weights"][0][0, 0] = float("nan")

    def inf_critic(pl: dict) -> None:
        next(iter(pl["state"]["critic"].values())).view(-1)[0] = float("inf")

    edits = {  # a non-finite tensor anywhere (but the replay buffer) makes the file unusable
        "NaN actor weight": (nan_actor, "any"),
        "inf in the critic": (inf_critic, "any"),
        "actor output size != env blocks": (shrink, "actor"),
        "state tensor of the wrong size": (grow_state, "state"),
        "missing state entry": (lambda pl: pl["state"].pop("actor"), "state"),
        "missing actor spec": (lambda pl: pl.pop("actor"), "actor"),
    }
    for label, load, uses, same in (
        ("load_actor", lambda f: load_actor(f, env=env), "actor", same_actor),
        ("IoRLO.load", lambda f: IoRLO.load(f, env), "state", same_agent),
    ):
        mine = {k: (e, uses if part == "any" else part) for k, (e, part) in edits.items()}
        payload_probes(p, label, ck, load, mine, uses, same, root / label.replace(".", "_"))
    p.run("load_actor: run dir", lambda: load_actor(ck.parent, env=env), same_actor)

    senv = gym.make("EdgeRL/EdgeScheduling-v0", **SCHED)
    q = QLearningAgent(senv)
    q.q[:] = np.random.default_rng(0).normal(size=q.q.shape)
    qf = q.save(root / "q" / "checkpoint.pt")
    same_q = lambda a: np.array_equal(a.q, q.q)  # noqa: E731
    file_probes(p, "QLearning.load", qf, lambda f: QLearningAgent.load(f, senv), same_q,
                root / "ql")  # fmt: skip
    evil = root / "q-evil" / "checkpoint.pt"
    evil.parent.mkdir()
    torch.save({"format": "edgerl.qlearning", "version": 2, "q": Evil(p.marker)}, evil)
    p.run("QLearning.load: malicious pickle", lambda: QLearningAgent.load(evil, senv), None)

    # ---- SB3 (evaluate.py's load_policy and train.resume's restore)
    from omegaconf import OmegaConf

    from pipeline.config import validate
    from pipeline.runners.sb3 import SB3Runner

    run0 = root / "td3" / "run"
    _train_td3(run0)
    cfg = OmegaConf.load(run0 / "config.yaml")
    spec = validate(cfg, build_env_check=False)
    ref_params = torch.load(run0 / "sb3_checkpoint/params.pt", weights_only=True)
    ref_pol = ref_params["params"]["policy"]

    def sb3_eval(d: Path) -> Any:
        return SB3Runner.load_policy(d, cfg, gym.make(MEC, dnn="lenet")).model.policy

    def sb3_resume(d: Path) -> Any:
        r = SB3Runner(cfg, spec, d, None)
        try:
            r.setup(True)
            return r.model.policy
        finally:
            r.close()

    same_sb3 = lambda pol: all(torch.equal(v, pol.state_dict()[k]) for k, v in ref_pol.items())  # noqa: E731
    k = 0
    for name in ("params.pt", "state.pt", "replay_buffer.npz", "manifest.json"):
        raw = (run0 / "sb3_checkpoint" / name).read_bytes()
        damage = [("flip", at) for at in np.linspace(0, len(raw) - 1, 6).astype(int)]
        damage += [("truncate", 0.5), ("delete", 0)]
        for kind, at in damage:
            for how, loader in (("evaluate", sb3_eval), ("resume", sb3_resume)):
                if how == "evaluate" and name in ("state.pt", "replay_buffer.npz"):
                    continue  # not read by evaluation (still verified by the manifest)
                k += 1
                d = root / "sb3" / f"{k}"
                shutil.copytree(run0, d)
                f = d / "sb3_checkpoint" / name
                if kind == "flip":
                    b = bytearray(raw)
                    b[at] ^= 0x20
                    f.write_bytes(bytes(b))
                elif kind == "truncate":
                    f.write_bytes(raw[: int(len(raw) * at)])
                else:
                    f.unlink()
                p.run(f"SB3 {how}: {kind} {name} @{at}", lambda d=d, lo=loader: lo(d),
                      same_sb3 if kind == "flip" and name == "manifest.json" else None)  # fmt: skip

    def rewrite_manifest(d: Path) -> None:
        mf = d / "sb3_checkpoint/manifest.json"
        meta = json.loads(mf.read_text())
        meta["files"] = {n: sha256_file(d / "sb3_checkpoint" / n) for n in meta["files"]}
        mf.write_text(json.dumps(meta))

    hostile: dict[str, Callable[[Path], None]] = {}

    def evil_params(d: Path) -> None:
        torch.save({"params": {"policy": Evil(p.marker)}}, d / "sb3_checkpoint/params.pt")

    def evil_state(d: Path) -> None:
        torch.save({"counters": Evil(p.marker)}, d / "sb3_checkpoint/state.pt")

    def nan_params(d: Path) -> None:
        pl = torch.load(d / "sb3_checkpoint/params.pt", weights_only=True)
        next(iter(pl["params"]["policy"].values())).view(-1)[0] = float("nan")
        torch.save(pl, d / "sb3_checkpoint/params.pt")

    def small_params(d: Path) -> None:
        pl = torch.load(d / "sb3_checkpoint/params.pt", weights_only=True)
        key = next(iter(pl["params"]["policy"]))
        pl["params"]["policy"][key] = pl["params"]["policy"][key][:3]
        torch.save(pl, d / "sb3_checkpoint/params.pt")

    def legacy_zip(d: Path) -> None:
        shutil.rmtree(d / "sb3_checkpoint")
        blob = base64.b64encode(pickle.dumps(Evil(p.marker))).decode()
        with zipfile.ZipFile(d / "model.zip", "w") as z:
            z.writestr("data", json.dumps({"policy_class": {":serialized:": blob}}))

    for name, fn in (("malicious params.pt", evil_params), ("malicious state.pt", evil_state),
                     ("NaN weight", nan_params), ("layer of the wrong size", small_params)):  # fmt: skip
        for how, loader in (("evaluate", sb3_eval), ("resume", sb3_resume)):
            if how == "evaluate" and name == "malicious state.pt":
                continue
            k += 1
            d = root / "sb3" / f"{k}"
            shutil.copytree(run0, d)
            fn(d)
            rewrite_manifest(d)  # the checksums match: the loader itself must refuse
            hostile[name] = fn
            p.run(f"SB3 {how}: {name} (manifest rewritten)", lambda d=d, lo=loader: lo(d), None)
    for how, loader in (("evaluate", sb3_eval), ("resume", sb3_resume)):
        k += 1
        d = root / "sb3" / f"{k}"
        shutil.copytree(run0, d)
        legacy_zip(d)
        p.run(f"SB3 {how}: malicious legacy model.zip", lambda d=d, lo=loader: lo(d), None)

    # ---- RLlib evaluation (module.pt; rebuilding the module itself needs ray.rllib)
    from hydra import compose, initialize_config_dir

    from pipeline.runners.rllib import RLlibRunner
    from pipeline.utils import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        rcfg = compose("train", overrides=["agent=rllib_ppo", "env=mec", "dnn=lenet"])
    rd = root / "rllib"
    (rd / "rllib_checkpoint").mkdir(parents=True)
    torch.save({"state_dict": Evil(p.marker), "inference_only": False},
               rd / "rllib_checkpoint/module.pt")  # fmt: skip
    meta = {"format": "edgerl-rllib", "signature": {}, "rescaled_actions": False,
            "files": {"module.pt": sha256_file(rd / "rllib_checkpoint/module.pt")}}  # fmt: skip
    (rd / "rllib_checkpoint/manifest.json").write_text(json.dumps(meta))
    p.run("RLlib evaluate: malicious module.pt", lambda: RLlibRunner.load_policy(rd, rcfg, env),
          None)  # fmt: skip
    (rd / "rllib_checkpoint/manifest.json").unlink()
    p.run("RLlib evaluate: no manifest", lambda: RLlibRunner.load_policy(rd, rcfg, env), None)

    total = sum(p.counts.values())
    if args.verbose:
        for outcome, name, detail in p.rows:
            print(f"{outcome:15s} {name}: {detail}")
    print(f"probes tried: {total}")
    for o in OUTCOMES:
        print(f"  {o}: {p.counts[o]}")
    bad = p.counts["unhelpful"] + p.counts["silent wrong"] + p.counts["code execution"]
    if bad:
        for outcome, name, detail in p.rows:
            if outcome in ("unhelpful", "silent wrong", "code execution"):
                print(f"  ! {outcome}: {name}: {detail}")
    if args.workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
