import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from labkit.views import accuracy_vs_sparsity, group_accuracy, group_summary, per_class_accuracy
from labkit.views._style import GROUP_COLORS, METRIC_COLORS


def _bar_container(ax):
    return next(c for c in ax.containers if isinstance(c, BarContainer))


def _bars(ax):
    return [p for p in ax.patches if p.get_width() > 0]


def test_per_class_bars_are_sorted_by_training_count_and_shaded_by_group(per_class):
    fig = per_class_accuracy(per_class)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    expected = per_class.sort_values("n_train", ascending=False)
    bars = _bars(ax)
    assert [b.get_height() for b in bars] == pytest.approx(expected["accuracy"].tolist())
    assert [to_hex(b.get_facecolor()) for b in bars] == [GROUP_COLORS[g].lower() for g in expected["group"]]
    assert [t.get_text() for t in ax.get_xticklabels()] == expected["name"].tolist()
    # error bars span exactly the confidence interval
    segments = _bar_container(ax).errorbar.lines[2][0].get_segments()
    assert [s[0][1] for s in segments] == pytest.approx(expected["ci_low"].tolist())
    assert [s[1][1] for s in segments] == pytest.approx(expected["ci_high"].tolist())
    # training counts on the twin axis, in the same order
    twin = fig.axes[1]
    assert twin.lines[0].get_ydata().tolist() == expected["n_train"].tolist()


def test_per_class_with_dense_adds_a_delta_panel(per_class):
    dense = per_class.assign(accuracy=np.clip(per_class["accuracy"] + np.where(per_class["group"] == "few", 0.2, 0.01), 0, 1))
    fig = per_class_accuracy(per_class, dense=dense.sample(frac=1.0, random_state=0))  # row order must not matter
    delta_ax = fig.axes[1]
    assert delta_ax.get_ylabel() == "pruned − dense"
    order = per_class.sort_values("n_train", ascending=False).index
    want = (per_class["accuracy"] - dense["accuracy"]).loc[order].to_numpy()
    assert [b.get_height() for b in _bars(delta_ax)] == pytest.approx(want)
    assert f"mean Δ {want.mean():+.3f}" in fig.axes[0].get_title(loc="left")


def test_per_class_without_ci_columns_draws_no_error_bars(per_class):
    fig = per_class_accuracy(per_class.drop(columns=["ci_low", "ci_high"]))
    assert _bar_container(fig.axes[0]).errorbar is None


def test_per_class_errors_name_the_fix(per_class):
    with pytest.raises(ValueError, match="missing column"):
        per_class_accuracy(per_class.drop(columns=["group"]))
    with pytest.raises(ValueError, match="divide percentages by 100"):
        per_class_accuracy(per_class.assign(accuracy=per_class["accuracy"] * 100))
    with pytest.raises(ValueError, match="unknown group"):
        per_class_accuracy(per_class.assign(group="tail"))
    with pytest.raises(ValueError, match="no row for class"):
        per_class_accuracy(per_class, dense=per_class.iloc[:5])
    with pytest.raises(TypeError, match="DataFrame"):
        per_class_accuracy(per_class.to_dict())


def test_per_class_accepts_classes_without_a_group_but_needs_counts(per_class):
    df = per_class.astype({"group": object})
    df.loc[df["class"] == 3, "group"] = None
    fig = per_class_accuracy(df)
    assert "no group" in [t.get_text() for t in fig.legends[0].get_texts()]
    with pytest.raises(ValueError, match="class_counts"):
        per_class_accuracy(per_class.drop(columns=["n_train"]))


def test_reads_the_per_class_table_of_lk_evaluate():
    """Contract with labkit.analysis.evaluate: its ClassReport.per_class feeds the views as is."""
    evaluate = pytest.importorskip("labkit.analysis.evaluate")
    targets = np.repeat(np.arange(4), [30, 20, 10, 5])
    preds = np.where(np.arange(len(targets)) % 4 == 0, (targets + 1) % 4, targets)
    rep = evaluate.evaluate_predictions(preds, targets, groups={"many": [0, 1], "medium": [2], "few": [3]},
                                        class_counts=[300, 200, 40, 8], n_boot=50)
    per_class_accuracy(rep.per_class, dense=rep.per_class)
    s = group_summary(rep.per_class)
    assert s["overall"] == pytest.approx(rep.overall) and s["balanced"] == pytest.approx(rep.balanced)
    assert all(s[g] == pytest.approx(v) for g, v in rep.by_group.items())


def test_group_summary_matches_hand_computation(per_class):
    s = group_summary(per_class)
    assert s["overall"] == pytest.approx(per_class["correct"].sum() / per_class["n_test"].sum())
    assert s["balanced"] == pytest.approx(per_class["accuracy"].mean())
    for g in ("many", "medium", "few"):
        assert s[g] == pytest.approx(per_class.loc[per_class["group"] == g, "accuracy"].mean())
    assert "overall" not in group_summary(per_class.drop(columns=["correct"]))


def test_group_accuracy_dense_vs_pruned_bars_and_deltas():
    pruned = {"overall": 0.9, "many": 0.95, "medium": 0.88, "few": 0.6}
    dense = {"overall": 0.93, "many": 0.96, "medium": 0.9, "few": 0.8}
    fig = group_accuracy(pruned, dense)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["overall", "many", "medium", "few"]
    heights = [b.get_height() for b in _bars(ax)]
    assert heights == pytest.approx([0.93, 0.96, 0.9, 0.8, 0.9, 0.95, 0.88, 0.6])
    assert to_hex(_bars(ax)[-1].get_facecolor()) == METRIC_COLORS["few"].lower()
    texts = [t.get_text() for t in ax.texts]
    assert "0.600\n-0.200" in texts


def test_group_accuracy_accepts_per_class_tables(per_class):
    fig = group_accuracy(per_class)
    heights = [b.get_height() for b in _bars(fig.axes[0])]
    s = group_summary(per_class)
    assert heights == pytest.approx([s[m] for m in ("overall", "balanced", "many", "medium", "few")])
    with pytest.raises(ValueError, match="unknown metric"):
        group_accuracy({"tail": 0.5})


@pytest.fixture
def curves():
    rows = []
    for run in range(3):
        for s in (0.0, 0.3, 0.6, 0.9):
            for m, k in (("overall", 0.2), ("few", 0.8)):
                rows.append({"sparsity": s, "metric": m, "value": 0.95 - k * s ** 2 + 0.01 * run, "run": run})
    return pd.DataFrame(rows)


def test_accuracy_vs_sparsity_lines_baselines_and_current(curves):
    fig = accuracy_vs_sparsity(curves, baselines={"overall": 0.96, "few": 0.9}, current=0.45)
    ax = fig.axes[0]
    mean = curves.groupby(["metric", "sparsity"])["value"].mean()
    line_y = {to_hex(l.get_color()): l.get_ydata() for l in ax.lines if len(l.get_xdata()) == 4}
    assert line_y[METRIC_COLORS["few"].lower()] == pytest.approx(mean.loc["few"].to_numpy())
    hlines = sorted(l.get_ydata()[0] for l in ax.lines if list(l.get_xdata()) == [0, 1] and l.get_linestyle() == "--")
    assert hlines == pytest.approx([0.9, 0.96])
    markers = {to_hex(l.get_color()): l.get_ydata()[0] for l in ax.lines if l.get_marker() == "D" and len(l.get_xdata()) == 1}
    want_few = np.interp(0.45, [0, 0.3, 0.6, 0.9], mean.loc["few"].to_numpy())
    assert markers[METRIC_COLORS["few"].lower()] == pytest.approx(want_few)


def test_accuracy_vs_sparsity_measured_current_and_no_extrapolation(curves):
    fig = accuracy_vs_sparsity(curves, current={"sparsity": 0.5, "overall": 0.77})
    pts = [l for l in fig.axes[0].lines if l.get_marker() == "D" and len(l.get_xdata()) == 1]
    assert [(p.get_xdata()[0], p.get_ydata()[0]) for p in pts] == [(0.5, 0.77)]
    fig = accuracy_vs_sparsity(curves, current=0.95)  # beyond the sweep: the line only, no invented point
    assert not [l for l in fig.axes[0].lines if l.get_marker() == "D" and len(l.get_xdata()) == 1]


def test_accuracy_vs_sparsity_names_what_the_sparsity_counts(curves):
    assert "weights" in accuracy_vs_sparsity(curves).axes[0].get_xlabel()
    assert "filters" in accuracy_vs_sparsity(curves.assign(granularity="filter")).axes[0].get_xlabel()
    assert "channels" in accuracy_vs_sparsity(curves, unit="channels").axes[0].get_xlabel()


def test_accuracy_vs_sparsity_errors(curves):
    with pytest.raises(ValueError, match="fraction"):
        accuracy_vs_sparsity(curves.assign(sparsity=curves["sparsity"] * 100))
    with pytest.raises(ValueError, match="'sparsity' key"):
        accuracy_vs_sparsity(curves, current={"overall": 0.5})
