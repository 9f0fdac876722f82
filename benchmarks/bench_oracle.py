"""Exact oracle speed: compiled (numba) vs Python/numpy, scalar and batched, per instance.

    python benchmarks/bench_oracle.py                 # ResNet-32 (17 blocks), MEC and D2D
    python benchmarks/bench_oracle.py --dnn alexnet --batch 4096

The scalar time is :meth:`Oracle.bind`'s solver (the weighting looked up once, as the envs
call it); ``Oracle.solve(links, slowdown, **weights)``, which looks it up per call, is
printed beside it. Times are this thread's CPU time (``time.thread_time``: less sensitive to
other jobs on the machine), best of ``--repeats``. Each row checks that the compiled and the
reference solver return the same optimal costs on the timed states. Targets (issue "Speed
to the compiled limit"): at most 2 µs per state scalar and 0.5 µs per state batched for 17
blocks, with and without early exits. The reference is the Python DP scalar (``_solve_rows``, ``solve_terms``
with early exits) and numpy's batched DP (``EDGERL_NO_NUMBA=1`` runs it).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import envs  # noqa: F401  (registers the env ids)
from envs.model import kernels
from envs.partition import D2DPartitionVectorEnvV1, MECPartitionVectorEnvV1

warnings.filterwarnings("ignore", message=".*is out of date.*")
VECTOR = {"mec": MECPartitionVectorEnvV1, "d2d": D2DPartitionVectorEnvV1}


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t0)
    return best


def measure(scenario: str, dnn: str, batch: int, scalar: int, repeats: int, exits: bool) -> dict:
    kw = {"dnn": dnn, "oracle": False, "network": "mixture_synthetic"}
    if exits:
        kw["early_exit"] = [0.2] * 40  # trimmed to the DNN's blocks below
    probe = VECTOR[scenario](num_envs=1, **{k: v for k, v in kw.items() if k != "early_exit"})
    n = probe.n_blocks
    if exits:
        kw["early_exit"] = [0.2] * n
    vec = VECTOR[scenario](num_envs=batch, **kw)
    vec.reset(seed=0)
    problem = vec.problem
    oracle, okw = vec.env.oracle, problem._kw()
    solver = oracle.bind(**okw)  # scalar: the weighting bound once, as an env's step does
    links, slowdown = problem.links, np.asarray(problem.slowdown)
    rows = [(type(links)(*(np.asarray(m)[i] for m in links)), slowdown[i]) for i in range(scalar)]
    out = {"scenario": scenario, "dnn": dnn, "blocks": n, "exits": exits}
    costs, singles = {}, {}
    for backend in ("compiled", "reference"):
        saved = kernels.AVAILABLE
        kernels.AVAILABLE = backend == "compiled" and saved
        try:
            solver.solve(*rows[0])  # warm-up (compiles on first use)
            oracle.solve_batch(links, slowdown, **okw)
            t_scalar = _best(lambda: [solver.solve(lk, sp) for lk, sp in rows], repeats)
            t_kw = _best(lambda: [oracle.solve(lk, sp, **okw) for lk, sp in rows], repeats)
            t_batch = _best(lambda: oracle.solve_batch(links, slowdown, **okw), repeats)
            costs[backend] = oracle.solve_batch(links, slowdown, **okw)
            singles[backend] = [solver.solve(lk, sp) for lk, sp in rows]
        finally:
            kernels.AVAILABLE = saved
        out[f"{backend}_scalar_us"] = t_scalar / scalar * 1e6
        out[f"{backend}_scalar_keywords_us"] = t_kw / scalar * 1e6
        out[f"{backend}_batch_us"] = t_batch / batch * 1e6
    np.testing.assert_allclose(costs["compiled"][1], costs["reference"][1], rtol=1e-12)
    # compiled scalar and batched = the Python DP bit for bit (decisions and costs)
    dp_dec = np.array([d for d, _ in singles["reference"]])
    dp_cost = np.array([c for _, c in singles["reference"]])
    out["costs_identical"] = all(
        np.array_equal(dec, dp_dec) and np.array_equal(cost, dp_cost)
        for dec, cost in (
            (np.array([d for d, _ in singles["compiled"]]), [c for _, c in singles["compiled"]]),
            (costs["compiled"][0][: len(rows)], costs["compiled"][1][: len(rows)]),
        )
    )
    vec.close()
    probe.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dnn", default="resnet32")
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--scalar", type=int, default=2000, help="states timed one by one")
    p.add_argument("--repeats", type=int, default=25, help="best of this many runs")
    args = p.parse_args(argv)
    print(f"oracle backends: compiled = {kernels.BACKEND}; reference = Python scalar / numpy "
          "batched (v1 envs; v0's batched oracle keeps numpy)")  # fmt: skip
    head = "| scenario | dnn | blocks | exits | scalar µs (compiled / ref) | compiled `Oracle.solve` µs | batched µs per state (compiled / ref) |"
    print(head + "\n|---|---|---|---|---|---|---|")
    for scenario in ("mec", "d2d"):
        for exits in (False, True):
            r = measure(scenario, args.dnn, args.batch, args.scalar, args.repeats, exits)
            print(f"| {scenario} | {args.dnn} | {r['blocks']} | {'yes' if exits else 'no'} | "
                  f"{r['compiled_scalar_us']:.2f} / {r['reference_scalar_us']:.2f} | "
                  f"{r['compiled_scalar_keywords_us']:.2f} | "
                  f"{r['compiled_batch_us']:.3f} / {r['reference_batch_us']:.3f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
