"""Display names of policies and DNNs in the report's tables, text and figures (a leaf
module: no matplotlib, so the table scripts can import it)."""

from __future__ import annotations

LABELS = {
    "self": "Self",
    "edge_only": "Edge-only",
    "cloud_only": "Cloud-only",
    "neuro_l": "Neuro-L",
    "neuro_e": "Neuro-E",
    "deepar": "DeePar",
    "jalad": "JALAD",
    "co_h": "Co-H",
    "co_l": "Co-L",
    "random": "Random",
    "oracle": "Oracle",
    "iorlo": "IoRLO",
    "iorlo_plus": "IoRLO+",
}
DNN_LABELS = {
    "alexnet": "AlexNet",
    "vgg16": "VGG-16",
    "resnet32": "ResNet-32",
    "mobilenet_v1": "MobileNet-V1",
    "lenet": "LeNet",
    "resnet18": "ResNet-18",
}


def label(name: str) -> str:
    return LABELS.get(name, name)


def dnn_label(name: str) -> str:
    return DNN_LABELS.get(name, name)
