"""filter_path: the user's score -> rank -> mask -> compact pipeline agrees with the masked model."""
from __future__ import annotations

import torch

from labkit.models import load_model
from labkit.pruning.filter_path import filter_path


def test_compacted_resnet_matches_the_masked_one_and_is_smaller() -> None:
    torch.manual_seed(0)
    model = load_model("resnet20", num_classes=10, in_channels=1).eval()
    x = torch.rand(2, 1, 16, 16)
    r = filter_path(model, x, 0.3)
    assert r["agree"] and r["max_diff"] < 1e-4
    assert r["classes"] == 10 and r["params_after"] < r["params_before"]
    assert abs(r["sparsity"] - 0.3) < 0.02
    with torch.no_grad():
        assert r["model"](x).shape == (2, 10)
