import matplotlib
import pytest
from matplotlib.figure import Figure

from labkit.views._style import GROUP_COLORS, GROUPS, METRIC_COLORS, METRICS, human, new_figure, short_layer, styled


def test_new_figure_is_a_bare_figure_with_the_named_size():
    fig, ax = new_figure(size="square")
    assert isinstance(fig, Figure) and fig.axes == [ax]
    assert tuple(fig.get_size_inches()) == pytest.approx((5.2, 4.4))
    fig, axes = new_figure(2, 3, size=(4, 2))
    assert axes.shape == (2, 3) and tuple(fig.get_size_inches()) == (4, 2)


def test_new_figure_rejects_unknown_size_names():
    with pytest.raises(KeyError, match="unknown figure size"):
        new_figure(size="huge")


def test_every_group_and_metric_has_its_own_colour():
    assert set(GROUPS) <= set(GROUP_COLORS) and set(METRICS) <= set(METRIC_COLORS)
    assert len(set(METRIC_COLORS[m] for m in METRICS)) == len(METRICS)


def test_styled_applies_rc_only_inside_the_call():
    outside = matplotlib.rcParams["axes.spines.top"]

    @styled
    def probe():
        return matplotlib.rcParams["axes.spines.top"]

    assert probe() is False
    assert matplotlib.rcParams["axes.spines.top"] == outside


@pytest.mark.parametrize("x, text", [(1234, "1.23k"), (3.4e6, "3.4M"), (640, "640"), (0.5, "0.5"), (2e9, "2G")])
def test_human(x, text):
    assert human(x) == text


def test_short_layer_drops_the_parameter_suffix():
    assert short_layer("layer1.0.conv1.weight") == "layer1.0.conv1"
    assert short_layer("fc.bias") == "fc"
    assert short_layer("stem") == "stem"


def test_figures_render_as_png_without_pyplot():
    """A Jupyter kernel that never imported pyplot has no Figure formatter; _repr_png_ is the fallback."""
    fig, ax = new_figure(size="small")
    ax.plot([0, 1], [0, 1])
    png = fig._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
