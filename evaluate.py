"""Evaluate trained runs against every baseline: ``python evaluate.py runs=<dir, 'glob' or [a,b]>``.

Configs: ``configs/evaluate.yaml``; the work is done by :mod:`pipeline.evaluate`. The same
command is ``edgerl-evaluate`` after ``pip install .`` and ``python -m pipeline.evaluate``
(:mod:`pipeline.cli`).
"""

from pipeline.cli import evaluate_main

if __name__ == "__main__":
    evaluate_main()
