"""DNN profiles: block counts, true tensor sizes, JSON round trip, the profiler's options."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from envs.dnn import (
    BUILTIN_PROFILES,
    DNNProfile,
    Layer,
    get_profile,
    profile_module,
    resolve_profile,
)
from envs.dnn.models import MODELS

EXPECTED_BLOCKS = {
    "alexnet": 10,
    "vgg16": 15,
    "resnet32": 17,
    "mobilenet_v1": 6,
    "lenet": 5,
    "resnet18": 10,
}


@pytest.mark.parametrize("name", BUILTIN_PROFILES)
def test_block_counts(name):
    assert get_profile(name).n_blocks == EXPECTED_BLOCKS[name]


@pytest.mark.parametrize("name", BUILTIN_PROFILES)
@pytest.mark.parametrize("shape", [(3, 32, 32), (3, 224, 224)])
def test_block_sizes_match_torch_forward(name, shape):
    """Each block's out_kb is its true float32 output size; in_kb chains from the previous block."""
    model = MODELS[name]().eval()
    prof = get_profile(name, shape)
    x = torch.zeros((1, *shape))
    assert prof.input_kb == pytest.approx(shape[0] * shape[1] * shape[2] / 1000.0)  # uint8 image
    assert prof.blocks[0].in_kb == pytest.approx(prof.input_kb)
    with torch.no_grad():
        for block, child in zip(prof.blocks, model.children(), strict=True):
            x = child(x)
            assert block.out_kb == pytest.approx(x.numel() * 4 / 1000.0)
    for prev, blk in zip(prof.blocks, prof.blocks[1:], strict=False):
        assert blk.in_kb == prev.out_kb
    assert prof.blocks[-1].out_kb == pytest.approx(10 * 4 / 1000.0)  # 10 CIFAR logits


def test_known_layer_shapes():
    # AlexNet conv1: 3x32x32 -> conv 64 k3 s2 p1 -> 64x16x16 = 16384 elements.
    alex = get_profile("alexnet")
    conv1 = alex.blocks[0].layers[0]
    assert (conv1.kind, conv1.in_elems, conv1.out_elems) == ("conv", 3 * 32 * 32, 64 * 16 * 16)
    assert alex.blocks[0].layers[1].kind == "relu"
    assert [x.kind for x in alex.blocks[1].layers] == ["norm", "pool"]
    # VGG-16 conv1_1 keeps 32x32 with 64 channels.
    vgg = get_profile("vgg16")
    assert vgg.blocks[0].layers[0].out_elems == 64 * 32 * 32
    assert [x.kind for x in vgg.blocks[0].layers] == ["conv", "norm", "relu"]
    # ResNet-32: 15 residual units, stage 3 outputs 64x8x8.
    r32 = get_profile("resnet32")
    assert r32.blocks[15].out_kb == pytest.approx(64 * 8 * 8 * 4 / 1000.0)
    convs = sum(x.kind == "conv" for b in r32.blocks for x in b.layers)
    assert convs == 1 + 15 * 2 + 2  # stem + two per unit + two projection shortcuts
    fcs = sum(x.kind == "fc" for b in r32.blocks for x in b.layers)
    assert fcs == 1
    # MobileNet-V1: depthwise convs are convs; 1 stem + 13 x (dw + pw) = 27 convs.
    mb = get_profile("mobilenet_v1")
    assert sum(x.kind == "conv" for b in mb.blocks for x in b.layers) == 27
    # Flatten/Dropout are zero-cost "free" layers.
    assert "free" in {x.kind for x in alex.blocks[7].layers}


def test_to_dict_exact_format_and_round_trip():
    prof = get_profile("lenet")
    d = prof.to_dict()
    assert set(d) == {"name", "input_shape", "input_kb", "blocks"}
    assert isinstance(d["input_shape"], list)
    for b in d["blocks"]:
        assert set(b) == {"name", "in_kb", "out_kb", "layers"}
        for layer in b["layers"]:
            assert set(layer) == {"kind", "in_elems", "out_elems"}
            assert isinstance(layer["in_elems"], int)
    again = DNNProfile.from_dict(json.loads(json.dumps(d)))
    assert again == prof
    assert again.fingerprint() == prof.fingerprint()
    assert resolve_profile(d) == prof
    assert get_profile("lenet", (3, 64, 64)).fingerprint() != prof.fingerprint()


def test_bad_inputs_name_the_field():
    with pytest.raises(ValueError, match="unknown dnn 'nope'.*alexnet"):
        get_profile("nope")
    with pytest.raises(ValueError, match="input_shape"):
        get_profile("lenet", (3, 32))
    with pytest.raises(ValueError, match="blocks must be non-empty"):
        DNNProfile.from_dict({"name": "x", "input_shape": [1], "input_kb": 0.001, "blocks": []})
    with pytest.raises(ValueError, match="missing keys"):
        DNNProfile.from_dict({"name": "x", "input_shape": [1], "blocks": []})
    bad = get_profile("lenet").to_dict()
    bad["blocks"][0]["layers"][0]["kind"] = "attention"
    with pytest.raises(ValueError, match="layer kind must be one of"):
        DNNProfile.from_dict(bad)


def _tiny_dict() -> dict:
    return {
        "name": "t",
        "input_shape": [3, 4],
        "input_kb": 0.012,
        "blocks": [
            {
                "name": "b0",
                "in_kb": 0.012,
                "out_kb": 0.04,
                "layers": [{"kind": "fc", "in_elems": 12, "out_elems": 10}],
            }
        ],
    }


def _set(d: dict, path: tuple, value) -> dict:
    node = d
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return d


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("blocks", 0, "layers", 0, "in_elems"), -5, r"blocks\[0\]\.layers\[0\]\.in_elems"),
        (
            ("blocks", 0, "layers", 0, "out_elems"),
            1.5,
            r"layers\[0\]\.out_elems must be an integer",
        ),
        (("blocks", 0, "layers", 0, "in_elems"), "12", r"in_elems must be an integer"),
        (("blocks", 0, "layers", 0, "in_elems"), float("inf"), r"in_elems must be an integer"),
        (("blocks", 0, "layers", 0, "in_elems"), 10**13, r"in_elems must be an integer in \[0, "),
        (("blocks", 0, "layers", 0, "in_elems"), True, r"in_elems must be an integer"),
        (("blocks", 0, "layers", 0, "kind"), "attention", r"layers\[0\]\.kind: layer kind"),
        (("blocks", 0, "layers", 0, "kind"), ["fc"], r"layers\[0\]\.kind: layer kind"),
        (("blocks", 0, "in_kb"), float("nan"), r"blocks\[0\]\.in_kb must be a finite number"),
        (("blocks", 0, "out_kb"), -1.0, r"blocks\[0\]\.out_kb"),
        (("blocks", 0, "out_kb"), 1e308, r"blocks\[0\]\.out_kb"),
        (("blocks", 0, "out_kb"), "0.04", r"blocks\[0\]\.out_kb"),
        (("blocks", 0, "name"), 7, r"blocks\[0\]\.name must be a string"),
        (("blocks", 0, "layers"), 3, r"blocks\[0\]\.layers must be a list"),
        (("blocks", 0, "extra"), 1, r"blocks\[0\] has unknown keys"),
        (("blocks",), {"a": 1}, r"blocks must be a list"),
        (("blocks",), [5], r"blocks\[0\] must be a mapping"),
        (("input_kb",), float("-inf"), r"input_kb must be a finite number"),
        (("input_shape",), [3, 0], r"input_shape\[1\] must be an integer in \[1, "),
        (("input_shape",), "34", r"input_shape must be a list"),
        (("name",), None, r"name must be a string"),
    ],
)
def test_profile_dict_bad_fields_are_named(path, value, field):
    with pytest.raises(ValueError, match=field):
        DNNProfile.from_dict(_set(_tiny_dict(), path, value))


def test_profile_dict_accepts_integral_floats_and_rejects_non_mappings():
    d = _set(_tiny_dict(), ("blocks", 0, "layers", 0, "in_elems"), 12.0)
    assert DNNProfile.from_dict(d).blocks[0].layers[0].in_elems == 12
    with pytest.raises(ValueError, match="profile must be a mapping"):
        DNNProfile.from_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dnn must be a name"):
        resolve_profile(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="layer kind"):
        Layer("softmax", 1, 1)
    with pytest.raises(ValueError, match="in_elems"):
        Layer("fc", -1, 1)


@pytest.mark.parametrize(
    ("shape", "what"),
    [
        ((3, 32), "3 positive integers"),
        (("3", 32, 32), r"input_shape\[0\] must be an integer"),
        ((3, 1.5, 32), r"input_shape\[1\] must be an integer"),
        ((3, 10**5, 10**5), "MAX_ALLOC_BYTES"),
        ((3, 1, 1), "does not fit the model"),
        ("abc", "input_shape must be"),
    ],
)
def test_builtin_input_shape_errors(shape, what):
    with pytest.raises(ValueError, match=what):
        get_profile("alexnet", shape)


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU())
        self.b = nn.Sequential(nn.MaxPool2d(2), nn.Flatten())
        self.c = nn.Linear(2 * 2 * 2, 3)

    def forward(self, x):
        return self.c(self.b(self.a(x)))


def test_profile_module_boundaries():
    m = _Tiny()
    by_child = profile_module(m, (1, 4, 4), name="tiny")
    assert [b.name for b in by_child.blocks] == ["a", "b", "c"]
    assert by_child.input_kb == pytest.approx(16 / 1000)
    assert by_child.blocks[0].out_kb == pytest.approx(2 * 16 * 4 / 1000)
    assert by_child.blocks[2].layers[0].in_elems == 8
    by_name = profile_module(m, (1, 4, 4), ["a", "b", "c"])
    assert by_name.to_dict()["blocks"] == by_child.to_dict()["blocks"]
    by_index = profile_module(m, (1, 4, 4), [2])  # conv+relu | pool+flatten+fc
    assert [len(b.layers) for b in by_index.blocks] == [2, 3]
    assert by_index.blocks[0].out_kb == pytest.approx(32 * 4 / 1000)
    with pytest.raises(ValueError, match="strictly increasing"):
        profile_module(m, (1, 4, 4), [3, 2])
    with pytest.raises(ValueError, match="outside every block"):
        profile_module(m, (1, 4, 4), ["a", "b"])
    with pytest.raises(ValueError, match="unknown submodule"):
        profile_module(m, (1, 4, 4), ["a", "zz"])


def test_profile_a_bare_layer():
    # A module without children is itself the one leaf: one block of one layer.
    prof = profile_module(nn.Conv2d(3, 4, 3), (3, 8, 8))
    assert prof.name == "conv2d" and prof.n_blocks == 1
    assert prof.blocks[0].layers == (Layer("conv", 3 * 8 * 8, 4 * 6 * 6),)
    assert prof.blocks[0].out_kb == pytest.approx(4 * 6 * 6 * 4 / 1000)
    assert profile_module(nn.Linear(3, 5), (3,)).blocks[0].layers == (Layer("fc", 3, 5),)


def test_unknown_leaf_type_and_kind_map():
    class Weird(nn.Module):
        def forward(self, x):
            return x * 2

    m = nn.Sequential(nn.Linear(4, 4), Weird())
    with pytest.raises(ValueError, match="Weird.*kind_map"):
        profile_module(m, (4,))
    prof = profile_module(m, (4,), kind_map={Weird: "relu"})
    assert [b.layers[0].kind for b in prof.blocks] == ["fc", "relu"]
