import pytest

from labkit.views import cost_bars, cost_table

DENSE = {"params": 270_000, "nonzero_params": 270_000, "macs": 41e6, "latency_ms": 3.2, "device": "cpu"}
PRUNED = {"params": 90_000, "nonzero_params": 81_000, "macs": 12e6, "latency_ms": 1.6, "device": "cpu"}


def test_cost_table_rows_and_ratios():
    t = cost_table(DENSE, PRUNED)
    assert t["metric"].tolist() == ["params", "nonzero_params", "macs", "latency_ms"]  # "device" skipped
    assert t["ratio"].tolist() == pytest.approx([1 / 3, 0.3, 12 / 41, 0.5])
    assert t.loc[t["metric"] == "macs", "label"].item().startswith("MACs")


def test_cost_table_keeps_only_shared_keys_and_zero_dense_gives_nan():
    t = cost_table({"params": 0, "macs": 5.0}, {"params": 3, "flops": 2.0})
    assert t["metric"].tolist() == ["params"]
    assert t["ratio"].isna().all()
    with pytest.raises(ValueError, match="share no numeric cost"):
        cost_table({"macs": 1.0}, {"params": 1.0})
    with pytest.raises(TypeError, match="dict"):
        cost_table([1, 2], PRUNED)


def test_cost_bars_one_panel_per_metric():
    fig = cost_bars(DENSE, PRUNED)
    assert len(fig.axes) == 4
    macs = fig.axes[2]
    assert [p.get_height() for p in macs.patches] == [41e6, 12e6]
    assert "×0.29" in macs.get_title()
    assert [t.get_text() for t in macs.texts] == ["41M", "12M"]
