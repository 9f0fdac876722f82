"""Cost model (SPEC §3-§6) against hand-computed cases; scalar and batched paths agree."""

from __future__ import annotations

import numpy as np
import pytest

from envs.dnn import DNNProfile, get_profile
from envs.model.chain import ChainCostModel, EarlyExits
from envs.model.layers import BlockCosts, layer_energy_j, layer_latency_ms, transfer_ms
from envs.model.links import MEC_OVERHEAD_WEIGHTS, LinkMatrices, d2d_links, mec_links

# Two blocks: [conv 10000->20000, relu 20000] and [fc 20000->10]; raw input 10000 uint8 elements.
TINY = DNNProfile.from_dict(
    {
        "name": "tiny",
        "input_shape": [10000],
        "input_kb": 10.0,
        "blocks": [
            {
                "name": "b1",
                "in_kb": 10.0,
                "out_kb": 80.0,
                "layers": [
                    {"kind": "conv", "in_elems": 10000, "out_elems": 20000},
                    {"kind": "relu", "in_elems": 20000, "out_elems": 20000},
                ],
            },
            {
                "name": "b2",
                "in_kb": 80.0,
                "out_kb": 0.04,
                "layers": [{"kind": "fc", "in_elems": 20000, "out_elems": 10}],
            },
        ],
    }
)
# Table 1 arithmetic for TINY (d = 1):
LAT_CONV = 6.240e-5 * 10000 + 1.074e-4 * 20000 - 1.938  # 0.834 ms
LAT_RELU = 1.534e-5 * 20000 + 4.844e-1  # 0.7912 ms
LAT_FC = 9.163e-5 * 20000 + 3.990e-4 * 10 + 1.172  # 3.00859 ms
EN_CONV = 9.240e-7 * 10000 + 1.874e-6 * 20000 + 3.810e-2  # 0.08482 J
EN_RELU = 1.435e-6 * 20000 + 2.881e-1  # 0.3168 J
EN_FC = 9.213e-6 * 20000 + 4.012e-5 * 10 + 1.125  # 1.3096612 J

MEC_STATE = dict(b_te_up=80.0, b_te_down=400.0, b_ec_up=100.0, b_ec_down=500.0, l_te=5.0, l_ec=20.0)
SPEED = np.array([4.0, 1.0, 0.25])
P_UP = 65.0 * 80.0 + 11475.97  # mW, device uplink power at B_TE^U = 80
P_DOWN = 6.5 * 400.0 + 11475.97  # mW, device downlink power at B_TE^D = 400


def test_layer_models_table1():
    assert layer_latency_ms("conv", 10000, 20000) == pytest.approx(0.834)
    assert layer_latency_ms("conv", 10000, 20000, d=4.0) == pytest.approx(4 * 0.834)
    assert layer_latency_ms("relu", 20000, 20000) == pytest.approx(0.7912)
    assert layer_latency_ms("relu", 20000, 1) == layer_latency_ms("relu", 20000, 20000)  # no beta
    assert layer_latency_ms("fc", 20000, 10) == pytest.approx(3.00859)
    # Clamped at 0: a tiny conv/pool has a negative linear prediction.
    assert 6.24e-5 * 100 + 1.074e-4 * 100 - 1.938 < 0
    assert layer_latency_ms("conv", 100, 100) == 0.0
    assert layer_latency_ms("pool", 100, 25) == 0.0
    assert layer_latency_ms("free", 1e6, 1e6) == 0.0
    assert layer_energy_j("conv", 10000, 20000) == pytest.approx(0.08482)
    assert layer_energy_j("norm", 1000, 1000, d_energy=2.0) == pytest.approx(
        2 * (5.187e-6 * 1000 + 0.5991)
    )
    assert transfer_ms(10.0, 80.0, 5.0) == pytest.approx(8 * 10 / 80 + 5)


def test_block_costs():
    bc = BlockCosts.from_profile(TINY)
    np.testing.assert_allclose(bc.latency_ms, [LAT_CONV + LAT_RELU, LAT_FC])
    np.testing.assert_allclose(bc.energy_j, [EN_CONV + EN_RELU, EN_FC])
    np.testing.assert_allclose(bc.in_kb, [10.0, 80.0])


def test_mec_cost_edge_then_cloud():
    m = ChainCostModel(TINY, 3, MEC_OVERHEAD_WEIGHTS)
    links = mec_links(**MEC_STATE)
    res = m.evaluate([1, 2], links, SPEED, eta_energy=10.0, eta_overhead=10.0)
    up_in = 8 * 10.0 / 80 + 5  # raw input T -> E
    e_to_c = 8 * 80.0 / 100 + 20  # block-1 output E -> C
    back = 8 * 0.04 / 500 + 8 * 0.04 / 400 + 20 + 5  # result C -> E -> T
    latency = (LAT_CONV + LAT_RELU) * 1.0 + up_in + LAT_FC * 0.25 + e_to_c + back
    energy = up_in * P_UP * 1e-6 + back * P_DOWN * 1e-6  # the E -> C hop costs the device nothing
    overhead = (2 + 3) / 2
    assert res.latency_ms == pytest.approx(latency)
    assert res.energy_j == pytest.approx(energy)
    assert res.overhead == pytest.approx(overhead)
    assert res.cost == pytest.approx(latency + 10 * energy + 10 * overhead)


def test_mec_cost_device_then_cloud():
    m = ChainCostModel(TINY, 3, MEC_OVERHEAD_WEIGHTS)
    res = m.evaluate([0, 2], mec_links(**MEC_STATE), SPEED, eta_energy=10.0, eta_overhead=10.0)
    t_to_c = 8 * 80.0 / 80 + 8 * 80.0 / 100 + 5 + 20  # full path T -> E -> C
    back = 8 * 0.04 / 500 + 8 * 0.04 / 400 + 20 + 5
    latency = (LAT_CONV + LAT_RELU) * 4.0 + t_to_c + LAT_FC * 0.25 + back
    energy = (EN_CONV + EN_RELU) + t_to_c * P_UP * 1e-6 + back * P_DOWN * 1e-6
    assert res.latency_ms == pytest.approx(latency)
    assert res.energy_j == pytest.approx(energy)
    assert res.overhead == pytest.approx(3 / 2)
    # All on the device: no transfer at all, overhead 0.
    local = m.evaluate([0, 0], mec_links(**MEC_STATE), SPEED, eta_energy=10.0, eta_overhead=10.0)
    assert local.latency_ms == pytest.approx(4 * (LAT_CONV + LAT_RELU + LAT_FC))
    assert local.energy_j == pytest.approx(EN_CONV + EN_RELU + EN_FC)
    assert local.overhead == 0.0


def test_d2d_cost():
    m = ChainCostModel(TINY, 2)
    res = m.evaluate([1, 0], d2d_links(50.0, 10.0), [4.0, 5.0], eta_energy=10.0)
    to_h = 8 * 10.0 / 50 + 10
    to_u = 8 * 80.0 / 50 + 10
    latency = to_h + (LAT_CONV + LAT_RELU) * 5.0 + to_u + LAT_FC * 4.0
    energy = EN_FC + (to_h + to_u) * (283.17 * 50 + 132.86) * 1e-6
    assert res.latency_ms == pytest.approx(latency)
    assert res.energy_j == pytest.approx(energy)
    assert res.overhead == 0.0
    assert res.cost == pytest.approx(latency + 10 * energy)


def test_early_exit_expected_and_sampled():
    m = ChainCostModel(TINY, 3, MEC_OVERHEAD_WEIGHTS, EarlyExits((0.3, 0.9), num_classes=10))
    links = mec_links(**MEC_STATE)
    up_in = 8 * 10.0 / 80 + 5
    branch = LAT_FC * 1.0  # fc 20000 -> 10 on the edge (S_1 = E, S_2 = C: crossing)
    ret = 8 * 0.04 / 400 + 5  # logits E -> T
    e_to_c = 8 * 80.0 / 100 + 20
    back = 8 * 0.04 / 500 + 8 * 0.04 / 400 + 20 + 5
    head = (LAT_CONV + LAT_RELU) + up_in + branch
    tail = e_to_c + LAT_FC * 0.25 + back
    exp = m.evaluate([1, 2], links, SPEED, eta_energy=10.0, eta_overhead=10.0)
    assert exp.latency_ms == pytest.approx(head + 0.3 * ret + 0.7 * tail)
    assert exp.energy_j == pytest.approx(
        up_in * P_UP * 1e-6 + 0.3 * ret * P_DOWN * 1e-6 + 0.7 * back * P_DOWN * 1e-6
    )
    assert exp.overhead == pytest.approx((2 + 0.7 * 3) / 2)
    exited = m.evaluate([1, 2], links, SPEED, exit_draws=np.array([0.1, 0.0]))
    assert exited.latency_ms == pytest.approx(head + ret)
    stayed = m.evaluate([1, 2], links, SPEED, exit_draws=np.array([0.5, 0.0]))
    assert stayed.latency_ms == pytest.approx(head + tail)
    # No crossing after block 1: the branch is never evaluated, the last block has none.
    same = m.evaluate([2, 2], links, SPEED)
    plain = ChainCostModel(TINY, 3, MEC_OVERHEAD_WEIGHTS).evaluate([2, 2], links, SPEED)
    assert same.latency_ms == pytest.approx(plain.latency_ms)


@pytest.mark.parametrize("exits", [False, True])
@pytest.mark.parametrize("scenario", ["mec", "d2d"])
def test_scalar_and_batched_paths_agree(scenario, exits):
    rng = np.random.default_rng(0)
    prof = get_profile("resnet32")
    P = 3 if scenario == "mec" else 2
    ee = EarlyExits(tuple(rng.uniform(0, 0.5, prof.n_blocks))) if exits else None
    m = ChainCostModel(prof, P, MEC_OVERHEAD_WEIGHTS if P == 3 else None, ee)
    B = 64
    dec = rng.integers(0, P, (B, prof.n_blocks))
    draws = rng.random((B, prof.n_blocks))
    if P == 3:
        raw = [
            rng.uniform(50, 100, B),
            rng.uniform(300, 450, B),
            rng.uniform(70, 75, B),
            rng.uniform(450, 600, B),
            rng.uniform(1, 100, B),
            rng.uniform(15, 900, B),
        ]
        links = mec_links(*raw)
    else:
        raw = [rng.uniform(50, 100, B), rng.uniform(2, 300, B)]
        links = d2d_links(*raw)
    slowdown = rng.uniform(0.2, 5, (B, P))
    kw = dict(d_energy=1.3, eta_energy=7.0, eta_overhead=3.0)
    for draw in (None, draws):
        batch = m.evaluate(dec, links, slowdown, exit_draws=draw, **kw)
        for j in range(0, B, 7):
            lj = LinkMatrices(*(x[j] for x in links))
            one = m.evaluate(
                dec[j], lj, slowdown[j], exit_draws=None if draw is None else draw[j], **kw
            )
            for a, b in zip(one, batch, strict=True):
                assert a == pytest.approx(b[j], rel=1e-12)


def test_batched_links_match_scalar_links():
    rng = np.random.default_rng(1)
    vals = [rng.uniform(10, 100, 5) for _ in range(6)]
    batched = mec_links(*vals)
    for j in range(5):
        one = mec_links(*(float(v[j]) for v in vals))
        for a, b in zip(one, batched, strict=True):
            np.testing.assert_allclose(a, b[j])
    bd = d2d_links(vals[0], vals[1])
    np.testing.assert_allclose(
        d2d_links(float(vals[0][2]), float(vals[1][2])).ms_per_kb, bd.ms_per_kb[2]
    )


def test_bad_inputs_name_the_field():
    m = ChainCostModel(TINY, 3, MEC_OVERHEAD_WEIGHTS)
    with pytest.raises(ValueError, match="b_te_up"):
        mec_links(float("nan"), 1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="b_ec_down"):
        mec_links(1, 1, 1, -5.0, 1, 1)
    with pytest.raises(ValueError, match="l_ec"):
        mec_links(1, 1, 1, 1, 1, np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"\bl\b"):
        d2d_links(10.0, float("inf"))
    links = mec_links(**MEC_STATE)
    with pytest.raises(ValueError, match="shape"):
        m.evaluate([0, 1, 2], links, SPEED)
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        m.evaluate([0, 3], links, SPEED)
    with pytest.raises(ValueError, match="integers"):
        m.evaluate(np.array([0.5, 1.0]), links, SPEED)
    with pytest.raises(ValueError, match="num_platforms"):
        ChainCostModel(TINY, 4)
    with pytest.raises(ValueError, match="overhead_weights"):
        ChainCostModel(TINY, 3, (0, 1))
    with pytest.raises(ValueError, match="early_exit probs"):
        ChainCostModel(TINY, 3, None, EarlyExits((0.1, 0.2, 0.3)))
    with pytest.raises(ValueError, match="early_exit probs"):
        EarlyExits((0.1, 1.5))
