# /// script
# requires-python = ">=3.10"
# dependencies = ["labkit[lab]", "marimo>=0.23"]
#
# [tool.uv.sources]
# labkit = { path = "..", editable = true }
# ///
"""The labkit pruning lab (marimo). `make lab` opens it; everything runs offline on the CPU.

Run:   marimo edit notebooks/lab.py        (or `make lab`; cells run on open, see pyproject.toml)
App:   marimo run notebooks/lab.py
Smoke: marimo export html notebooks/lab.py -o /tmp/lab.html --no-sandbox -- --smoke
Any model and data (labkit.launch; `labkit lab ...` serves this notebook with them):
       marimo edit notebooks/lab.py -- --model resnet32 --checkpoint run.safetensors --dataset cifar100-lt --root ~/data
"""
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="labkit · pruning lab")


@app.cell
def _():
    from pathlib import Path

    import marimo as mo
    import numpy as np
    import pandas as pd

    import labkit as lk
    from labkit import launch, views
    from labkit.views import charts
    from labkit.models.checkpoints import shipped_checkpoints
    from labkit.report import write_report
    from labkit.runtime import leave_a_core, smoke_mode
    from labkit.ui import marimo as mui
    from labkit.ui import lab_spec

    smoke = smoke_mode(mo.cli_args())
    if not smoke:  # a live page: torch leaves one core to the browser and the server (labkit.runtime.leave_a_core)
        leave_a_core()
    return (Path, charts, lab_spec, launch, lk, mo, mui, np, pd, shipped_checkpoints, smoke, views,
            write_report)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # labkit · pruning lab

    Move the **global sparsity** slider: the model is pruned by the chosen **criterion** (what
    "important" means), at the chosen **granularity** (single weights or whole filters), with the
    sparsity spread over layers by the **allocation**, and every view below is measured again on
    the test split. The dense model is never changed: masks are written into a working copy.
    Click a bar of the per-class chart to see what that class is confused with. Sections further
    down (mask merging, filter activations, the five methods) compute when you switch them on.
    """)
    return


@app.cell
def _(launch, mo):
    # `-- --model M --dataset D [--checkpoint F --root R ...]` opens those (labkit.launch); none: the dropdown
    try:
        launch_args, launch_error = launch.notebook_lab_args(mo.cli_args()), None
    except launch.LaunchError as _e:
        launch_args, launch_error = None, str(_e)
    return launch_args, launch_error


@app.cell
def _(launch_args, launch_error, lk, mo, shipped_checkpoints):
    mo.stop(launch_error is not None, mo.callout(mo.md(f"**The lab's arguments are wrong:** {launch_error}"), kind="danger"))
    _pairs = [f"{m} · {d}" for m, d in shipped_checkpoints() if d in lk.list_datasets()]
    model_pick = mo.ui.dropdown(_pairs, value="resnet20 · digits-lt" if "resnet20 · digits-lt" in _pairs else _pairs[0],
                                label="model · dataset (shipped checkpoints)")
    model_pick if launch_args is None else None
    return (model_pick,)


@app.cell
def _(launch, launch_args, lk, mo, model_pick):
    if launch_args is None:
        _model, _dataset = model_pick.value.split(" · ")
        with mo.status.spinner(f"loading {_model} on {_dataset} ..."):
            lab = lk.Lab(_model, _dataset)
    else:
        with mo.status.spinner(f"loading {launch_args.model} on {launch_args.dataset} ..."):
            lab = launch.open_lab(launch_args)
    mo.md(f"**{lab.model_name}** on **{lab.data.name}** · device `{lab.device}` · "
          f"{len(lab.layers)} prunable layers · {lab.dense_cost['params']:,} parameters · "
          f"{lab.dense_cost['MACs'] / 1e6:.2f} M MACs per image · {len(lab.targets):,} test images"
          f"{f' live, a stratified sample of {len(lab.data.test):,} sized to keep a slider move fast' if lab.preview else ''}"
          " · dense balanced accuracy "
          f"**{lab.dense_report.balanced:.3f}**"
          + ("" if launch_args is None else f" · opened with `{' '.join(launch_args.argv())}`"))
    return (lab,)


@app.cell
def _(lab, lab_spec, mui):
    _spec = lab_spec.lab_controls()
    criterion_ui, granularity_ui, mode_ui, sparsity_ui, normalize_ui, depth_ui = (
        mui.element(_spec[n]) for n in ("criterion", "granularity", "mode", "sparsity", "normalize", "depth_bias"))
    layer_ui = mui.layer_sliders(lab.layers, 0.5, label="")
    return criterion_ui, depth_ui, granularity_ui, layer_ui, mode_ui, normalize_ui, sparsity_ui


@app.cell
def _(criterion_ui, depth_ui, granularity_ui, lab_spec, layer_ui, mo, mode_ui, normalize_ui, sparsity_ui):
    mo.vstack([
        mo.hstack([criterion_ui, granularity_ui, mode_ui], justify="start", gap=2),
        mo.hstack([sparsity_ui, normalize_ui, depth_ui], justify="start", gap=2),
        mo.accordion({"per-layer sliders (allocation = per-layer)": layer_ui}),
        mo.md(f"<small>Normalisation `auto`: {lab_spec.NORMALIZE_HELP} The depth bias δ shapes the "
              "`layered` allocation (later layers pruned more when δ > 0).</small>"),
    ])
    return


@app.cell
def _(criterion_ui, granularity_ui, lab_spec):
    granularity, granularity_note = lab_spec.resolve_granularity(criterion_ui.value, granularity_ui.value)
    return granularity, granularity_note


@app.cell
def _(criterion_ui, depth_ui, granularity, layer_ui, lk, mode_ui, normalize_ui, sparsity_ui):
    settings = {"criterion": criterion_ui.value, "granularity": granularity, "mode": mode_ui.value,
                "sparsity": sparsity_ui.value, "normalize": normalize_ui.value, "depth_bias": depth_ui.value}
    if mode_ui.value == "per-layer":
        settings["layer_sparsity"] = dict(layer_ui.value)
    needs_data = lk.get_criterion(criterion_ui.value).needs_data
    return needs_data, settings


@app.cell
def _(granularity_note, lab, mo, needs_data, settings):
    trial, trial_error = None, None
    _cached = lab.has_scores(settings["criterion"], settings["granularity"])
    _title = (f"scoring `{settings['criterion']}` per {settings['granularity']} on the validation split "
              "(data-driven: from about a second up to half a minute on a laptop CPU the first time, cached after)"
              if needs_data and not _cached else "pruning ...")
    try:
        with mo.status.spinner(_title):
            trial = lab.prune(**settings)
    except (ValueError, KeyError, RuntimeError) as _e:
        trial_error = str(_e)
    mo.output.replace(mo.callout(mo.md(f"**This setting cannot be pruned:** {trial_error}"), kind="danger")
                      if trial_error else (mo.callout(mo.md(granularity_note), kind="info") if granularity_note else None))
    return (trial,)


@app.cell
def _(lab, mo, trial, views):
    mo.stop(trial is None)
    _r, _c = trial.report, trial.cost
    _groups = views.group_line(_r.by_group)
    _iv = lab.live_interval(trial)["balanced"] if lab.preview else None  # what the whole test split may say
    _whole = f" (whole test split, 95 %: {_iv[0]:.3f}–{_iv[1]:.3f})" if _iv else ""
    _mode = ("per-layer targets" if trial.plan.mode == "per-layer" else f"target {trial.plan.sparsity:.2f}, "
             f"{trial.plan.mode} allocation")
    mo.md(f"""
    **sparsity: {trial.masks.sparsity:.2f}** of the prunable {trial.plan.granularity}s ({_mode}) ·
    balanced accuracy **{_r.balanced:.3f}**{_whole} (dense {lab.dense_report.balanced:.3f}) · {_groups} ·
    nonzero parameters {_c['nonzero_params']:,} / {_c['params']:,}
    ({_c['params'] / max(_c['nonzero_params'], 1):.2f}× fewer) ·
    nonzero MACs {_c['nonzero_MACs'] / 1e6:.2f} M / {_c['MACs'] / 1e6:.2f} M ·
    evaluated in {trial.eval_ms:.0f} ms (from stage {trial.first_stage})
    """)
    return


@app.cell
def _(lab, mo):
    full_button = mo.ui.run_button(label=f"exact numbers on all {len(lab.data.test):,} test images")
    full_button if lab.preview else None  # only a live sample is evaluated per slider move
    return (full_button,)


@app.cell
def _(full_button, lab, mo, trial, views):
    mo.stop(not full_button.value or trial is None or not lab.preview)
    _seen = [0]
    with mo.status.progress_bar(total=len(lab.data.test), title="evaluating the whole test split",
                                completion_title="evaluated") as _bar:
        def _tick(_task, done, _total):
            _bar.update(increment=done - _seen[0])
            _seen[0] = done

        _full = lab.full_report(trial, progress=False, callback=_tick)
    mo.md(f"**whole test split** ({len(lab.data.test):,} images), this setting: balanced **{_full.balanced:.3f}** · "
          f"overall {_full.overall:.3f} · " + views.group_line(_full.by_group))
    return


@app.cell
def _(charts, lab, mo, trial):
    mo.stop(trial is None)
    per_class_pick = mo.ui.altair_chart(charts.per_class_chart(trial.report.per_class, dense=lab.dense_report.per_class),
                                        legend_selection=False)
    return (per_class_pick,)


@app.cell
def per_class_view(mo, per_class_pick):
    mo.vstack([mo.md("### Per-class accuracy (head classes left, tail right; hover for dense and the 95 % "
                     "interval, click a bar for its confusions)"), per_class_pick])
    return


@app.cell
def _(charts, lab, mo, trial, views):
    mo.stop(trial is None or lab.data.num_classes <= 20)
    # many classes (CIFAR-100, ImageNet-LT): the worst classes by name, every class as a tick, a sortable table
    _pc, _dense = trial.report.per_class, lab.dense_report.per_class
    mo.accordion({f"{lab.data.num_classes} classes: the worst ones, the spread, the full table": mo.vstack([
        mo.hstack([charts.live(views.classes.worst_classes_chart(_pc, _dense)),
                   charts.live(views.classes.class_spread_chart(_pc, _dense))], justify="start"),
        mo.ui.table(views.classes.class_table(_pc, _dense).round(3), selection=None, page_size=20)])})
    return


@app.cell
def _(lab, mo, per_class_pick, trial, views):
    mo.stop(trial is None)
    _sel = per_class_pick.value
    if len(_sel) == 0:
        _out = mo.md("_Click a bar above: its confusion row and misclassified test images appear here._")
    else:
        _cls = int(_sel["class"].iloc[0])
        _row, _imgs, _pred = lab.class_details(trial, _cls)
        _n = int((lab.targets == _cls).sum())
        _row = _row.assign(share=_row["share"].map("{:.1%}".format))
        _strip = (views.image_strip(_imgs, [f"→ {lab.data.classes[int(p)]}" for p in _pred]) if len(_imgs)
                  else mo.md("no misclassified test image"))
        _out = mo.vstack([
            mo.md(f"**class {lab.data.classes[_cls]}**: {_n} test images, predicted as (under the current masks):"),
            mo.hstack([mo.ui.table(_row.drop(columns="predicted"), selection=None, pagination=False), _strip],
                      justify="start", align="start", widths=[1, 3])])
    _out
    return


@app.cell
def _(charts, lab, mo, trial):
    mo.stop(trial is None)
    _dense = {"overall": lab.dense_report.overall, **lab.dense_report.by_group}
    _pruned = {"overall": trial.report.overall, **trial.report.by_group}
    _target = dict(trial.plan.layer_sparsity) if trial.plan.mode == "per-layer" else (
        trial.plan.sparsity if trial.plan.mode != "layered" else None)
    mo.hstack([
        mo.vstack([mo.md("**Groups** (grey = dense)"), charts.live(charts.group_chart(_pruned, _dense))]),
        mo.vstack([mo.md("**Sparsity per layer** " + ("(ticks: your per-layer targets)" if trial.plan.mode == "per-layer"
                                                        else "(dashed: the global target)" if _target is not None
                                                        else "(layered profile: later layers pruned more)")),
                   charts.live(charts.profile_chart(trial.layers(), target=_target))]),
    ], justify="start", align="start")
    return


@app.cell
def _(smoke):
    sweep_grid = (0.0, 0.3, 0.6, 0.9) if smoke else (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    return (sweep_grid,)


@app.cell
def _(charts, lab, mo, sweep_grid, trial):
    mo.stop(trial is None)
    _now = {"sparsity": trial.masks.sparsity, "balanced": trial.report.balanced, **trial.report.by_group}
    _curve = lab.curve(trial.plan, sweep_grid)  # measured once per setting, cached by the lab
    _random = lab.curve(trial.plan, sweep_grid, criterion="random")
    _note = ("per-layer mode has no single global sparsity to sweep: the diamond is your current setting, measured"
             if _curve is None else
             f"{trial.plan.criterion} vs random (dotted), {trial.plan.mode} allocation, one-shot; "
             "dashed = dense; diamonds = the current setting, measured")
    mo.vstack([mo.md(f"### Accuracy vs sparsity\n<small>{_note}</small>"),
               charts.live(charts.curve_chart(_curve, lab.baselines(), _now, random=_random))])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Cost: simulated versus real

    Zeroed weights cost the same on dense hardware: *nonzero* MACs are what a sparse kernel would
    do. With **filter** granularity the pruned channels can be removed for real (Torch-Pruning's
    dependency graph); the button compacts the model, checks that it computes what the masked
    model computes, and measures the latency of all three side by side.
    """)
    return


@app.cell
def _(mo):
    compact_button = mo.ui.run_button(label="compact (filter granularity) and measure latency")
    compact_button
    return (compact_button,)


@app.cell
def _(charts, compact_button, lab, mo, trial):
    mo.stop(trial is None)
    _out = charts.live(charts.cost_chart(lab.dense_cost, trial.cost))
    if compact_button.value and trial.plan.granularity == "filter":
        with mo.status.spinner("compacting and timing three models ..."):
            import warnings

            with warnings.catch_warnings(record=True) as _caught:
                warnings.simplefilter("always")
                _small, _table = lab.compact(trial)
        _fmt = _table.assign(**{c: _table[c].map("{:,.0f}".format) for c in ("params", "nonzero_params", "MACs",
                                                                              "nonzero_MACs")},
                             latency_ms=_table["latency_ms"].map("{:.2f}".format))
        _warn = [mo.callout(mo.md(str(w.message)), kind="warn") for w in _caught if "coupl" in str(w.message)]
        _out = mo.vstack([*_warn, mo.ui.table(_fmt, selection=None, pagination=False), _out])
    elif compact_button.value:
        _out = mo.vstack([mo.callout(mo.md("Compaction removes whole filters: switch **granularity** to `filter` "
                                           "first."), kind="warn"), _out])
    _out
    return


@app.cell(hide_code=True)
def _(mo):
    merge_on = mo.ui.switch(value=False, label="compute mask merging live")
    mo.vstack([mo.md(r"""
    ## Mask merging

    Tick two or more criteria: each gives a mask at the current sparsity, granularity and
    allocation (per-layer targets included). The heatmap shows how much their kept sets overlap
    (Jaccard); the merged mask keeps every layer's budget and votes with the weights α
    (`weighted`), by majority, or keeps the intersection first. The weights come from your
    sliders or, as in **method 1** (long-tail-aware pruning), from
    α = softmax(τ · balanced validation accuracy). Each candidate is pruned and evaluated on every
    slider move, so the section is off until you switch it on.
    """), merge_on])
    return (merge_on,)


@app.cell
def _(granularity, lab_spec, mo):
    _valid = lab_spec.criteria_for(granularity)
    candidates = mo.ui.multiselect(_valid, value=[c for c in ("magnitude", "taylor", "random") if c in _valid][:3],
                                   label=f"candidate criteria (those that score {granularity}s)")
    return (candidates,)


@app.cell
def _(candidates, lab_spec, merge_on, mo, mui):
    mo.stop(not merge_on.value)
    merge_ui = (mui.controls(lab_spec.merge_controls(sorted(candidates.value)), label="")
                if len(candidates.value) >= 2 else None)
    mo.vstack([candidates, merge_ui.hstack(justify="start", wrap=True) if merge_ui is not None
               else mo.callout(mo.md("Pick at least two criteria to merge."), kind="info")])
    return (merge_ui,)


@app.cell
def _(candidates, lab, lab_spec, merge_on, merge_ui, mo, settings):
    merging = None
    if merge_on.value and merge_ui is not None:
        _names = sorted(candidates.value)
        with mo.status.spinner("pruning and evaluating each candidate ..."):
            merging = lab.merging(_names, **lab_spec.merge_request(_names, merge_ui.value), **settings)
    return (merging,)


@app.cell
def _(merging, mo, views):
    mo.stop(merging is None)
    _cands = {c: v for c, v in merging.val.items() if c != "merged"}
    _table = merging.table()
    mo.vstack([views.overlap_alpha(merging.matrix, merging.alpha, _cands),
               mo.ui.table(_table.assign(**{c: _table[c].map("{:.3f}".format) for c in _table.columns if c != "mask"}),
                           selection=None, pagination=False)])
    return


@app.cell
def _(mo):
    from labkit.ui import MaskOverlapWidget

    # Built once: the slider cells push new numbers into it (update), so a clicked pair survives.
    overlap_pick = mo.ui.anywidget(MaskOverlapWidget(names=["-"], matrix=[[1.0]],
                                                     title="Click a pair: its overlap layer by layer"))
    return (overlap_pick,)


@app.cell
def _(merging, mo, overlap_pick):
    mo.stop(merging is None)
    overlap_pick.widget.update(merging.matrix)
    overlap_pick
    return


@app.cell
def _(lab, merging, mo, overlap_pick, views):
    mo.stop(merging is None)
    _sel = [p for p in overlap_pick.value.get("selected", []) if p in merging.trials]
    _pair = _sel if len(_sel) == 2 else ["merged", next(iter(merging.trials))]
    _ov = lab.overlap(merging.trials[_pair[0]], merging.trials[_pair[1]])
    mo.vstack([mo.md(f"selected pair: **{_pair[0]} vs {_pair[1]}** · Jaccard over all layers "
                     f"{_ov.attrs['total']['jaccard']:.3f}"),
               views.layer_overlap(_ov, title=f"{_pair[0]} vs {_pair[1]}: Jaccard overlap per layer")])
    return


@app.cell(hide_code=True)
def _(mo):
    acts_on = mo.ui.switch(value=False, label="compute filter activations live")
    mo.vstack([mo.md(r"""
    ## Filter activations

    The input image and the feature maps one conv layer produces for it under the current masks;
    pruned filters are framed in red (with filter granularity their maps are exactly zero).
    """), acts_on])
    return (acts_on,)


@app.cell
def _(acts_on, lab, mo):
    mo.stop(not acts_on.value)
    act_layer = mo.ui.dropdown(lab.conv_layers, value=lab.conv_layers[0], label="conv layer")
    act_index = mo.ui.slider(0, len(lab.targets) - 1, value=0, label="test image", debounce=True, show_value=True)
    mo.hstack([act_layer, act_index], justify="start")
    return act_index, act_layer


@app.cell
def _(act_index, act_layer, acts_on, lab, mo, trial, views):
    mo.stop(not acts_on.value or trial is None)
    _acts = lab.activations(act_layer.value, act_index.value, masks=trial.masks)
    _m = trial.masks[act_layer.value] if act_layer.value in trial.masks else None
    _kept = None if _m is None else (_m if _m.dim() == 1 else _m.flatten(1).any(1))
    _y = int(lab.targets[act_index.value])
    _p = int(trial.pred[act_index.value])
    _img = lab.test_image(act_index.value)
    mo.hstack([
        mo.vstack([views.image_strip(_img[None], [f"class {lab.data.classes[_y]}"], size=2.2),
                   mo.md(f"image {act_index.value} · predicted **{lab.data.classes[_p]}** "
                         + ("✓" if _p == _y else "✗") + (f" · {int(_kept.sum())}/{_kept.numel()} filters kept"
                                                          if _kept is not None else ""))]),
        views.activation_grid(_acts, _kept)], justify="start", align="start", widths=[1, 3])
    return


@app.cell(hide_code=True)
def _(mo):
    methods_on = mo.ui.switch(value=True, label="show the method views")
    mo.vstack([mo.md(r"""
    ## The five methods, live

    Each method of `docs/methods.md` has a live view on this lab's model here, and a study
    notebook in `notebooks/studies/` that runs its CPU experiment to a PASS / FAIL verdict.
    **Method 1** (long-tail-aware pruning) is the per-class view above with the `layered`
    allocation (depth bias δ) and the merge weights from validation accuracy. These views have
    their own controls and do not re-run when the global sparsity moves.
    """), methods_on])
    return (methods_on,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ### Method 5 · DOMINOS: domino influence and its Weibull fit

    Zero one channel of a layer and follow how much the activations of every later stage change,
    relative to the first one: the survival curve $S(t)$. DOMINOS fits
    $S(t) \approx \exp(-(t/\lambda)^k)$ per channel; a channel whose effect dies out quickly
    (small λ) has little domino influence. Points above 1 mean the change *grew* downstream (a
    residual path carried it on): no survival curve reaches them, and the fit quality below is
    measured on every drawn point, those included.
    """)
    return


@app.cell
def _(lab, lab_spec, methods_on, mo, mui):
    mo.stop(not methods_on.value)
    dom_ui = mui.controls(lab_spec.influence_controls(lab.conv_layers))
    dom_ui.hstack(justify="start")
    return (dom_ui,)


@app.cell
def _(dom_ui, lab, methods_on, mo, views):
    mo.stop(not methods_on.value)
    from labkit.analysis.influence import influence_table
    from labkit.analysis.weibull import fit_summary

    _layer = dom_ui.value["layer"]
    try:
        with mo.status.spinner(f"ablating every channel of {_layer} ..."):
            _curves, _fits = lab.influence(_layer)
    except ValueError as _e:  # too few depth sites after the layer: what can and cannot be measured, and why
        mo.stop(True, mo.callout(mo.md(f"**No domino decay for this layer:** {_e}"), kind="warn"))
    _S = _curves.survival(_layer)
    _q = fit_summary(_S, _fits)
    _kinds = ", ".join(f"{n} {k}" for k, n in sorted(_q["kinds"].items(), key=lambda kv: -kv[1]))
    mo.vstack([
        mo.md(f"{_q['channels']} channels ({_kinds}) · on the {_q['points']} drawn depths, fitted curves have "
              f"median R² **{_q['median_r2_s']:.2f}** in survival units, {_q['share_r2_s_09']:.0%} of them ≥ 0.9 · "
              f"{_q['above_one']:.0%} of channels have a point above S = 1 · computed in {_curves.seconds:.1f} s"),
        mo.hstack([views.decay_curves(_S, _fits.k, _fits.lam, layer=_layer),
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
def _(lab_spec, methods_on, mo, mui):
    mo.stop(not methods_on.value)
    opt_ui = mui.controls(lab_spec.rescue_controls())
    opt_ui.hstack(justify="start", wrap=True)
    return (opt_ui,)


@app.cell
def _(lab, methods_on, mo, opt_ui, views):
    mo.stop(not methods_on.value)
    _c = opt_ui.value
    with mo.status.spinner(f"{_c['method']} search over small weights ..."):
        _cmp = lab.compare_rescue(_c["sparsity"], rho=_c["rho"], method=_c["method"], generations=_c["generations"])
    _picked, _layer = _cmp.picked, _cmp.layer
    mo.vstack([
        mo.md(f"calibration loss **{_picked.loss:.3f}** (magnitude alone {_picked.magnitude_loss:.3f}) · "
              f"test balanced accuracy **{_cmp.searched.report.balanced:.3f}** vs magnitude "
              f"{_cmp.magnitude.report.balanced:.3f} "
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
def _(lab_spec, methods_on, mo, mui):
    mo.stop(not methods_on.value)
    ratio_ui = mui.controls(lab_spec.transfer_controls())
    ratio_ui.hstack(justify="start")
    return (ratio_ui,)


@app.cell
def _(lab, methods_on, mo, ratio_ui, views):
    mo.stop(not methods_on.value)
    _r = ratio_ui.value["ratio"]
    _choice = lab.filter_criteria(_r, ["magnitude", "mean_activation", "apoz"])
    _tab = _choice.accuracy
    mo.vstack([views.kept_filters_bars(_choice.kept),
               mo.md(f"Balanced test accuracy, one-shot, {_r:.0%} of the filters removed:"),
               mo.ui.table(_tab.assign(**{c: _tab[c].map("{:.3f}".format) for c in ("per-layer", "global")}),
                           selection=None, pagination=False)])
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
def _(lab, lk, methods_on, mo, pd, views):
    mo.stop(not methods_on.value)
    from labkit.analysis.breakdown import cost_breakdown

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
def _(mo, pd):
    from labkit.studies import committed_verdicts

    verdicts = committed_verdicts(mo.notebook_dir() / "studies" / "results")
    _v = verdicts[verdicts["verdict"] != "INFO"]
    _v = _v.assign(**{c: _v[c].map(lambda x: f"{x:+.3f}" if isinstance(x, float) and pd.notna(x) else x)
                      for c in _v.columns if _v[c].dtype.kind == "f"})
    # a plain table: every claim on the page (and in an export), wrapped, no pagination or scrolling
    mo.Html("<style>.labkit-verdicts td, .labkit-verdicts th {text-align: left; padding: 3px 8px;"
            " vertical-align: top}</style>" + _v.to_html(index=False, classes="labkit-verdicts", border=0)
            .replace("<table", '<table style="width:100%;font-size:0.85em;border-collapse:collapse"'))
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
    ft_epochs = mo.ui.slider(1, 30, value=10, label="fine-tune epochs", show_value=True)
    ft_button = mo.ui.run_button(label="fine-tune")
    save_button = mo.ui.run_button(label="save experiment")
    report_button = mo.ui.run_button(label="export report")
    out_dir = mo.ui.text(value="runs/lab", label="output folder")
    mo.hstack([ft_epochs, ft_button, save_button, report_button, out_dir], justify="start")
    return ft_button, ft_epochs, out_dir, report_button, save_button


@app.cell
def _(ft_button, ft_epochs, lab, mo, trial, views):
    mo.stop(not ft_button.value or trial is None,
            mo.md("_Press **fine-tune** to train the pruned model with its masks fixed (10 epochs take a few "
                  "seconds on the embedded default)._"))
    with mo.status.progress_bar(total=ft_epochs.value, title="fine-tuning", completion_title="fine-tuned") as _bar:
        tuned = lab.finetune(trial, epochs=ft_epochs.value, progress=False,
                             callback=lambda _e, _h, _m: _bar.update(subtitle=f"train loss {_h.loss[-1]:.3f}"))
    mo.md(f"after {ft_epochs.value} epochs: balanced **{tuned.report.balanced:.3f}** "
          f"(one-shot {trial.report.balanced:.3f}, dense {lab.dense_report.balanced:.3f}) · " +
          views.group_line(tuned.report.by_group))
    return


@app.cell
def _(Path, lab, mo, out_dir, report_button, save_button, trial, write_report):
    _msgs = []
    if save_button.value and trial is not None:
        _p = lab.save(trial, Path(out_dir.value) / f"{trial.plan.criterion}-{trial.plan.mode}-{trial.plan.sparsity:.2f}")
        _msgs.append(f"saved masks and plan to `{_p}`")
    if report_button.value and trial is not None:
        with mo.status.spinner("writing the report ..."):
            _r = write_report(Path(out_dir.value) / "report.html", lab=lab, criterion=trial.plan.criterion,
                              mode=trial.plan.sweep_mode or "global", granularity=trial.plan.granularity)
        _msgs.append(f"wrote `{_r}`")
    mo.md("<br>".join(_msgs) if _msgs else "")
    return


if __name__ == "__main__":
    app.run()
