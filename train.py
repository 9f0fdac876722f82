"""Train an EdgeRL agent: ``python train.py [group=option ...] [key=value ...]``.

Configs live in ``configs/`` (see ``docs/pipeline.md``); the work is done by
:mod:`pipeline.train`. The same command is ``edgerl-train`` after ``pip install .`` and
``python -m pipeline.train`` (:mod:`pipeline.cli`).
"""

from pipeline.cli import train_main

if __name__ == "__main__":
    train_main()
