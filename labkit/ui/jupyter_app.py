"""``lk.app(lab)``: the whole pruning lab as one ipywidgets widget, for JupyterLab or any Jupyter.

    lab = lk.Lab("resnet20", "digits-lt")     # or Lab(my_module, my_lab_data)
    lk.app(lab)                               # the last line of a cell displays it

What it holds, top to bottom: the controls of :func:`labkit.ui.lab_spec.lab_controls`
(criterion, granularity, allocation, global sparsity, normalisation, depth bias) with the
per-layer sliders in an accordion; a readout; per-class accuracy, group accuracy, the
sparsity profile, accuracy vs sparsity and cost; then sections that compute only while open
(merge with the clickable overlap widget, filter activations, the methods' views, and
fine-tune / save / report).

How it stays correct and quick (docs/design.md §4-§5):

- every view is a :class:`~labkit.ui.jupyter_panels.Panel`: an ``ipywidgets.Image`` whose PNG
  bytes are replaced in place (never ``Output.append_display_data``, which breaks images in
  JupyterLab, jupyter-widgets/ipywidgets#3003); errors show in place with the fix;
- one :meth:`labkit.Lab.prune` per control change, shared by all views; the sweep behind the
  accuracy curve is cached per setting, and its "current" marker is the measured trial;
- the criterion menu offers only what the granularity can score
  (:func:`~labkit.ui.lab_spec.criteria_for`); with filter granularity the ``auto`` normalisation
  ranks filters L2-normalised per layer, and the app says why; controls that the allocation
  ignores are disabled.

This module imports ipywidgets at import time; :meth:`labkit.Lab.app` imports it on first use.
"""
from __future__ import annotations

import contextlib
import html
import re
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from ..views import group_line
from . import jupyter as ju
from .jupyter_panels import DPI, Panel, busy_html, error_html, note_html, table_html, warnings_html
from .lab_spec import NORMALIZE_HELP, criteria_for, lab_controls

if TYPE_CHECKING:
    from ..lab import Lab, Trial

__all__ = ["LabApp", "lab_app", "SWEEP"]

SWEEP: tuple[float, ...] = (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
"""Sparsities of the accuracy-vs-sparsity curve (one-shot, cached per setting)."""

def _md_code(text: str) -> str:
    """``like this`` (markdown) -> <code>like this</code>, the rest escaped."""
    return re.sub(r"`([^`]*)`", r"<code>\1</code>", html.escape(text))


_RAW_FILTERS = ("raw filter scores differ by orders of magnitude between layers: a global ranking without "
                "per-layer normalisation may empty whole layers. <code>auto</code> (L2 per layer) avoids it.")


def _fmt_int(n: float) -> str:
    return f"{int(n):,}"


class LabApp(W.VBox):
    """The lab as one widget; build it with :func:`lab_app` or :meth:`labkit.Lab.app`.

    Attributes:
        lab: the :class:`~labkit.Lab` it drives.
        controls: the main control box (``controls.controls[name]`` is the ipywidget).
        layer_box: the per-layer sliders (used when allocation is ``per-layer``).
        readout: ``HTML`` line starting with ``sparsity:``.
        panels: the main views by name (``per_class``, ``groups``, ``profile``, ``curve``, ``cost``).
        sections: the collapsible sections by name; each computes only while open.
        trial: the :class:`~labkit.Trial` the views show (None while the setting is invalid).
    """

    def __init__(self, lab: Lab, *, candidates: Sequence[str] = ("magnitude", "taylor", "random"),
                 sweep: Sequence[float] = SWEEP, out_dir: str = "runs/lab", dpi: int = DPI,
                 **kwargs: Any) -> None:
        from ..criteria import get_criterion, list_criteria
        from .jupyter_methods import method_sections
        from .jupyter_sections import ActionsSection, ActivationSection, MergeSection

        self.lab = lab
        self.sweep_points = tuple(float(s) for s in sweep)
        self.dpi = dpi
        self.trial: Trial | None = None
        self._all_criteria = list_criteria()
        self._data_driven = {c for c in self._all_criteria if get_criterion(c).needs_data}
        self._quiet = False
        self._last_key: Any = None
        self._fallback: tuple[str, str] | None = None  # (criterion switched to, why)

        spec = lab_controls(criteria_for("weight", self._all_criteria))
        self.controls = ju.controls(spec)
        self.layer_box = ju.layer_sliders(lab.layers, 0.5)
        self.control_note = W.HTML("")
        layer_acc = W.Accordion([self.layer_box], titles=("per-layer sliders (allocation = per-layer)",))
        layer_acc.selected_index = None

        self.readout = W.HTML("")
        p = {"per_class": Panel("Per-class accuracy (head classes left, tail right; ticks = dense)", dpi=dpi),
             "groups": Panel("Accuracy by group", dpi=dpi, heading=False),
             "profile": Panel("Sparsity per layer", dpi=dpi, heading=False),
             "curve": Panel("Accuracy vs sparsity", dpi=dpi, heading=False),
             "cost": Panel("Cost", dpi=dpi, heading=False)}
        self.panels = p
        self.compact_button = W.Button(description="compact (filter granularity) and measure latency",
                                       layout=W.Layout(width="auto"))
        self.compact_button.on_click(lambda _b: self._compact())
        self.sections = {"merge": MergeSection(self, candidates), "activations": ActivationSection(self),
                         **method_sections(self), "actions": ActionsSection(self, out_dir)}

        header = W.HTML(
            f"<b>{html.escape(lab.model_name)}</b> on <b>{html.escape(lab.data.name)}</b> · device "
            f"<code>{lab.device}</code> · {len(lab.layers)} prunable layers · "
            f"{_fmt_int(lab.dense_cost['params'])} parameters · {lab.dense_cost['MACs'] / 1e6:.2f} M MACs "
            f"per image · dense balanced accuracy {lab.dense_report.balanced:.3f}")
        half = W.Layout(width="50%")
        row2 = W.HBox([W.Box([p["groups"].box], layout=W.Layout(width="36%")),
                       W.Box([p["profile"].box], layout=W.Layout(width="64%"))])
        row3 = W.HBox([W.Box([p["curve"].box], layout=half),
                       W.Box([W.VBox([p["cost"].box, self.compact_button])], layout=half)])
        super().__init__([header, W.HBox([self.controls, layer_acc]), self.control_note, self.readout,
                          p["per_class"].box, row2, row3, *(s.widget for s in self.sections.values())],
                         **kwargs)
        self.add_class("labkit-app")
        self._sync_controls()
        ju.observe(self.controls, lambda _v: self._on_change())
        ju.observe(self.layer_box, lambda _v: self._on_change(layers=True))
        self.refresh()

    # -- controls ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _hold(self) -> Iterator[None]:
        """Change controls without each change re-running the views."""
        self._quiet, before = True, self._quiet
        try:
            yield
        finally:
            self._quiet = before

    def set(self, **values: Any) -> None:
        """Set controls by name (``app.set(sparsity=0.7, granularity="filter")``), then update once.

        Names are those of :func:`~labkit.ui.lab_spec.lab_controls` and of ``lab.layers``.
        """
        with self._hold():
            for name, value in values.items():
                box = self.controls if name in self.controls.controls else self.layer_box
                if name not in box.controls:
                    raise KeyError(f"no control named {name!r}; controls: "
                                   f"{list(self.controls.controls) + list(self.layer_box.controls)}")
                box.controls[name].value = value
                if name == "granularity":
                    self._sync_controls()
        self._on_change()

    def _sync_controls(self) -> None:
        """Criterion menu per granularity, normalisation default, and which controls apply."""
        c = self.controls.controls
        notes = []
        with self._hold():
            gran = c["granularity"].value
            offered = tuple(criteria_for(gran, self._all_criteria))
            if tuple(c["criterion"].options) != offered:
                was = c["criterion"].value
                c["criterion"].options = offered
                c["criterion"].value = was if was in offered else ("magnitude" if "magnitude" in offered else offered[0])
                self._fallback = None if was in offered else (
                    c["criterion"].value, f"<code>{html.escape(was)}</code> cannot score at {gran} granularity; "
                                          f"switched to <code>{c['criterion'].value}</code>.")
            if self._fallback is not None and self._fallback[0] == c["criterion"].value:
                notes.append(self._fallback[1])  # said until the user picks another criterion
            else:
                self._fallback = None
            if gran == "filter" and c["mode"].value == "global":
                norm = c["normalize"].value
                if norm in ("auto", "l2"):
                    notes.append(_md_code(NORMALIZE_HELP))
                elif norm == "none":
                    notes.append("<code>none</code>: " + _RAW_FILTERS)
            mode = c["mode"].value
            c["sparsity"].disabled = mode == "per-layer"
            c["normalize"].disabled = mode != "global"
            c["depth_bias"].disabled = mode != "layered"
            if mode == "per-layer":
                notes.append("allocation <b>per-layer</b>: the per-layer sliders set each layer's sparsity; "
                             "the global slider is not used.")
        notes = [n for n in notes if n]
        self.control_note.value = note_html("<br>".join(notes)) if notes else ""

    def _on_change(self, layers: bool = False) -> None:
        if self._quiet:
            return
        if layers and self.controls.controls["mode"].value != "per-layer":
            return  # the per-layer sliders only matter in per-layer mode
        self._sync_controls()
        self.refresh()

    def settings(self) -> dict[str, Any]:
        """The keyword arguments of :meth:`labkit.Lab.prune` for the current controls."""
        v = ju.values(self.controls)
        if v["mode"] == "per-layer":
            v["layer_sparsity"] = ju.values(self.layer_box)
        return v

    # -- views ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Prune for the current controls and update every view that is on screen."""
        s = self.settings()
        key = repr(sorted(s.items()))
        if key == self._last_key and self.trial is not None:
            return
        if s["criterion"] in self._data_driven and not self.lab.has_scores(s["criterion"], s["granularity"]):
            self.readout.value = busy_html(
                f"scoring {s['criterion']} at {s['granularity']} granularity on the validation split "
                f"(data-driven: from a few seconds up to about half a minute on a CPU; cached afterwards) ...")
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                trial = self.lab.prune(**s)
        except Exception as err:  # an invalid setting: say so where the numbers were
            self.trial, self._last_key = None, None
            self.readout.value = error_html(err, "pruning")
            for panel in self.panels.values():
                panel.stale("Not updated: the current setting cannot be pruned (see the message above).")
            for sec in self.sections.values():
                sec.invalidate()
            return
        self.trial, self._last_key = trial, key
        self.readout.value = self._readout(trial) + warnings_html(caught)  # e.g. an infeasible target
        self._draw(trial, s)
        for sec in self.sections.values():
            sec.invalidate()

    def _readout(self, t: Trial) -> str:
        r, c, lab = t.report, t.cost, self.lab
        groups = group_line(r.by_group)
        where = "per-layer sliders" if t.plan.mode == "per-layer" else f"{t.plan.mode} allocation"
        return (f"<div class='labkit-readout'><b>sparsity: {t.masks.sparsity:.2f}</b> of the prunable "
                f"{t.plan.granularity}s ({where}) · balanced accuracy <b>{r.balanced:.3f}</b> (dense "
                f"{lab.dense_report.balanced:.3f}) · {groups} · nonzero parameters "
                f"{_fmt_int(c['nonzero_params'])} / {_fmt_int(c['params'])} "
                f"({c['params'] / max(c['nonzero_params'], 1):.2f}× compression) · nonzero MACs "
                f"{c['nonzero_MACs'] / 1e6:.2f} M / {c['MACs'] / 1e6:.2f} M · evaluated in "
                f"{t.eval_ms:.0f} ms{' (stratified preview of the test split)' if t.preview else ''}</div>")

    def _draw(self, t: Trial, s: dict[str, Any]) -> None:
        from .. import views

        lab, p = self.lab, self.panels
        p["per_class"].run(lambda: views.per_class_accuracy(t.report.per_class, dense=lab.dense_report.per_class))
        p["groups"].run(lambda: views.group_accuracy({"overall": t.report.overall, **t.report.by_group},
                                                     {"overall": lab.dense_report.overall,
                                                      **lab.dense_report.by_group}))
        per_layer = t.plan.mode == "per-layer"
        p["profile"].run(lambda: views.sparsity_profile(
            t.layers(), target=None if per_layer else t.plan.sparsity,
            title="Sparsity per layer, set by the per-layer sliders" if per_layer else None))
        p["curve"].run(lambda: self._curve(t, s))
        p["cost"].run(lambda: views.cost_bars(lab.dense_cost, t.cost))

    def _curve(self, t: Trial, s: dict[str, Any]) -> Any:
        import pandas as pd

        from .. import views

        self.panels["curve"].busy(f"accuracy at {len(self.sweep_points)} sparsities (measured once per setting) ...")
        curve = self.lab.curve(t.plan, self.sweep_points)
        measured = {"sparsity": t.masks.sparsity, "overall": t.report.overall, "balanced": t.report.balanced,
                    **t.report.by_group}
        if curve is None:  # per-layer targets: no single sparsity to sweep, the measured point alone
            curve = pd.DataFrame([{"sparsity": measured["sparsity"], "metric": k, "value": v}
                                  for k, v in measured.items() if k != "sparsity"])
            title = f"{s['criterion']}, per-layer targets: no single sparsity to sweep · ◆ = your setting"
        else:
            title = f"Accuracy vs sparsity · {s['criterion']}, {t.plan.sweep_mode}"
        return views.accuracy_vs_sparsity(curve, baselines=self.lab.baselines(), current=measured, title=title)

    def snapshot(self) -> Any:
        """The readout and the main views as they are now, as static HTML (images inline as base64).

        Widgets do not survive ``jupyter nbconvert --to html`` offline; a cell ending in
        ``app.snapshot()`` does, so an exported notebook shows the numbers it ran with.
        """
        import base64

        from IPython.display import HTML

        parts = [self.readout.value]
        for panel in self.panels.values():
            if panel.ok:
                parts += [f'<img alt="{html.escape(panel.title)}" style="max-width:100%" '
                          f'src="data:image/png;base64,{base64.b64encode(bytes(img.value)).decode("ascii")}">'
                          for img in panel.images[: len(panel.row.children)]]
            else:
                parts.append(panel.note.value)
        return HTML("<div class='labkit-snapshot'>" + "\n".join(parts) + "</div>")

    def _compact(self) -> None:
        from .. import views

        t, panel = self.trial, self.panels["cost"]
        if t is None:
            return
        if t.plan.granularity != "filter":
            panel.note.value = note_html("Compaction removes whole filters: switch <b>granularity</b> to "
                                         "<code>filter</code> first.")
            return

        def run() -> Any:  # Panel.run shows the warnings (e.g. coupled channels kept) under the view
            _small, table = self.lab.compact(t)
            compacted = table.set_index("model").loc["compacted"].to_dict()
            return (table_html(table), views.cost_bars(self.lab.dense_cost, compacted, title="Cost: compacted vs dense"))

        panel.run(run, busy="compacting the model and timing dense, masked and compacted ...")


def lab_app(lab: Lab, **options: Any) -> LabApp:
    """The whole lab for ``lab`` as one widget (see :class:`LabApp` for the options)."""
    return LabApp(lab, **options)

