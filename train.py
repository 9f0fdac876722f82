"""Train an EdgeRL agent: ``python train.py [group=option ...] [key=value ...]``.

Configs live in ``configs/`` (see ``docs/pipeline.md``); the work is done by
:mod:`pipeline.train`.
"""

import sys

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> None:
    from pipeline.train import run

    status = run(cfg)
    if status:
        sys.exit(status)


if __name__ == "__main__":
    main()
