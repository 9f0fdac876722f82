"""Network mixtures of the v1 partitioning envs: a different network every episode.

A v1 env draws, for every copy at every reset, one *component* and runs the episode on it:

* ``generator`` — :class:`RandomisedLink`: a log-AR(1) process around a mean that is itself
  drawn per episode from wide realistic ranges (:data:`MEC_RANGES`, :data:`D2D_RANGES`:
  terminal–edge uplink 0.5–150 Mbps, downlink 1–900 Mbps, RTT 5–300 ms), with an
  episode-specific volatility, correlation and spike behaviour;
* ``traces`` — :class:`TraceBank`: real traces of ``../shared/data/traces`` replayed from a
  random offset: the terminal–edge uplink and RTT from one mmWave uplink/ping measurement
  (5G-MeMU, throughput and ping of the same scenario), the downlink from one Lumos5G file;
  fields without a trace (the edge–cloud link) come from the generator;
* ``5g_trial`` — the Table 2 generator of v0 (:class:`envs.dynamics.FiveGTrialMEC`); not in
  the default weights (:data:`DEFAULT_WEIGHTS`), add it with ``components``.

Traces are split **by file** into a ``train`` and a ``test`` set (:func:`trace_split`), so
``network="mixture_train"`` trains on some real links and ``network="mixture_test"``
evaluates on links never trained on. The rule is fixed and documented in ``docs/model.md``:

* mmWave uplink/ping scenarios: ``test`` = every position ``p3`` (static), the ``lateral``
  walks and the LTE drive; ``train`` = the other 13 scenarios (7 test);
* Lumos5G downlink files (5G and 4G): ``test`` = trace id divisible by 4
  (``5g_trace_100_walking``: id 100 -> test; ``4g_trace_driving_50032_dr``: id 50032 ->
  test), ``train`` = the rest.

A mixture episode pairs the uplink and ping of one mmWave scenario (the same place and
technology, measured in separate runs: they start at independent offsets, not time-aligned)
with one downlink file.

Every process here follows :class:`envs.dynamics.LinkProcess` (batched, all randomness from
the generator passed in). Randomness consumed per call, ``k`` copies:

* :class:`RandomisedLink` reset: ``random((5, k, F))`` (mean, sigma, rho, spike probability,
  spike size), ``standard_normal((k, F))``, ``random((k, F))`` (spike state); step:
  ``standard_normal((num, F))``, ``random((num, F))``.
* :class:`TraceBank` reset: ``random((k, G))`` (a file per group) and ``random((k, F))``
  (offsets); step: none.
* :class:`NetworkMixture` reset: ``random(k)`` (the component), then each component's reset
  in the order generator, traces, 5g_trial; step: the generator's step, then the step of each
  other component that at least one copy uses.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np

from envs.dynamics.base import LinkProcess, _check_num
from envs.dynamics.five_g_trial import FiveGTrialD2D, FiveGTrialMEC
from envs.dynamics.table2 import D2D_LINK_FIELDS, MEC_LINK_FIELDS, field_unit
from envs.dynamics.trace import _resample
from envs.limits import MAX_BANDWIDTH_MBPS, MAX_LATENCY_MS
from envs.model import kernels
from envs.traces import read_lumos5g, read_mmwave_list

SPLITS: tuple[str, ...] = ("train", "test", "all")
MAX_LINK_VALUE = min(MAX_BANDWIDTH_MBPS, MAX_LATENCY_MS)  # Mbps or ms of a generated link
COMPONENTS: tuple[str, ...] = ("generator", "traces", "5g_trial")
#: Default component weights of a mixture (normalised to probabilities). The Table 2
#: generator is narrow (a constant placement is near-optimal on it, see the v0 hardness):
#: it is available as a component but not drawn by default.
DEFAULT_WEIGHTS: dict[str, float] = {"generator": 0.5, "traces": 0.5}
#: Environment variable naming the data root (``<root>/traces/lumos5g``, ``.../mmwave_uplink``).
DATA_ENV_VAR = "EDGERL_DATA"


def default_data_dir() -> Path:
    """``$EDGERL_DATA``, else ``../shared/data`` beside the repository checkout."""
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


# --------------------------------------------------------------------------------------------
# randomised generator


@dataclass(frozen=True)
class FieldRange:
    """Per-episode range of one field of :class:`RandomisedLink`.

    Attributes:
        lo, hi: The episode mean is log-uniform on ``[lo, hi]``.
        floor, cap: Every value is clipped to ``[floor, cap]``.
    """

    lo: float
    hi: float
    floor: float
    cap: float

    def __post_init__(self) -> None:
        vals = (self.lo, self.hi, self.floor, self.cap)
        if not all(isinstance(v, Real) and math.isfinite(v) for v in vals):
            raise ValueError(f"range values must be finite numbers, got {vals}")
        if not 0 < self.floor <= self.lo <= self.hi <= self.cap <= MAX_LINK_VALUE:
            raise ValueError(
                f"need 0 < floor <= lo <= hi <= cap <= {MAX_LINK_VALUE:g}, got floor={self.floor} "
                f"lo={self.lo} hi={self.hi} cap={self.cap}"
            )


#: MEC: terminal–edge per the v1 issue's realistic ranges (a cell edge to mmWave line of
#: sight), edge–cloud a wired backhaul of tens to thousands of Mbps.
MEC_RANGES: dict[str, FieldRange] = {
    "b_te_up": FieldRange(0.5, 150.0, 0.1, 300.0),
    "b_te_down": FieldRange(1.0, 900.0, 0.1, 2000.0),
    "b_ec_up": FieldRange(30.0, 1000.0, 1.0, 2000.0),
    "b_ec_down": FieldRange(50.0, 2000.0, 1.0, 4000.0),
    "l_te": FieldRange(5.0, 300.0, 1.0, 2000.0),
    "l_ec": FieldRange(10.0, 150.0, 1.0, 2000.0),
}
#: D2D: Wi-Fi Direct / sidelink between phones.
D2D_RANGES: dict[str, FieldRange] = {
    "b": FieldRange(1.0, 150.0, 0.1, 300.0),
    "l": FieldRange(2.0, 150.0, 0.5, 2000.0),
}
SIGMA_RANGE = (0.05, 0.6)  # per-episode stationary std of the log value
RHO_RANGE = (0.6, 0.98)  # per-episode frame-to-frame correlation
SPIKE_PROB_MAX = 0.05  # per-episode P(spike starts), uniform on [0, max]
SPIKE_LEN = 3.0  # mean spike length, frames
SPIKE_LATENCY = (2.0, 8.0)  # latency x this during a spike (log-uniform per episode)
SPIKE_BANDWIDTH = (0.05, 0.5)  # bandwidth x this during a dip
SCALAR_MAX_ROWS = 8  # up to this many copies step in plain Python (see RandomisedLink)
_NO_MASK = np.zeros((0, 0), dtype=bool)  # the trace kernel's "write every entry"
#: RandomisedLink._fresh's constants for its kernel (the same floats as its numpy path)
_FRESH = np.array([SIGMA_RANGE[0], SIGMA_RANGE[1] - SIGMA_RANGE[0], RHO_RANGE[0],
                   RHO_RANGE[1] - RHO_RANGE[0], SPIKE_PROB_MAX, 1.0 / SPIKE_LEN])  # fmt: skip


def _ranges_for(fields: Sequence[str], overrides: Mapping[str, Any] | None) -> list[FieldRange]:
    base = MEC_RANGES if tuple(fields) == MEC_LINK_FIELDS else D2D_RANGES
    out = dict(base)
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ValueError(f"ranges must be a mapping {{field: [lo, hi]}}, got {overrides!r}")
    for name, val in (overrides or {}).items():
        if name not in base:
            raise ValueError(f"ranges: unknown field {name!r}; allowed: {list(base)}")
        if isinstance(val, FieldRange):
            out[name] = val
            continue
        ok = isinstance(val, Sequence) and not isinstance(val, str | bytes) and len(val) == 2
        if not ok or any(isinstance(v, bool) or not isinstance(v, Real) for v in val):
            raise ValueError(f"ranges[{name!r}] must be [lo, hi] (numbers), got {val!r}")
        lo, hi = float(val[0]), float(val[1])
        d = base[name]
        try:
            out[name] = FieldRange(lo, hi, min(d.floor, lo), max(d.cap, hi))
        except ValueError as exc:
            raise ValueError(f"ranges[{name!r}]: {exc}") from None
    return [out[f] for f in fields]


class RandomisedLink(LinkProcess):
    """Links whose statistics are drawn per episode (see the module docstring).

    Per copy and field: mean ``m ~ logU(lo, hi)``, ``sigma ~ U(SIGMA_RANGE)``,
    ``rho ~ U(RHO_RANGE)``, spike probability ``~ U(0, SPIKE_PROB_MAX)`` and spike factor
    (latency up ``logU(SPIKE_LATENCY)``, bandwidth down ``logU(SPIKE_BANDWIDTH)``). Then::

        z_t = rho z_{t-1} + sqrt(1 - rho^2) eps_t          (stationary N(0, 1))
        value_t = clip(m exp(sigma z_t - sigma^2 / 2) * (factor if spike_t else 1), floor, cap)

    so the lognormal baseline has mean ``m``; spikes are a two-state Markov chain entered
    with the episode's probability and left with probability ``1 / SPIKE_LEN``.

    Args:
        fields: :data:`MEC_LINK_FIELDS` or :data:`D2D_LINK_FIELDS`.
        ranges: Optional ``{field: [lo, hi]}`` overrides of the per-episode mean range.
    """

    def __init__(self, fields: Sequence[str], ranges: Mapping[str, Any] | None = None) -> None:
        super().__init__(fields)
        if self.fields not in (MEC_LINK_FIELDS, D2D_LINK_FIELDS):
            raise ValueError(f"fields must be {MEC_LINK_FIELDS} or {D2D_LINK_FIELDS}")
        r = _ranges_for(self.fields, ranges)
        self.ranges = dict(zip(self.fields, r, strict=True))
        self._llo = np.log([x.lo for x in r])
        self._lspan = np.log([x.hi for x in r]) - self._llo
        self._floor = np.array([x.floor for x in r])
        self._cap = np.array([x.cap for x in r])
        self._floor_l, self._cap_l = self._floor.tolist(), self._cap.tolist()
        self.scalar = True  # one copy steps on Python floats (same draws, same values)
        is_lat = np.array([field_unit(f) == "ms" for f in self.fields])
        lo = np.where(is_lat, SPIKE_LATENCY[0], SPIKE_BANDWIDTH[0])
        hi = np.where(is_lat, SPIKE_LATENCY[1], SPIKE_BANDWIDTH[1])
        self._sp_llo, self._sp_lspan = np.log(lo), np.log(hi) - np.log(lo)
        F = len(self.fields)
        # per copy (6, num, F): log mean - sigma^2/2, sigma, rho, sqrt(1 - rho^2), p_on,
        # log spike factor
        self._p = np.zeros((6, 0, F))
        self._z = np.zeros((0, F))
        self._spike = np.zeros((0, F), dtype=bool)
        self._arrays_stale = False
        self._buf = np.zeros((3, 0, F))

    def _fresh(self, rng: np.random.Generator, k: int) -> tuple[np.ndarray, ...]:
        F = len(self.fields)
        u = rng.random((5, k, F))
        if kernels.AVAILABLE:  # the same operations in one compiled pass
            z, us = rng.standard_normal((k, F)), rng.random((k, F))
            p, spike = np.empty((6, k, F)), np.empty((k, F), dtype=bool)
            kernels.lognormal_fresh(
                u, us, self._llo, self._lspan, self._sp_llo, self._sp_lspan, _FRESH, p, spike
            )
            return p, z, spike
        sigma = SIGMA_RANGE[0] + (SIGMA_RANGE[1] - SIGMA_RANGE[0]) * u[1]
        rho = RHO_RANGE[0] + (RHO_RANGE[1] - RHO_RANGE[0]) * u[2]
        p = np.empty((6, k, F))  # contiguous (k, F) rows: numpy is slow on strided views
        p[0] = self._llo + self._lspan * u[0] - 0.5 * sigma**2
        p[1] = sigma
        p[2] = rho
        p[3] = np.sqrt(1.0 - rho**2)
        p[4] = SPIKE_PROB_MAX * u[3]
        p[5] = self._sp_llo + self._sp_lspan * u[4]
        z = rng.standard_normal((k, F))
        # stationary spike share p_on / (p_on + 1/len)
        share = p[4] / (p[4] + 1.0 / SPIKE_LEN)
        spike = rng.random((k, F)) < share
        return p, z, spike

    def _emit(
        self,
        p: np.ndarray,
        z: np.ndarray,
        spike: np.ndarray,
        floor: np.ndarray | None = None,
        cap: np.ndarray | None = None,
    ) -> np.ndarray:
        """Values from the state; ``floor``/``cap`` may be given tiled to ``z``'s shape
        (numpy is several times slower broadcasting a short ``(F,)`` row)."""
        x = p[1] * z
        x += p[0]
        x += p[5] * spike
        np.exp(x, out=x)
        np.maximum(x, self._floor if floor is None else floor, out=x)
        return np.minimum(x, self._cap if cap is None else cap, out=x)

    def _sync_scalar(self) -> None:
        # A few copies (a single env: 1 MEC link or m D2D candidates) step on Python floats:
        # numpy's per-call overhead dominates at (k <= 8, F)
        self._pl = [row.ravel().tolist() for row in self._p]
        self._zl = self._z.ravel().tolist()
        self._sl = self._spike.ravel().tolist()

    def _small(self) -> bool:
        return self.scalar and not kernels.AVAILABLE and self._z.shape[0] <= SCALAR_MAX_ROWS

    def reset(
        self, rng: np.random.Generator, num: int = 1, offset: int | np.ndarray | None = None
    ) -> np.ndarray:
        num = _check_num(num)
        self._p, self._z, self._spike = self._fresh(rng, num)
        self._arrays_stale = False
        self.values = self._emit(self._p, self._z, self._spike)
        if self._small():
            self._sync_scalar()
        return self.values

    def _reset_rows(
        self, rng: np.random.Generator, mask: np.ndarray, offset: int | np.ndarray | None
    ) -> np.ndarray:
        self._reset_index(rng, np.flatnonzero(mask))  # few rows: integer indexing beats a mask
        return self.values

    def _reset_index(self, rng: np.random.Generator, idx: np.ndarray) -> np.ndarray:
        """Re-initialise rows ``idx``; return their new values ``(idx.size, F)`` (the
        stored values are updated in a new array)."""
        self._sync_arrays()
        p, z, spike = self._fresh(rng, idx.size)
        self._p[:, idx], self._z[idx], self._spike[idx] = p, z, spike
        rows = self._emit(p, z, spike)
        values = self.values.copy()
        values[idx] = rows
        self.values = values
        if self._small():
            self._sync_scalar()
        return rows

    def step(self, rng: np.random.Generator) -> np.ndarray:
        self._require_reset()
        if self._small():
            return self._step_scalar(rng)
        self._sync_arrays()
        p, z, spike = self._p, self._z, self._spike
        if kernels.AVAILABLE:  # one compiled pass; same draws, same operations
            self.values = np.empty(z.shape)
            stay = 1.0 - 1.0 / SPIKE_LEN
            if z.size >= kernels.RNG_IN_KERNEL_MIN:  # drawn in the kernel (same values)
                if self._buf.shape[1:] != z.shape:  # scratch kept while num is unchanged
                    self._buf = np.empty((3, *z.shape))
                kernels.lognormal_ar_draw(
                    rng, p, z, spike, self._floor, self._cap, stay, self.values, self._buf[0]
                )
                return self.values
            eps, u = rng.standard_normal(z.shape), rng.random(z.shape)
            kernels.lognormal_ar_step(
                p, z, spike, eps, u, self._floor, self._cap, stay, self.values
            )
            return self.values
        if self._buf.shape[1:] != z.shape:  # scratch kept while num is unchanged
            self._buf = np.empty((3, *z.shape))
            self._bounds = np.stack([np.broadcast_to(self._floor, z.shape),
                                     np.broadcast_to(self._cap, z.shape)])  # fmt: skip
        eps, u, thr = self._buf
        rng.standard_normal(out=eps)
        rng.random(out=u)
        z *= p[2]
        eps *= p[3]
        z += eps
        # in a spike: stay with 1 - 1/len; otherwise start with the episode's probability
        np.copyto(thr, p[4])
        np.copyto(thr, 1.0 - 1.0 / SPIKE_LEN, where=spike)
        np.less(u, thr, out=spike)
        self.values = self._emit(p, z, spike, *self._bounds)
        return self.values

    def _step_scalar(self, rng: np.random.Generator) -> np.ndarray:
        """A few copies: the same draws and the same operations, in Python floats."""
        shape = self._z.shape
        eps = rng.standard_normal(shape).ravel().tolist()
        u = rng.random(shape).ravel().tolist()
        m, sig, rho, inn, pon, lfac = self._pl
        zl, sl = self._zl, self._sl
        F = shape[1]
        floor, cap = self._floor_l * shape[0], self._cap_l * shape[0]
        stay = 1.0 - 1.0 / SPIKE_LEN
        out = [0.0] * len(zl)
        exp = math.exp
        for j in range(len(zl)):
            z = zl[j] * rho[j] + eps[j] * inn[j]
            zl[j] = z
            s = u[j] < (stay if sl[j] else pon[j])
            sl[j] = s
            x = exp(sig[j] * z + m[j] + (lfac[j] if s else 0.0))
            out[j] = cap[j] if x > cap[j] else (floor[j] if x < floor[j] else x)
        self._arrays_stale = True  # the lists hold the state; arrays are rebuilt on demand
        self.values = np.array(out).reshape(-1, F)
        return self.values

    def _sync_arrays(self) -> None:
        if self._arrays_stale:
            shape = self._z.shape
            self._z = np.array(self._zl).reshape(shape)
            self._spike = np.array(self._sl).reshape(shape)
            self._arrays_stale = False


# --------------------------------------------------------------------------------------------
# trace bank


# 5G files are <5g>_trace_<id>_<mode>, 4G files <4g>_trace_<mode>_<id>_<suffix>
_LUMOS_ID = re.compile(r"_trace_(?:[a-z]+_)?(\d+)")
#: mmWave scenarios held out for testing (relative to throughput/ and ping/, without .list).
MMWAVE_TEST: frozenset[str] = frozenset(
    {
        "static/5g/away_p3",
        "static/5g/toward_p3",
        "static/lte/away_p3",
        "static/lte/toward_p3",
        "walking/5g/lateral",
        "walking/lte/lateral",
        "driving/lte",
    }
)
LUMOS_TEST_MODULUS = 4  # Lumos5G files with id % 4 == 0 are test files


@dataclass(frozen=True)
class TraceFiles:
    """The files of one split: mmWave (throughput, ping) pairs and Lumos5G downlink files."""

    uplink_ping: tuple[tuple[Path, Path], ...]
    downlink: tuple[Path, ...]


def _mmwave_key(rel: Path) -> str:
    # driving/5g/throughput.list and driving/5g/ping.list are one scenario: "driving/5g"
    parts = rel.with_suffix("").parts
    return "/".join(parts[:-1]) if parts[0] == "driving" else "/".join(parts)


def trace_split(
    data_dir: str | Path, split: str, scenarios: Sequence[str] | None = None
) -> TraceFiles:
    """The trace files of ``split`` (``"train"``, ``"test"`` or ``"all"``) under ``data_dir``.

    ``data_dir`` is the data root holding ``traces/mmwave_uplink`` and ``traces/lumos5g``;
    ``scenarios`` keeps only those mmWave scenarios (e.g. ``"walking/5g/lateral"``, see
    :func:`split_scenarios`), for a per-network evaluation. Raises a ValueError naming the
    directory when it (or a split's files) is missing, or the scenario not in the split.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    root = Path(data_dir)
    mm, lum = root / "traces" / "mmwave_uplink", root / "traces" / "lumos5g"
    if not mm.is_dir() or not lum.is_dir():
        raise ValueError(
            f"network mixture with traces needs the data root {root} (with traces/mmwave_uplink "
            f"and traces/lumos5g); it is missing. Set {DATA_ENV_VAR} or trace_dir to the data "
            "root, or use components without 'traces' (e.g. network='mixture_synthetic')"
        )

    def keep(is_test: bool) -> bool:
        return split == "all" or (split == "test") == is_test

    pairs = []
    for tp in sorted((mm / "throughput").rglob("*.list")):
        rel = tp.relative_to(mm / "throughput")
        key = _mmwave_key(rel)
        pp = mm / "ping" / (rel.parent / "ping.list" if rel.parts[0] == "driving" else rel)
        if pp.is_file() and keep(key in MMWAVE_TEST):
            pairs.append((tp, pp))
    down = []
    for f in sorted(p for p in lum.rglob("*") if p.is_file()):
        m = _LUMOS_ID.search(f.name)
        if m is not None and keep(int(m.group(1)) % LUMOS_TEST_MODULUS == 0):
            down.append(f)
    if not pairs or not down:
        raise ValueError(f"no trace files of split {split!r} under {root}")
    if scenarios is not None:
        have = {_mmwave_key(t.relative_to(mm / "throughput")): (t, p) for t, p in pairs}
        if isinstance(scenarios, str | bytes) or not scenarios:
            raise ValueError(f"scenarios must be a non-empty list of names, got {scenarios!r}")
        bad = sorted(str(x) for x in scenarios if x not in have)
        if bad:
            raise ValueError(
                f"scenarios: {bad} not among the mmWave scenarios of split {split!r}; "
                f"choose from {sorted(have)}"
            )
        pairs = [have[x] for x in dict.fromkeys(scenarios)]
    return TraceFiles(tuple(pairs), tuple(down))


def split_scenarios(data_dir: str | Path, split: str) -> list[str]:
    """The mmWave scenario names of ``split`` (the per-network units of an evaluation)."""
    mm = Path(data_dir) / "traces" / "mmwave_uplink"
    pairs = trace_split(data_dir, split).uplink_ping
    return [_mmwave_key(t.relative_to(mm / "throughput")) for t, _ in pairs]


def split_networks(data_dir: str | Path, split: str) -> dict[str, dict[str, Any]]:
    """The networks of a split one by one, as mixture specs: ``"generator"`` (the randomised
    generator alone) and one per mmWave scenario (its uplink/ping pair; MEC downlinks drawn
    from the split's Lumos5G files). ``mixture_<split>`` draws among exactly these."""
    out: dict[str, dict[str, Any]] = {
        "generator": {"type": "mixture", "split": None, "components": {"generator": 1.0}}
    }
    for name in split_scenarios(data_dir, split):
        out[name] = {"type": "mixture", "split": split, "components": {"traces": 1.0},
                     "scenarios": [name]}  # fmt: skip
    return out


@lru_cache(maxsize=4096)
def _table(path: str, mtime_ns: int, kind: str, unit: str, frame_s: float) -> np.ndarray:
    tr = read_mmwave_list(path, None, unit=unit) if kind == "mmwave" else read_lumos5g(path)
    tab = _resample(tr, frame_s, "hold")
    tab.setflags(write=False)
    return tab


def _cached_table(path: Path, kind: str, unit: str, frame_s: float) -> np.ndarray:
    # Keyed by modification time so that an edited file is read again.
    return _table(str(path), path.stat().st_mtime_ns, kind, unit, float(frame_s))


class TraceBank(LinkProcess):
    """Each copy replays its own randomly chosen trace per field group, from a random offset.

    ``groups`` maps a tuple of fields to a list of candidate tables (one array per field, on
    the frame grid); a copy picks one candidate per group at reset (uniformly) and an
    independent random start per field, then replays in a loop. Fields in no group are NaN
    here: :class:`NetworkMixture` fills them from its generator.
    """

    def __init__(
        self,
        fields: Sequence[str],
        groups: Mapping[tuple[str, ...], Sequence[Sequence[np.ndarray]]],
        min_bandwidth_mbps: float = 0.1,
    ) -> None:
        super().__init__(fields)
        if not groups:
            raise ValueError("a trace bank needs at least one group of traces")
        tables, base, length, cols, gidx = [], [], [], [], []
        offset = 0
        self.trace_fields: tuple[str, ...] = ()
        for g, (gfields, cands) in enumerate(groups.items()):
            if not cands:
                raise ValueError(f"trace group {gfields} has no traces")
            for j, f in enumerate(gfields):
                b, n_ = [], []
                for cand in cands:
                    tab = np.asarray(cand[j], dtype=np.float64)
                    if field_unit(f) == "Mbps":
                        tab = np.maximum(tab, min_bandwidth_mbps)
                    tables.append(tab)
                    b.append(offset)
                    n_.append(tab.size)
                    offset += tab.size
                base.append(b)
                length.append(n_)
                cols.append(self.fields.index(f))
                gidx.append(g)
            self.trace_fields += tuple(gfields)
        self._flat = np.concatenate(tables)
        self._cols = np.asarray(cols, dtype=np.intp)
        self._gidx = np.asarray(gidx, dtype=np.intp)
        self._ncand = np.array([len(c) for c in groups.values()], dtype=np.intp)
        # (traced field, candidate table): start in the flat array and length (zero-padded)
        self._base = np.zeros((len(self._cols), self._ncand.max()), dtype=np.intp)
        self._len = np.zeros_like(self._base)
        nxt = np.arange(1, self._flat.size + 1, dtype=np.intp)
        for j, (b, n_) in enumerate(zip(base, length, strict=True)):
            b, n_ = np.asarray(b, dtype=np.intp), np.asarray(n_, dtype=np.intp)
            self._base[j, : b.size], self._len[j, : n_.size] = b, n_
            nxt[b + n_ - 1] = b  # each table's last frame loops to its first
        self._next = nxt
        self._idx = np.zeros((0, len(self._cols)), dtype=np.intp)
        self.pick = np.zeros((0, len(groups)), dtype=np.intp)

    @property
    def values(self) -> np.ndarray:
        if self._values is None:  # after step_into: gathered from the replay positions
            self._values = self._assemble()
        return self._values

    @values.setter
    def values(self, values: np.ndarray | None) -> None:
        self._values = values

    @property
    def num(self) -> int:
        return int(self._idx.shape[0])

    def _start(self, rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray]:
        if kernels.AVAILABLE:  # the same operations in one compiled pass
            upick, uoff = rng.random((k, self._ncand.size)), rng.random((k, self._cols.size))
            pick = np.empty((k, self._ncand.size), dtype=np.intp)
            idx = np.empty((k, self._cols.size), dtype=np.intp)
            kernels.trace_start(
                upick, uoff, self._ncand, self._gidx, self._base, self._len, pick, idx
            )
            return pick, idx
        pick = (rng.random((k, self._ncand.size)) * self._ncand).astype(np.intp)
        u = rng.random((k, self._cols.size))
        idx = np.empty((k, self._cols.size), dtype=np.intp)
        for j in range(self._cols.size):
            c = pick[:, self._gidx[j]]
            idx[:, j] = self._base[j, c] + (u[:, j] * self._len[j, c]).astype(np.intp)
        return pick, idx

    def _assemble(self, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        idx = self._idx[rows]
        out = np.full((idx.shape[0], len(self.fields)), np.nan)
        out[:, self._cols] = self._flat[idx]
        return out

    def reset(
        self, rng: np.random.Generator, num: int = 1, offset: int | np.ndarray | None = None
    ) -> np.ndarray:
        self.pick, self._idx = self._start(rng, _check_num(num))
        self.values = self._assemble()
        return self.values

    def _reset_rows(
        self, rng: np.random.Generator, mask: np.ndarray, offset: int | np.ndarray | None
    ) -> np.ndarray:
        self._reset_index(rng, np.flatnonzero(mask))
        return self.values

    def _reset_index(self, rng: np.random.Generator, idx: np.ndarray) -> np.ndarray:
        """Re-initialise rows ``idx``; return their new values ``(idx.size, F)`` (the
        stored values, when gathered, are updated in a new array)."""
        self.pick[idx], self._idx[idx] = self._start(rng, idx.size)
        rows = self._assemble(idx)
        if self._values is not None:
            values = self._values.copy()
            values[idx] = rows
            self._values = values
        return rows

    def step(self, rng: np.random.Generator) -> np.ndarray:
        self._require_reset()
        if kernels.AVAILABLE:  # the same gather in one compiled pass (idx advanced in place)
            self.values = np.empty((self._idx.shape[0], len(self.fields)))
            kernels.trace_step(self._next, self._flat, self._idx, self._cols, _NO_MASK, self.values)
            return self.values
        self._idx = self._next[self._idx]
        self.values = self._assemble()
        return self.values

    def step_into(self, out: np.ndarray, take: np.ndarray) -> None:
        """:meth:`step` writing only the ``take`` entries (``(num, F)`` bool, traced fields)
        into ``out``: a mixture's trace rows. Compiled, the bank keeps no values of its own
        (they are gathered again when read)."""
        if not kernels.AVAILABLE:
            np.copyto(out, self.step(None), where=take)
            return
        self._require_reset()
        kernels.trace_step(self._next, self._flat, self._idx, self._cols, take, out)
        self._values = None


def make_trace_bank(
    scenario: str,
    data_dir: str | Path,
    split: str,
    frame_s: float = 1.0,
    scenarios: Sequence[str] | None = None,
) -> TraceBank:
    """The real-trace component of a mixture: MEC ``(b_te_up, l_te)`` from one mmWave
    throughput/ping pair and ``b_te_down`` from one Lumos5G file; D2D ``(b, l)`` from one
    mmWave pair (a cellular uplink read as the phone-to-phone link)."""
    if not (isinstance(frame_s, int | float) and math.isfinite(frame_s) and frame_s >= 0.01):
        raise ValueError(f"frame_s must be a number of seconds >= 0.01, got {frame_s!r}")
    files = trace_split(data_dir, split, scenarios)
    pairs = [
        (_cached_table(t, "mmwave", "Mbps", frame_s), _cached_table(p, "mmwave", "ms", frame_s))
        for t, p in files.uplink_ping
    ]
    if scenario == "mec":
        down = [(_cached_table(f, "lumos5g", "Mbps", frame_s),) for f in files.downlink]
        return TraceBank(MEC_LINK_FIELDS, {("b_te_up", "l_te"): pairs, ("b_te_down",): down})
    return TraceBank(D2D_LINK_FIELDS, {("b", "l"): pairs})


# --------------------------------------------------------------------------------------------
# mixture


class NetworkMixture(LinkProcess):
    """A network component drawn per copy at every (re)set (see the module docstring).

    Args:
        scenario: ``"mec"`` or ``"d2d"``.
        weights: Component -> weight (>= 0, at least one > 0), among :data:`COMPONENTS`.
        split: Trace split (:data:`SPLITS`); needed when ``traces`` has weight > 0.
        data_dir: Data root of the traces (default :func:`default_data_dir`).
        frame_s: Trace seconds per frame.
        ranges: ``{field: [lo, hi]}`` overrides of the generator's per-episode mean range.
        scenarios: Only these mmWave scenarios in the trace component (:func:`split_networks`).
    """

    def __init__(
        self,
        scenario: str,
        weights: Mapping[str, Any] | None = None,
        split: str | None = "train",
        data_dir: str | Path | None = None,
        frame_s: float = 1.0,
        ranges: Mapping[str, Any] | None = None,
        scenarios: Sequence[str] | None = None,
    ) -> None:
        if scenario not in ("mec", "d2d"):
            raise ValueError(f"scenario must be 'mec' or 'd2d', got {scenario!r}")
        if isinstance(frame_s, bool) or not (
            isinstance(frame_s, Real) and math.isfinite(frame_s) and 0.01 <= frame_s <= 3600
        ):
            raise ValueError(
                f"frame_s must be a number of seconds in [0.01, 3600], got {frame_s!r}"
            )
        fields = MEC_LINK_FIELDS if scenario == "mec" else D2D_LINK_FIELDS
        super().__init__(fields)
        if weights is not None and not isinstance(weights, Mapping):
            raise ValueError(
                f"components must be a mapping {{component: weight}} among {list(COMPONENTS)}, "
                f"got {weights!r}"
            )
        w = dict(DEFAULT_WEIGHTS if weights is None else weights)
        bad = sorted(map(repr, set(w) - set(COMPONENTS)))
        if bad:
            raise ValueError(f"components: unknown {bad}; allowed: {list(COMPONENTS)}")
        for k, v in w.items():
            if (
                isinstance(v, bool)
                or not isinstance(v, int | float)
                or not (math.isfinite(v) and v >= 0)
            ):
                raise ValueError(
                    f"components[{k!r}] (a weight) must be a finite number >= 0, got {v!r}"
                )
        w = {k: float(v) for k, v in w.items() if v > 0}
        if not w:
            raise ValueError(
                f"components: a mixture needs at least one component with weight > 0 "
                f"(among {list(COMPONENTS)})"
            )
        self.scenario = scenario
        self.names = tuple(c for c in COMPONENTS if c in w)
        probs = np.array([w[c] for c in self.names])
        self.probs = probs / probs.sum()
        self._cum = np.cumsum(self.probs)[:-1]
        self.split = split
        # The generator always runs: it is a component and it fills the fields no trace has.
        self.generator = RandomisedLink(fields, ranges)
        self.traces: TraceBank | None = None
        if "traces" in w:
            if split is None:
                raise ValueError(
                    f"split must be one of {list(SPLITS)} when 'traces' is a component"
                )
            root = default_data_dir() if data_dir is None else Path(data_dir)
            self.traces = make_trace_bank(scenario, root, split, frame_s, scenarios)
        self.trial: LinkProcess | None = None
        if "5g_trial" in w:
            self.trial = FiveGTrialMEC() if scenario == "mec" else FiveGTrialD2D()
        self._code = {c: i for i, c in enumerate(self.names)}
        traced = () if self.traces is None else self.traces.trace_fields
        self._is_trace = np.array([f in traced for f in fields])
        self._set_component(np.zeros(0, dtype=np.intp))

    def _draw(self, rng: np.random.Generator, k: int) -> np.ndarray:
        return np.searchsorted(self._cum, rng.random(k), side="right").astype(np.intp)

    def _set_component(self, comp: np.ndarray, idx: np.ndarray | None = None) -> None:
        """Record the component of every copy (``idx``: only those rows changed) and the
        masks a step assembles with, so that a step only gathers."""
        F, C = len(self.fields), len(self.names)
        if idx is None:
            self._count = np.bincount(comp, minlength=C)
            self._trace_mask = np.zeros((comp.size, F), dtype=bool)
            self._trial_rows = np.zeros(comp.size, dtype=bool)
            idx = np.arange(comp.size)
        else:  # a few rows: update the counts (a full bincount costs more than the reset)
            old = self.component[idx]
            self._count = self._count + np.bincount(comp[idx], minlength=C)
            self._count -= np.bincount(old, minlength=C)
        self.component = comp
        new = comp[idx]
        if "traces" in self._code:
            self._trace_mask[idx] = (new == self._code["traces"])[:, None] & self._is_trace
        if "5g_trial" in self._code:
            self._trial_rows[idx] = new == self._code["5g_trial"]

    def _used(self, name: str) -> bool:
        code = self._code.get(name)
        return code is not None and bool(self._count[code])

    def _assemble(self) -> np.ndarray:
        out = self.generator.values.copy()
        if self._used("traces"):
            np.copyto(out, self.traces.values, where=self._trace_mask)
        if self._used("5g_trial"):
            np.copyto(out, self.trial.values, where=self._trial_rows[:, None])
        return out

    def _assemble_rows(
        self, idx: np.ndarray, rows: np.ndarray, traced: np.ndarray | None
    ) -> np.ndarray:
        """:meth:`_assemble` after rows ``idx`` alone were reset (the generator's new
        ``rows``, the trace bank's ``traced``): the other rows' parts and components are
        unchanged, so only these rows are gathered (a new array)."""
        out = self.values.copy()
        if traced is not None and self._used("traces"):
            np.copyto(rows, traced, where=self._trace_mask[idx])
        if self._used("5g_trial"):
            np.copyto(rows, self.trial.values[idx], where=self._trial_rows[idx, None])
        out[idx] = rows
        return out

    def _parts(self) -> list[LinkProcess]:
        """The component processes, in the order they draw: generator, traces, 5g_trial."""
        return [p for p in (self.generator, self.traces, self.trial) if p is not None]

    def reset(
        self, rng: np.random.Generator, num: int = 1, offset: int | np.ndarray | None = None
    ) -> np.ndarray:
        num = _check_num(num)
        self._set_component(self._draw(rng, num))
        for proc in self._parts():
            proc.reset(rng, num)
        self.values = self._assemble()
        return self.values

    def _reset_rows(
        self, rng: np.random.Generator, mask: np.ndarray, offset: int | np.ndarray | None
    ) -> np.ndarray:
        comp = self.component.copy()
        idx = np.flatnonzero(mask)
        comp[idx] = self._draw(rng, idx.size)
        self._set_component(comp, idx)
        # the components in their order (generator, traces, 5g_trial), new rows only
        rows = self.generator._reset_index(rng, idx)
        traced = None if self.traces is None else self.traces._reset_index(rng, idx)
        if self.trial is not None:
            self.trial.reset_where(rng, mask)
        self.values = self._assemble_rows(idx, rows, traced)
        return self.values

    def step(self, rng: np.random.Generator) -> np.ndarray:
        self._require_reset()
        # The other components write their entries into the generator's new values array,
        # taken over without a copy (a copy of a fresh array at 4096 D2D copies costs ~6% of
        # a vector step): the generator makes a new array at every step and row reset and
        # never writes into one it has returned, and only reset() reads its values.
        out = self.generator.step(rng)
        if self.traces is not None and self._used("traces"):
            self.traces.step_into(out, self._trace_mask)
        if self.trial is not None and self._used("5g_trial"):
            np.copyto(out, self.trial.step(rng), where=self._trial_rows[:, None])
        self.values = out
        return out


#: Named mixtures accepted as network specs (``network="mixture_train"``).
NAMED_MIXTURES: dict[str, dict[str, Any]] = {
    "mixture_train": {"split": "train"},
    "mixture_test": {"split": "test"},
    "mixture_synthetic": {"split": None, "components": {"generator": 0.7, "5g_trial": 0.3}},
}
MIXTURE_KEYS = frozenset(
    {"type", "split", "components", "data_dir", "frame_s", "ranges", "scenarios"}
)


def make_mixture(
    spec: Mapping[str, Any], scenario: str, base_dir: str | Path | None = None
) -> NetworkMixture:
    """:class:`NetworkMixture` from ``{"type": "mixture", "split", "components", "data_dir",
    "frame_s", "ranges"}``. A relative ``data_dir`` is resolved against ``base_dir``; without
    ``data_dir``, ``base_dir`` (the env's ``trace_dir``) is the data root if given, else
    :func:`default_data_dir`."""
    bad = sorted(set(spec) - MIXTURE_KEYS)
    if bad:
        raise ValueError(f"'mixture' link spec: unknown keys {bad}; allowed {sorted(MIXTURE_KEYS)}")
    split = spec.get("split", "train")
    if split is not None and (not isinstance(split, str) or split not in SPLITS):
        raise ValueError(
            f"'mixture' link spec: split must be one of {list(SPLITS)} or null, got {split!r}"
        )
    data_dir = spec.get("data_dir")
    if data_dir is not None:
        p = Path(data_dir).expanduser()
        data_dir = p if p.is_absolute() or base_dir is None else Path(base_dir) / p
    elif base_dir is not None:
        data_dir = Path(base_dir)
    frame_s = spec.get("frame_s", 1.0)
    if isinstance(frame_s, bool) or not isinstance(frame_s, Real | None):
        raise ValueError(f"'mixture' link spec: frame_s must be a number >= 0.01, got {frame_s!r}")
    return NetworkMixture(
        scenario,
        spec.get("components"),
        split,
        data_dir,
        frame_s if frame_s is not None else 1.0,
        spec.get("ranges"),
        spec.get("scenarios"),
    )
