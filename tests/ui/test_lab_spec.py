"""The lab's control specs: merge weights from sliders or from validation accuracy, the method controls."""
import pytest

from labkit.ui import lab_spec


class _FakeLab:
    """Stands in for Lab.merge_weights so the rule's routing is tested without a model."""

    def merge_weights(self, trials, tau, accuracy=None):
        return {c: tau if accuracy is None else accuracy[c] for c in trials}


def test_merge_controls_defaults_and_names():
    spec = lab_spec.merge_controls(["magnitude", "taylor"])
    d = spec.defaults()
    assert list(d) == ["w_magnitude", "w_taylor", "merge_mode", "weights", "tau"]
    assert d["weights"] == "sliders" and d["merge_mode"] == "weighted" and d["tau"] == 20


def test_merge_weights_from_sliders_are_normalised_and_zero_means_equal():
    trials = {"magnitude": None, "taylor": None}
    v = {"w_magnitude": 0.6, "w_taylor": 0.2, "weights": "sliders", "tau": 20}
    assert lab_spec.merge_weights(_FakeLab(), trials, v) == pytest.approx({"magnitude": 0.75, "taylor": 0.25})
    v.update(w_magnitude=0.0, w_taylor=0.0)
    assert lab_spec.merge_weights(_FakeLab(), trials, v) == {"magnitude": 0.5, "taylor": 0.5}


def test_merge_weights_from_validation_accuracy_go_to_the_lab():
    v = {"w_a": 1.0, "weights": lab_spec.WEIGHT_SOURCES[1], "tau": 35}
    assert lab_spec.merge_weights(_FakeLab(), {"a": None}, v) == {"a": 35.0}
    assert lab_spec.merge_weights(_FakeLab(), {"a": None}, v, accuracy={"a": 0.9}) == {"a": 0.9}  # passed on


def test_method_controls():
    layers = [f"l{i}.weight" for i in range(6)]
    assert lab_spec.influence_controls(layers).defaults() == {"layer": "l2.weight"}
    with pytest.raises(ValueError, match="no prunable conv"):
        lab_spec.influence_controls([])
    assert lab_spec.rescue_controls().defaults() == {"sparsity": 0.5, "rho": 0.2, "method": "ga", "generations": 8}
    assert lab_spec.transfer_controls().defaults() == {"ratio": 0.4}
