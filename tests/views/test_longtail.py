"""Long-tail study views on fabricated tables with the study's column contracts."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from labkit.views.longtail import longtail_tradeoff, overlap_alpha, pie_rate


@pytest.fixture
def table() -> pd.DataFrame:
    """Study-shaped rows: A and B dense, C and E at three sparsities, two seeds."""
    rows = []
    for seed in (0, 1):
        rows.append({"run": "A", "sparsity": 0.0, "seed": seed, "overall": 0.80, "many": 0.95, "medium": 0.90, "few": 0.40})
        rows.append({"run": "B", "sparsity": 0.0, "seed": seed, "overall": 0.90, "many": 0.92, "medium": 0.93, "few": 0.80})
        for s in (0.1, 0.3, 0.5):
            rows.append({"run": "E", "sparsity": s, "seed": seed, "overall": 0.9 - s / 5, "many": 0.9, "medium": 0.9,
                         "few": 0.8 - s / 2 + 0.01 * seed})
            rows.append({"run": "C", "sparsity": s, "seed": seed, "overall": 0.8 - s / 5, "many": 0.95, "medium": 0.9,
                         "few": 0.4 - s / 2})
    return pd.DataFrame(rows)


def test_tradeoff_draws_pruned_curves_and_both_dense_references(table):
    fig = longtail_tradeoff(table, runs=("C", "E"))
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"overall", "many", "medium", "few", "run", "E", "C", "dense baseline", "dense control B"} <= set(labels)
    assert "criterion" not in labels  # the shared view's style key, renamed for this table
    dashed = [round(float(l.get_ydata()[0]), 6) for l in ax.lines if l.get_linestyle() == "--" and len(l.get_ydata()) == 2]
    dotted = [round(float(l.get_ydata()[0]), 6) for l in ax.lines if l.get_linestyle() == ":" and len(l.get_ydata()) == 2]
    assert sorted(dashed) == [0.4, 0.8, 0.9, 0.95]   # A per metric
    assert sorted(dotted) == [0.8, 0.9, 0.92, 0.93]  # B per metric
    assert "control B dotted" in ax.get_title(loc="left")
    only_e = longtail_tradeoff(table, control=None, metrics=("few",))
    assert "dense control B" not in [t.get_text() for t in only_e.axes[0].get_legend().get_texts()]


def test_tradeoff_errors_name_the_fix(table):
    with pytest.raises(ValueError, match="no rows of run"):
        longtail_tradeoff(table, runs=("D",))
    with pytest.raises(ValueError, match="not columns"):
        longtail_tradeoff(table, metrics=("tail",))


def test_overlap_alpha_pairs_heatmap_rows_with_weight_bars():
    names = ["ce", "ce_drw", "ldam_drw", "merged"]
    m = pd.DataFrame(np.array([[1, .9, .8, .95], [.9, 1, .85, .97], [.8, .85, 1, .9], [.95, .97, .9, 1]]),
                     index=names, columns=names)
    fig = overlap_alpha(m, {"ce": 0.2, "ce_drw": 0.5, "ldam_drw": 0.3}, accuracy={"ce": 0.8, "ce_drw": 0.85})
    heat, bars = fig.axes[0], fig.axes[1]
    assert [t.get_text() for t in heat.get_yticklabels()] == names
    widths = [p.get_width() for p in bars.patches]
    assert widths == pytest.approx([0.2, 0.5, 0.3])  # the merged mask has no weight, so no bar
    texts = [t.get_text() for t in bars.texts]
    assert texts[0] == "0.20  (a=0.800)" and texts[2] == "0.30"
    with pytest.raises(ValueError, match="not rows"):
        overlap_alpha(m, {"lda": 1.0})
    with pytest.raises(ValueError, match="square"):
        overlap_alpha(m.iloc[:2], {"ce": 1.0})


def test_pie_rate_plots_each_class_at_its_training_count():
    pc = pd.DataFrame({"class": range(4), "name": list("abcd"), "n_train": [134, 49, 13, 6],
                       "group": ["many", "medium", "few", "few"], "n_test": [30] * 4, "pies": [0, 1, 3, 6],
                       "pie_rate": [0.0, 1 / 30, 0.1, 0.2]})
    fig = pie_rate(pc)
    ax = fig.axes[0]
    xy = ax.collections[0].get_offsets()
    assert np.allclose(xy[:, 0], [134, 49, 13, 6]) and np.allclose(xy[:, 1], pc["pie_rate"])
    assert ax.get_xscale() == "log"  # 134 / 6 > 10
    assert "overall 0.083" in ax.get_title(loc="left")
    assert [t.get_text() for t in ax.texts] == list("abcd")
    with pytest.raises(ValueError, match="fraction"):
        pie_rate(pc.assign(pie_rate=[0, 2, 0, 0]))
    with pytest.raises(ValueError, match="missing column"):
        pie_rate(pc.drop(columns="n_train"))
    with pytest.raises(ValueError, match="unknown group"):
        pie_rate(pc.assign(group=["head", "medium", "few", "few"]))
