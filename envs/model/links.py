"""Link matrices of the two scenarios (docs/model.md §4, §5).

A chain moves ``G`` KB from platform ``a`` to ``b`` in ``G * ms_per_kb[a, b] + latency_ms[a, b]``
ms while the device's radio draws ``power_mw[a, b]`` mW. :func:`mec_links` (device, edge,
cloud on the path T-E-C) and :func:`d2d_links` (user, collaborator) build these matrices from
link bandwidths (``ms_per_kb = 8 / B``, :func:`envs.model.layers.ms_per_kb`) and latencies,
for one state (scalars) or a batch (arrays of shape ``(B,)``).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from envs.model.layers import ms_per_kb

MEC_PLATFORMS: tuple[str, ...] = ("device", "edge", "cloud")
D2D_PLATFORMS: tuple[str, ...] = ("user", "collaborator")
# docs/model.md §4: deployment overhead weights w[S_i] (the paper's D_cp = sum_{S_i != 1} S_i / n).
MEC_OVERHEAD_WEIGHTS: tuple[float, ...] = (0.0, 2.0, 3.0)
# docs/model.md §4: 5G power P = alpha * B_TE + beta (mW), uplink / downlink (Narayanan et al.).
P5G_UP: tuple[float, float] = (65.0, 11475.97)
P5G_DOWN: tuple[float, float] = (6.5, 11475.97)
# docs/model.md §5: Wi-Fi Direct power P_D2D = 283.17 * B + 132.86 (mW).
P_D2D: tuple[float, float] = (283.17, 132.86)


class LinkMatrices(NamedTuple):
    """Transfers between platforms ``a -> b`` (shape ``(..., P, P)``; diagonal unused).

    ``ms_per_kb[a, b] * G + latency_ms[a, b]`` is the full-path transfer time of ``G`` KB;
    ``power_mw[a, b]`` is the device's radio power during it (0 when the device is neither
    sender nor receiver).
    """

    ms_per_kb: np.ndarray
    latency_ms: np.ndarray
    power_mw: np.ndarray


def _check_links(**fields: float | np.ndarray) -> None:
    for name, v in fields.items():
        if isinstance(v, float | int):
            ok = math.isfinite(v) and (v > 0 if name.startswith("b") else v >= 0)
        else:
            arr = np.asarray(v, dtype=np.float64)
            ok = bool(
                np.all(np.isfinite(arr) & ((arr > 0) if name.startswith("b") else (arr >= 0)))
            )
        if not ok:
            what = (
                "bandwidth, Mbps) must be finite and > 0"
                if name.startswith("b")
                else "latency, ms) must be finite and >= 0"
            )
            raise ValueError(f"{name} ({what}, got {v}")


_SCALAR_TYPES = (float, int, np.float64, np.float32, np.int64, np.int32)


def _is_scalar(*vals) -> bool:
    for v in vals:  # a plain loop: this runs every env step
        if type(v) not in _SCALAR_TYPES:
            return False
    return True


def mec_links(
    b_te_up,
    b_te_down,
    b_ec_up,
    b_ec_down,
    l_te,
    l_ec,
    *,
    p_up: tuple[float, float] = P5G_UP,
    p_down: tuple[float, float] = P5G_DOWN,
    validate: bool = True,
) -> LinkMatrices:
    """MEC link matrices on the path T-E-C (docs/model.md §4); inputs scalars or arrays of shape (B,).

    Toward the cloud uses uplinks, toward the device downlinks; T<->C crosses both links.
    The device pays ``P^U`` for the whole path time when it sends and ``P^D`` when it
    receives (Ren et al. eq. 6, with ``L_EC`` in place of ``L_EC/2``, docs/model.md §4).
    """
    vals = (b_te_up, b_te_down, b_ec_up, b_ec_down, l_te, l_ec)
    if validate:
        _check_links(
            **dict(
                zip(
                    ("b_te_up", "b_te_down", "b_ec_up", "b_ec_down", "l_te", "l_ec"),
                    vals,
                    strict=True,
                )
            )
        )
    if _is_scalar(*vals):  # one state: plain floats are ~10x faster than numpy element writes
        bu, bd, cu, cd, lt, lc = (float(v) for v in vals)
        tu, td, eu, ed = ms_per_kb(bu), ms_per_kb(bd), ms_per_kb(cu), ms_per_kb(cd)
        pu = p_up[0] * bu + p_up[1]
        pd = p_down[0] * bd + p_down[1]
        return LinkMatrices(
            np.array([[0.0, tu, tu + eu], [td, 0.0, eu], [td + ed, ed, 0.0]]),
            np.array([[0.0, lt, lt + lc], [lt, 0.0, lc], [lt + lc, lc, 0.0]]),
            np.array([[0.0, pu, pu], [pd, 0.0, 0.0], [pd, 0.0, 0.0]]),
        )
    bu, bd, cu, cd, lt, lc = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in vals))
    shape = bu.shape
    k = np.zeros((*shape, 3, 3))
    lat = np.zeros((*shape, 3, 3))
    pw = np.zeros((*shape, 3, 3))
    te_u, te_d, ec_u, ec_d = ms_per_kb(bu), ms_per_kb(bd), ms_per_kb(cu), ms_per_kb(cd)
    k[..., 0, 1], k[..., 1, 2], k[..., 0, 2] = te_u, ec_u, te_u + ec_u
    k[..., 1, 0], k[..., 2, 1], k[..., 2, 0] = te_d, ec_d, te_d + ec_d
    lat[..., 0, 1] = lat[..., 1, 0] = lt
    lat[..., 1, 2] = lat[..., 2, 1] = lc
    lat[..., 0, 2] = lat[..., 2, 0] = lt + lc
    pu = p_up[0] * bu + p_up[1]
    pd = p_down[0] * bd + p_down[1]
    pw[..., 0, 1] = pw[..., 0, 2] = pu
    pw[..., 1, 0] = pw[..., 2, 0] = pd
    return LinkMatrices(k, lat, pw)


def d2d_links(b, l, *, p_d2d: tuple[float, float] = P_D2D, validate: bool = True) -> LinkMatrices:  # noqa: E741
    """D2D link matrices (docs/model.md §5): one symmetric link; the user pays ``P_D2D`` for every transfer."""
    if validate:
        _check_links(b=b, l=l)
    if _is_scalar(b, l):
        bf, lf = float(b), float(l)
        t, pw = ms_per_kb(bf), p_d2d[0] * bf + p_d2d[1]
        return LinkMatrices(
            np.array([[0.0, t], [t, 0.0]]),
            np.array([[0.0, lf], [lf, 0.0]]),
            np.array([[0.0, pw], [pw, 0.0]]),
        )
    bb, ll = np.broadcast_arrays(np.asarray(b, dtype=np.float64), np.asarray(l, dtype=np.float64))
    off = np.array([[0.0, 1.0], [1.0, 0.0]])
    return LinkMatrices(
        ms_per_kb(bb)[..., None, None] * off,
        ll[..., None, None] * off,
        (p_d2d[0] * bb + p_d2d[1])[..., None, None] * off,
    )
