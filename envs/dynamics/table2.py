"""Link fields and the 5G trial network of Ren et al., Table 2.

The MEC scenario (docs/model.md §4) needs, each frame, the state of the terminal–edge (TE) and
edge–cloud (EC) links, in the field order :data:`MEC_LINK_FIELDS`::

    b_te_up, b_te_down, b_ec_up, b_ec_down  (Mbps)   l_te, l_ec  (ms)

The D2D scenario (docs/model.md §5) needs one symmetric link, :data:`D2D_LINK_FIELDS` = ``(b, l)``.
A field's unit follows its name (:func:`field_unit`). :data:`TABLE2` holds min / max / avg of
every quantity; :func:`table2_means` the averages in a scenario's field order.
"""

from __future__ import annotations

import numpy as np

MEC_LINK_FIELDS: tuple[str, ...] = ("b_te_up", "b_te_down", "b_ec_up", "b_ec_down", "l_te", "l_ec")
D2D_LINK_FIELDS: tuple[str, ...] = ("b", "l")

#: Ren et al., Table 2 ("Specification of 5G Trial Network"): (min, max, avg) per quantity.
#: Bandwidth in Mbps, end-to-end latency in ms.
TABLE2: dict[str, tuple[float, float, float]] = {
    "b_te_up": (74.4, 77.9, 76.1),
    "b_te_down": (332.5, 440.3, 382.4),
    "b_ec_up": (72.2, 73.9, 73.3),
    "b_ec_down": (466.3, 600.7, 542.3),
    "l_te": (1.61, 104.25, 8.76),
    "l_ec": (15.37, 905.16, 27.04),
    "b_d2d": (71.1, 97.3, 87.6),
    "l_d2d": (2.72, 304.16, 23.14),
}

SCENARIOS: tuple[str, ...] = ("mec", "d2d")

__all__ = [
    "D2D_LINK_FIELDS",
    "MEC_LINK_FIELDS",
    "SCENARIOS",
    "TABLE2",
    "field_unit",
    "table2_means",
]


def field_unit(name: str) -> str:
    """Unit of a link field by its name: ``b``/``b_*`` -> ``"Mbps"``, ``l``/``l_*`` -> ``"ms"``."""
    if name == "b" or name.startswith("b_"):
        return "Mbps"
    if name == "l" or name.startswith("l_"):
        return "ms"
    raise ValueError(f"link field {name!r}: names must start with 'b' (Mbps) or 'l' (ms)")


def _fields_for(scenario: str) -> tuple[str, ...]:
    if scenario == "mec":
        return MEC_LINK_FIELDS
    if scenario == "d2d":
        return D2D_LINK_FIELDS
    raise ValueError(f"scenario must be one of {SCENARIOS}, got {scenario!r}")


def table2_means(scenario: str = "mec") -> np.ndarray:
    """Table 2 averages in the field order of ``scenario`` (``"mec"`` or ``"d2d"``)."""
    keys = MEC_LINK_FIELDS if _fields_for(scenario) is MEC_LINK_FIELDS else ("b_d2d", "l_d2d")
    return np.array([TABLE2[k][2] for k in keys])
