"""Real torch definitions of the built-in DNNs, each written as a sequence of blocks.

Every model is an ``nn.Sequential`` whose direct children are the partitioning blocks, so
``profile_module(model, shape)`` with the default boundaries yields the documented blocks.
All models accept any input resolution (adaptive pooling before the classifier); the
default is CIFAR 3×32×32 (docs/model.md §2). Block counts follow Ren et al. Sec. 4.1.1.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn


def _seq(*named: tuple[str, nn.Module]) -> nn.Sequential:
    return nn.Sequential(OrderedDict(named))


def alexnet(num_classes: int = 10, in_channels: int = 3) -> nn.Sequential:
    """AlexNet (CIFAR variant of torchvision's, with the original LRN layers), 10 blocks.

    | block | layers |
    |---|---|
    | conv1 | conv 64 k3 s2 p1, ReLU |
    | norm1 | LRN(5), max-pool 2 |
    | conv2 | conv 192 k3 p1, ReLU |
    | norm2 | LRN(5), max-pool 2 |
    | conv3 | conv 384 k3 p1, ReLU |
    | conv4 | conv 256 k3 p1, ReLU |
    | conv5 | conv 256 k3 p1, ReLU |
    | pool5 | max-pool 2, adaptive avg-pool 2×2, flatten |
    | fc6 | dropout, fc 1024→4096, ReLU |
    | fc7 | dropout, fc 4096→4096, ReLU, fc 4096→classes |
    """

    def conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
        return _seq(("conv", nn.Conv2d(cin, cout, 3, stride, 1)), ("relu", nn.ReLU()))

    def norm() -> nn.Sequential:
        return _seq(("lrn", nn.LocalResponseNorm(5)), ("pool", nn.MaxPool2d(2)))

    return _seq(
        ("conv1", conv(in_channels, 64, 2)),
        ("norm1", norm()),
        ("conv2", conv(64, 192)),
        ("norm2", norm()),
        ("conv3", conv(192, 384)),
        ("conv4", conv(384, 256)),
        ("conv5", conv(256, 256)),
        (
            "pool5",
            _seq(
                ("pool", nn.MaxPool2d(2, ceil_mode=True)),
                ("avgpool", nn.AdaptiveAvgPool2d(2)),
                ("flatten", nn.Flatten()),
            ),
        ),
        (
            "fc6",
            _seq(("drop", nn.Dropout()), ("fc", nn.Linear(1024, 4096)), ("relu", nn.ReLU())),
        ),
        (
            "fc7",
            _seq(
                ("drop", nn.Dropout()),
                ("fc", nn.Linear(4096, 4096)),
                ("relu", nn.ReLU()),
                ("out", nn.Linear(4096, num_classes)),
            ),
        ),
    )


_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def vgg16(num_classes: int = 10, in_channels: int = 3) -> nn.Sequential:
    """VGG-16 with batch norm (CIFAR variant), 15 blocks.

    Blocks 1-13 are ``conv1_1 .. conv5_3``: conv k3 p1, BN, ReLU, plus the 2×2 max-pool
    that follows the last conv of each stage. Block 14 ``fc6``: adaptive avg-pool 1×1,
    flatten, fc 512→512, ReLU, dropout. Block 15 ``fc7``: fc 512→512, ReLU, dropout,
    fc 512→classes.
    """
    blocks: list[tuple[str, nn.Module]] = []
    cin, stage, idx = in_channels, 1, 1
    for i, v in enumerate(_VGG16):
        if v == "M":
            continue
        layers: list[tuple[str, nn.Module]] = [
            ("conv", nn.Conv2d(cin, int(v), 3, padding=1)),
            ("bn", nn.BatchNorm2d(int(v))),
            ("relu", nn.ReLU()),
        ]
        if i + 1 < len(_VGG16) and _VGG16[i + 1] == "M":
            layers.append(("pool", nn.MaxPool2d(2, ceil_mode=True)))
        blocks.append((f"conv{stage}_{idx}", _seq(*layers)))
        cin = int(v)
        if len(layers) == 4:
            stage, idx = stage + 1, 1
        else:
            idx += 1
    blocks.append(
        (
            "fc6",
            _seq(
                ("avgpool", nn.AdaptiveAvgPool2d(1)),
                ("flatten", nn.Flatten()),
                ("fc", nn.Linear(512, 512)),
                ("relu", nn.ReLU()),
                ("drop", nn.Dropout()),
            ),
        )
    )
    blocks.append(
        (
            "fc7",
            _seq(
                ("fc", nn.Linear(512, 512)),
                ("relu", nn.ReLU()),
                ("drop", nn.Dropout()),
                ("out", nn.Linear(512, num_classes)),
            ),
        )
    )
    return _seq(*blocks)


class BasicBlock(nn.Module):
    """ResNet basic residual unit: conv-BN-ReLU-conv-BN, + shortcut, ReLU.

    The residual add is a functional op and costs nothing (docs/model.md §2); a projection
    shortcut (1×1 conv + BN) is used when the shape changes.
    """

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = _seq(
                ("conv", nn.Conv2d(cin, cout, 1, stride, bias=False)), ("bn", nn.BatchNorm2d(cout))
            )
        self.relu2 = nn.ReLU()

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(y + self.shortcut(x))


def _resnet(
    stem: nn.Sequential, widths: tuple[int, ...], *, units: int, stage: str, num_classes: int
) -> nn.Sequential:
    """The blocks of a ResNet: ``stem``; per stage s (``widths[s - 1]`` channels) ``units``
    basic units ``{stage}{s}_unit{u}``, the first of stages 2, 3, ... with stride 2; ``head``:
    adaptive avg-pool 1×1, flatten, fc ``widths[-1]``→classes. The stem's output has
    ``widths[0]`` channels. Modules are created in block order (seeded initialisation)."""
    blocks: list[tuple[str, nn.Module]] = [("stem", stem)]
    cin = widths[0]
    for s, cout in enumerate(widths, start=1):
        for u in range(1, units + 1):
            stride = 2 if (u == 1 and s > 1) else 1
            blocks.append((f"{stage}{s}_unit{u}", BasicBlock(cin, cout, stride)))
            cin = cout
    head = _seq(
        ("avgpool", nn.AdaptiveAvgPool2d(1)),
        ("flatten", nn.Flatten()),
        ("fc", nn.Linear(widths[-1], num_classes)),
    )
    blocks.append(("head", head))
    return _seq(*blocks)


def resnet32(num_classes: int = 10, in_channels: int = 3) -> nn.Sequential:
    """CIFAR ResNet-32 (He et al. 2016, Sec. 4.2: 6n+2 layers, n = 5), 17 blocks.

    Block 1 ``stem``: conv 16 k3, BN, ReLU. Blocks 2-16 ``stage{s}_unit{u}``: the 15 residual
    units, 5 per stage with 16/32/64 channels (the first unit of stages 2 and 3 has stride 2
    and a projection shortcut). Block 17 ``head``: adaptive avg-pool 1×1, flatten,
    fc 64→classes.
    """
    stem = _seq(
        ("conv", nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)),
        ("bn", nn.BatchNorm2d(16)),
        ("relu", nn.ReLU()),
    )
    return _resnet(stem, (16, 32, 64), units=5, stage="stage", num_classes=num_classes)


def resnet18(num_classes: int = 10, in_channels: int = 3) -> nn.Sequential:
    """ResNet-18 (He et al. 2016, ImageNet layout), 10 blocks.

    Block 1 ``stem``: conv 64 k7 s2 p3, BN, ReLU, max-pool 3 s2. Blocks 2-9: the 8 basic
    units ``layer{l}_unit{u}`` (64/128/256/512 channels, stride 2 at the first unit of
    layers 2-4). Block 10 ``head``: adaptive avg-pool 1×1, flatten, fc 512→classes.
    """
    stem = _seq(
        ("conv", nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)),
        ("bn", nn.BatchNorm2d(64)),
        ("relu", nn.ReLU()),
        ("pool", nn.MaxPool2d(3, 2, 1)),
    )
    return _resnet(stem, (64, 128, 256, 512), units=2, stage="layer", num_classes=num_classes)


def _dw_separable(cin: int, cout: int, stride: int) -> list[nn.Module]:
    """Depthwise 3×3 conv-BN-ReLU then pointwise 1×1 conv-BN-ReLU (Howard et al. 2017)."""
    return [
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
        nn.BatchNorm2d(cin),
        nn.ReLU(),
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(),
    ]


def mobilenet_v1(num_classes: int = 10, in_channels: int = 3) -> nn.Sequential:
    """MobileNet-V1 (Howard et al. 2017, width 1.0; CIFAR stem stride 1), 6 blocks.

    | block | layers |
    |---|---|
    | stage1 | conv 32 k3, BN, ReLU; dw-sep 32→64 |
    | stage2 | dw-sep 64→128 s2; dw-sep 128→128 |
    | stage3 | dw-sep 128→256 s2; dw-sep 256→256 |
    | stage4 | dw-sep 256→512 s2; dw-sep 512→512 |
    | stage5 | 4 × dw-sep 512→512 |
    | stage6 | dw-sep 512→1024 s2; dw-sep 1024→1024; adaptive avg-pool; flatten; fc 1024→classes |
    """
    stem = [nn.Conv2d(in_channels, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU()]
    stages = [
        stem + _dw_separable(32, 64, 1),
        _dw_separable(64, 128, 2) + _dw_separable(128, 128, 1),
        _dw_separable(128, 256, 2) + _dw_separable(256, 256, 1),
        _dw_separable(256, 512, 2) + _dw_separable(512, 512, 1),
        [m for _ in range(4) for m in _dw_separable(512, 512, 1)],
        _dw_separable(512, 1024, 2)
        + _dw_separable(1024, 1024, 1)
        + [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, num_classes)],
    ]
    return _seq(*((f"stage{k}", nn.Sequential(*ms)) for k, ms in enumerate(stages, start=1)))


def lenet(num_classes: int = 10, in_channels: int = 3) -> nn.Sequential:
    """LeNet-5 (LeCun et al. 1998, ReLU/max-pool variant), 5 blocks.

    ``conv1`` (conv 6 k5, ReLU), ``pool1`` (max-pool 2), ``conv2`` (conv 16 k5, ReLU),
    ``pool2`` (max-pool 2, adaptive avg-pool 5×5, flatten), ``fc`` (fc 400→120, ReLU,
    fc 120→84, ReLU, fc 84→classes).
    """
    return _seq(
        ("conv1", _seq(("conv", nn.Conv2d(in_channels, 6, 5)), ("relu", nn.ReLU()))),
        ("pool1", _seq(("pool", nn.MaxPool2d(2)))),
        ("conv2", _seq(("conv", nn.Conv2d(6, 16, 5)), ("relu", nn.ReLU()))),
        (
            "pool2",
            _seq(
                ("pool", nn.MaxPool2d(2)),
                ("avgpool", nn.AdaptiveAvgPool2d(5)),
                ("flatten", nn.Flatten()),
            ),
        ),
        (
            "fc",
            _seq(
                ("fc1", nn.Linear(400, 120)),
                ("relu1", nn.ReLU()),
                ("fc2", nn.Linear(120, 84)),
                ("relu2", nn.ReLU()),
                ("out", nn.Linear(84, num_classes)),
            ),
        ),
    )


MODELS = {
    "alexnet": alexnet,
    "vgg16": vgg16,
    "resnet32": resnet32,
    "mobilenet_v1": mobilenet_v1,
    "lenet": lenet,
    "resnet18": resnet18,
}
