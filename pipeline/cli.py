"""Command-line entry points: ``edgerl-train`` / ``edgerl-evaluate`` (console scripts of
``pip install .``), ``python -m pipeline.train`` / ``python -m pipeline.evaluate`` and the
repository's ``train.py`` / ``evaluate.py`` all run these two functions.

Hydra's ``config_path`` is the absolute :data:`pipeline.utils.CONFIG_DIR`: the repository's
``configs/`` in a source checkout (or an editable install), the copy installed with the
package (``pipeline/configs``, package data) otherwise, so the commands work from any
directory. Relative paths on the command line (``runs_root``, ``runs``, ``out_dir``) are
taken relative to the working directory.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from omegaconf import DictConfig

#: ``evaluate.py``'s keys that take one path
EVALUATE_PATH_KEYS: tuple[str, ...] = ("runs", "forecast", "out_dir", "data_dir")
#: characters Hydra's override grammar reserves in an unquoted value; a run dir holds "=" and
#: "," when it is named after its overrides (``.../agent.lr_actor=0.001/seed0``)
_RESERVED = frozenset("=,[]{}()'\" \t")


def quote_existing_paths(args: Sequence[str], keys: Sequence[str]) -> list[str]:
    """``args`` with every ``key=<path>`` (``key`` in ``keys``) whose path exists and holds a
    character Hydra reserves quoted, so that Hydra reads it as one string: a run dir printed by
    ``train.py`` can be passed back as it is. Lists (``runs=[a,b]``), quoted values, paths
    that do not exist and values holding both kinds of quotes or a backslash are left as
    they are (Hydra's own message then applies)."""
    out = []
    for arg in args:
        key, sep, value = arg.partition("=")
        if (sep and key in keys and value and value[0] not in "[\"'" and "\\" not in value
                and _RESERVED.intersection(value) and os.path.exists(value)):  # fmt: skip
            quote = '"' if '"' not in value else "'" if "'" not in value else ""
            if quote:
                arg = f"{key}={quote}{value}{quote}"
        out.append(arg)
    return out


def _hydra_main(
    config_name: str,
    job: str,
    work: Callable[[DictConfig], int],
    objective: Callable[[DictConfig], float] | None = None,
) -> None:
    """Run ``work`` under ``@hydra.main`` with the config ``config_name``; exit with its
    status. ``job`` names Hydra's job (its log file, ``<job>.log``, in a run dir). After a
    successful ``work`` the task returns ``objective(cfg)``: what a sweeper (Optuna) sees."""
    import hydra

    from pipeline.utils import CONFIG_DIR

    def task(cfg: DictConfig) -> float | None:
        status = work(cfg)
        if status:
            sys.exit(status)
        return None if objective is None else objective(cfg)

    # Hydra names the job after the task function's module ("pipeline.train" -> "train")
    task.__module__ = f"pipeline.{job}"
    hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name=config_name)(task)()


def train_main() -> None:
    """``edgerl-train [group=option ...] [key=value ...]``: :func:`pipeline.train.run`."""

    # registers the ${edgerl.*} resolvers of train.yaml (run directory, custom DNN label)
    from pipeline.config import register_resolvers

    def work(cfg: DictConfig) -> int:
        register_resolvers()  # referenced here: a pickled job (hydra/launcher=joblib) imports it
        from pipeline.train import run

        return run(cfg)

    def objective(cfg: DictConfig) -> float:
        from pipeline.train import run_objective

        return run_objective(cfg)

    _hydra_main("train", "train", work, objective)


def evaluate_main() -> None:
    """``edgerl-evaluate runs=<dir, glob or [a,b]> ...``: :func:`pipeline.evaluate.run`.
    A path given as it is (``runs=<run dir with "=">``) is quoted for Hydra
    (:func:`quote_existing_paths`)."""
    sys.argv[1:] = quote_existing_paths(sys.argv[1:], EVALUATE_PATH_KEYS)

    def work(cfg: DictConfig) -> int:
        from pipeline.evaluate import run

        return run(cfg)

    _hydra_main("evaluate", "evaluate", work)
