"""One BLAS/OpenMP thread count for the benchmarks' in-process timings, set before numpy is
imported (``limit``), and the environment a timed subprocess gets instead
(``user_environ``): the user's own, as when they type the command themselves. Without it,
``python train.py`` timed by ``speed_targets.py`` ran with one OpenBLAS thread, which no user
sets, and came out up to 15% slower than typed by hand."""

from __future__ import annotations

import os

THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
#: the variables as they were before the first :func:`limit` (None: unset)
_USER: dict[str, str | None] | None = None


def limit(n: str = "1") -> None:
    """Set each of :data:`THREAD_VARS` to ``n`` unless the user set it (call before numpy)."""
    global _USER
    if _USER is None:
        _USER = {v: os.environ.get(v) for v in THREAD_VARS}
    for v in THREAD_VARS:
        os.environ.setdefault(v, n)


def user_environ() -> dict[str, str]:
    """``os.environ`` with :data:`THREAD_VARS` as the user had them before :func:`limit`."""
    env = dict(os.environ)
    for v, value in (_USER or {}).items():
        if value is None:
            env.pop(v, None)
        else:
            env[v] = value
    return env
