"""``lk.app(lab)`` without a browser: a user's own ``nn.Module`` and tensors, controls set from code.

Each test checks what a person would see change: the readout text, the PNG bytes of the views,
the in-place error box, the criteria offered. The browser-side check (images decode, the
kernel round trip) is tests/notebooks/test_jupyter_browser.py.
"""
from __future__ import annotations

import re

import pytest
import torch
from torch import nn

pytest.importorskip("ipywidgets")
pytest.importorskip("anywidget")

import labkit as lk  # noqa: E402
from labkit.data import LabData  # noqa: E402
from labkit.ui.jupyter_app import LabApp  # noqa: E402
from labkit.ui.lab_spec import criteria_for  # noqa: E402


class TinyNet(nn.Module):
    """Two convs and two linears: conv2 and fc1 are prunable (first conv, last linear excluded)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3, padding=1)
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x)).mean((2, 3))
        return self.fc2(torch.relu(self.fc1(x)))


def _pair(counts: list[int], g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    y = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    x = torch.randn(len(y), 1, 8, 8, generator=g) + y.view(-1, 1, 1, 1).float()  # learnable: mean encodes the class
    return x, y


@pytest.fixture(scope="module")
def lab() -> lk.Lab:
    g = torch.Generator().manual_seed(0)
    # a user's tensors: counts and many / medium / few groups are computed, val is cut from train
    data = LabData.from_tensors(_pair([44, 17, 6], g), _pair([10, 10, 10], g), classes=["a", "b", "c"], name="tiny")
    assert data.class_counts.tolist() == [40, 15, 5] and data.groups == lk.class_groups([40, 15, 5])
    torch.manual_seed(0)
    net = TinyNet()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    x, y = data.train.tensors()
    for _ in range(60):  # a few full-batch steps: accuracy then responds to pruning
        opt.zero_grad()
        nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    return lk.Lab(net, data, preview=None)


@pytest.fixture(scope="module")
def built(lab: lk.Lab) -> LabApp:
    return lk.app(lab, sweep=(0.0, 0.5, 0.9))  # built once: a figure costs ~0.1-0.5 s on a shared CPU


@pytest.fixture
def app(built: LabApp, lab: lk.Lab) -> LabApp:
    """The module's app, back at the default setting (one update if anything differs)."""
    built.set(granularity="weight", criterion="magnitude", mode="global", sparsity=0.5, normalize="auto",
              **{n: 0.5 for n in lab.layers})
    return built


def _pngs(app: LabApp) -> dict[str, bytes]:
    return {n: p.images[0].value for n, p in app.panels.items()}


def test_app_is_one_widget_with_every_main_view_drawn(app: LabApp) -> None:
    import ipywidgets as W

    assert app.sections["merge"].view.images == []  # closed sections computed nothing (no empty <img>)
    assert isinstance(app, W.VBox)
    assert "sparsity: 0.50" in app.readout.value and "labkit-error" not in app.readout.value
    for name, panel in app.panels.items():
        assert panel.ok, (name, panel.note.value)
        assert panel.images[0].value[:8] == b"\x89PNG\r\n\x1a\n" and panel.images[0].format == "png"


def test_moving_global_sparsity_changes_readout_and_images(app: LabApp) -> None:
    before, text = _pngs(app), app.readout.value
    image = app.panels["per_class"].images[0]
    app.set(sparsity=0.8)
    assert "sparsity: 0.80" in app.readout.value and app.readout.value != text
    after = _pngs(app)
    assert after["profile"] != before["profile"] and after["cost"] != before["cost"] and after["curve"] != before["curve"]
    assert app.panels["per_class"].images[0] is image  # updated in place, not rebuilt
    assert app.trial is not None and app.trial.plan.sparsity == 0.8


def test_the_widget_slider_drives_the_views_too(app: LabApp) -> None:
    text = app.readout.value
    app.controls.controls["sparsity"].value = 0.3  # what the browser does
    assert "sparsity: 0.30" in app.readout.value and app.readout.value != text


def test_criteria_follow_granularity_and_filter_normalises_per_layer(app: LabApp) -> None:
    c = app.controls.controls
    assert list(c["criterion"].options) == criteria_for("weight")
    app.set(granularity="filter")
    assert list(c["criterion"].options) == criteria_for("filter") and "apoz" in c["criterion"].options
    assert c["normalize"].value == "auto" and "L2 norm" in app.control_note.value  # the reason, in the UI
    app.set(normalize="none")
    assert "may empty whole layers" in app.control_note.value
    app.set(normalize="auto")
    app.set(criterion="apoz")
    assert "filters" in app.readout.value and app.panels["per_class"].ok
    app.set(granularity="weight")  # apoz cannot score weights: the menu says so and falls back
    assert c["criterion"].value == "magnitude" and "apoz" in app.control_note.value
    assert "labkit-error" not in app.readout.value


def test_per_layer_mode_is_shown_as_such(app: LabApp, lab: lk.Lab) -> None:
    app.set(mode="per-layer", **{n: 0.9 for n in lab.layers})
    c = app.controls.controls
    assert c["sparsity"].disabled and "per-layer sliders" in app.control_note.value
    assert "per-layer sliders" in app.readout.value and app.trial.plan.mode == "per-layer"
    assert all(abs(s - 0.9) < 0.01 for s in app.trial.allocation.values())


def test_an_error_is_shown_in_place_with_the_fix(app: LabApp, lab: lk.Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(**_kw):
        raise ValueError("scores hold NaN; reload the checkpoint")

    monkeypatch.setattr(lab, "prune", broken)
    app.set(sparsity=0.65)
    assert "labkit-error" in app.readout.value and "reload the checkpoint" in app.readout.value
    assert all("Not updated" in p.note.value and p.row.layout.display == "none" for p in app.panels.values())
    monkeypatch.undo()
    app.set(sparsity=0.7)
    assert "sparsity: 0.70" in app.readout.value and all(p.ok for p in app.panels.values())


def test_sections_compute_only_when_open_and_keep_the_clicked_pair(app: LabApp) -> None:
    merge = app.sections["merge"]
    assert not merge.is_open
    widget = merge.overlap
    merge.open()
    assert merge.view.ok, merge.view.note.value
    assert set(widget.names) == {"magnitude", "taylor", "random", "merged"}
    widget.selected = ["taylor", "random"]  # a click in the browser
    assert "taylor vs random" in merge.pair.text.value
    pair_png = merge.pair.images[0].value
    app.set(sparsity=0.8)
    assert merge.overlap is widget and widget.selected_pair == ("taylor", "random")
    assert merge.pair.images[0].value != pair_png  # redrawn for the new masks, same pair


def test_activation_section_shows_the_input_and_follows_its_slider(app: LabApp) -> None:
    act = app.sections["activations"]
    act.open()
    assert act.view.ok and act.input.ok, act.view.note.value  # the input image next to its feature maps
    text, picture, maps = act.caption.value, act.input.images[0].value, act.view.images[0].value
    app.set(sparsity=0.8)
    assert act.input.images[0].value == picture and act.view.images[0].value != maps  # same image, new masks
    act.index.value = 4
    assert act.caption.value != text and "image 4: class" in act.caption.value
    assert act.input.images[0].value != picture


def test_actions_save_into_the_chosen_folder(app: LabApp, tmp_path) -> None:
    actions = app.sections["actions"]
    actions.folder.value = str(tmp_path)
    actions.buttons["save"].click()
    assert "saved masks and plan" in actions.result.value
    assert (tmp_path / "magnitude-global-0.50" / "plan.json").exists()


def test_method_sections_draw_on_a_users_own_model(app: LabApp) -> None:
    app.sections["rescue"].box.controls["generations"].value = 2  # a short search (closed: nothing runs yet)
    influence = app.sections["influence"]
    influence.open()  # one stage, functional ReLUs: one depth site after conv2, too few for a decay fit
    assert not influence.view.ok and "Δ_1 can be measured" in influence.view.note.value
    assert "Weibull fit needs at least 3" in influence.view.note.value
    for name in ("rescue", "kept_filters", "csasml_cost"):
        section = app.sections[name]
        assert section.view.images == []  # closed until now
        section.open()
        assert section.view.ok and bytes(section.view.images[0].value[:4]) == b"\x89PNG", (name, section.view.note.value)
    rescue = app.sections["rescue"]
    text = rescue.view.text.value
    rescue.box.controls["rho"].value = 0.4  # its own control redraws it
    assert rescue.view.text.value != text and "calibration loss" in rescue.view.text.value


def test_compaction_and_infeasible_targets_are_explained_in_place(app: LabApp) -> None:
    app.compact_button.click()  # weight granularity: nothing to remove physically
    assert "switch <b>granularity</b>" in app.panels["cost"].note.value
    app.set(granularity="filter", sparsity=0.9)  # more than the layers can give under min_keep
    assert "labkit-warning" in app.readout.value and "infeasible" in app.readout.value
    app.set(sparsity=0.5)
    app.compact_button.click()
    cost = app.panels["cost"]
    assert cost.ok and "compacted" in cost.text.value and "labkit-error" not in cost.note.value


def test_snapshot_is_static_html_with_the_current_views(app: LabApp) -> None:
    import base64

    page = app.snapshot().data
    pngs = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert "sparsity: 0.50" in page and len(pngs) == len(app.panels)
    assert all(base64.b64decode(p)[:4] == b"\x89PNG" for p in pngs)
