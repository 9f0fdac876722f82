"""Trained on the training mixture, tested on networks never trained on (issue: generalisation).

For each scenario and DNN, every learned agent is trained on ``network=mixture_train`` (v1
defaults, ``observe="measured"``) for each training seed, then evaluated on each network of
the test split one by one (:func:`envs.mixture.split_networks`: the randomised generator and
every held-out mmWave scenario) on the same frames as ``dp_measured``, the oracle, every
heuristic and the best constant decision in hindsight (:mod:`agents.hardness`). SB3 agents
(``sb3_td3``, ``sb3_ppo``) are trained by ``train.py`` with their default configs at the same
budget and loaded back with ``load_actor``. ``--suite robustness`` tests on the real
terminal–edge replays of docs/results.md section 4 instead (MEC; JSON
``benchmarks/out/robustness_v1.json``, markers ``<!-- rob1:begin/end -->``).

Per (scenario, DNN, network) it records each policy's mean cost and mean gap to the oracle
(mean over frames of ``cost / OPT - 1``, frames without a D2D collaborator counted as 0 for
every policy, as in ``info["gap"]``); trained agents per seed. Results accumulate in
``--out`` (JSON, merged on every save), so a run can be extended agent by agent. The tables
are printed; ``--doc docs/results.md`` writes them between ``<!-- gen:begin -->`` and
``<!-- gen:end -->`` of that file instead.

    python benchmarks/generalisation.py --agents dp_forecast dp_distill --seeds 0 1 2 --frames 100000
    python benchmarks/generalisation.py --agents iorlo_plus iorlo --seeds 0
    python benchmarks/generalisation.py --agents sb3_td3 sb3_ppo   # via train.py, same budget
    python benchmarks/generalisation.py --suite robustness --scenario mec --agents dp_forecast dp_distill
    python benchmarks/generalisation.py --observe current --agents iorlo_plus dp_forecast
    python benchmarks/generalisation.py --observe current --dp-features --agents iorlo_plus
    python benchmarks/generalisation.py --history 0.7 0.95 --agents dp_forecast --frames 100000
    python benchmarks/generalisation.py --train-observe current --agents iorlo_plus
    python benchmarks/generalisation.py --train-observe current --agents iorlo_plus --forecast-frame
    python benchmarks/generalisation.py --render --doc docs/results.md   # tables from the JSON
    python benchmarks/generalisation.py --agents iorlo_plus --label prev --agent-kw hidden_critic=128 jump_candidates=whole
    python benchmarks/generalisation.py --out benchmarks/out/other.json --render --block gen2 --doc docs/results.md

``--agent-kw`` trains a variant (config fields other than the defaults) and ``--label`` names
it (``iorlo_plus_prev``); ``--block`` writes a JSON of its own between ``<!-- gen2:begin -->``
and ``<!-- gen2:end -->``.

``--observe current`` lets the agents see the frame they decide (the DP on it is the
oracle); ``--dp-features`` gives the trained agents the exact DP's per-block regrets of the
observed frame in the observation (``env.dp_features=true``); ``--history 0.7 0.95`` running
averages of the measured links and factors over the episode (``env.history``, docs/model.md
§13); ``--train-observe current`` trains the agents on the frame they decide and tests them
with ``--observe`` (what ``python evaluate.py observe=measured`` does with pipeline runs
trained with ``env.observe=current``). Each setting has its own JSON and its own block of
docs/results.md (:data:`MARKERS`). ``--forecast-frame`` also trains a DP-forecast per
(pair, seed) (``--forecast-frames``, same seed) and evaluates each trained agent deciding on
its forecast of the frame (:class:`agents.forecast.ForecastFrameActor`, tag
``+forecast_frame``; what ``python evaluate.py forecast=<dp_forecast run>`` does with
pipeline runs), beside the forecaster itself (``dp_forecast``); in the setting's JSON and
block.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from report.labels import dnn_label

import envs  # noqa: F401  (registers the env ids)
from agents.forecast import FRAME_SUFFIX  # --forecast-frame's tags
from agents.hardness import hardness_report
from envs.mixture import default_data_dir, split_networks
from envs.partition.common import OBSERVE_MODES
from pipeline.aggregate import ratio_ci, vs_best_constant

warnings.filterwarnings("ignore", message=".*is out of date.*")
REPO = Path(__file__).resolve().parents[1]
IDS = {"mec": "EdgeRL/MECPartition-v1", "d2d": "EdgeRL/D2DPartition-v1"}
DNNS = ("alexnet", "vgg16", "resnet32", "mobilenet_v1")
AGENTS = ("dp_forecast", "dp_distill", "iorlo_plus", "iorlo", "sb3_td3", "sb3_ppo")
FRAMES = 40_000  # --frames' default
MARKERS = {  # where --doc writes each suite's tables (``_current``: --observe current,
    # ``_dpf``: --dp-features, ``_hist``: --history, ``_trcur``: --train-observe current)
    "test": ("<!-- gen:begin -->", "<!-- gen:end -->"),
    "test_current": ("<!-- genc:begin -->", "<!-- genc:end -->"),
    "test_current_dpf": ("<!-- gencf:begin -->", "<!-- gencf:end -->"),
    "test_dpf": ("<!-- genf:begin -->", "<!-- genf:end -->"),
    "test_hist": ("<!-- genh:begin -->", "<!-- genh:end -->"),
    "test_trcur": ("<!-- gent:begin -->", "<!-- gent:end -->"),
    "robustness": ("<!-- rob1:begin -->", "<!-- rob1:end -->"),
    "robustness_current": ("<!-- rob1c:begin -->", "<!-- rob1c:end -->"),
    "robustness_trcur": ("<!-- rob1t:begin -->", "<!-- rob1t:end -->"),
}


def train_library(
    agent: str,
    scenario: str,
    dnn: str,
    seed: int,
    frames: int,
    data_dir: str | None,
    observe: str,
    dp_features: bool = False,
    history: tuple[float, ...] = (),
) -> Any:
    """An SB3 agent trained by the pipeline (``train.py``, the agent's default config) and
    loaded back with :func:`agents.loading.load_actor`; only the final checkpoint is kept."""
    from agents.loading import load_actor

    with tempfile.TemporaryDirectory(prefix="edgerl-gen-") as tmp:
        run_dir = Path(tmp) / "run"
        cmd = [sys.executable, str(REPO / "train.py"), f"env={scenario}_v1", f"dnn={dnn}",
               "network=mixture_train", f"agent={agent}", f"seed={seed}",
               f"train.total_steps={frames}", "train.eval_every=0", "train.final_eval_episodes=1",
               "train.checkpoint_every=0", "train.progress=false", f"runs_root={tmp}",
               f"run_dir={run_dir}", f"env.observe={observe}",
               f"env.dp_features={str(dp_features).lower()}",
               f"env.history=[{','.join(map(str, history))}]"]  # fmt: skip
        if data_dir is not None:
            cmd.append(f"data_dir={Path(data_dir).resolve()}")
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
        return load_actor(run_dir)


def train(
    agent: str,
    scenario: str,
    dnn: str,
    seed: int,
    frames: int,
    data_dir: str | None = None,
    observe: str = "measured",
    dp_features: bool = False,
    agent_kw: dict[str, Any] | None = None,
    history: tuple[float, ...] = (),
) -> tuple[Any, float]:
    """A trained actor (``act_batch``) and its training wall-clock in seconds; ``agent_kw``:
    config fields of the agent other than its defaults (not for the SB3 agents)."""
    agent_kw = agent_kw or {}
    env_id = IDS[scenario]
    kw = {"dnn": dnn, "network": "mixture_train", "observe": observe, "dp_features": dp_features,
          "history": tuple(history)}  # fmt: skip
    t0 = time.perf_counter()
    if agent.startswith("sb3_"):
        if agent_kw:
            raise ValueError("--agent-kw applies to the project's agents, not to SB3's")
        actor = train_library(
            agent, scenario, dnn, seed, frames, data_dir, observe, dp_features, history
        )
    elif agent in ("dp_forecast", "dp_distill"):
        from agents.distill import DPDistill
        from agents.forecast import DPForecast

        learner = (DPForecast if agent == "dp_forecast" else DPDistill)(
            env_id, kw, seed=seed, **agent_kw
        )
        learner.learn(frames)
        actor = learner.fast_actor()
        learner.close()
    else:
        from agents.iorlo import IoRLO, IoRLOPlus

        learner = (IoRLOPlus if agent == "iorlo_plus" else IoRLO)(
            gym.make(env_id, **kw), seed=seed, **agent_kw
        )
        learner.learn(frames)
        actor = learner.fast_actor()
    return actor, time.perf_counter() - t0


def evaluate(
    actors: dict[str, Any],
    scenario: str,
    dnn: str,
    network: Any,
    episodes: int,
    seed: int,
    observe: str = "measured",
    dp_features: bool = False,
    history: tuple[float, ...] = (),
) -> dict[str, dict[str, float]]:
    """Mean cost and gap of each actor and of ``dp_measured`` / the oracle on one network
    (with ``observe="current"`` the DP on the observed frame is the oracle), and each
    actor's :func:`pipeline.aggregate.ratio_ci` against ``dp_measured``."""
    out: dict[str, dict[str, float]] = {}
    modes = {"discrete": {}, "continuous": {}}
    for name, actor in actors.items():
        mode = getattr(actor, "action_mode", None) or (
            "discrete" if getattr(actor, "output", "") == "argmax" else "continuous"
        )
        modes[mode][name] = actor
    for mode, group in modes.items():
        if not group and mode == "continuous":
            continue
        vec = gym.make_vec(IDS[scenario], num_envs=episodes, vectorization_mode="vector_entry_point",
                           dnn=dnn, network=network, action_mode=mode, oracle=False,
                           observe=observe, dp_features=dp_features, history=history)  # fmt: skip
        base = vec.unwrapped
        obs, _ = vec.reset(seed=seed)
        costs = {n: [] for n in (*group, "dp_measured", "oracle")}
        ratios = {n: [] for n in (*group, "dp_measured")}
        for _ in range(base.max_episode_steps):
            true, seen = base.problem, base.measured_problem
            avail = base.sim.available
            include = np.ones(episodes, bool) if avail is None else avail.copy()
            opt = true.optimum()[1]
            picks = {n: base.env.action_to_decision(a.act_batch(obs)) for n, a in group.items()}
            picks["dp_measured"] = seen.optimum()[0]
            for n, d in picks.items():
                d = d.copy()
                d[~include] = 0  # no collaborator: the env runs every block locally
                c = true.evaluate(d).cost
                costs[n].append(c)
                ratios[n].append(c / opt)
            costs["oracle"].append(opt)
            obs, *_ = vec.step(np.zeros(vec.action_space.shape, dtype=vec.action_space.dtype))
        vec.close()
        reference = np.mean(costs["dp_measured"], axis=0)  # per episode
        for n in costs:
            if n in out:
                continue
            entry = {"cost": float(np.mean(costs[n]))}
            if n in ratios:
                entry["gap"] = float(np.mean(ratios[n]) - 1.0)
            if n in group:
                entry["ratio_ci"] = list(ratio_ci(np.mean(costs[n], axis=0), reference))
            out[n] = entry
    return out


def suite_networks(suite: str, data: Path) -> dict[str, Any]:
    """Test networks by name: ``test`` is the held-out split of the mixture; ``robustness``
    the real terminal–edge replays of docs/results.md section 4 (Lumos5G downlink, 5G-MeMU
    uplink and RTT of the same technology and mobility; MEC only)."""
    if suite == "test":
        return split_networks(data, "test")
    from report.sections import trace_specs

    if not (data / "traces" / "lumos5g").is_dir():
        raise FileNotFoundError(f"--suite robustness needs {data}/traces/lumos5g")
    return {s["trace"]: s["spec"] for s in trace_specs(data) if s["variant"] == "te"}


#: the evaluation's defaults (--episodes, --seed), and that of the JSONs written before
#: pairs recorded theirs (every one used these)
EVAL_DEFAULT = {"episodes": 30, "seed": 12345}


def eval_setting(results: dict[str, Any]) -> dict[str, int]:
    """The evaluation episodes and seed of ``results`` (one per JSON: :func:`measure`
    refuses to mix frames), or ``EVAL_DEFAULT`` for a JSON that did not record it."""
    got = [res.get("eval", EVAL_DEFAULT) for res in results.values()]
    return got[0] if got else EVAL_DEFAULT


def measure(args: argparse.Namespace, results: dict[str, Any]) -> None:
    setting = {"episodes": args.episodes, "seed": args.seed}
    if results and eval_setting(results) != setting:
        have = eval_setting(results)
        raise SystemExit(
            f"{args.out} was evaluated on {have['episodes']} episodes (seed {have['seed']}); "
            f"--episodes {args.episodes} --seed {args.seed} would put other frames beside "
            "them: pass the same values or another --out"
        )
    data = Path(args.data_dir) if args.data_dir else default_data_dir()
    networks = suite_networks(args.suite, data)
    for scenario in args.scenario:
        for dnn in args.dnn:
            key = f"{scenario}/{dnn}"
            res = results.setdefault(key, {"networks": {}, "train_s": {}, "eval": setting})
            for name, spec in networks.items():  # baselines once per network
                entry = res["networks"].setdefault(name, {})
                if "hardness" not in entry:
                    rep = hardness_report(IDS[scenario], episodes=args.episodes, seed=args.seed,
                                          dnn=dnn, network=spec, observe=args.observe)  # fmt: skip
                    entry["hardness"] = {
                        "best_constant_gap": rep.best_constant_gap,
                        "heuristics": {n: p.gap for n, p in rep.policies.items()},
                    }
                    base = evaluate({}, scenario, dnn, spec, args.episodes, args.seed,
                                    args.observe)  # fmt: skip
                    entry["dp_measured"], entry["oracle"] = base["dp_measured"], base["oracle"]
                    print(f"{key} {name}: best constant {100 * rep.best_constant_gap:.2f}%, "
                          f"dp_measured {100 * base['dp_measured']['gap']:.2f}%", flush=True)  # fmt: skip
            for agent in args.agents:
                for seed in args.seeds:
                    label = f"_{args.label}" if args.label else ""
                    flags = ("+dpf" if args.dp_features else "") + ("+hist" if args.history else "")
                    flags += (
                        f"+train_{args.train_observe}" if args.train_observe != args.observe else ""
                    )
                    tag = f"{agent}{label}{flags}/seed{seed}"
                    tags = [tag]
                    if args.forecast_frame:  # the composite, and its forecaster on its own
                        tags += [f"{agent}{label}{flags}{FRAME_SUFFIX}/seed{seed}",
                                 f"dp_forecast/seed{seed}"]  # fmt: skip
                    if all(t in res["train_s"] for t in tags) and not args.force:
                        continue
                    torch.manual_seed(seed)
                    actor, wall = train(agent, scenario, dnn, seed, args.frames, args.data_dir,
                                        args.train_observe, args.dp_features, args.agent_kw,
                                        args.history)  # fmt: skip
                    actors, walls = {tag: actor}, {tag: wall}
                    frames: dict[str, int | str] = {tag: args.frames}
                    if args.forecast_frame:
                        from agents.forecast import ForecastFrameActor

                        torch.manual_seed(seed)
                        fc, fc_wall = train("dp_forecast", scenario, dnn, seed,
                                            args.forecast_frames, args.data_dir, args.observe)  # fmt: skip
                        actors[tags[1]] = ForecastFrameActor(actor, fc)
                        walls[tags[1]] = wall + fc_wall
                        frames[tags[1]] = f"{args.frames:,} + {args.forecast_frames:,}"
                        actors[tags[2]], walls[tags[2]] = fc, fc_wall
                        frames[tags[2]] = args.forecast_frames
                    for name, spec in networks.items():
                        got = evaluate(actors, scenario, dnn, spec, args.episodes, args.seed,
                                       args.observe, args.dp_features, args.history)  # fmt: skip
                        for t in actors:
                            res["networks"][name][t] = got[t]
                    for t in actors:
                        res["train_s"][t] = walls[t]
                        res.setdefault("frames", {})[t] = frames[t]
                        mean = np.mean([res["networks"][n][t]["gap"] for n in networks])
                        print(f"{key} {t}: trained {walls[t]:.0f} s, mean test gap "
                              f"{100 * mean:.2f}%", flush=True)  # fmt: skip
                    save(args.out, results)


def _merge(into: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    for k, v in new.items():
        into[k] = _merge(into[k], v) if isinstance(v, dict) and isinstance(into.get(k), dict) else v
    return into


def save(path: Path, results: dict[str, Any]) -> None:
    """Write ``results`` merged into what is on disk (a run adds its agents to the file)."""
    from filelock import FileLock

    from pipeline.utils import atomic_write_json

    with FileLock(f"{path}.lock"):  # several runs (one per agent) may share the file
        disk = json.loads(path.read_text()) if path.is_file() else {}
        atomic_write_json(path, _merge(disk, results))


def _frames(f: int | str) -> str:
    """A training budget in frames; a composite's is already text (``"40,000 + 100,000"``)."""
    return f if isinstance(f, str) else f"{f:,}"


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def _at_or_below(cost: float, reference: float) -> bool:
    """``cost <= reference`` where a tie is a tie: the same decisions' costs summed in
    another order differ in the last bits."""
    return cost <= reference * (1 + 1e-9)


def _pair_order(key: str) -> tuple[int, int, str]:
    """Tables in a fixed order (MEC then D2D, DNNS order), whichever run wrote a pair first."""
    scenario, dnn = key.split("/", 1)
    s = list(IDS).index(scenario) if scenario in IDS else len(IDS)
    d = DNNS.index(dnn) if dnn in DNNS else len(DNNS)
    return s, d, key


def _metrics(res: dict[str, Any], got: dict[str, dict[str, float]]) -> dict[str, float]:
    """A policy's numbers over a pair's networks (``got[network]``: its ``cost`` and
    ``gap``): mean gap, mean cost ratio to ``dp_measured``, networks at or below it, mean
    cost vs each network's best constant, worst gap minus the best heuristic's; ``above``:
    networks whose :func:`pipeline.aggregate.ratio_ci` lies above 1 (None unless every
    network has one)."""
    nets = res["networks"]
    cost = np.array([got[n]["cost"] for n in nets])
    gap = np.array([got[n]["gap"] for n in nets])
    dpm = np.array([nets[n]["dp_measured"]["cost"] for n in nets])
    const = np.array([nets[n]["hardness"]["best_constant_gap"] for n in nets])
    heur = np.array([_best_heuristic(nets[n])[0] for n in nets])
    return {
        "gap": float(gap.mean()),
        "ratio": float(np.mean(cost / dpm)),
        "below": int(sum(_at_or_below(c, d) for c, d in zip(cost, dpm, strict=True))),
        "vs_constant": vs_best_constant(gap, const),
        "worst": float(np.max(gap - heur)),
        "above": (
            sum(got[n]["ratio_ci"][0] > 1 for n in nets)
            if all("ratio_ci" in got[n] for n in nets)
            else None
        ),
    }


def _summary_row(
    res: dict[str, Any], name: str, got: dict[str, dict[str, float]], frames: str, train: str
) -> str:
    """One row of a pair's summary: ``got[network]`` holds a policy's ``cost`` and ``gap``."""
    m = _metrics(res, got)
    below = f"{m['below']}/{len(res['networks'])}"
    below += "" if m["above"] is None else f" ({m['above']} above)"
    return (f"| {name} | {frames} | {m['ratio']:.4f} | {below} | "
            f"{m['vs_constant']:.3f} | {100 * m['worst']:+.2f} | {train} |")  # fmt: skip


def _has_ci(results: dict[str, Any]) -> bool:
    """Whether any trained agent's entry holds a :func:`pipeline.aggregate.ratio_ci`
    (JSONs of older runs do not; their blocks render as they did)."""
    return any("ratio_ci" in v for res in results.values() for e in res["networks"].values()
               for v in e.values() if isinstance(v, dict))  # fmt: skip


def _best_heuristic(entry: dict[str, Any]) -> tuple[float, str]:
    """(gap, name) of the best heuristic on one network (``dp_measured`` is not one)."""
    h = entry["hardness"]["heuristics"]
    return min((g, k) for k, g in h.items() if k != "dp_measured")


def _span(values: list[float], fmt: str) -> str:
    """``lo–hi`` (one value when they agree at ``fmt``) of ``values``."""
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return lo if lo == hi else f"{lo} to {hi}" if "+" in fmt else f"{lo}–{hi}"


def robustness_reading(results: dict[str, Any]) -> list[str]:
    """The robustness block's text: what the replays are, then per agent (its training seeds
    pooled) and DNN the mean gap, the cost against ``dp_measured`` and the worst trace
    against the best heuristic, computed from ``results`` (nothing typed in by hand)."""
    lines = [
        "The same six **te** replays on the v1 MEC env (its cost model: platform load, "
        "one-way latency reading: a different cost model from the tables above, so compare "
        "within these tables, not across), agents trained on `mixture_train`. "
        "These replays are not held out: the uplink/RTT files of five of the six traces (all "
        "but 4G drive 50015, whose `driving/lte` pair is a test scenario) and the downlinks of "
        "four (all but 5G walk 100 and 4G walk 50008) are in the training split, though the "
        "mixture draws downlinks and uplink pairs independently rather than as these fixed "
        "triples; section 7 is the held-out test. Computed from the tables below:",
        "",
    ]
    agents = sorted({t.split("/seed")[0] for res in results.values() for t in res["train_s"]})
    for agent in agents:
        parts, seeds, frames = [], set(), set()
        for key, res in results.items():
            nets = list(res["networks"])
            tags = sorted(t for t in res["train_s"] if t.split("/seed")[0] == agent)
            if not tags:
                continue
            seeds.update(int(t.split("/seed")[1]) for t in tags)
            frames.update(res["frames"][t] for t in tags if t in res.get("frames", {}))
            m = [_metrics(res, {n: res["networks"][n][t] for n in nets}) for t in tags]
            gaps = [100 * x["gap"] for x in m]
            ratio = [x["ratio"] for x in m]
            below = [x["below"] for x in m]
            worst = [100 * x["worst"] for x in m]
            dp = 100 * np.mean([res["networks"][n]["dp_measured"]["gap"] for n in nets])
            parts.append(
                f"{dnn_label(key.split('/')[1])} gap {_span(gaps, '.2f')}% (`dp_measured` "
                f"{dp:.2f}%), cost vs `dp_measured` {_span(ratio, '.4f')}, at or below it on "
                f"{_span(below, 'd')} of {len(nets)} traces, worst trace "
                f"{_span(worst, '+.2f')} points from the best heuristic"
            )
        seed_txt = ", ".join(str(x) for x in sorted(seeds))
        shown = [_frames(f) for f in sorted(frames, key=lambda f: (isinstance(f, str), f))]
        budget = ", ".join(shown) + " frames, " if frames else ""
        lines.append(f"* **{agent}** ({budget}seeds {seed_txt}): " + "; ".join(parts) + ".")
    return [*lines, ""]


def render(results: dict[str, Any], args: argparse.Namespace) -> str:
    begin, end = args.markers
    ev = eval_setting(results)  # the frames the JSON was measured on, not this command's
    if args.suite == "test":
        title = "Generalisation: trained on `mixture_train`, tested on unseen networks"
        how = (
            "Regenerate: `python benchmarks/generalisation.py --agents dp_forecast dp_distill "
            "--frames 100000`, `... --agents iorlo_plus --seeds 0 1 2`, `... --agents iorlo "
            "--seeds 0`, `... --agents sb3_ppo --seeds 0`, `... --agents sb3_td3 --seeds 0 "
            "--scenario mec --dnn alexnet` (SB3 TD3 on one pair: 20–50 minutes of training per "
            "pair on 2 cores), then `... --render --doc docs/results.md` (see its "
            "docstring; training frames per agent in each summary). "
        )
        nets_doc = (
            "test networks: the randomised generator and each held-out mmWave scenario "
            "(`envs.mixture.split_networks`)"
        )
    else:
        title = "v1 agents (trained on `mixture_train`) on the real TE replays above"
        how = (
            "Regenerate: `python benchmarks/generalisation.py --suite robustness --scenario mec "
            "--agents dp_forecast dp_distill --frames 100000`, `... --suite robustness --scenario mec "
            "--agents iorlo_plus --seeds 0 1 2`, then `... --suite robustness --scenario mec "
            "--render --doc docs/results.md`. "
        )
        nets_doc = (
            "networks: the **te** variant of each trace above (real TE downlink, uplink and "
            "RTT; other links from the 5g_trial generator), on the v1 MEC env"
        )
    if args.observe == "current":
        title += ', `observe="current"`'
        how = (
            "Regenerate: `python benchmarks/generalisation.py --observe current --agents "
            "iorlo_plus dp_forecast --seeds 0 1 2` (one process per `--scenario` may share "
            "the JSON; `iorlo_plus_prev`, IoRLO+'s v1 default until 2026-12-05: `... --observe "
            "current --agents iorlo_plus --label prev --agent-kw hidden_critic=128 "
            "jump_candidates=whole`), then `... --observe current --render --doc "
            "docs/results.md`. "
        )
        setting = (
            'v1 defaults except `observe="current"` (the agents see this frame, so '
            "`dp_measured` is the oracle), "
        )
    else:
        setting = 'v1 defaults (`observe="measured"`), '
    if args.dp_features:
        title += ", DP features in the observation"
        flags = f"--observe {args.observe} --dp-features"
        how = (
            f"Regenerate: `python benchmarks/generalisation.py {flags} --agents iorlo_plus "
            f"--scenario mec --dnn alexnet vgg16 --seeds 0 1 2`, then `... {flags} --render "
            "--doc docs/results.md`. "
        )
        setting += (
            "and the trained agents observe the exact DP's per-block regrets of the observed "
            "frame (`env.dp_features=true`, docs/model.md §13), "
        )
    if args.history:
        decays = " ".join(map(str, args.history))
        title += ", observation history"
        flags = f"--observe {args.observe} --history {decays}"
        how = (
            f"Regenerate: `python benchmarks/generalisation.py {flags} --agents dp_forecast "
            f"--frames 100000 --seeds 0 1 2` and `... {flags} --agents iorlo_plus --seeds 0 1 2`; "
            "the rows without `+hist` (the same agents without the history, on the same "
            "frames; IoRLO+ seed 0, block 1 has its seeds 0-2) by the same commands without "
            "`--history` and with `--out "
            f"benchmarks/out/generalisation_hist.json`; then `... {flags} --render --doc "
            "docs/results.md`. "
        )
        setting += (
            "and the trained agents observe running averages of the measured links and "
            f"factors over the episode (`env.history=[{', '.join(map(str, args.history))}]`, "
            "docs/model.md §13), "
        )
    if args.train_observe != args.observe:
        title += f', trained with `observe="{args.train_observe}"`'
        flags = f"--observe {args.observe} --train-observe {args.train_observe}"
        if args.suite == "robustness":
            flags = f"--suite robustness --scenario mec {flags}"
        how = (
            f"Regenerate: `python benchmarks/generalisation.py {flags} --agents iorlo_plus "
            f"--seeds 0 1 2`, then `... {flags} --render --doc docs/results.md`. "
        )
        what = ("on the frame they decide, which the simulator reveals; "
                if args.train_observe == "current" else "")  # fmt: skip
        setting += (
            f'but the agents were trained with `observe="{args.train_observe}"` ({what}'
            f"`python evaluate.py observe={args.observe}` does the same with pipeline runs), "
        )
        if any(FRAME_SUFFIX in t for res in results.values() for t in res["train_s"]):
            how += (
                f"The `{FRAME_SUFFIX}` rows and their forecasters (`dp_forecast`, trained with "
                "the same seed for the frames shown, without history): `python "
                f"benchmarks/generalisation.py {flags} --agents iorlo_plus --seeds 0 1 2 "
                "--forecast-frame`. "
            )
            setting += (
                f"the `{FRAME_SUFFIX}` rows decide on `dp_forecast`'s forecast of the frame "
                "instead of the measurement (`agents.forecast.ForecastFrameActor`; `python "
                "evaluate.py forecast=<dp_forecast run>` with pipeline runs), "
            )
    if args.block is not None:  # a block of its own: its JSON and the command that fills it
        out = args.out.resolve()
        out = out.relative_to(REPO) if out.is_relative_to(REPO) else out
        suite = "--suite robustness --scenario mec " if args.suite == "robustness" else ""
        flags = f"{suite}--observe {args.observe}" + (" --dp-features" if args.dp_features else "")
        flags += f" --history {' '.join(map(str, args.history))}" if args.history else ""
        flags += (
            f" --train-observe {args.train_observe}" if args.train_observe != args.observe else ""
        )
        for key in ("episodes", "seed"):  # the JSON's evaluation, where not the default
            flags += f" --{key} {ev[key]}" if ev[key] != EVAL_DEFAULT[key] else ""
        agents = sorted({t.split("/seed")[0] for res in results.values() for t in res["train_s"]})
        # the training budget, where every agent of the JSON had the same non-default one
        budgets = {f for res in results.values() for f in res.get("frames", {}).values()}
        train_flags = ""
        if len(budgets) == 1 and (frames := budgets.pop()) not in (None, FRAMES):
            train_flags = f" --frames {frames}"
        how = (
            f"Regenerate: `python benchmarks/generalisation.py {flags}{train_flags} --agents ... "
            f"--out {out}` "
            f"(agents here: {', '.join(f'`{a}`' for a in agents)}), then `... {flags} --out "
            f"{out} --render --block {args.block} --doc docs/results.md`. "
        )
        title += f": {', '.join(agents)}"
    lines = [begin, "", f"### {title}", ""]
    lines += [
        how + setting + f"evaluation on {ev['episodes']} episodes × 100 frames per network (seed "
        f"{ev['seed']}); {nets_doc}. Gap = mean over frames of cost / oracle − 1 "
        "(%); **cost vs dp_measured** = mean cost of the agent / mean cost of `dp_measured` "
        "on the same frames (below 1: better); trained agents per training seed (s0/s1/s2)."
        + (
            ' In the column of networks with cost ≤ `dp_measured`, "(k above)": on k networks '
            "the 95% confidence interval of the cost ratio (paired bootstrap over the episodes) "
            "lies above 1; elsewhere a ratio above 1 is within the evaluation's noise."
            if _has_ci(results)
            else ""
        ),
        "",
    ]
    if args.suite == "robustness":
        lines += robustness_reading(results)
    for key, res in sorted(results.items(), key=lambda kv: _pair_order(kv[0])):
        nets = list(res["networks"])
        tags = sorted({t for n in nets for t in res["networks"][n] if "/seed" in t})
        lines += [f"#### {key}", ""]
        head = ["network", "oracle cost", "best const gap", "best heuristic gap",
                "dp_measured gap"] + [f"{t} gap" for t in tags]  # fmt: skip
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for n in nets:
            e = res["networks"][n]
            best = _best_heuristic(e)
            row = [n, f"{e['oracle']['cost']:.1f}", _pct(e["hardness"]["best_constant_gap"]),
                   f"{_pct(best[0])} ({best[1]})", _pct(e["dp_measured"]["gap"])]  # fmt: skip
            row += [_pct(e[t]["gap"]) if t in e else "–" for t in tags]
            lines.append("| " + " | ".join(row) + " |")
        mean = ["**mean**", "", _pct(np.mean([res["networks"][n]["hardness"]["best_constant_gap"]
                                               for n in nets])), "",
                _pct(np.mean([res["networks"][n]["dp_measured"]["gap"] for n in nets]))]  # fmt: skip
        mean += [_pct(np.mean([res["networks"][n][t]["gap"] for n in nets])) for t in tags]
        lines.append("| " + " | ".join(mean) + " |")
        lines.append("")
        summary = ["| agent | training frames | mean cost vs dp_measured | networks with cost ≤ "
                   "dp_measured | mean cost vs best constant | worst gap − best heuristic's "
                   "(points) | train s |", "|---|---|---|---|---|---|---|"]  # fmt: skip
        # the references first: what the targets ask of an agent on this pair (a policy that
        # matches dp_measured is this far below the best constant; none does better than the
        # clairvoyant oracle)
        oracle = {n: {"cost": res["networks"][n]["oracle"]["cost"], "gap": 0.0} for n in nets}
        dpm = {n: res["networks"][n]["dp_measured"] for n in nets}
        summary.append(_summary_row(res, "dp_measured (reference)", dpm, "–", "–"))
        if args.observe != "current":  # with the current state dp_measured is the oracle
            summary.append(_summary_row(res, "oracle (clairvoyant)", oracle, "–", "–"))
        for t in tags:
            got = {n: res["networks"][n][t] for n in nets}
            frames = res.get("frames", {}).get(t, args.frames)
            summary.append(_summary_row(res, t, got, _frames(frames), f"{res['train_s'][t]:.0f}"))
        lines += [*summary, ""]
    lines.append(end)
    return "\n".join(lines)


def parse_agent_kw(items: list[str]) -> dict[str, Any]:
    """``FIELD=VALUE`` pairs as config fields (values parsed as YAML: ``128``, ``[64, 64]``,
    ``whole``); the agent's config validates them when it is built."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        field, sep, value = item.partition("=")
        if not sep or not field:
            raise SystemExit(f"--agent-kw wants FIELD=VALUE, got {item!r}")
        out[field] = yaml.safe_load(value)
    return out


def splice(path: Path, block: str, markers: tuple[str, str]) -> None:
    from pipeline.utils import atomic_write_text

    begin, end = markers
    text = path.read_text()
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    atomic_write_text(path, text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agents", nargs="*", default=["dp_forecast"], choices=AGENTS)
    p.add_argument("--scenario", nargs="+", default=["mec", "d2d"], choices=list(IDS))
    p.add_argument("--dnn", nargs="+", default=list(DNNS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--frames", type=int, default=FRAMES, help="training frames (env steps)")
    p.add_argument("--episodes", type=int, default=EVAL_DEFAULT["episodes"],
                   help="evaluation episodes per network")  # fmt: skip
    p.add_argument("--seed", type=int, default=EVAL_DEFAULT["seed"], help="evaluation seed")
    p.add_argument("--data-dir", default=None)
    p.add_argument(
        "--suite",
        choices=("test", "robustness"),
        default="test",
        help="test networks: the mixture's test split, or section 4's real TE replays (MEC)",
    )
    p.add_argument(
        "--observe",
        choices=OBSERVE_MODES,
        default="measured",
        help="what the agents observe: the v1 default (last frame's measurement) or this frame",
    )
    p.add_argument(
        "--train-observe",
        choices=OBSERVE_MODES,
        default=None,
        help="what the agents observe in training (default: --observe); current with --observe "
        "measured trains on the frame decided and tests on the last frame's measurement",
    )
    p.add_argument(
        "--dp-features",
        action="store_true",
        help="trained agents observe the DP regrets of the observed frame (env.dp_features)",
    )
    p.add_argument(
        "--history",
        nargs="+",
        type=float,
        default=[],
        metavar="DECAY",
        help="trained agents observe running averages of the measured links over the episode "
        "with these decays (env.history, e.g. 0.7 0.95)",
    )
    p.add_argument(
        "--agent-kw",
        nargs="+",
        default=[],
        metavar="FIELD=VALUE",
        help="config fields of the trained agents other than their defaults (YAML values, "
        "e.g. hidden_critic=128 jump_candidates=whole); use with --label",
    )
    p.add_argument(
        "--label", default="", help="appended to the agents' names in the tables (variants)"
    )
    p.add_argument(
        "--block",
        default=None,
        help="write between <!-- BLOCK:begin/end --> of --doc instead of the setting's block",
    )
    p.add_argument(
        "--forecast-frame",
        action="store_true",
        help="also train a dp_forecast per pair and seed and evaluate each agent deciding on "
        "its forecast of the frame (with --observe measured)",
    )
    p.add_argument(
        "--forecast-frames",
        type=int,
        default=100_000,
        help="training frames of --forecast-frame's dp_forecast",
    )
    p.add_argument("--out", type=Path, default=None, help="JSON (default: per suite, observe)")
    p.add_argument("--force", action="store_true", help="retrain agents already in --out")
    p.add_argument("--render", action="store_true", help="no training: tables from --out only")
    p.add_argument(
        "--doc", type=Path, default=None, help="write the tables into this Markdown file"
    )
    args = p.parse_args(argv)
    if args.suite == "robustness" and args.scenario != ["mec"]:
        p.error("--suite robustness replays the terminal-edge link: use --scenario mec")
    args.block_key = args.suite + ("_current" if args.observe == "current" else "")
    args.block_key += "_dpf" if args.dp_features else ""
    args.block_key += "_hist" if args.history else ""
    args.train_observe = args.train_observe or args.observe
    args.block_key += f"_tr{args.train_observe[:3]}" if args.train_observe != args.observe else ""
    if args.block is None and args.block_key not in MARKERS:
        p.error(f"no block of docs/results.md for this setting ({args.block_key}): use --block")
    args.history = tuple(args.history)
    if args.forecast_frame and (args.observe != "measured" or args.dp_features or args.history):
        p.error("--forecast-frame decides on a forecast of the measured frame: --observe "
                "measured, without --dp-features or --history")  # fmt: skip
    if args.forecast_frame and not {"iorlo_plus", "iorlo"} >= set(args.agents):
        p.error("--forecast-frame applies to --agents iorlo_plus and iorlo")
    args.markers = (
        MARKERS[args.block_key]
        if args.block is None
        else (f"<!-- {args.block}:begin -->", f"<!-- {args.block}:end -->")
    )
    args.agent_kw = parse_agent_kw(args.agent_kw)
    if args.agent_kw and not args.label:
        p.error("--agent-kw needs --label (the variant's name in the tables)")
    if args.out is None:
        name = "generalisation" if args.suite == "test" else "robustness_v1"
        args.out = REPO / "benchmarks/out" / f"{name}{args.block_key[len(args.suite) :]}.json"
    torch.set_num_threads(1)
    results = json.loads(args.out.read_text()) if args.out.is_file() else {}
    if not args.render:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        measure(args, results)
        save(args.out, results)
    block = render(results, args)
    if args.doc is None:
        print(block)
    else:
        splice(args.doc, block, args.markers)
        print(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
