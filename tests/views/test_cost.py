import pytest
import torch

from labkit.views import cost_bars, cost_table

DENSE = {"params": 270_000, "nonzero_params": 270_000, "MACs": 41e6, "latency_ms": 3.2,
         "batch_size": 1, "device": "cpu", "input_shape": (1, 16, 16)}
PRUNED = {"params": 90_000, "nonzero_params": 81_000, "MACs": 12e6, "latency_ms": 1.6,
          "batch_size": 1, "device": "cpu", "input_shape": (1, 16, 16)}


def test_cost_table_rows_and_ratios():
    t = cost_table(DENSE, PRUNED)
    assert t["metric"].tolist() == ["params", "nonzero_params", "MACs", "latency_ms"]  # measurement info skipped
    assert t["ratio"].tolist() == pytest.approx([1 / 3, 0.3, 12 / 41, 0.5])
    assert t.loc[t["metric"] == "MACs", "label"].item().startswith("MACs")


def test_cost_table_keeps_only_shared_keys_and_zero_dense_gives_nan():
    t = cost_table({"params": 0, "macs": 5.0, "latency_ms": None}, {"params": 3, "flops": 2.0, "latency_ms": 1.0})
    assert t["metric"].tolist() == ["params"]
    assert t["ratio"].isna().all()
    assert cost_table({"macs": 4.0}, {"MACs": 2.0})["ratio"].tolist() == [0.5]  # lower-case alias
    with pytest.raises(ValueError, match="share no numeric cost"):
        cost_table({"MACs": 1.0}, {"params": 1.0})
    with pytest.raises(TypeError, match="dict"):
        cost_table([1, 2], PRUNED)


def test_cost_bars_one_panel_per_metric():
    fig = cost_bars(DENSE, PRUNED)
    assert len(fig.axes) == 4
    macs = fig.axes[2]
    assert macs.get_title().startswith("MACs")
    assert [p.get_height() for p in macs.patches] == [41e6, 12e6]
    assert "×0.29" in macs.get_title()
    assert [t.get_text() for t in macs.texts] == ["41M", "12M"]


def test_reads_the_dict_of_lk_cost():
    """Contract with labkit.analysis.cost: its keys are the ones this view plots."""
    cost = pytest.importorskip("labkit.analysis.cost").cost
    dense = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
    pruned = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
    with torch.no_grad():
        pruned[1].weight[:, :8] = 0
    t = cost_table(cost(dense, (16,), latency=False), cost(pruned, (16,), latency=False))
    assert {"params", "nonzero_params", "MACs"} <= set(t["metric"])
    assert t.set_index("metric").loc["nonzero_params", "pruned"] == 16 * 8 + 8 + 8 * 4 + 4 - 64
