# /// script
# requires-python = ">=3.10"
# dependencies = ["labkit[lab]", "marimo>=0.23"]
#
# [tool.uv.sources]
# labkit = { path = "../..", editable = true }
# ///
"""Course 01: magnitude pruning and the sensitivity scan (after MIT 6.5940 EfficientML Lab 1).

Open:  .venv/bin/marimo edit notebooks/course/01_magnitude_and_sensitivity.py
Smoke: .venv/bin/marimo export html notebooks/course/01_magnitude_and_sensitivity.py -o /tmp/x.html --no-sandbox -- --smoke
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(
    width="medium",
    app_title="labkit course · 01 magnitude and sensitivity",
)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 01 · Magnitude pruning and the sensitivity scan

    The simplest pruning rule is **"small weights matter least"**: remove the weights with the
    smallest $|w|$ and keep the rest. This notebook follows the first half of MIT 6.5940's
    pruning lab (EfficientML.ai Lab 1) on a model small enough for a laptop CPU: a ResNet-20
    trained on **digits-LT** (16×16 handwritten digits, 10 classes, long-tailed training set).

    You will look at where the parameters are, what the weights look like, how one global
    threshold differs from the same sparsity in every layer, and which layers break first
    when pruned alone (the *sensitivity scan*).

    **How the questions work.** Each question asks you to **predict** first: set the control
    and press *Commit prediction*. The cell below it then **measures** the answer with labkit
    and tells you whether you were right, with the number. Change your prediction and commit
    again as often as you like. Sparsity is always a fraction: 0.5 = half the weights removed.
    Answers, figures and the summary that would give an answer away appear only after you commit.

    **Exercises.** Two cells ask you to write code (open the notebook with `marimo edit` to see
    and edit them); the cell under each grades your function against a reference on hidden
    cases. The scoreboard at the end counts your questions and exercises.

    *Time: about 40 s of CPU to load (38 s measured on the 2-core test machine), then every
    question answers within seconds; the sensitivity scan (about a minute) runs when you press
    its button.*
    """)
    return


@app.cell
def _():
    import marimo as mo
    import pandas as pd
    import torch

    import labkit as lk
    from labkit import course, views
    from labkit.ui import marimo as mui

    return course, lk, mo, mui, pd, torch, views


@app.cell
def _(mo):
    from labkit.runtime import smoke_mode

    smoke = smoke_mode(mo.cli_args())  # `-- --smoke` or LABKIT_SMOKE=1: tiny CI run on one thread
    SPARSITIES = [0.0, 0.5, 0.7] if smoke else [0.0, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9]
    SCAN_SPARSITIES = [0.7, 0.9] if smoke else [0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    STAGE_COLORS = {"layer1": "#4C72B0", "layer2": "#DD8452", "layer3": "#55A868"}
    return SCAN_SPARSITIES, SPARSITIES, STAGE_COLORS, smoke


@app.cell
def _(lk, mo, smoke):
    with mo.status.spinner("loading ResNet-20 and digits-LT ..."):
        lab = lk.Lab("resnet20", "digits-lt", preview=100 if smoke else None)
    _n = sum(p.numel() for p in lab.dense.parameters())
    mo.md(f"**{lab.model_name}** on **{lab.data.name}** · {len(lab.dense_report.targets)} test images · "
          f"{len(lab.layers)} prunable conv layers (the first conv and the classifier stay dense) · "
          f"dense balanced accuracy **{lab.dense_report.balanced:.3f}** · device `{lab.device}`\n\n"
          f"**Model size** (as in the MIT lab: parameters × bits per parameter): {_n:,} parameters × 32 bits "
          f"= **{_n * 32 / 8 / 2**20:.2f} MiB**. Pruning only shrinks a stored model if the zeros are not "
          f"stored: a sparse format keeps the nonzero values plus their positions.")
    return (lab,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 1 · Where are the parameters?

    A 3×3 convolution with $C_\text{in}$ input and $C_\text{out}$ output channels has
    $9\,C_\text{in} C_\text{out}$ weights. ResNet-20 has three stages (`layer1`, `layer2`,
    `layer3`) of 16, 32 and 64 channels; each stage halves the image size and doubles the channels.
    """)
    return


@app.cell
def _(mo):
    q_params = mo.ui.slider(0.0, 1.0, step=0.05, value=0.3, show_value=True,
                            label="fraction of all prunable weights that sit in `layer3`").form(
        submit_button_label="Commit prediction")
    q_params
    return (q_params,)


@app.cell
def _(lab, pd):
    params = pd.DataFrame({"layer": lab.layers,
                           "n_params": [lab.dense.get_parameter(n).numel() for n in lab.layers]})
    params["stage"] = params["layer"].str.split(".").str[0]
    return (params,)


@app.cell
def _(STAGE_COLORS, params, views):
    def params_bars():
        """MIT's per-layer #params plot: one bar per prunable layer, coloured by stage."""
        _fig, _ax = views.new_figure(size="wide")
        _ax.bar(range(len(params)), params["n_params"], color=[STAGE_COLORS[s] for s in params["stage"]])
        _ax.set_xticks(range(len(params)), [n.removesuffix(".weight") for n in params["layer"]],
                       rotation=60, ha="right", rotation_mode="anchor")
        _ax.set(ylabel="parameters", title="Parameters per prunable layer (blue layer1, orange layer2, green layer3)")
        return _fig

    return (params_bars,)


@app.cell
def _(course, mo, params, params_bars, q_params):
    _share = params.groupby("stage")["n_params"].sum() / params["n_params"].sum()
    _r = course.check(q_params.value, _share["layer3"], tolerance=0.1,
                      what="share of the prunable weights in `layer3`", fmt=".2f", explain=rf"""
    Doubling the channels multiplies a layer's weights by four ($9 \cdot 2C \cdot 2C$), so the
    last stage dominates: layer1 {_share['layer1']:.2f}, layer2 {_share['layer2']:.2f},
    layer3 {_share['layer3']:.2f}. The 1×1 `shortcut` convs that match channels between stages are
    tiny. Whatever a pruning method does to `layer3` decides the compression ratio.""")
    res_params = _r
    mo.vstack(_r.reveal(params_bars()))
    return (res_params,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 2 · What do the weights look like?

    Histograms of the trained weights of two layers per stage, on a shared axis. Magnitude
    pruning removes the **centre** of each histogram: every weight with $|w|$ below a threshold.
    With **global** pruning there is a single threshold for the whole network.
    """)
    return


@app.cell
def _(lab, views):
    def weight_histograms(threshold: float | None = None):
        """Weight histograms of six layers; the band |w| < threshold (pruned) shaded red."""
        _names = [n for n in lab.layers if n.endswith(("0.conv1.weight", "2.conv2.weight"))]
        _fig, _axes = views.new_figure(2, 3, size=(10, 5), sharex=True)
        for _ax, _n in zip(_axes.T.flatten(), _names):
            _ax.hist(lab.dense.get_parameter(_n).flatten().cpu().numpy(), bins=60, color="#4C72B0")
            if threshold is not None:
                _ax.axvspan(-threshold, threshold, color="#C44E52", alpha=0.25, lw=0)
            _ax.set_title(_n.removesuffix(".weight"), fontsize=9)
        return _fig

    weight_histograms()
    return (weight_histograms,)


@app.cell
def _(mo):
    q_stage = mo.ui.radio(["layer1", "layer2", "layer3"], label="Prune 50 % of all weights with one "
                          "global magnitude threshold. Which stage loses the **largest fraction** of its weights?"
                          ).form(submit_button_label="Commit prediction")
    q_stage
    return (q_stage,)


@app.cell
def _(course, lab, mo, params, q_stage, views, weight_histograms):
    half = lab.prune("magnitude", 0.5, "global")
    _prof = half.layers().merge(params[["layer", "stage"]])
    _by_stage = (_prof["sparsity"] * _prof["n_params"]).groupby(_prof["stage"]).sum() / _prof.groupby("stage")["n_params"].sum()
    _thr = max(float(lab.dense.get_parameter(n).abs()[~m].max()) for n, m in half.masks.items() if (~m).any())
    _r = course.check_choice(q_stage.value, _by_stage.idxmax(), options=["layer1", "layer2", "layer3"],
                             what="the stage that loses the largest fraction",
                             measured=" · ".join(f"{s}: {v:.2f} removed" for s, v in _by_stage.items()),
                             explain=f"""
    The histograms of the wide layers are **narrower**: a layer with many inputs per output needs
    smaller weights for the same output scale (initialisation scales weights by
    $1/\\sqrt{{\\text{{fan-in}}}}$, and training keeps them small). One threshold (|w| < {_thr:.3f}, red band)
    therefore removes a larger share of `layer3` than of `layer1`. That happens to be what we want:
    `layer3` has the most weights to spare.""")
    res_stage = _r
    mo.vstack(_r.reveal(weight_histograms(_thr), views.sparsity_profile(half.layers(), target=0.5)))
    return half, res_stage


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 3 · One global threshold, or the same sparsity everywhere?

    **Uniform** pruning removes the same fraction from every layer; **global** pruning ranks all
    weights of all layers together, so layers with many small weights give up more.
    """)
    return


@app.cell
def _(mo):
    q_mode = mo.ui.radio(["global", "uniform", "about the same (within 0.02)"],
                         label="At 50 % sparsity, which keeps the higher **balanced accuracy**?").form(
        submit_button_label="Commit prediction")
    q_mode
    return (q_mode,)


@app.cell
def _(SPARSITIES, lab, pd):
    curves = pd.concat([lab.sweep(SPARSITIES, "magnitude", m).query("metric == 'balanced'")
                        .assign(metric=f"balanced ({m})") for m in ("global", "uniform")])
    return (curves,)


@app.cell
def _(course, curves, half, lab, mo, q_mode, views):
    _g, _u = half.report.balanced, lab.prune("magnitude", 0.5, "uniform").report.balanced
    _answer = "about the same (within 0.02)" if abs(_g - _u) <= 0.02 else ("global" if _g > _u else "uniform")
    _r = course.check_choice(q_mode.value, _answer, options=["global", "uniform", "about the same (within 0.02)"],
                             what="the allocation with the higher balanced accuracy at 0.5",
                             measured=f"global **{_g:.3f}** · uniform **{_u:.3f}** · dense {lab.dense_report.balanced:.3f}",
                             explain="""
    Uniform pruning takes half of the small `layer1` convs, which have few weights to spare, and
    only half of `layer3`, which could lose more. Global pruning moves the cuts to where the
    weights are small. The curves below show the whole trade-off (one-shot, no fine-tuning).""")
    res_mode = _r
    mo.vstack(_r.reveal(views.accuracy_vs_sparsity(curves, baselines={"balanced": lab.dense_report.balanced},
                                                   title="Balanced accuracy vs sparsity, magnitude pruning")))
    return (res_mode,)


@app.cell
def _(mo, res_mode, res_stage):
    mo.stop(not (res_stage.answered and res_mode.answered),
            mo.md("_**Explore** opens once you have committed the two questions above: its profile answers them._"))
    explore = mo.ui.dictionary({
        "sparsity": mo.ui.slider(0.0, 0.9, step=0.05, value=0.3, debounce=True, show_value=True, label="sparsity"),
        "mode": mo.ui.radio(["global", "uniform"], value="global", inline=True, label="allocation"),
    })
    mo.vstack([mo.md("**Explore.** Move the slider; the profile shows what each layer gives up."), explore.hstack()])
    return (explore,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercise 1 · Write fine-grained pruning

    Write `fine_grained_prune(weight, sparsity)` in the cell below (open the notebook with
    `marimo edit`): return a **boolean mask** of `weight`'s shape that removes the
    `round(sparsity · weight.numel())` weights of smallest magnitude. As in the MIT lab: the
    threshold is the $k$-th smallest $|w|$ (`torch.kthvalue`), and a weight is kept when
    $|w|$ is strictly above it. The cell after it grades your function on hidden weights.
    """)
    return


@app.cell
def _(torch):
    def fine_grained_prune(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
        """Keep-mask (bool, weight's shape) removing the round(sparsity * numel) smallest |w|."""
        # YOUR CODE BELOW
        raise NotImplementedError("write fine_grained_prune")
        # YOUR CODE ABOVE
    return (fine_grained_prune,)


@app.cell
def _(course, fine_grained_prune):
    ex_prune = course.grade(fine_grained_prune, "fine_grained_prune")
    ex_prune
    return (ex_prune,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ### Fine-tuning brings the accuracy back

    Pruning is usually followed by **fine-tuning**: train the remaining weights a few epochs
    with the mask held fixed (pruned weights stay zero). Here: global magnitude pruning to 0.8,
    one-shot, then fine-tuned.
    """)
    return


@app.cell
def _(mo, smoke):
    ft_button = mo.ui.run_button(label="fine-tune the 80 %-sparse model (about 10 s)")
    mo.vstack([ft_button, mo.md("") if smoke else mo.md("_Press to train 5 epochs with the mask fixed._")])
    return (ft_button,)


@app.cell
def _(ft_button, lab, mo, smoke):
    mo.stop(not (ft_button.value or smoke))
    _pruned = lab.prune("magnitude", 0.8, "global")
    _epochs = 1 if smoke else 5
    with mo.status.spinner(f"fine-tuning {_epochs} epochs ..."):
        _tuned = lab.finetune(_pruned, epochs=_epochs, progress=False)
    mo.md(f"Balanced accuracy at sparsity 0.8: one-shot **{_pruned.report.balanced:.3f}** → after {_epochs} "
          f"epochs of fine-tuning **{_tuned.report.balanced:.3f}** (dense {lab.dense_report.balanced:.3f}).")
    return


@app.cell
def _(explore, lab, mo, views):
    _t = lab.prune("magnitude", explore.value["sparsity"], explore.value["mode"])
    _dense = {"overall": lab.dense_report.overall, **lab.dense_report.by_group}
    mo.hstack([views.sparsity_profile(_t.layers(), target=explore.value["sparsity"]),
               views.group_accuracy({"overall": _t.report.overall, **_t.report.by_group}, _dense)],
              widths=[2, 1])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 4 · The sensitivity scan

    Prune **one layer at a time** to increasing sparsity (all other layers dense) and measure
    accuracy on the validation split: this is the scan of Han et al. (2015) and of the MIT lab.
    A flat curve means the layer tolerates pruning; a steep one means it needs a lower sparsity.
    """)
    return


@app.cell
def _(SCAN_SPARSITIES, lab, mo):
    q_layer = mo.ui.dropdown([n.removesuffix(".weight") for n in lab.layers], value="layer3.2.conv2",
                             label=f"Which layer loses the most accuracy when pruned **alone** to {max(SCAN_SPARSITIES)}?"
                             ).form(submit_button_label="Commit prediction")
    q_layer
    return (q_layer,)


@app.cell
def _(SCAN_SPARSITIES, lab, mo):
    scan_button = mo.ui.run_button(label=f"run the scan: {len(lab.layers)} layers × {len(SCAN_SPARSITIES)} "
                                         "sparsities (about a minute on a laptop CPU)")
    scan_button
    return (scan_button,)


@app.cell
def _(SCAN_SPARSITIES, lab, lk, mo, pd, scan_button, smoke):
    scan = None
    if scan_button.value or smoke:
        _layers = lab.layers[::4] if smoke else lab.layers  # smoke: every 4th layer only
        _scores = lab.scores("magnitude")
        _parts = []
        for _n in mo.status.progress_bar(_layers, title="sensitivity scan", subtitle="one layer at a time",
                                         show_eta=True, remove_on_exit=True):
            _parts.append(lk.sensitivity_scan(lab.dense, lab.data.val, {_n: _scores[_n]}, SCAN_SPARSITIES))
        scan = pd.concat(_parts, ignore_index=True)
        scan.attrs["dense"] = _parts[0].attrs["dense"]
    return (scan,)


@app.cell
def _(STAGE_COLORS, params, scan, views):
    def scan_figure():
        """Left: accuracy vs sparsity, one curve per layer. Right: drop at the largest sparsity vs size."""
        _fig, (_left, _right) = views.new_figure(1, 2, size=(11, 4), width_ratios=[3, 2])
        for _n, _d in scan.groupby("layer", sort=False):
            _left.plot(_d["sparsity"], _d["metric"], marker="o", ms=3, color=STAGE_COLORS[_n.split(".")[0]], alpha=0.8)
        _left.axhline(scan.attrs["dense"], color="#333333", ls="--", lw=1)
        _left.set(xlabel="sparsity of the one pruned layer", ylabel="validation accuracy",
                  title="One curve per layer (colour = stage; dashed = dense)")
        _worst = scan[scan["sparsity"] == scan["sparsity"].max()].merge(params)
        _right.scatter(_worst["n_params"], _worst["drop"], c=[STAGE_COLORS[s] for s in _worst["stage"]])
        for _row in _worst.itertuples():
            _right.annotate(_row.layer.removesuffix(".weight"), (_row.n_params, _row.drop), xytext=(4, 2),
                            textcoords="offset points", fontsize=6)
        _right.set(xscale="log", xlabel="parameters in the layer", ylabel="accuracy drop at the largest sparsity",
                   title="Drop vs layer size")
        return _fig

    return (scan_figure,)


@app.cell
def _(course, lab, mo, q_layer, scan, scan_figure):
    def _verdict():
        if scan is None:
            _p = course.pending("one of the three most sensitive layers", "_Run the scan above: it measures the answer._")
            return _p, _p
        _worst = scan[scan["sparsity"] == scan["sparsity"].max()].nlargest(3, "drop")
        _top = [n.removesuffix(".weight") for n in _worst["layer"]]
        _r = course.check_choice(q_layer.value, _top, options=[n.removesuffix(".weight") for n in lab.layers],
                                 what="one of the three most sensitive layers",
                                 measured=" · ".join(f"`{n}` drop {d:.2f}" for n, d in zip(_top, _worst["drop"])),
                                 explain=f"""
    Any of the top three counts: the scan evaluates {len(lab.data.val)} validation images, so
    differences of a few hundredths are noise. Sensitive layers are usually **small** (few weights
    per output, little redundancy) or sit where **everything must pass through them**: the first
    conv of a stage that changes resolution, whose block has no identity shortcut to carry the
    signal around it. Large `layer3` convs barely notice losing most of their weights.""")
        return _r, mo.vstack(_r.reveal(scan_figure()))

    res_layer, _out = _verdict()
    _out
    return (res_layer,)


@app.cell
def _(mo, scan):
    scan_at = 0.7  # in the full and the smoke scan
    _alone = ("no layer loses more than "
              f"{float(scan.loc[scan['sparsity'] == scan_at, 'drop'].max()):.2f} accuracy" if scan is not None
              else "most layers lose little (run the scan above to see how little)")
    q_all = mo.ui.slider(0.0, 1.0, step=0.05, value=0.5, show_value=True, label=(
        f"Pruned alone to {scan_at}, {_alone}. Prune **every** layer "
        f"to {scan_at} at once (uniform): predict the balanced accuracy")).form(submit_button_label="Commit prediction")
    q_all
    return q_all, scan_at


@app.cell
def _(course, lab, mo, q_all, scan, scan_at):
    _all = lab.prune("magnitude", scan_at, "uniform")
    _single = (f"Each layer alone cost at most {float(scan.loc[scan['sparsity'] == scan_at, 'drop'].max()):.2f}"
               if scan is not None else "Each layer alone costs little (the scan)")
    _r = course.check(q_all.value, _all.report.balanced, tolerance=0.1, fmt=".2f",
                      what=f"balanced accuracy with every layer at {scan_at}", explain=f"""
    Dense: {lab.dense_report.balanced:.2f}. {_single}, yet
    together they cost {lab.dense_report.balanced - _all.report.balanced:.2f}. Errors **compound**:
    every pruned layer hands a slightly wrong input to the next one, which was itself pruned
    assuming a clean input. A scan ranks layers; it does not predict the joint effect, so a
    sparsity plan built from it must be checked as a whole (and usually fine-tuned).""")
    res_all = _r
    mo.vstack(_r.reveal())
    return (res_all,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 5 · Your own per-layer sparsity

    In the MIT lab you read the scan and write a `sparsity_dict` by hand. Here the sliders start
    at the largest scanned sparsity each layer survives alone with a drop of at most 0.03 (0 for
    layers outside the scan). Look first at what that "safe" plan does to the whole model: the
    single-layer drops add up. Then move the sliders: can you beat global magnitude pruning at
    the same overall sparsity?
    """)
    return


@app.cell
def _(lab, mo, mui, res_all, scan):
    mo.stop(not res_all.answered or scan is None,
            mo.md("_Your plan opens once the scan has run and you have committed the question above: "
                  "the safe plan's accuracy answers it._"))
    _safe = scan[scan["drop"] <= 0.03].groupby("layer")["sparsity"].max()
    layer_ui = mui.layer_sliders(lab.layers, {n: float(_safe.get(n, 0.0)) for n in lab.layers},
                                 label="sparsity per layer")
    _half = len(lab.layers) // 2
    mo.hstack([mo.vstack([layer_ui[n] for n in lab.layers[:_half]]),
               mo.vstack([layer_ui[n] for n in lab.layers[_half:]])], justify="start", gap=2)
    return (layer_ui,)


@app.cell
def _(lab, layer_ui, mo, views):
    mine = lab.prune("magnitude", mode="per-layer", layer_sparsity=layer_ui.value)
    _same = lab.prune("magnitude", min(round(mine.masks.sparsity, 4), 0.99), "global")
    mo.vstack([
        mo.md(f"Your plan: overall sparsity **{mine.masks.sparsity:.3f}**, balanced accuracy "
              f"**{mine.report.balanced:.3f}** · global magnitude at the same sparsity: "
              f"**{_same.report.balanced:.3f}** · dense {lab.dense_report.balanced:.3f}"),
        views.sparsity_profile(mine.layers(), title="Your per-layer sparsity (labels = parameters)"),
    ])
    return


@app.cell
def _(course, ex_prune, res_all, res_layer, res_mode, res_params, res_stage):
    board = course.scoreboard({"Q1 share of weights in layer3": res_params, "Q2 stage cut most": res_stage,
                               "Q3 global or uniform": res_mode, "Q4 most sensitive layer": res_layer,
                               "Q5 every layer at once": res_all},
                              {"Exercise 1 fine_grained_prune": ex_prune})
    board
    return (board,)


@app.cell(hide_code=True)
def _(board, mo):
    mo.stop(not board.all_committed, mo.md("_The summary appears once every question is committed._"))
    mo.md(r"""
    ## What to remember

    - Parameters concentrate in the widest layers; that is where pruning buys compression.
    - One global magnitude threshold adapts the sparsity to each layer's weight scale, and beats
      the same sparsity everywhere.
    - A sensitivity scan ranks layers (small layers and resolution-changing convs are fragile),
      but joint pruning costs more than the sum of single-layer drops.

    Next: **02 · criteria and filters**: other importance criteria, pruning whole filters, and
    what that does to the compute (`notebooks/course/02_criteria_and_filters.py`).
    """)
    return


if __name__ == "__main__":
    app.run()
