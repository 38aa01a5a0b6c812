import base64

import ipywidgets as W
import pytest

from labkit.ui import ControlSpec, Slider
from labkit.ui import jupyter as jui


def test_widgets_carry_bounds_values_labels_and_continuous_update(spec):
    box = jui.controls(spec)
    assert isinstance(box, W.VBox) and len(box.children) == len(spec)
    s = box.controls["sparsity"]
    assert isinstance(s, W.FloatSlider)
    assert (s.min, s.max, s.step, s.value, s.description) == (0.0, 0.9, 0.05, 0.5, "global sparsity")
    assert s.continuous_update is False and s.readout_format == ".2f"
    n = box.controls["epochs"]
    assert isinstance(n, W.IntSlider) and n.continuous_update is True and (n.min, n.max, n.value) == (0, 10, 3)
    assert box.controls["criterion"].options == ("magnitude", "taylor", "apoz")
    assert isinstance(box.controls["finetune"], W.Button)
    assert box.children[2] is box.controls["criterion"]  # spec order


def test_values_and_observe_report_changes_and_clicks(spec):
    box = jui.controls(spec)
    seen = []
    detach = jui.observe(box, seen.append)
    box.controls["sparsity"].value = 0.7
    assert seen[-1]["sparsity"] == pytest.approx(0.7) and seen[-1]["finetune"] is False
    box.controls["criterion"].value = "apoz"
    assert jui.values(box)["criterion"] == "apoz"
    box.controls["finetune"].click()
    assert seen[-1]["finetune"] is True and jui.values(box)["finetune"] is False
    n = len(seen)
    detach()
    box.controls["dense_fc"].value = False
    box.controls["finetune"].click()
    assert len(seen) == n


def test_layer_sliders_and_bad_boxes():
    box = jui.layer_sliders(["conv1.weight", "fc.weight"], {"conv1.weight": 0.2, "fc.weight": 0.8})
    assert jui.values(box) == {"conv1.weight": 0.2, "fc.weight": 0.8}
    assert box.controls["fc.weight"].description == "fc"
    with pytest.raises(TypeError, match="labkit.ui.jupyter.controls"):
        jui.values(W.VBox())


@pytest.mark.parametrize("step, fmt", [(0.05, ".2f"), (0.1, ".1f"), (0.25, ".2f"), (0.5, ".1f")])
def test_readout_shows_every_step(step, fmt):
    assert jui.widget(Slider("s", "s", 0.0, 1.0, step, 0.0)).readout_format == fmt


def test_linked_output_redraws_one_view_per_change(spec):
    from labkit.views import group_accuracy

    box = jui.controls(spec)
    calls = []

    def render(v):
        calls.append(v["sparsity"])
        if v["criterion"] == "apoz":
            raise ValueError("no activations cached")
        return group_accuracy({"overall": 1.0 - v["sparsity"]})

    out = jui.linked_output(box, render)
    assert calls == [0.5] and len(out.outputs) == 1 and "image/png" in out.outputs[0]["data"]
    png = out.outputs[0]["data"]["image/png"]  # base64 text, as JupyterLab needs (ipywidgets#3003)
    assert isinstance(png, str) and base64.b64decode(png)[:4] == b"\x89PNG"
    box.controls["sparsity"].value = 0.7
    assert calls[-1] == pytest.approx(0.7) and len(out.outputs) == 1  # replaced, not appended
    box.controls["criterion"].value = "apoz"
    assert out.outputs[0]["name"] == "stderr" and "no activations cached" in out.outputs[0]["text"]


def test_linked_output_follows_other_boxes_and_shows_tuples(spec):
    from IPython.display import Markdown

    from labkit.views import group_accuracy

    box = jui.controls(spec)
    other = jui.controls(ControlSpec([Slider("tau", "τ", 0, 60, 5, 20)]))
    seen = []

    def render(v):
        seen.append(jui.values(other)["tau"])
        return Markdown(f"τ = {seen[-1]}"), group_accuracy({"overall": 1.0 - v["sparsity"]})

    out = jui.linked_output(box, render, also=[other])
    assert [o["data"].get("text/markdown") for o in out.outputs][0] == "τ = 20"
    assert "image/png" in out.outputs[1]["data"]
    other.controls["tau"].value = 40
    assert seen[-1] == 40 and len(out.outputs) == 2 and out.outputs[0]["data"]["text/markdown"] == "τ = 40"
