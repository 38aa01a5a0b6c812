"""Many-class views read at 100 and 1,000 classes and carry exactly the report's numbers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from labkit.analysis.evaluate import evaluate_predictions
from labkit.views import classes

pytest.importorskip("altair")


def _reports(num_classes: int, per_class: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(num_classes), per_class)
    third = num_classes // 3
    groups = {"many": list(range(third)), "medium": list(range(third, 2 * third)),
              "few": list(range(2 * third, num_classes))}
    names = [f"class {c}" for c in range(num_classes)]
    counts = np.linspace(500, 5, num_classes).astype(int)

    def report(p_right: np.ndarray):
        pred = np.where(rng.random(len(y)) < p_right[y], y, (y + 1) % num_classes)
        return evaluate_predictions(torch.tensor(pred), torch.tensor(y), groups=groups, classes=names,
                                    class_counts=counts, n_boot=0)

    dense_p = rng.uniform(0.5, 0.9, num_classes)
    return report(dense_p), report(np.clip(dense_p - rng.uniform(0, 0.4, num_classes), 0, 1))


@pytest.mark.parametrize("n", [100, 1000])
def test_table_lists_every_class_worst_change_first(n):
    dense, pruned = _reports(n)
    t = classes.class_table(pruned.per_class, dense.per_class)
    assert len(t) == n and sorted(t["class"]) == list(range(n))
    change = (pruned.per_class["accuracy"] - dense.per_class["accuracy"]).to_numpy()
    assert t["change"].tolist() == sorted(change.tolist())
    row = t.set_index("class").loc[7]
    assert row["accuracy"] == pruned.per_class.loc[7, "accuracy"] and row["name"] == "class 7"
    assert {"ci_low", "ci_high", "n_train", "n_test", "group"} <= set(t.columns)


@pytest.mark.parametrize("n", [100, 1000])
def test_worst_classes_are_named_with_their_numbers(n):
    dense, pruned = _reports(n)
    ch = classes.worst_classes_chart(pruned.per_class, dense.per_class, k=10)
    change = (pruned.per_class["accuracy"] - dense.per_class["accuracy"]).to_numpy()
    worst = np.lexsort((np.arange(n), change))[:10]
    assert ch.data["class"].tolist() == worst.tolist()
    assert ch.data["name"].tolist() == [f"class {c}" for c in worst]
    assert np.allclose(ch.data["change"], change[worst])
    assert "class" in str(ch.to_dict()["params"])      # the same click-to-pick selection as the bar chart
    low = classes.worst_classes_chart(pruned.per_class, k=3)   # no dense: the lowest accuracies
    assert low.data["accuracy"].tolist() == sorted(pruned.per_class["accuracy"])[:3]
    with pytest.raises(ValueError, match="k must be"):
        classes.worst_classes_chart(pruned.per_class, k=0)


def test_spread_chart_has_one_tick_per_class_in_its_group():
    dense, pruned = _reports(1000)
    ch = classes.class_spread_chart(pruned.per_class, dense.per_class)
    data = ch.data.set_index("class").sort_index()
    assert len(data) == 1000
    assert np.allclose(data["value"], pruned.per_class["accuracy"] - dense.per_class["accuracy"])
    assert data["group"].tolist() == pruned.per_class["group"].tolist()
    plain = classes.class_spread_chart(pruned.per_class)
    assert np.allclose(plain.data.set_index("class").sort_index()["value"], pruned.per_class["accuracy"])
    ch.to_dict()
