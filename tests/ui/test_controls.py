import pytest

from labkit.ui import Button, Checkbox, ControlSpec, Dropdown, Slider, layer_spec
from labkit.ui import jupyter as jui
from labkit.ui import marimo as mui


def test_defaults_follow_spec_order(spec):
    assert spec.defaults() == {"sparsity": 0.5, "epochs": 3, "criterion": "taylor", "dense_fc": True,
                               "finetune": False}
    assert spec.names == list(spec.defaults())


def test_both_adapters_return_the_same_values_for_the_same_spec(spec):
    """The contract of docs/design.md §5: one spec, two hosts, one dict of plain values."""
    from_marimo = mui.controls(spec).value
    from_jupyter = jui.values(jui.controls(spec))
    assert from_marimo == from_jupyter == spec.defaults()
    assert list(from_marimo) == list(from_jupyter) == spec.names
    assert [type(v) for v in from_marimo.values()] == [type(v) for v in from_jupyter.values()]


def test_both_adapters_agree_on_per_layer_sliders():
    layers = ["conv1.weight", "layer1.0.conv1.weight", "fc.weight"]
    alloc = {"conv1.weight": 0.1, "layer1.0.conv1.weight": 0.52, "fc.weight": 0.9}
    want = {"conv1.weight": 0.1, "layer1.0.conv1.weight": 0.5, "fc.weight": 0.9}  # snapped to the 0.05 grid
    assert mui.layer_sliders(layers, alloc).value == want
    assert jui.values(jui.layer_sliders(layers, alloc)) == want


def test_spec_indexing_concatenation_and_validation(spec):
    assert spec["criterion"].options == ("magnitude", "taylor", "apoz")
    assert spec[0].name == "sparsity" and len(spec[1:3]) == 2
    assert "dense_fc" in spec and "nope" not in spec
    with pytest.raises(KeyError, match="no control named"):
        spec["nope"]
    both = spec + layer_spec(["fc.weight"], 0.2)
    assert both.names[-1] == "fc.weight" and both["fc.weight"].label == "fc"
    assert spec.validate({**spec.defaults(), "sparsity": 0.85})["sparsity"] == 0.85
    with pytest.raises(KeyError, match="missing"):
        spec.validate({"sparsity": 0.5})
    with pytest.raises(ValueError, match="outside"):
        spec.validate({**spec.defaults(), "sparsity": 0.95})
    with pytest.raises(ValueError, match="not an option"):
        spec.validate({**spec.defaults(), "criterion": "random"})


def test_duplicate_names_and_foreign_objects_are_rejected():
    with pytest.raises(ValueError, match="unique"):
        ControlSpec([Checkbox("a", "a"), Button("a", "b")])
    with pytest.raises(TypeError, match="Slider, Dropdown"):
        ControlSpec([{"name": "a"}])


@pytest.mark.parametrize("kwargs, match", [
    ({"start": 1.0, "stop": 0.0}, "below stop"),
    ({"step": 0.0}, "step"),
    ({"value": 0.95}, "outside"),
    ({"value": 0.33}, "not start \\+ k \\* step"),
    ({"value": True}, "finite numbers"),
    ({"name": ""}, "non-empty string name"),
])
def test_slider_validation_names_the_problem(kwargs, match):
    args = {"name": "s", "label": "sparsity", "start": 0.0, "stop": 0.9, "step": 0.05, "value": 0.5, **kwargs}
    with pytest.raises((ValueError, TypeError), match=match):
        Slider(**args)


def test_slider_integer_flag_and_frozen():
    assert Slider("n", "epochs", 0, 10, 1, 3).integer
    assert not Slider("s", "s", 0, 1, 0.5, 0).integer
    with pytest.raises(AttributeError):
        Slider("n", "epochs", 0, 10, 1, 3).value = 4


def test_dropdown_defaults_to_first_option_and_stores_a_tuple():
    d = Dropdown("mode", "mode", ["global", "uniform"])
    assert d.value == "global" and d.options == ("global", "uniform")
    with pytest.raises(ValueError, match="not an option"):
        Dropdown("mode", "mode", ["global"], "layered")
    with pytest.raises(TypeError, match="list of strings"):
        Dropdown("mode", "mode", "global")
    with pytest.raises(ValueError, match="repeat"):
        Dropdown("mode", "mode", ["a", "a"])


def test_checkbox_and_button_values():
    with pytest.raises(TypeError, match="True or False"):
        Checkbox("c", "c", 1)
    assert Button("go", "go").value is False


def test_layer_spec_errors():
    with pytest.raises(ValueError, match="non-empty list"):
        layer_spec([])
    with pytest.raises(KeyError, match="missing"):
        layer_spec(["a.weight", "b.weight"], {"a.weight": 0.5})
    with pytest.raises(ValueError, match="outside the slider range"):
        layer_spec(["a.weight"], 0.99)
