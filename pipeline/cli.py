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

import sys
from collections.abc import Callable

from omegaconf import DictConfig


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
    """``edgerl-evaluate runs=<dir, glob or [a,b]> ...``: :func:`pipeline.evaluate.run`."""

    def work(cfg: DictConfig) -> int:
        from pipeline.evaluate import run

        return run(cfg)

    _hydra_main("evaluate", "evaluate", work)
