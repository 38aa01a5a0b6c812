"""The methods' live views in :class:`~labkit.ui.jupyter_app.LabApp` (docs/methods.md §2-§5).

One collapsible section per method, each with its own controls from
:mod:`labkit.ui.lab_spec` and views from :mod:`labkit.views`; they compute only while open,
because each runs real work (ablations, a genetic search) that the main sliders should not
wait for. Method 1 (long-tail-aware pruning) is the main view itself: per-class accuracy, the
``layered`` allocation and the merge weights.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as W
import numpy as np

from . import jupyter as ju
from . import lab_spec
from .jupyter_panels import Panel, note_html, table_html
from .jupyter_sections import Section

if TYPE_CHECKING:
    from .jupyter_app import LabApp

__all__ = ["InfluenceSection", "RescueSection", "KeptFiltersSection", "CostSection", "method_sections"]


class _OwnControls(Section):
    """A method section: its own controls, one panel, redrawn when they change (if open)."""

    follows_trial = False

    def __init__(self, app: LabApp, title: str, intro: str, spec: Any, heading: str = "") -> None:
        self.box = ju.controls(spec) if spec is not None else None
        self.view = Panel(heading, dpi=app.dpi)
        children = [W.HTML(note_html(intro))] + ([self.box] if self.box is not None else []) + [self.view.box]
        super().__init__(app, title, children)
        if self.box is not None:
            ju.observe(self.box, lambda _v: self._redraw())

    def _redraw(self) -> None:
        self.stale = True
        self.update()


class InfluenceSection(_OwnControls):
    """Method 5 (DOMINOS): zero one channel, follow its effect through later stages, fit a Weibull."""

    def __init__(self, app: LabApp) -> None:
        convs = app.lab.conv_layers
        spec = lab_spec.influence_controls(convs) if convs else None
        super().__init__(app, "Method 5 · DOMINOS: domino influence and its Weibull fit",
                         "Zero one channel and follow how much every later stage changes relative to the first: "
                         "the survival curve S(t), fitted per channel by exp(-(t/λ)^k). A channel whose effect "
                         "dies out quickly (small λ) has little domino influence. Curves on 32 validation images.",
                         spec)

    def draw(self) -> None:
        from .. import views
        from ..analysis.influence import influence_table

        if self.box is None:
            self.view.stale("This model has no prunable conv layer to measure domino influence on.")
            return
        layer = ju.values(self.box)["layer"]

        def view() -> Any:
            curves, fits = self.app.lab.influence(layer)
            r2 = np.asarray(fits.r2, dtype=float)
            r2 = r2[~np.isnan(r2)]
            head = (f"{len(fits.k)} channels · median Weibull R² <b>{np.median(r2):.2f}</b> over {len(r2)} fitted "
                    f"channels · {(r2 >= 0.9).mean():.0%} with R² ≥ 0.9 · computed in {curves.seconds:.1f} s"
                    if len(r2) else f"{len(fits.k)} channels · no channel could be fitted")
            return (head, views.decay_curves(curves.survival(layer), fits.k, fits.lam, layer=layer),
                    views.weibull_scatter(influence_table(curves, {layer: fits})))

        self.view.run(view, busy=f"ablating every channel of {layer} (a few seconds on a CPU; cached per layer) ...")


class RescueSection(_OwnControls):
    """Method 3: keep the large weights and let a search choose a share ρ of small ones."""

    def __init__(self, app: LabApp) -> None:
        super().__init__(app, "Method 3 · large weights plus small weights chosen by a search",
                         "At sparsity s every layer keeps K weights; magnitude keeps the K largest. Here a share ρ "
                         "of them is searched by a genetic algorithm (or a binary particle swarm, pso), magnitude's "
                         "choice seeded in, to lower the loss on calibration images (validation split).",
                         lab_spec.rescue_controls())

    def draw(self) -> None:
        from .. import views

        lab, c = self.app.lab, ju.values(self.box)

        def view() -> Any:
            cmp = lab.compare_rescue(c["sparsity"], rho=c["rho"], method=c["method"], generations=int(c["generations"]))
            picked, opt, mag, layer = cmp.picked, cmp.searched, cmp.magnitude, cmp.layer
            text = (f"calibration loss <b>{picked.loss:.3f}</b> (magnitude alone {picked.magnitude_loss:.3f}) · "
                    f"test balanced accuracy <b>{opt.report.balanced:.3f}</b> vs magnitude "
                    f"{mag.report.balanced:.3f} (one-shot, same per-layer budgets; dense "
                    f"{lab.dense_report.balanced:.3f})")
            return (text, views.weight_histogram(lab.dense.get_parameter(layer), picked.large[layer],
                                                 picked.rescued[layer], picked.threshold[layer], layer=layer),
                    views.fitness_curve(picked.history, magnitude_fitness=-picked.magnitude_loss))

        self.view.run(view, busy=f"{c['method']} search over small weights, {c['generations']} iterations "
                                 f"(seconds to a minute on a CPU) ...")


class KeptFiltersSection(_OwnControls):
    """Method 4: which filters weight L1, mean activation and APoZ keep, per layer and globally."""

    CRITERIA = ("magnitude", "mean_activation", "apoz")

    def __init__(self, app: LabApp) -> None:
        super().__init__(app, "Method 4 · which filters does each criterion keep?",
                         "Filters ranked by their weights (L1), their mean activation or APoZ (share of zeros "
                         "after ReLU) on the data, per layer (the same ratio r everywhere) or globally (scores "
                         "L2-normalised per layer).", lab_spec.transfer_controls())

    def draw(self) -> None:
        from .. import views

        lab, r = self.app.lab, float(ju.values(self.box)["ratio"])
        crits = [c for c in self.CRITERIA if c in lab_spec.criteria_for("filter")]

        def view() -> Any:
            choice = lab.filter_criteria(r, crits)
            kept, table = choice.kept, choice.accuracy
            text = f"Balanced test accuracy, one-shot, {r:.0%} of the filters removed:" + table_html(table)
            return (text, views.kept_filters_bars(kept))

        self.view.run(view, busy="scoring filters with weights, activations and APoZ ...")


class CostSection(_OwnControls):
    """Method 2 (CSASML): MACs per module of the baseline and the lite network at this lab's input."""

    def __init__(self, app: LabApp) -> None:
        super().__init__(app, "Method 2 · CSASML: where a lightweight network spends its MACs",
                         "Split-and-Mixed modules replace basic blocks and Cross-Scale Attention replaces full "
                         "self-attention. MACs per module, counted by torch.utils.flop_counter at this lab's "
                         "input size, for the baseline and the lite network.", None)

    def draw(self) -> None:
        import pandas as pd

        from .. import views
        from ..analysis.breakdown import cost_breakdown
        from ..models import load_model

        lab = self.app.lab

        def view() -> Any:
            kw: dict[str, Any] = dict(num_classes=lab.data.num_classes, in_channels=lab.input_shape[0])
            nets = {"baseline": load_model("csasml_baseline", **kw),
                    "csasml_lite": load_model("csasml_lite", input_size=lab.input_shape[-1], **kw)}
            frame = pd.concat([cost_breakdown(n, lab.input_shape).assign(model=k) for k, n in nets.items()],
                              ignore_index=True)
            return views.cost_stack(frame, by="kind")

        self.view.run(view, busy="counting MACs of the baseline and the lite network ...")


def method_sections(app: LabApp) -> dict[str, Section]:
    """The methods' sections in the order the lab shows them."""
    return {"influence": InfluenceSection(app), "rescue": RescueSection(app),
            "kept_filters": KeptFiltersSection(app), "csasml_cost": CostSection(app)}
