import pytest

from labkit.ui import Button, Checkbox, ControlSpec, Dropdown, Slider


@pytest.fixture
def spec() -> ControlSpec:
    """One control of each kind, an expensive float slider and a cheap int slider."""
    return ControlSpec([
        Slider("sparsity", "global sparsity", 0.0, 0.9, 0.05, 0.5),
        Slider("epochs", "fine-tune epochs", 0, 10, 1, 3, debounce=False),
        Dropdown("criterion", "criterion", ("magnitude", "taylor", "apoz"), "taylor"),
        Checkbox("dense_fc", "keep classifier dense", True),
        Button("finetune", "fine-tune"),
    ])
