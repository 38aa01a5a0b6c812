# /// script
# requires-python = ">=3.10"
# dependencies = ["labkit[lab]", "marimo>=0.23"]
#
# [tool.uv.sources]
# labkit = { path = "..", editable = true }
# ///
"""The labkit pruning lab (marimo). `make lab` opens it; everything runs offline on the CPU.

Run:   marimo edit notebooks/lab.py        (or `make lab`)
Smoke: marimo export html notebooks/lab.py -o /tmp/lab.html --no-sandbox -- --smoke
"""
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="labkit · pruning lab")


@app.cell
def _():
    import functools
    from pathlib import Path

    import marimo as mo
    import numpy as np
    import pandas as pd

    import labkit as lk
    from labkit import views
    from labkit.models.checkpoints import shipped_checkpoints
    from labkit.report import write_report
    from labkit.ui import marimo as mui
    from labkit.ui import lab_spec
    from labkit.ui.lab_spec import lab_controls, merge_controls, merge_weights
    return (Path, functools, lab_controls, lab_spec, lk, merge_controls, merge_weights, mo, mui, np, pd,
            shipped_checkpoints, views, write_report)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # labkit · pruning lab

    Pick a model, a **criterion** (what "important" means), a **granularity** (single weights or whole
    filters) and an **allocation** (how the sparsity budget is spread over layers), then move the
    **global sparsity** slider. Every view below re-evaluates the pruned model on the test split:
    per-class accuracy sorted from the most to the least frequent class, many / medium / few
    groups, the per-layer profile, cost, masks and filter activations. Masks are written into a
    working copy; the dense model is never changed. Only the network stages whose masks changed
    are re-run, so a slider move takes a fraction of a second on a laptop CPU.
    """)
    return


@app.cell
def _(lk, mo, shipped_checkpoints):
    pairs = [f"{m} · {d}" for m, d in shipped_checkpoints() if d in lk.list_datasets()]
    model_pick = mo.ui.dropdown(pairs, value="resnet20 · digits-lt" if "resnet20 · digits-lt" in pairs else pairs[0],
                                label="model · dataset (shipped checkpoints)")
    model_pick
    return (model_pick,)


@app.cell
def _(lk, mo, model_pick):
    _model, _dataset = model_pick.value.split(" · ")
    with mo.status.spinner(f"loading {_model} on {_dataset} ..."):
        lab = lk.Lab(_model, _dataset)
    mo.md(f"**{lab.model_name}** on **{lab.data.name}** · device `{lab.device}` · "
          f"{len(lab.layers)} prunable layers · {lab.dense_cost['params']:,} parameters · "
          f"{lab.dense_cost['MACs'] / 1e6:.2f} M MACs per image · dense balanced accuracy "
          f"{lab.dense_report.balanced:.3f}")
    return (lab,)


@app.cell
def _(lab, lab_controls, lk, mui):
    controls = mui.controls(lab_controls(lk.list_criteria()), label="pruning")
    layer_ui = mui.layer_sliders(lab.layers, 0.5, label="sparsity per layer (allocation = per-layer)")
    return controls, layer_ui


@app.cell
def _(controls, layer_ui, mo):
    mo.hstack([controls, mo.accordion({"per-layer sliders": layer_ui})], widths=[1, 1], align="start")
    return


@app.cell
def _(controls, lab, layer_ui):
    settings = dict(controls.value)
    if settings["mode"] == "per-layer":
        settings["layer_sparsity"] = dict(layer_ui.value)
    trial = lab.prune(**settings)
    return settings, trial


@app.cell
def _(lab, mo, trial):
    _r, _c = trial.report, trial.cost
    _groups = " · ".join(f"{g} {v:.3f}" for g, v in _r.by_group.items())
    mo.md(f"""
    **sparsity: {trial.masks.sparsity:.2f}** of the prunable {trial.plan.granularity}s ·
    balanced accuracy **{_r.balanced:.3f}** (dense {lab.dense_report.balanced:.3f}) · {_groups} ·
    nonzero parameters {_c['nonzero_params']:,} / {_c['params']:,}
    ({_c['params'] / max(_c['nonzero_params'], 1):.2f}× compression) ·
    nonzero MACs {_c['nonzero_MACs'] / 1e6:.2f} M / {_c['MACs'] / 1e6:.2f} M ·
    evaluated in {trial.eval_ms:.0f} ms from stage {trial.first_stage}
    """)
    return


@app.cell
def _(lab, mo, trial, views):
    mo.vstack([
        mo.md("### Per-class accuracy (head classes left, tail right; ticks = dense)"),
        views.per_class_accuracy(trial.report.per_class, dense=lab.dense_report.per_class),
    ])
    return


@app.cell
def _(lab, mo, trial, views):
    _dense = {"overall": lab.dense_report.overall, **lab.dense_report.by_group}
    _pruned = {"overall": trial.report.overall, **trial.report.by_group}
    mo.hstack([views.group_accuracy(_pruned, _dense),
               views.sparsity_profile(trial.layers(), target=trial.plan.sparsity)], widths=[1, 2])
    return


@app.cell
def _(functools, lab):
    @functools.lru_cache(maxsize=32)
    def sweep(criterion: str, mode: str, granularity: str, normalize: str):
        """Accuracy vs sparsity for one setting, computed once (the ranking is cached too)."""
        return lab.sweep([0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], criterion, mode, granularity,
                         normalize=normalize)
    return (sweep,)


@app.cell
def _(lab, mo, settings, sweep, trial, views):
    _mode = "global" if settings["mode"] == "per-layer" else settings["mode"]
    _curve = sweep(settings["criterion"], _mode, settings["granularity"], settings["normalize"])
    mo.vstack([
        mo.md(f"### Accuracy vs sparsity ({settings['criterion']}, {_mode}, one-shot; dashed = dense)"),
        views.accuracy_vs_sparsity(_curve, baselines=lab.baselines(), current=trial.masks.sparsity),
    ])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Cost: simulated versus real

    Zeroed weights cost the same on dense hardware: *nonzero* MACs are what a sparse kernel would
    do. With **filter** granularity the pruned channels can be removed for real (Torch-Pruning's
    dependency graph); the button compacts the model, checks that it computes what the masked
    model computes, and measures latency of all three side by side.
    """)
    return


@app.cell
def _(mo):
    compact_button = mo.ui.run_button(label="compact (filter granularity) and measure latency")
    compact_button
    return (compact_button,)


@app.cell
def _(compact_button, lab, mo, trial, views):
    if compact_button.value and trial.plan.granularity == "filter":
        _small, _table = lab.compact(trial)
        _out = mo.vstack([mo.ui.table(_table, selection=None),
                          views.cost_bars(lab.dense_cost, _table.set_index("model").loc["compacted"].to_dict())])
    elif compact_button.value:
        _out = mo.md("Compaction removes whole filters: switch **granularity** to `filter` first.")
    else:
        _out = views.cost_bars(lab.dense_cost, trial.cost)
    _out
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Mask merging

    Tick two or more criteria: each gives a mask at the current sparsity and allocation. The heatmap
    shows how much their kept sets overlap (Jaccard); the merged mask keeps every layer's budget and
    votes with the weights α (`weighted`), by majority, or keeps the intersection first. The weights
    come from your sliders or, as in **method 1** (long-tail-aware pruning), from
    α = softmax(τ · balanced validation accuracy) of each candidate: the bars show them. Click a
    cell of the second heatmap to see that pair's overlap layer by layer.
    """)
    return


@app.cell
def _(lk, mo):
    candidates = mo.ui.multiselect(lk.list_criteria(), value=["magnitude", "taylor", "random"],
                                   label="candidate criteria")
    candidates
    return (candidates,)


@app.cell
def _(candidates, merge_controls, mui):
    merge_ui = mui.controls(merge_controls(sorted(candidates.value)), label="merge") if len(candidates.value) >= 2 else None
    merge_ui.hstack(justify="start", wrap=True) if merge_ui is not None else None
    return (merge_ui,)


@app.cell
def _(candidates, lab, merge_ui, merge_weights, settings):
    if merge_ui is None:
        merging = None
    else:
        _base = {k: v for k, v in settings.items() if k not in ("criterion", "layer_sparsity")}
        _base["mode"] = "global" if _base["mode"] == "per-layer" else _base["mode"]
        _trials = {c: lab.prune(criterion=c, **_base) for c in sorted(candidates.value)}
        _val = {c: lab.val_accuracy(t) for c, t in _trials.items()}  # once: the softmax rule reuses them
        _alpha = merge_weights(lab, _trials, merge_ui.value, accuracy=_val)
        _merged = lab.merge(list(_trials.values()), weights=list(_alpha.values()), mode=merge_ui.value["merge_mode"])
        merging = {"trials": {**_trials, "merged": _merged}, "alpha": _alpha,
                   "val": {**_val, "merged": lab.val_accuracy(_merged)}}
    return (merging,)


@app.cell
def _(lab, merge_ui, merging, mo, pd, views):
    if merging is None:
        _out = mo.md("Pick at least two criteria to merge.")
    else:
        _rows = [{"mask": c if c != "merged" else f"merged ({merge_ui.value['merge_mode']})",
                  "α": merging["alpha"].get(c), "val balanced": merging["val"][c],
                  "test balanced": t.report.balanced, **t.report.by_group} for c, t in merging["trials"].items()]
        _cands = {c: v for c, v in merging["val"].items() if c != "merged"}
        _out = mo.vstack([views.overlap_alpha(lab.overlap_matrix(merging["trials"]), merging["alpha"], _cands),
                          mo.ui.table(pd.DataFrame(_rows).round(3), selection=None)])
    _out
    return


@app.cell
def _(lab, merging, mo):
    from labkit.ui import MaskOverlapWidget

    overlap_pick = (mo.ui.anywidget(MaskOverlapWidget(lab.overlap_matrix(merging["trials"]),
                                                      title="Click a pair: its overlap layer by layer"))
                    if merging is not None else None)
    overlap_pick
    return (overlap_pick,)


@app.cell
def _(lab, merging, mo, overlap_pick, views):
    mo.stop(overlap_pick is None)
    _pair = overlap_pick.value["selected"] or ["merged", next(iter(merging["trials"]))]
    _ov = lab.overlap(merging["trials"][_pair[0]], merging["trials"][_pair[1]])
    mo.vstack([mo.md(f"selected pair: **{_pair[0]} vs {_pair[1]}** · Jaccard over all layers "
                     f"{_ov.attrs['total']['jaccard']:.3f}"),
               views.layer_overlap(_ov, title=f"{_pair[0]} vs {_pair[1]}: Jaccard overlap per layer")])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Filter activations

    Feature maps of one conv layer for one test image under the current masks; pruned filters are
    framed in red (with filter granularity their maps are exactly zero).
    """)
    return


@app.cell
def _(lab, mo):
    _convs = lab.conv_layers
    act_layer = mo.ui.dropdown(_convs, value=_convs[0], label="conv layer")
    act_index = mo.ui.slider(0, len(lab.targets) - 1, value=0, label="test image", debounce=True)
    mo.hstack([act_layer, act_index])
    return act_index, act_layer


@app.cell
def _(act_index, act_layer, lab, mo, trial, views):
    _acts = lab.activations(act_layer.value, act_index.value, masks=trial.masks)
    _m = trial.masks[act_layer.value]
    _kept = _m if _m.dim() == 1 else _m.flatten(1).any(1)
    _y = int(lab.targets[act_index.value])
    mo.vstack([mo.md(f"image {act_index.value}: class **{lab.data.classes[_y]}** "
                     f"({int(_kept.sum())}/{_kept.numel()} filters kept)"),
               views.activation_grid(_acts, _kept)])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## The five methods, live

    Each method of `docs/methods.md` has a live view on this lab's model here, and a study notebook in
    `notebooks/studies/` that runs its CPU experiment to a PASS / FAIL verdict. **Method 1**
    (long-tail-aware pruning) is the per-class view above with the `layered` allocation (depth
    bias δ) and the merge weights from validation accuracy; its study's trade-off is at the end.
    """)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ### Method 5 · DOMINOS: domino influence and its Weibull fit

    Zero one channel of a layer and follow how much the activations of every later stage change,
    relative to the first one: the survival curve $S(t)$. DOMINOS fits
    $S(t) \approx \exp(-(t/\lambda)^k)$ per channel; a channel whose effect dies out quickly
    (small λ) has little domino influence. Pick a layer (curves on 32 validation images).
    """)
    return


@app.cell
def _(lab, lab_spec, mui):
    dom_ui = mui.controls(lab_spec.influence_controls(lab.conv_layers))
    dom_ui.hstack(justify="start")
    return (dom_ui,)


@app.cell
def _(dom_ui, lab, mo, np, views):
    from labkit.analysis.influence import influence_table

    _layer = dom_ui.value["layer"]
    _curves, _fits = lab.influence(_layer)
    _r2 = _fits.r2[~np.isnan(_fits.r2)]
    mo.vstack([
        mo.md(f"{len(_fits.k)} channels · median Weibull R² **{np.median(_r2):.2f}** · "
              f"{(_r2 >= 0.9).mean():.0%} of fits with R² ≥ 0.9 · computed in {_curves.seconds:.1f} s"),
        mo.hstack([views.decay_curves(_curves.survival(_layer), _fits.k, _fits.lam, layer=_layer),
                   views.weibull_scatter(influence_table(_curves, {_layer: _fits}))], widths="equal"),
    ])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ### Method 3 · keep the large weights, and let an optimizer choose some small ones

    At sparsity $s$ every layer keeps $K$ weights: magnitude pruning keeps the $K$ largest.
    Here a share ρ of them is instead *searched*: a genetic algorithm (magnitude's choice seeded in
    its population) picks which small weights to keep so that the loss on calibration images
    (validation split) is lowest; a binary particle swarm (`pso`) is the alternative search.
    """)
    return


@app.cell
def _(lab_spec, mui):
    opt_ui = mui.controls(lab_spec.rescue_controls())
    opt_ui.hstack(justify="start", wrap=True)
    return (opt_ui,)


@app.cell
def _(lab, mo, opt_ui, views):
    _c = opt_ui.value
    with mo.status.spinner(f"{_c['method']} search over small weights ..."):
        _picked = lab.rescue(_c["sparsity"], rho=_c["rho"], method=_c["method"], generations=_c["generations"])
    _opt = lab.evaluate_masks(_picked.masks)
    _mag = lab.prune("magnitude", _c["sparsity"], "uniform")
    _layer = max(_picked.masks, key=lambda n: int(_picked.rescued[n].sum()))
    mo.vstack([
        mo.md(f"calibration loss **{_picked.loss:.3f}** (magnitude alone {_picked.magnitude_loss:.3f}) · "
              f"test balanced accuracy **{_opt.report.balanced:.3f}** vs magnitude {_mag.report.balanced:.3f} "
              f"(one-shot, same per-layer budgets; dense {lab.dense_report.balanced:.3f})"),
        mo.hstack([views.weight_histogram(lab.dense.get_parameter(_layer), _picked.large[_layer],
                                          _picked.rescued[_layer], _picked.threshold[_layer], layer=_layer),
                   views.fitness_curve(_picked.history, magnitude_fitness=-_picked.magnitude_loss)], widths="equal"),
    ])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ### Method 4 · which filters does each criterion keep?

    Transfer-learning filter pruning ranks filters by their weights (L1), by their mean activation
    or by APoZ (the share of zeros after ReLU) on the target data, per layer (the same ratio $r$ in
    every layer) or globally (scores L2-normalised per layer, ≥ 10% kept).
    """)
    return


@app.cell
def _(lab_spec, mui):
    ratio_ui = mui.controls(lab_spec.transfer_controls())
    ratio_ui.hstack(justify="start")
    return (ratio_ui,)


@app.cell
def _(lab, mo, pd, ratio_ui, views):
    _r = ratio_ui.value["ratio"]
    _crits = ["magnitude", "mean_activation", "apoz"]
    _kept = pd.concat([lab.kept_filters(_crits, _r, "uniform"), lab.kept_filters(_crits, _r, "global")])
    _acc = pd.DataFrame([{"criterion": c, "ranking": "per-layer" if m == "uniform" else "global",
                          "balanced (one-shot)": lab.prune(c, _r, m, "filter",
                                                           normalize="l2" if m == "global" else "none").report.balanced}
                         for c in _crits for m in ("uniform", "global")])
    mo.vstack([views.kept_filters_bars(_kept),
               mo.md(f"Balanced test accuracy, one-shot, {_r:.0%} of the filters removed:"),
               mo.ui.table(_acc.pivot(index="criterion", columns="ranking", values="balanced (one-shot)")
                           .round(3).reset_index(), selection=None)])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ### Method 2 · CSASML: where a lightweight network spends its MACs

    The CSASML backbone replaces basic blocks with Split-and-Mixed modules and full self-attention
    with Cross-Scale Attention (keys and values pooled at several scales). MACs per module, counted
    by `torch.utils.flop_counter` at this lab's input size, for the baseline and the lite network.
    """)
    return


@app.cell
def _(lab, lk, pd, views):
    from labkit.studies.csasml import cost_breakdown

    _kw = dict(num_classes=lab.data.num_classes, in_channels=lab.input_shape[0])
    _nets = {"baseline": lk.load_model("csasml_baseline", **_kw),
             "csasml_lite": lk.load_model("csasml_lite", input_size=lab.input_shape[-1], **_kw)}
    views.cost_stack(pd.concat([cost_breakdown(n, lab.input_shape).assign(model=k) for k, n in _nets.items()],
                               ignore_index=True), by="kind")
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## The methods' verdicts, as measured

    The committed full runs of the study notebooks (`notebooks/studies/results/*.csv`), each claim
    checked paired over seeds. A claim that did not hold here is shown as **FAIL**; the study
    notebooks explain each one and rerun it.
    """)
    return


@app.cell
def _(mo):
    from labkit.studies import committed_verdicts

    verdicts = committed_verdicts(mo.notebook_dir() / "studies" / "results")
    mo.ui.table(verdicts[verdicts["verdict"] != "INFO"], selection=None, page_size=20)
    return


@app.cell
def _(mo, views):
    from labkit.studies import longtail as _lt

    _table = _lt.read_results(mo.notebook_dir() / "studies" / "results" / "longtail.csv")
    mo.vstack([mo.md("### Method 1's study: accuracy vs sparsity of the full method (E) against the dense "
                     "baseline (A, dashed) and the dense control with the same loss (B, dotted)"),
               views.longtail_tradeoff(_table, runs=("E",))])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Fine-tune, save, report

    Fine-tuning keeps the masks fixed (pruned weights stay zero). Saving writes the masks as
    safetensors plus the plan as JSON; the report is a static HTML file with several operating
    points, the per-class table, seed and versions.
    """)
    return


@app.cell
def _(mo):
    ft_epochs = mo.ui.slider(1, 20, value=3, label="fine-tune epochs")
    ft_button = mo.ui.run_button(label="fine-tune")
    save_button = mo.ui.run_button(label="save experiment")
    report_button = mo.ui.run_button(label="export report")
    out_dir = mo.ui.text(value="runs/lab", label="output folder")
    mo.hstack([ft_epochs, ft_button, save_button, report_button, out_dir], justify="start")
    return ft_button, ft_epochs, out_dir, report_button, save_button


@app.cell
def _(ft_button, ft_epochs, lab, mo, trial):
    mo.stop(not ft_button.value, mo.md("_Press **fine-tune** to train the pruned model with its masks fixed._"))
    with mo.status.progress_bar(total=ft_epochs.value, title="fine-tuning", completion_title="fine-tuned") as _bar:
        tuned = lab.finetune(trial, epochs=ft_epochs.value, progress=False,
                             callback=lambda _e, _h, _m: _bar.update(subtitle=f"train loss {_h.loss[-1]:.3f}"))
    mo.md(f"after {ft_epochs.value} epochs: balanced **{tuned.report.balanced:.3f}** "
          f"(one-shot {trial.report.balanced:.3f}, dense {lab.dense_report.balanced:.3f}) · " +
          " · ".join(f"{g} {v:.3f}" for g, v in tuned.report.by_group.items()))
    return


@app.cell
def _(Path, lab, mo, out_dir, report_button, save_button, settings, trial, write_report):
    _msgs = []
    if save_button.value:
        _p = lab.save(trial, Path(out_dir.value) / f"{trial.plan.criterion}-{trial.plan.mode}-{trial.plan.sparsity:.2f}")
        _msgs.append(f"saved masks and plan to `{_p}`")
    if report_button.value:
        _mode = "global" if settings["mode"] == "per-layer" else settings["mode"]
        _r = write_report(Path(out_dir.value) / "report.html", lab=lab, criterion=settings["criterion"],
                          mode=_mode, granularity=settings["granularity"])
        _msgs.append(f"wrote `{_r}`")
    mo.md("<br>".join(_msgs) if _msgs else "")
    return


if __name__ == "__main__":
    app.run()
