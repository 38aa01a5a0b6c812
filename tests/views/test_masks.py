import numpy as np
import pandas as pd
import pytest

from labkit.views import layer_overlap, overlap_heatmap, sparsity_profile


def _heights(ax, skip_full=True):
    return [p.get_height() for p in ax.patches if p.get_width() > 0]


def test_sparsity_profile_bars_target_and_weighted_overall():
    df = pd.DataFrame({"layer": ["conv1.weight", "layer1.conv.weight", "fc.weight"],
                       "sparsity": [0.2, 0.5, 0.9], "n_params": [100, 300, 600]})
    fig = sparsity_profile(df, target=0.6)
    ax = fig.axes[0]
    heights = _heights(ax)
    assert heights[:3] == [1.0, 1.0, 1.0]  # the whole layer, light grey ...
    assert heights[3:] == pytest.approx([0.2, 0.5, 0.9])  # ... and the removed part
    assert [t.get_text() for t in ax.get_xticklabels()] == ["conv1", "layer1.conv", "fc"]
    assert [t.get_text() for t in ax.texts] == ["100", "300", "600"]
    assert any(list(l.get_ydata()) == [0.6, 0.6] for l in ax.lines)
    overall = (0.2 * 100 + 0.5 * 300 + 0.9 * 600) / 1000
    assert f"overall {overall:.3f}" in ax.get_title(loc="left")


def test_sparsity_profile_accepts_a_dict_in_order():
    fig = sparsity_profile({"b.weight": 0.1, "a.weight": 0.7})
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["b", "a"]
    assert len(fig.axes[0].texts) == 0


@pytest.mark.parametrize("bad", [{"a": 1.5}, {"a": -0.1}, {"a": float("nan")}])
def test_sparsity_profile_rejects_non_fractions(bad):
    with pytest.raises(ValueError, match=r"fraction in \[0, 1\]"):
        sparsity_profile(bad)


def test_sparsity_profile_rejects_empty_and_bad_target():
    with pytest.raises(ValueError, match="empty"):
        sparsity_profile({})
    with pytest.raises(ValueError, match="target"):
        sparsity_profile({"a": 0.5}, target=50)


def _matrix():
    names = ["magnitude", "taylor", "apoz"]
    v = np.array([[1.0, 0.4, 0.3], [0.4, 1.0, 0.6], [0.3, 0.6, 1.0]])
    return pd.DataFrame(v, index=names, columns=names)


def test_overlap_heatmap_shows_the_matrix_in_row_order():
    m = _matrix()
    fig = overlap_heatmap(m[["apoz", "magnitude", "taylor"]])  # columns shuffled: realigned to the rows
    ax = fig.axes[0]
    mesh = ax.collections[0]
    assert np.asarray(mesh.get_array()).reshape(3, 3) == pytest.approx(m.to_numpy())
    assert mesh.get_clim() == (0.0, 1.0)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(m.index)
    assert "0.60" in [t.get_text() for t in ax.texts]


def test_overlap_heatmap_errors():
    m = _matrix()
    with pytest.raises(ValueError, match="square"):
        overlap_heatmap(m.iloc[:2])
    with pytest.raises(ValueError, match="same masks"):
        overlap_heatmap(m.rename(columns={"apoz": "random"}))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        overlap_heatmap(m * 2)
    with pytest.raises(TypeError, match="DataFrame"):
        overlap_heatmap(m.to_numpy())


def test_layer_overlap_bars_and_mean():
    df = pd.DataFrame({"layer": ["conv1.weight", "conv2.weight", "fc.weight"], "jaccard": [0.9, 0.5, 0.1]})
    fig = layer_overlap(df)
    ax = fig.axes[0]
    assert _heights(ax) == pytest.approx([0.9, 0.5, 0.1])
    assert any(l.get_ydata()[0] == pytest.approx(0.5) for l in ax.lines)


def test_layer_overlap_groups_by_pair():
    df = pd.DataFrame({"layer": ["a.weight", "b.weight"] * 2, "jaccard": [0.9, 0.5, 0.2, 0.3],
                       "pair": ["m-t", "m-t", "m-r", "m-r"]})
    fig = layer_overlap(df)
    assert sorted(_heights(fig.axes[0])) == pytest.approx([0.2, 0.3, 0.5, 0.9])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        layer_overlap(df.assign(jaccard=2.0))


def test_layer_overlap_legend_names_the_plain_mean_and_the_pooled_value() -> None:
    df = pd.DataFrame({"layer": ["a.weight", "b.weight"], "jaccard": [0.8, 0.4]})
    df.attrs["total"] = {"jaccard": 0.45}
    fig = layer_overlap(df)
    labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert labels == ["mean over layers 0.600 (whole network, pooled: 0.450)"]
    heat = overlap_heatmap(pd.DataFrame([[1, .4], [.4, 1]], index=["m", "t"], columns=["m", "t"]))
    assert "mean" not in heat.axes[0].get_title() and heat.axes[1].get_ylabel() == "Jaccard overlap"
