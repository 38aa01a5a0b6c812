"""Any model a user brings: the filter and weight paths on one model of every torchvision family.

Random weights (``weights=None``), batch 1, the smallest input each model accepts. Each row's
result goes to ``test-artifacts/zoo_results.json``; ``python benchmarks/zoo.py --readme`` turns
it into README's "Supported models" table.
"""
from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

import labkit as lk
from labkit.data import LabData, Split
from labkit.models import prunable_parameters
from labkit.models.inputs import example_inputs, input_shape
from labkit.models.torchvision_zoo import ZOO, build, example
from labkit.pruning.filter_path import filter_path
from labkit.pruning import Masks, compact
from labkit.pruning.coupling import dependency_graph

RESULTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "zoo_results.json"


def _record(name: str, row: dict) -> None:
    RESULTS.parent.mkdir(exist_ok=True)
    rows = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    rows[name] = row
    RESULTS.write_text(json.dumps(rows, indent=1, sort_keys=True))


@pytest.mark.slow
@pytest.mark.parametrize("entry", ZOO, ids=[e.name for e in ZOO])
def test_filter_and_weight_paths_on_the_zoo(entry) -> None:
    """masked == compacted, 1000 classes kept, fewer parameters; weight masks keep the output."""
    torch.manual_seed(0)
    t0 = time.perf_counter()
    model = build(entry.name)
    x = example(model, entry.name)
    r = filter_path(model, x)
    assert r["agree"], f"masked and compacted differ by {r['max_diff']:.3g}"
    assert r["classes"] == 1000
    assert r["params_after"] < r["params_before"]
    with torch.no_grad():
        assert r["model"](x).shape == (1, 1000)
    del r["model"]

    small_layers = [n for n in prunable_parameters(model) if model.get_parameter(n).numel() <= 2_500_000]
    sc = lk.score(model, "magnitude", layers=small_layers[-4:])  # weight granularity (no 100 M-weight sort)
    wm = lk.Ranking(sc).masks(0.3, mode="global", normalize="l2")
    assert abs(wm.sparsity - 0.3) < 0.01
    with torch.no_grad():
        y = lk.apply_masks(model, wm)(x)
    assert y.shape == (1, 1000) and bool(torch.isfinite(y).all())
    _record(entry.name, {"family": entry.family, "size": entry.size, "ok": True,
                         "seconds": round(time.perf_counter() - t0, 1),
                         **{k: r[k] for k in ("params_before", "params_after", "kept_zeroed", "max_diff")}})


def test_squeezenet_conv_classifier_is_protected() -> None:
    """The final 1x1 conv is the classifier: excluded from scoring, and compact keeps its 1000
    outputs even when the masks cut them (the masked rows stay zeroed, as in the masked model)."""
    model = build("squeezenet1_1")
    assert "classifier.1.weight" not in prunable_parameters(model)
    assert "classifier.1.weight" in prunable_parameters(model, exclude_last=False)
    keep = torch.ones(1000, dtype=torch.bool)
    keep[::3] = False
    with pytest.warns(UserWarning, match=r"model output \(classifier\)"):
        small = compact(model, Masks({"classifier.1.weight": keep}, "filter"), example(model, "squeezenet1_1"))
    assert small.classifier[1].out_channels == 1000


def test_grouped_conv_loses_equal_channels_per_group() -> None:
    """Unbalanced masks on a grouped conv's producer: each group loses the common minimum."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Conv2d(8, 8, 3, padding=1, groups=4), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Conv2d(8, 4, 1)).eval()
    # groups of the grouped conv's input: {0,1} {2,3} {4,5} {6,7}; cut 0, 1 (group 0), 3, 5, 6
    keep = torch.tensor([False, False, True, False, True, False, False, True])
    with pytest.warns(UserWarning, match="kept 1 masked"):
        small = compact(net, Masks({"0.weight": keep}, "filter"), torch.randn(2, 3, 8, 8))
    assert small[0].out_channels == 4 and small[3].in_channels == 4 and small[3].groups == 4
    assert small[3].weight.shape == (8, 1, 3, 3)


def test_window_attention_graph_stays_small_and_fast() -> None:
    """Swin's shifted windows are traced as one protected node: seconds, not a 12 GB index map."""
    model = build("swin_t")
    t = time.perf_counter()
    DG = dependency_graph(model, torch.randn(1, 3, 224, 224))
    assert time.perf_counter() - t < 60
    assert len(DG.labkit_opaque) == 12  # one per block; their qkv / proj are not in the graph
    assert not any("attn.qkv" in (n.name or "") for n in DG.module2node.values())


def test_example_inputs_from_what_is_known() -> None:
    assert input_shape(build("inception_v3")) == (3, 75, 75)  # torchvision's min_size
    assert input_shape(build("alexnet")) == (3, 63, 63)
    assert input_shape(torchvision.models.vit_b_32(weights=None, image_size=64)) == (3, 64, 64)  # declared
    assert input_shape(build("maxvit_t")) == (3, 224, 224)  # from its first block's grid
    assert input_shape(build("resnet18")) == (3, 32, 32)  # min_size 1, floored to 32
    assert example_inputs(build("squeezenet1_1"), 2).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="cannot tell what input"):
        example_inputs(nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(2)))


def _fabricated(n_classes: int, shape: tuple[int, int, int], n: int = 24) -> LabData:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % n_classes
    split = Split.from_tensors(torch.randn(n, *shape, generator=g), y)
    return LabData("fabricated", split, split, split, [f"c{i}" for i in range(n_classes)],
                   np.full(n_classes, n // n_classes), {"many": list(range(n_classes))}, shape)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mobilenet_v3_small", "squeezenet1_1"])
def test_lab_opens_on_zoo_models(name) -> None:
    """Lab(model, data) with fabricated data at the model's size; a slider move and compaction."""
    model = torchvision.models.get_model(name, weights=None, num_classes=4)
    lab = lk.Lab(model, _fabricated(4, input_shape(model)), pretrained=False)
    a = lab.prune("magnitude", 0.3, granularity="filter")
    b = lab.prune("magnitude", 0.5, granularity="filter")  # the slider moves
    assert b.masks.sparsity > a.masks.sparsity
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        small, table = lab.compact(b, batch_size=1)  # latency at batch 1: the test times nothing
    costs = table.set_index("model")
    assert costs.loc["compacted", "params"] < costs.loc["dense", "params"]
    with torch.no_grad():
        assert small(torch.randn(1, *input_shape(model))).shape == (1, 4)
