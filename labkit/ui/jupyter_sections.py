"""The collapsible sections of :class:`~labkit.ui.jupyter_app.LabApp`: merge, activations, actions.

A :class:`Section` is an ``ipywidgets.Accordion`` with one body that computes only while it is
open: a closed section costs nothing on a slider move, it is marked stale and redrawn when
opened. Sections that follow the main trial (merge, activations) are invalidated on every
control change; the methods' sections (:mod:`labkit.ui.jupyter_methods`) only follow their
own controls.
"""
from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as W

from . import jupyter as ju
from .jupyter_panels import Panel, busy_html, error_html, note_html, table_html
from .lab_spec import criteria_for, merge_controls, merge_request

if TYPE_CHECKING:
    from .jupyter_app import LabApp

__all__ = ["Section", "MergeSection", "ActivationSection", "ActionsSection"]


class Section:
    """A titled accordion whose body is drawn by :meth:`draw` only while the section is open."""

    follows_trial = True  # redraw when the main controls change

    def __init__(self, app: LabApp, title: str, children: Sequence[Any] = ()) -> None:
        self.app = app
        self.body = W.VBox(list(children))
        self.widget = W.Accordion([self.body], titles=(title,))
        self.widget.selected_index = None
        self.widget.observe(self._on_toggle, names="selected_index")
        self.stale = True

    @property
    def is_open(self) -> bool:
        return self.widget.selected_index == 0

    def open(self) -> None:
        """Open the section (it draws now if it is stale)."""
        self.widget.selected_index = 0

    def invalidate(self) -> None:
        """The main trial changed: redraw now if open, else when next opened."""
        if self.follows_trial:
            self.stale = True
            self.update()

    def update(self) -> None:
        if self.is_open and self.stale:
            self.stale = False
            self.draw()

    def _on_toggle(self, _change: dict[str, Any]) -> None:
        self.update()

    def draw(self) -> None:  # pragma: no cover - every section overrides it
        raise NotImplementedError


class MergeSection(Section):
    """Candidates at the current setting, their overlap, merge weights α and the merged mask.

    The candidates are pruned with the *current* allocation (per-layer sliders included), so the
    merge compares like with like. The clickable :class:`~labkit.ui.widgets.MaskOverlapWidget`
    is built once and updated in place, so a clicked pair survives slider moves.
    """

    def __init__(self, app: LabApp, candidates: Sequence[str]) -> None:
        from .widgets import MaskOverlapWidget

        self._wanted = list(candidates)
        offered = tuple(criteria_for(app.controls.controls["granularity"].value))
        self.pick = W.SelectMultiple(options=offered, value=[c for c in candidates if c in offered],
                                     description="candidates", rows=6)
        self.merge_box = ju.controls(merge_controls(sorted(self.pick.value) or ["magnitude"]))
        self.merge_holder = W.VBox([self.merge_box])
        self.view = Panel("Overlap of the candidates and their merge weights α", dpi=app.dpi)
        self.overlap = MaskOverlapWidget(title="Click a pair: its overlap layer by layer")
        self.pair = Panel("", dpi=app.dpi)
        self.trials: dict[str, Any] = {}
        intro = W.HTML(note_html(
            "Each candidate criterion gives a mask at the current sparsity and allocation; the merged mask "
            "keeps every layer's budget and votes with the weights α (sliders, or method 1's "
            "α = softmax(τ · balanced validation accuracy))."))
        super().__init__(app, "Mask merging and overlap",
                         [intro, W.HBox([self.pick, self.merge_holder]), self.view.box, self.overlap, self.pair.box])
        self.pick.observe(self._on_pick, names="value")
        ju.observe(self.merge_box, lambda _v: self._redraw())
        self.overlap.observe(lambda _c: self._show_pair(), names="selected")

    def _redraw(self) -> None:
        self.stale = True
        self.update()

    def _on_pick(self, _change: dict[str, Any]) -> None:
        self.merge_box = ju.controls(merge_controls(sorted(self.pick.value) or ["magnitude"]))
        ju.observe(self.merge_box, lambda _v: self._redraw())
        self.merge_holder.children = (self.merge_box,)
        self._redraw()

    def draw(self) -> None:
        app = self.app
        offered = tuple(criteria_for(app.controls.controls["granularity"].value))
        if tuple(self.pick.options) != offered:  # granularity changed: offer what can score there
            keep = [c for c in (list(self.pick.value) or self._wanted) if c in offered]
            with app._hold():
                self.pick.unobserve(self._on_pick, names="value")
                self.pick.options = offered
                self.pick.value = keep
                self.pick.observe(self._on_pick, names="value")
            self._on_pick({})
            return
        names = sorted(self.pick.value)
        if app.trial is None:
            self.view.stale("Not updated: the main setting cannot be pruned (see the message above).")
            return
        if len(names) < 2:
            self.view.stale("Pick at least two candidate criteria to merge (ctrl/cmd-click for several).")
            return
        self.view.run(lambda: self._merge(names), busy=f"pruning with {', '.join(names)} and merging ...")
        self._show_pair()

    def _merge(self, names: list[str]) -> Any:
        from .. import views

        app, lab = self.app, self.app.lab
        m = lab.merging(names, **merge_request(names, ju.values(self.merge_box)), **app.settings())
        self.trials = m.trials
        self.overlap.update(m.matrix)  # same widget, new numbers: the clicked pair is kept
        cands = {c: v for c, v in m.val.items() if c != "merged"}
        return (table_html(m.table()), views.overlap_alpha(m.matrix, m.alpha, cands))

    def _show_pair(self) -> None:
        from .. import views

        if len(self.trials) < 2 or not self.view.ok:
            self.pair.stale("")
            return
        a, b = self.overlap.selected_pair or ("merged", next(iter(self.trials)))

        def view() -> Any:
            ov = self.app.lab.overlap(self.trials[a], self.trials[b])
            return (f"selected pair: <b>{html.escape(a)} vs {html.escape(b)}</b> · Jaccard over all layers "
                    f"{ov.attrs['total']['jaccard']:.3f}",
                    views.layer_overlap(ov, title=f"{a} vs {b}: Jaccard overlap per layer"))

        self.pair.run(view)


def _image_figure(x: Any, title: str) -> Any:
    """A small picture of a normalised input: min-max scaled per image, grey for one channel."""
    from ..views import new_figure

    a = x.float().numpy()
    a = (a - a.min()) / max(float(a.max() - a.min()), 1e-12)
    fig, ax = new_figure(size=(2.0, 2.2))
    ax.imshow(a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0), cmap="gray" if a.shape[0] == 1 else None,
              interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(title, fontsize=9)
    return fig


class ActivationSection(Section):
    """The input image and the feature maps one conv layer makes of it under the current masks."""

    def __init__(self, app: LabApp) -> None:
        lab = app.lab
        convs = lab.conv_layers
        self.layer = W.Dropdown(options=[(n.removesuffix(".weight"), n) for n in convs] or [("(none)", "")],
                                description="conv layer")
        self.index = W.IntSlider(0, 0, max(len(lab.targets) - 1, 0), description="test image",
                                 continuous_update=False, style={"description_width": "initial"})
        self.input = Panel("input image", dpi=app.dpi, width=["150px"], heading=False)
        self.view = Panel("feature maps", dpi=app.dpi, heading=False)
        intro = W.HTML(note_html("Feature maps of one conv layer for one test image under the current masks; "
                                 "pruned filters are framed in red (with filter granularity their maps are zero)."))
        self.caption = W.HTML("")  # above both pictures: which image, which class, filters kept
        super().__init__(app, "Filter activations", [intro, W.HBox([self.layer, self.index]), self.caption,
                                                     W.HBox([self.input.box, self.view.box])])
        self.layer.observe(lambda _c: self._redraw(), names="value")
        self.index.observe(lambda _c: self._redraw(), names="value")

    def _redraw(self) -> None:
        self.stale = True
        self.update()

    def draw(self) -> None:
        from .. import views

        app, lab = self.app, self.app.lab
        if not lab.conv_layers:
            self.view.stale("This model has no prunable conv layer, so there are no feature maps to show.")
            return
        if app.trial is None:
            self.view.stale("Not updated: the main setting cannot be pruned (see the message above).")
            return
        t, layer, i = app.trial, self.layer.value, int(self.index.value)
        y = int(lab.targets[i])
        name = lab.data.classes[y]
        self.input.run(lambda: _image_figure(lab.test_image(i), f"input · {name}"), key=i)  # drawn once per image

        def view() -> Any:
            acts = lab.activations(layer, i, masks=t.masks)
            m = t.masks[layer]
            kept = m if m.dim() == 1 else m.flatten(1).any(1)
            self.caption.value = (f"image {i}: class <b>{html.escape(str(name))}</b> · "
                                  f"{layer.removesuffix('.weight')}: {int(kept.sum())}/{kept.numel()} filters kept")
            return views.activation_grid(acts, kept)

        self.caption.value = ""
        self.view.run(view)


class ActionsSection(Section):
    """Fine-tune the current trial (masks fixed), save it, or write the static report."""

    follows_trial = False

    def __init__(self, app: LabApp, out_dir: str) -> None:
        self.epochs = W.IntSlider(10, 1, 30, description="fine-tune epochs", style={"description_width": "initial"})
        self.folder = W.Text(value=str(out_dir), description="output folder")
        self.buttons = {name: W.Button(description=label) for name, label in
                        (("finetune", "fine-tune"), ("save", "save experiment"), ("report", "export report"))}
        self.progress = W.IntProgress(0, 0, 1, description="", layout=W.Layout(display="none"))
        self.result = W.HTML(note_html("Press a button: fine-tuning takes a few seconds on a laptop CPU."))
        for name, b in self.buttons.items():
            b.on_click(lambda _b, name=name: self.act(name))
        super().__init__(app, "Fine-tune, save, report",
                         [W.HBox([self.epochs, *self.buttons.values()]), self.folder, self.progress, self.result])

    def draw(self) -> None:
        pass  # nothing to compute until a button is pressed

    def act(self, name: str) -> str:
        """Run one action (``"finetune"``, ``"save"``, ``"report"``) on the current trial; return the HTML shown."""
        lab, t = self.app.lab, self.app.trial
        if t is None:
            self.result.value = error_html(ValueError("the current setting cannot be pruned; fix it first"), name)
            return self.result.value
        try:
            if name == "finetune":
                n = int(self.epochs.value)
                self.progress.max, self.progress.value, self.progress.layout.display = n, 0, "flex"
                self.result.value = busy_html(f"fine-tuning for {n} epochs with the masks fixed ...")

                def tick(epoch: int, history: Any, _model: Any) -> None:
                    self.progress.value = epoch + 1
                    self.progress.description = f"loss {history.loss[-1]:.3f}"

                tuned = lab.finetune(t, epochs=n, progress=False, callback=tick)
                self.progress.layout.display = "none"
                groups = " · ".join(f"{g} {x:.3f}" for g, x in tuned.report.by_group.items())
                self.result.value = (f"after {n} epochs: balanced <b>{tuned.report.balanced:.3f}</b> (one-shot "
                                     f"{t.report.balanced:.3f}, dense {lab.dense_report.balanced:.3f}) · {groups}")
            elif name == "save":
                p = t.plan
                folder = lab.save(t, Path(self.folder.value) / f"{p.criterion}-{p.mode}-{p.sparsity:.2f}")
                self.result.value = f"saved masks and plan to <code>{html.escape(str(folder))}</code>"
            elif name == "report":
                from ..report import write_report

                self.result.value = busy_html("writing the report (several operating points) ...")
                path = write_report(Path(self.folder.value) / "report.html", lab=lab, criterion=t.plan.criterion,
                                    mode=t.plan.sweep_mode or "global", granularity=t.plan.granularity)
                self.result.value = f"wrote <code>{html.escape(str(path))}</code>"
            else:
                raise KeyError(f"unknown action {name!r}; use one of {list(self.buttons)}")
        except Exception as err:
            self.progress.layout.display = "none"
            self.result.value = error_html(err, name)
        return self.result.value
