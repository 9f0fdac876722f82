"""``python train.py``: validate the config, train one agent, checkpoint, evaluate.

Run directory (``cfg.run_dir``, default ``runs/<env tag>/<agent>[/<overrides>]/seed<k>``,
``<overrides>`` being the job's sanitised Hydra ``override_dirname``)::

    config.yaml          the resolved config of the run
    overrides.yaml       the command-line overrides (for the resume hint)
    state.json           status (running / interrupted / trained / done / failed), steps of
                         the last checkpoint, phase, error
    events.out.tfevents.*   TensorBoard (shared tags; one file per session)
    <checkpoint>         runner-specific (checkpoint.pt, sb3_checkpoint/, rllib_checkpoint/),
                         one atomic unit with a checksum
    .lock                the run's lock (pipeline.utils.RunLock): one writer at a time
    metrics.json         final evaluation, steps, wall-clock, SPS (written at the end)
    .hydra/, train.log   Hydra's own copy of the config and the log

Running the command of a finished run again (``make run`` twice, a sweep run again) prints one
line saying so and the run's evaluation from ``metrics.json``, and exits 0 (a sweep goes on
with its other jobs); ``train.overwrite=true`` replaces the run, ``train.resume=true`` with a
larger ``train.total_steps`` continues it. :func:`run_objective` is what ``train.py``'s
``main`` returns (Hydra's Optuna sweeper minimises it).

Ctrl-C (or SIGTERM) stops at the next safe point, saves the checkpoint and exits with status
130; ``train.resume=true`` with the same overrides continues from it. Faults (Ctrl-C outside
training, OSErrors such as a full disk, a bad checkpoint on resume) end with one line on
stderr and ``state.json`` marked ``interrupted`` / ``failed`` (see ``_train``).
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shlex
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from pipeline.config import ConfigError, RunSpec, validate
from pipeline.utils import (
    RunDirBusy,
    RunLock,
    atomic_write_json,
    atomic_write_text,
    clean_stale_temp,
    read_json,
    to_plain,
)

log = logging.getLogger("edgerl")

EXIT_FAILED = 1
EXIT_CONFIG_ERROR = 2
EXIT_BUSY = 75  # EX_TEMPFAIL: another process holds the run directory
EXIT_INTERRUPTED = 130
#: files of a run directory that are not the run's results (kept by clear/remove_if_fresh)
KEEP: tuple[str, ...] = (".hydra", RunLock.name)
#: config sections that may change when resuming (everything else must match the run's)
RESUMABLE_CHANGES: tuple[str, ...] = ("train", "runs_root", "run_dir", "data_dir", "torch_threads")


def _hydra_overrides() -> list[str]:
    try:
        from hydra.core.hydra_config import HydraConfig

        return list(HydraConfig.get().overrides.task)
    except Exception:
        return []


def _is_multirun() -> bool:
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        return HydraConfig.get().mode == RunMode.MULTIRUN
    except Exception:
        return False


def resume_command(overrides: list[str]) -> str:
    keep = [o for o in overrides if o.split("=", 1)[0].lstrip("+~") not in ("train.resume",)]
    return " ".join(["python train.py", *map(shlex.quote, keep), "train.resume=true"])


def _comparable(cfg_plain: dict[str, Any]) -> dict[str, Any]:
    """A run's config without what may change between two commands of the same run: the
    RESUMABLE_CHANGES and the default budgets ``env.train_steps`` and ``agent.train_steps``
    (budgets, like ``train.total_steps``; runs made before they existed have none)."""
    out = {k: v for k, v in cfg_plain.items() if k not in RESUMABLE_CHANGES}
    for section in ("env", "agent"):
        if isinstance(out.get(section), dict):
            out[section] = {k: v for k, v in out[section].items() if k != "train_steps"}
    return out


def _with_predated_defaults(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``old`` (a saved run's config) with the env arguments and agent fields it predates: a
    run made before such a key existed ran with its default (the schema nodes of
    :mod:`pipeline.schemas`), so where ``new`` holds that default the two configs agree."""
    from pipeline.schemas import AGENT_SCHEMAS, agent_schema, env_schema

    out = dict(old)
    for section, defaults in (
        ("env", lambda c: env_schema(c["id"]) if "id" in c else {}),
        ("agent", lambda c: agent_schema(AGENT_SCHEMAS[c.get("name")])
         if c.get("name") in AGENT_SCHEMAS else {}),
    ):  # fmt: skip
        o, n = old.get(section), new.get(section)
        if not (isinstance(o, dict) and isinstance(n, dict)):
            continue
        try:
            known = defaults(n)
        except Exception:  # an env or agent that cannot be looked up: compare as saved
            continue
        out[section] = {**o, **{k: n[k] for k in set(n) - set(o) if known.get(k, o) == n[k]}}
    return out


def _diff(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _diff(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return [] if a == b else [f"{prefix[:-1]}: run has {a!r}, now {b!r}"]


class RunDir:
    """The files of one run directory."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).resolve()

    @property
    def state_file(self) -> Path:
        return self.path / "state.json"

    def state(self) -> dict[str, Any] | None:
        return read_json(self.state_file) if self.state_file.is_file() else None

    def write_state(self, **fields: Any) -> None:
        state = self.state() or {}
        state.update(fields, updated=time.strftime("%Y-%m-%dT%H:%M:%S"))
        atomic_write_json(self.state_file, state)

    def write_state_in_place(self, **fields: Any) -> None:
        """:meth:`write_state` without a temp file, for a full disk: overwriting the
        existing file's blocks usually needs no new space. Best effort."""
        try:
            state = self.state() or {}
            state.update(fields, updated=time.strftime("%Y-%m-%dT%H:%M:%S"))
            text = json.dumps(state, indent=2, default=str) + "\n"
            with open(self.state_file, "r+" if self.state_file.exists() else "w") as f:
                f.write(text)
                f.truncate()
        except OSError:
            pass

    def config(self) -> dict[str, Any] | None:
        f = self.path / "config.yaml"
        return to_plain(OmegaConf.load(f)) if f.is_file() else None

    def clear(self) -> None:
        """Remove a previous run's files (``train.overwrite=true``); keeps Hydra's own files."""
        for p in self.path.iterdir():
            if p.name in KEEP or p.suffix == ".log":
                continue
            shutil.rmtree(p) if p.is_dir() else p.unlink()

    def remove_if_fresh(self, root: Path) -> None:
        """After a config error: drop the directory Hydra created if nothing else is in it."""
        root = Path(root).resolve()
        if not self.path.is_dir() or self.state_file.exists():
            return
        items = list(self.path.iterdir())
        if all(p.name in KEEP or p.suffix == ".log" for p in items):
            for p in items:
                shutil.rmtree(p) if p.is_dir() else p.unlink()
            # and the empty <tag>/<agent> parents Hydra created, up to the runs root
            path = self.path
            while path != root and root in path.parents:
                try:
                    path.rmdir()
                except OSError:
                    break
                path = path.parent


def _remove_new_run(rd: RunDir, root: Path) -> None:
    """Best-effort removal of a run dir this command created before its setup failed; the
    setup error is what the user needs to see, so a failing clean-up is not raised."""
    try:
        rd.clear()
        (rd.path / RunLock.name).unlink(missing_ok=True)
        rd.remove_if_fresh(root)
    except OSError:
        pass


def _resolved_config(cfg: DictConfig) -> dict[str, Any]:
    plain = to_plain(cfg)
    plain.pop("hydra", None)
    dnn = plain.get("dnn") or {}
    if dnn.get("path"):  # dnn=custom: evaluate.py and resume find the profile from anywhere
        dnn["path"] = str(Path(dnn["path"]).expanduser().resolve())
    return plain


def _check_resume(rd: RunDir, cfg_plain: dict[str, Any], runner_cls: type) -> None:
    state = rd.state()
    if state is None or not runner_cls.checkpoint_path(rd.path).exists():
        legacy = rd.path / "model.zip"
        why = (
            f" ({legacy.name} is an SB3 pickle archive from an older version, which is never "
            "loaded: it could run code)"
            if legacy.is_file()
            else ""
        )
        raise ConfigError(
            f"train.resume=true but {rd.path} holds no checkpoint to resume from{why} "
            "(start a new run without train.resume; a run's directory includes its "
            "non-train.* overrides, so resume with the overrides it was started with)"
        )
    diffs = _diff(
        _comparable(_with_predated_defaults(rd.config() or {}, cfg_plain)), _comparable(cfg_plain)
    )
    if diffs:
        raise ConfigError(
            "train.resume=true needs the run's config; these differ (only train.* may "
            "change):\n  " + "\n  ".join(diffs)
        )


def _print_table(rows: list[dict[str, Any]], scheduling: bool) -> str:
    from pipeline.report import markdown_table

    table = markdown_table(rows, scheduling)
    print(table, flush=True)
    return table


def _oserror(exc: BaseException) -> OSError | None:
    """The OSError with an errno behind ``exc`` (libraries wrap them, e.g. torch's
    RuntimeError around a failed write), or None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno is not None:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def describe_oserror(exc: OSError) -> str:
    """One line: errno name and number, message and the path (``ENOSPC (errno 28): No
    space left on device: runs/.../checkpoint.pt``)."""
    name = errno.errorcode.get(exc.errno or 0, "E?")
    msg = exc.strerror or os.strerror(exc.errno or 0)
    where = f": {exc.filename}" if exc.filename else ""
    if exc.filename2:
        where += f" -> {exc.filename2}"
    return f"{name} (errno {exc.errno}): {msg}{where}"


class RunExists(ConfigError):
    """``run_dir`` already holds a run that this command would not continue or replace."""


def _display(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


#: metric of metrics.json["eval"] that run_objective returns, per env name (lower is better)
OBJECTIVE: dict[str, str] = {"scheduling": "variance_mean"}
DEFAULT_OBJECTIVE = "cost_mean"


def run_objective(cfg: DictConfig) -> float:
    """The run's objective for sweeps, to minimise: the final evaluation's mean cost
    (partitioning), mean resource-usage variance (scheduling v0) or mean objective J
    (scheduling v1, ``env.objective=combined``) on ``train.final_eval_episodes``
    fixed episodes, from ``metrics.json``; NaN when there is none (``final_eval_episodes=0``,
    or an unfinished run), which Optuna records as a failed trial."""
    f = Path(str(cfg.run_dir)) / "metrics.json"
    try:
        metrics = read_json(f) if f.is_file() else {}
        key = OBJECTIVE.get(str(cfg.env.name), DEFAULT_OBJECTIVE)
        if cfg.env.get("objective") == "combined":  # EdgeScheduling-v1: J, not the variance
            key = "objective_mean"
        value = (metrics.get("eval") or {}).get(key)
        return float("nan") if value is None else float(value)
    except (OSError, ValueError, TypeError, AttributeError):
        return float("nan")


def _check_existing(rd: RunDir, cfg: DictConfig, plain: dict[str, Any], runner_cls: type) -> bool:
    """Before a new run: True if ``rd`` holds this very run, finished (nothing to do), after
    printing so with its evaluation; RunExists if it holds another or an unfinished one."""
    state = rd.state()
    if state is None or not runner_cls.checkpoint_path(rd.path).exists():
        return False  # a run that never saved a checkpoint has nothing to lose: start again
    if cfg.train.overwrite:
        return False
    where = _display(rd.path)
    status, steps = state.get("status"), state.get("steps")
    diffs = _diff(
        _comparable(_with_predated_defaults(rd.config() or {}, plain)), _comparable(plain)
    )
    if diffs:
        shown = "; ".join(diffs[:3]) + (
            f"; ... ({len(diffs)} differences)" if len(diffs) > 3 else ""
        )
        raise RunExists(
            f"{where} holds a {status} run of another config ({shown}); train.overwrite=true "
            "to replace it, or choose another seed/run_dir"
        )
    metrics_file = rd.path / "metrics.json"
    metrics = read_json(metrics_file) if metrics_file.is_file() else {}
    if status != "done" or metrics.get("status") != "done":
        raise RunExists(
            f"{where} holds an unfinished run (status {status!r} at {steps} steps): "
            "train.resume=true to continue it, train.overwrite=true to replace it, or choose "
            "another seed/run_dir"
        )
    print(
        f"{where} is finished (status done, {steps} steps); train.overwrite=true to replace it, "
        "train.resume=true with a larger train.total_steps to continue it",
        flush=True,
    )
    rows = [*metrics.get("baselines", []), *([metrics["eval"]] if metrics.get("eval") else [])]
    if rows:
        print(f"\nEvaluation of {cfg.agent.name} {cfg.env.tag} seed{cfg.seed} on "
              f"{metrics.get('eval_episodes')} episodes (seed {metrics.get('eval_seed')}):")  # fmt: skip
        _print_table(rows, cfg.env.name == "scheduling")
    return True


def run(cfg: DictConfig) -> int:
    """Train one run; returns the process exit status.

    The run directory is locked (:class:`pipeline.utils.RunLock`) for the whole run, so a
    second ``train.py`` (or ``train.overwrite=true``) on it fails at once naming the PID of
    the holder; temp files of a killed earlier run are removed once the lock is held.
    """
    rd = RunDir(Path(cfg.run_dir))
    lock = RunLock(rd.path)
    try:
        lock.acquire()
    except RunDirBusy as exc:
        if _is_multirun():
            raise
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return EXIT_BUSY
    try:
        for p in clean_stale_temp(rd.path):
            log.info("removed %s (left by a killed run)", p.name)
        try:
            spec = validate(cfg)
            plain = _resolved_config(cfg)
            if cfg.train.resume:
                _check_resume(rd, plain, spec.runner_cls)
            elif _check_existing(rd, cfg, plain, spec.runner_cls):
                return 0
        except ConfigError as exc:
            if not cfg.train.resume:
                lock.release()
                rd.remove_if_fresh(Path(str(cfg.runs_root)))
            if _is_multirun() and not isinstance(exc, RunExists):
                raise  # Hydra reports it and stops the sweep: every job would fail the same way
            print(f"error: {exc}", file=sys.stderr, flush=True)
            # in a sweep, a job whose run dir is taken is skipped; the other jobs go on
            return 0 if _is_multirun() else EXIT_CONFIG_ERROR
        return _train(cfg, spec, rd, plain)
    finally:
        lock.release()


def _train(cfg: DictConfig, spec: RunSpec, rd: RunDir, plain: dict[str, Any]) -> int:
    """Train, save, evaluate; faults end with one line on stderr and a consistent state.json:
    ``interrupted`` (Ctrl-C anywhere, exit 130) or ``failed`` (an OSError such as a full
    disk, or a corrupted checkpoint on resume: exit 1; any other exception: its traceback),
    with ``steps`` = the last checkpoint's steps (what a resume restores)."""
    import torch

    from agents.common.checkpoint import CheckpointError
    from pipeline.progress import GracefulInterrupt, Progress
    from pipeline.runners.base import (
        PipelineLogger,
        SetupError,
        TrainContext,
        TrainingStopped,
        finite,
    )

    resume = bool(cfg.train.resume)
    rd.path.mkdir(parents=True, exist_ok=True)
    if not resume and rd.state() is not None:
        rd.clear()
    if cfg.torch_threads is not None:
        torch.set_num_threads(int(cfg.torch_threads))
    atomic_write_text(rd.path / "config.yaml", OmegaConf.to_yaml(OmegaConf.create(plain)))
    overrides = _hydra_overrides()
    atomic_write_text(rd.path / "overrides.yaml", OmegaConf.to_yaml(OmegaConf.create(overrides)))
    previous = rd.state() or {}
    train_time = float(previous.get("train_time_s", 0.0)) if resume else 0.0
    saved_steps = int(previous.get("steps") or 0) if resume else 0  # the last good checkpoint

    logger = PipelineLogger(rd.path)
    runner = spec.runner_cls(cfg, spec, rd.path, logger)
    logger.hparams_source = runner.hparams  # the same HParams columns for every agent
    label = f"{cfg.agent.name} {cfg.env.tag} seed{cfg.seed}"
    phase = "set-up"
    new_run_failed = False
    t0 = time.perf_counter()

    def fault(status: str, message: str, code: int) -> int:
        """Record the fault in state.json (best effort: the disk may be full) and print one line."""
        try:
            last = spec.runner_cls.saved_steps(rd.path)
        except Exception:  # an unreadable checkpoint: keep what state.json knew
            last = None
        steps = saved_steps if last is None else last
        fields = dict(status=status, steps=steps, phase=phase, error=message,
                      reached_steps=runner.steps, train_time_s=train_time)  # fmt: skip
        try:
            rd.write_state(**fields)
        except OSError:
            rd.write_state_in_place(**fields)
        print(f"error: {message}", file=sys.stderr, flush=True)
        return code

    try:
        runner.setup(resume)
        start = runner.steps
        log.info(
            "%s %s: %s -> %d steps, run dir %s", "resuming" if resume else "training", label,
            f"from step {start}" if resume else "new run", cfg.train.total_steps, rd.path,
        )  # fmt: skip
        rd.write_state(status="running", steps=start, total_steps=int(cfg.train.total_steps),
                       checkpoint=runner.checkpoint_path(rd.path).name, train_time_s=train_time,
                       phase="training", error=None)  # fmt: skip
        phase = "training"
        progress = Progress(
            int(cfg.train.total_steps), start, label, bool(cfg.train.progress),
            int(cfg.train.progress_every),
        )  # fmt: skip
        t0 = time.perf_counter()
        stopped = False
        with GracefulInterrupt() as interrupt:
            ctx = TrainContext(cfg, logger, progress, interrupt)
            try:
                runner.train(ctx)
            except TrainingStopped:
                pass
            stopped = interrupt.requested
            if stopped:  # save while the handler still absorbs a repeated Ctrl-C
                progress.close()
                phase = "saving"
                path = runner.save()
                saved_steps = runner.steps
                train_time += time.perf_counter() - t0
                rd.write_state(status="interrupted", steps=runner.steps, train_time_s=train_time)
                logger.flush()
                msg = (
                    f"Interrupted at step {runner.steps}/{cfg.train.total_steps}; checkpoint "
                    f"saved to {path}.\nResume with:\n  {resume_command(overrides)}"
                )
                log.warning(msg)
        if stopped:
            return EXIT_INTERRUPTED
        progress.close()
        session_s = time.perf_counter() - t0
        train_time += session_s
        phase = "saving"
        path = runner.save()
        steps = saved_steps = runner.steps
        rd.write_state(status="trained", steps=steps, train_time_s=train_time)
        log.info("trained %s: %d steps in %.1f s; checkpoint %s", label, steps, train_time, path)

        from pipeline.evaluate import final_evaluation

        phase = "final evaluation"
        n = int(cfg.train.final_eval_episodes)
        rows, mine = final_evaluation(cfg, spec, runner, n) if n > 0 else ([], {})
        metrics = {
            "agent": cfg.agent.name,
            "env": cfg.env.name,
            "env_tag": cfg.env.tag,
            "seed": int(cfg.seed),
            "status": "done",
            "steps": steps,
            "train_time_s": train_time,
            "sps": (steps - start) / session_s if steps > start and session_s > 0 else None,
            "resumed_from_step": start if resume else None,
            "checkpoint": path.name,
            "eval_episodes": n,
            "eval_seed": int(cfg.train.eval_seed),
            "eval": mine,
            "baselines": [r for r in rows if r.get("kind") != "trained"],
        }
        atomic_write_json(rd.path / "metrics.json", metrics)
        if not getattr(runner, "logs_hparams_itself", False):
            # the last periodic-protocol evaluation (eval/* curves) as the HParams metrics
            finals = runner.log_eval(ctx, steps)
            logger.log_hparams(runner.hparams(), finite(finals), step=steps)
        rd.write_state(status="done", steps=steps, phase="done")
        if rows:
            print(f"\nEvaluation of {label} on {n} episodes (seed {cfg.train.eval_seed}):")
            _print_table(rows, cfg.env.name == "scheduling")
        print(f"Run dir: {rd.path}", flush=True)
        return 0
    except KeyboardInterrupt:
        if phase == "training":
            train_time += time.perf_counter() - t0
        if phase == "final evaluation":  # trained and saved: a resume only re-runs the eval
            try:
                atomic_write_json(rd.path / "metrics.json", {
                    "agent": cfg.agent.name, "env": cfg.env.name, "env_tag": cfg.env.tag,
                    "seed": int(cfg.seed), "status": "interrupted", "steps": saved_steps,
                    "train_time_s": train_time, "checkpoint": runner.checkpoint_path(rd.path).name,
                    "eval": None,
                })  # fmt: skip
            except OSError:
                pass
        if spec.runner_cls.checkpoint_path(rd.path).exists():
            then = f"the run keeps its checkpoint at step {saved_steps} (resume with: " \
                   f"{resume_command(overrides)})"  # fmt: skip
        else:
            then = "nothing was saved (run the same command again to start over)"
        return fault("interrupted", f"interrupted during {phase}; {then}", EXIT_INTERRUPTED)
    except CheckpointError as exc:
        return fault("failed", f"cannot resume: {exc}".splitlines()[0], EXIT_FAILED)
    except SetupError as exc:  # e.g. Ray cannot start or connect: one line, no traceback
        code = fault("failed", f"{exc} (during {phase})".splitlines()[0], EXIT_FAILED)
        new_run_failed = not resume and not spec.runner_cls.checkpoint_path(rd.path).exists()
        return code
    except Exception as exc:
        os_exc = _oserror(exc)
        if os_exc is None:  # a bug: keep the traceback, but leave a consistent state.json
            fault("failed", f"{type(exc).__name__} during {phase}: {exc}".splitlines()[0], 1)
            raise
        return fault("failed", f"{describe_oserror(os_exc)} (during {phase})", EXIT_FAILED)
    finally:
        logger.close()
        runner.close()
        if new_run_failed:  # a new run whose set-up failed: leave no half-made run dir
            _remove_new_run(rd, Path(str(cfg.runs_root)))


if __name__ == "__main__":  # python -m pipeline.train
    from pipeline.cli import train_main

    train_main()
