import pandas as pd
import pytest
import traitlets
from matplotlib.figure import Figure

from labkit.ui import MaskOverlapWidget


@pytest.fixture
def matrix():
    names = ["magnitude", "taylor", "apoz"]
    return pd.DataFrame([[1.0, 0.4, 0.3], [0.4, 1.0, 0.6], [0.3, 0.6, 1.0]], index=names, columns=names)


def test_traits_are_synced_to_the_front_end(matrix):
    w = MaskOverlapWidget(matrix)
    state = w.get_state()
    assert state["names"] == ["magnitude", "taylor", "apoz"]
    assert state["matrix"] == matrix.to_numpy().tolist()
    assert state["selected"] == []
    assert "export default" in w._esm and "model.save_changes()" in w._esm


def test_a_click_from_the_browser_updates_selected_and_notifies(matrix):
    w = MaskOverlapWidget(matrix)
    seen = []
    w.observe(lambda change: seen.append(change["new"]), names="selected")
    w.set_state({"selected": ["taylor", "apoz"]})  # what overlap.js sends on a click
    assert w.selected_pair == ("taylor", "apoz") and seen == [["taylor", "apoz"]]
    with pytest.raises(traitlets.TraitError, match="not among the masks"):
        w.selected = ["taylor", "random"]
    with pytest.raises(traitlets.TraitError, match=r"\[\] or \[row name"):
        w.selected = ["taylor"]


def test_update_in_place_keeps_or_clears_the_selection(matrix):
    w = MaskOverlapWidget(matrix)
    w.selected = ["magnitude", "taylor"]
    w.update(matrix * 0.5 + 0.5)
    assert w.selected_pair == ("magnitude", "taylor") and w.matrix[0][1] == pytest.approx(0.7)
    smaller = matrix.loc[["taylor", "apoz"], ["taylor", "apoz"]]
    w.update(smaller)
    assert w.selected == [] and w.names == ["taylor", "apoz"]
    assert w.to_frame().equals(smaller.astype(float))


def test_bad_matrices_are_rejected(matrix):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        MaskOverlapWidget(matrix * 3)
    with pytest.raises(ValueError, match="NaN"):
        MaskOverlapWidget(matrix.where(matrix < 1))
    with pytest.raises(traitlets.TraitError, match="square"):
        MaskOverlapWidget(names=["a", "b"], matrix=[[1.0, 0.5], [0.5]])
    with pytest.raises(ValueError, match="one name per row"):
        MaskOverlapWidget(names=["a"], matrix=[[1.0, 0.5], [0.5, 1.0]])


def test_static_twin_is_the_overlap_heatmap(matrix):
    fig = MaskOverlapWidget(matrix, title="three criteria").figure()
    assert isinstance(fig, Figure) and fig.axes[0].get_title(loc="left") == "three criteria"


def test_marimo_wrapper_exposes_selected(matrix):
    import marimo as mo

    w = MaskOverlapWidget(matrix)
    w.selected = ["apoz", "magnitude"]
    assert mo.ui.anywidget(w).value["selected"] == ["apoz", "magnitude"]
