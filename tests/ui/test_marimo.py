import html
import json
import re

import pytest

from labkit.ui import Slider
from labkit.ui import marimo as mui


def _rendered(element) -> dict:
    """The ``data-*`` attributes of an element's HTML: what the browser is sent (public ``.text``)."""
    attrs = dict(re.findall(r"data-([a-z-]+)='([^']*)'", element.text))
    return {k: json.loads(html.unescape(v)) for k, v in attrs.items()}


def test_elements_carry_bounds_values_labels_and_debounce(spec):
    ui = mui.controls(spec)
    s = ui["sparsity"]
    assert (s.start, s.stop, s.step, s.value) == (0.0, 0.9, 0.05, 0.5)
    sent = _rendered(s)
    assert sent["debounce"] is True  # expensive: value sent on drag end
    assert "global sparsity" in sent["label"]
    assert _rendered(ui["epochs"])["debounce"] is False
    assert _rendered(ui["criterion"])["options"] == ["magnitude", "taylor", "apoz"]
    assert type(ui["finetune"]).__name__ == "run_button"
    assert type(ui["dense_fc"]).__name__ == "checkbox"


def test_dictionary_value_follows_frontend_updates(spec):
    ui = mui.controls(spec)
    ui._update({**ui._initial_value_frontend, "sparsity": 0.55, "criterion": ["apoz"]})
    assert ui.value["sparsity"] == pytest.approx(0.55)
    assert ui.value["criterion"] == "apoz"


def test_layer_sliders_one_per_layer_labelled_without_weight_suffix():
    ui = mui.layer_sliders(["conv1.weight", "fc.weight"], 0.3, stop=0.9, step=0.1)
    assert list(ui.value) == ["conv1.weight", "fc.weight"]
    label = _rendered(ui["fc.weight"])["label"]
    assert ">fc<" in label and "weight" not in label
    assert ui["fc.weight"].stop == 0.9 and ui["fc.weight"].value == pytest.approx(0.3)


def test_element_accepts_a_plain_list_of_controls():
    ui = mui.controls([Slider("s", "s", 0, 4, 2, 2)])
    assert ui.value == {"s": 2}
    with pytest.raises(TypeError, match="cannot render"):
        mui.element("slider")
