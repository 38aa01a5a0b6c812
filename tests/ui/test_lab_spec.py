"""The lab's control specs: merge weights from sliders or from validation accuracy, the method controls."""
import pytest

from labkit.ui import lab_spec


def test_merge_controls_defaults_and_names():
    spec = lab_spec.merge_controls(["magnitude", "taylor"])
    d = spec.defaults()
    assert list(d) == ["w_magnitude", "w_taylor", "merge_mode", "weights", "tau"]
    assert d["weights"] == "sliders" and d["merge_mode"] == "weighted" and d["tau"] == 20


def test_merge_request_routes_slider_weights_or_the_softmax_to_the_lab():
    v = {"w_magnitude": 0.6, "w_taylor": 0.2, "weights": "sliders", "tau": 20, "merge_mode": "majority"}
    assert lab_spec.merge_request(["magnitude", "taylor"], v) == {
        "weights": {"magnitude": 0.6, "taylor": 0.2}, "tau": 20.0, "merge_mode": "majority"}
    v["weights"] = lab_spec.WEIGHT_SOURCES[1]
    assert lab_spec.merge_request(["magnitude", "taylor"], v)["weights"] is None  # the lab's softmax decides


def test_method_controls():
    layers = [f"l{i}.weight" for i in range(6)]
    assert lab_spec.influence_controls(layers).defaults() == {"layer": "l2.weight"}
    with pytest.raises(ValueError, match="no prunable conv"):
        lab_spec.influence_controls([])
    assert lab_spec.rescue_controls().defaults() == {"sparsity": 0.5, "rho": 0.2, "method": "ga", "generations": 8}
    assert lab_spec.transfer_controls().defaults() == {"ratio": 0.4}
