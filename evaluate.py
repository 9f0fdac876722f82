"""Evaluate trained runs against every baseline: ``python evaluate.py runs=<dir or 'glob'>``.

Configs: ``configs/evaluate.yaml``; the work is done by :mod:`pipeline.evaluate`.
"""

import sys

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="configs", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    from pipeline.evaluate import run

    status = run(cfg)
    if status:
        sys.exit(status)


if __name__ == "__main__":
    main()
