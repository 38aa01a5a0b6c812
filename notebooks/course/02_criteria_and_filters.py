# /// script
# requires-python = ">=3.10"
# dependencies = ["labkit[lab]", "marimo>=0.23"]
#
# [tool.uv.sources]
# labkit = { path = "../..", editable = true }
# ///
"""Course 02: importance criteria, filter pruning, compaction and the "30 % of channels ≈ 50 % of MACs" question.

Open:  .venv/bin/marimo edit notebooks/course/02_criteria_and_filters.py
Smoke: .venv/bin/marimo export html notebooks/course/02_criteria_and_filters.py -o /tmp/x.html --no-sandbox -- --smoke
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(
    width="medium",
    app_title="labkit course · 02 criteria and filters",
)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 02 · Criteria and filter pruning

    Notebook 01 removed single weights. The zeros it leaves are scattered, so a dense GPU or CPU
    kernel still does all the multiplications. **Filter pruning** removes whole output channels
    instead: the layer gets physically narrower, and so does the input of the next layer. That
    is the second half of MIT 6.5940's Lab 1 ("channel pruning").

    Here you compare weight and filter pruning, four ways of ranking filters (plus a random
    baseline), look at the filters each one keeps, and finally **compact** a pruned model and
    measure what it costs. As before: predict, press *Commit prediction*, then read the verdict;
    what would give an answer away stays hidden until you commit. One exercise asks you to write
    the channel ranking yourself (in `marimo edit`); the scoreboard at the end counts everything.

    *Time: about 25 s of CPU to load (24 s measured on the 2-core test machine); the sweeps and
    the compaction behind a question run when you commit it (seconds to half a minute).*
    """)
    return


@app.cell
def _():
    import warnings

    import marimo as mo
    import pandas as pd
    import torch

    import labkit as lk
    from labkit import course, views
    from labkit.pruning import couple_scores, coupled_groups

    return (
        couple_scores,
        coupled_groups,
        course,
        lk,
        mo,
        pd,
        torch,
        views,
        warnings,
    )


@app.cell
def _(mo):
    from labkit.runtime import smoke_mode

    smoke = smoke_mode(mo.cli_args())  # `-- --smoke` or LABKIT_SMOKE=1: tiny CI run on one thread
    SPARSITIES = [0.0, 0.1] if smoke else [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5]
    CRITERIA = ["magnitude", "mean_activation", "apoz", "taylor", "random"]
    LATENCY_BATCH = 4 if smoke else 64
    return CRITERIA, LATENCY_BATCH, SPARSITIES, smoke


@app.cell
def _(lk, mo, smoke):
    with mo.status.spinner("loading ResNet-20 and digits-LT ..."):
        lab = lk.Lab("resnet20", "digits-lt", preview=100 if smoke else None)
    mo.md(f"**{lab.model_name}** on **{lab.data.name}** · {len(lab.dense_report.targets)} test images · "
          f"dense balanced accuracy **{lab.dense_report.balanced:.3f}** · "
          f"{lab.dense_cost['MACs'] / 1e6:.2f} M MACs per image · device `{lab.device}`")
    return (lab,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 1 · Weights or filters?

    A conv layer's weight has shape $C_\text{out} \times C_\text{in} \times 3 \times 3$. Weight
    pruning zeroes single entries anywhere in it. Filter pruning zeroes a whole **filter** (one
    $C_\text{in} \times 3 \times 3$ slice, one output channel) together with its BatchNorm scale and
    shift, so that channel's feature map is exactly zero for every image.
    """)
    return


@app.cell
def _(mo):
    GRANULARITY_OPTIONS = ["single weights", "whole filters", "about the same (within 0.02)"]
    q_gran = mo.ui.radio(GRANULARITY_OPTIONS, label="Remove 10 % with magnitude, the same fraction in every "
                         "layer. Which loses **more** balanced accuracy?").form(submit_button_label="Commit prediction")
    q_gran
    return GRANULARITY_OPTIONS, q_gran


@app.cell
def _(SPARSITIES, lab, pd, q_gran):
    gran_curves = None if q_gran.value is None else pd.concat([lab.sweep(SPARSITIES, "magnitude", "uniform", g).query("metric == 'balanced'")
                             .assign(metric=f"balanced ({g})") for g in ("weight", "filter")])
    return (gran_curves,)


@app.cell
def _(GRANULARITY_OPTIONS, course, gran_curves, lab, mo, q_gran, views):
    _w = lab.prune("magnitude", 0.1, "uniform", "weight").report.balanced
    _f = lab.prune("magnitude", 0.1, "uniform", "filter").report.balanced
    _answer = GRANULARITY_OPTIONS[2] if abs(_w - _f) <= 0.02 else GRANULARITY_OPTIONS[int(_f < _w)]
    _r = course.check_choice(q_gran.value, _answer, options=GRANULARITY_OPTIONS, what="what loses more",
                             measured=f"weights **{_w:.3f}** · filters **{_f:.3f}** · dense {lab.dense_report.balanced:.3f}",
                             explain="""
    The 10 % smallest weights are scattered over all filters; each output changes a little.
    A removed filter is a whole feature detector: its map vanishes for every image and the
    next layer loses that input. Done in every layer at once, without fine-tuning, the
    damage compounds through the network (notebook 01). Filter pruning buys real speed, and
    pays for it in accuracy: in practice it is followed by fine-tuning.""")
    res_gran = _r
    mo.vstack(_r.reveal() if gran_curves is None else _r.reveal(views.accuracy_vs_sparsity(gran_curves, baselines={"balanced": lab.dense_report.balanced},
                                                   title="Uniform magnitude pruning: weights vs filters (x = fraction removed)")))
    return (res_gran,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 2 · Which filters matter? Four criteria and a baseline

    | criterion | score of filter $k$ (higher = keep) | idea |
    |---|---|---|
    | `magnitude` | $\lVert W_k \rVert_1$ | big weights, big effect (Li et al. 2017) |
    | `mean_activation` | mean of $\text{ReLU}(\text{BN}(\text{conv}_k(x)))$ over validation images | a filter that rarely fires matters little (Molchanov et al. 2017) |
    | `apoz` | 1 − (fraction of zeros in that output: the Average Percentage of Zeros) | Network Trimming (Hu et al. 2016) |
    | `taylor` | $\lvert \text{mean}(A_k \cdot \partial L / \partial A_k) \rvert$ | first-order estimate of the loss change if the map were zeroed (Molchanov et al. 2017) |
    | `random` | a seeded random number | the baseline every criterion must beat |

    The activation criteria and Taylor look at data (the validation split); magnitude does not.
    With **global** allocation all filters of all layers compete on one ranking.
    """)
    return


@app.cell
def _(CRITERIA, mo):
    q_crit = mo.ui.radio(CRITERIA, label="Prune 10 % of all filters (global ranking). Which criterion keeps the "
                         "**highest** balanced accuracy?").form(submit_button_label="Commit prediction")
    q_crit
    return (q_crit,)


@app.cell
def _(CRITERIA, SPARSITIES, lab, mo, pd, q_crit):
    with mo.status.spinner("scoring filters with every criterion ..."):
        crit_curves = None if q_crit.value is None else pd.concat([lab.sweep(SPARSITIES, c, "global", "filter")
                                                                   for c in CRITERIA])
    return (crit_curves,)


@app.cell
def _(CRITERIA, course, crit_curves, lab, mo, q_crit, views):
    _at = {c: lab.prune(c, 0.1, "global", "filter").report.balanced for c in CRITERIA}
    _best = max(_at.values())
    _mag = lab.prune("magnitude", 0.1, "global", "filter").layers().nlargest(2, "sparsity")
    _hit = " and ".join(f"`{n.removesuffix('.weight')}` ({s:.0%} of its filters, {lab.dense.get_parameter(n)[0].numel()} "
                        f"weights per filter)" for n, s in zip(_mag["layer"], _mag["sparsity"]))
    _r = course.check_choice(q_crit.value, [c for c, v in _at.items() if v == _best], options=CRITERIA,
                             what="the criterion with the highest balanced accuracy at 10 %",
                             measured=" · ".join(f"`{c}` **{v:.3f}**" for c, v in _at.items()), explain=f"""
    Things to notice. **Random is a serious baseline**: a criterion that does not beat it has
    not learned anything about the network. **Magnitude** has two handicaps here. Every conv is
    followed by BatchNorm, which rescales each channel, so the size of a filter's weights says
    little about the size of its output. And a global ranking compares raw L1 norms across
    layers, and a filter with few weights has a small sum: global magnitude hits {_hit} hardest.
    The activation criteria measure what each filter actually outputs on data, after BatchNorm
    and ReLU, on one scale for all layers.""")
    res_crit = _r
    if crit_curves is None:
        _balanced = None
    else:
        _balanced = crit_curves.query("metric == 'balanced'").drop(columns="metric").rename(columns={"criterion": "metric"})
    mo.vstack(_r.reveal() if _balanced is None else _r.reveal(views.accuracy_vs_sparsity(_balanced, baselines={"balanced": lab.dense_report.balanced},
                                                   title="Global filter pruning: balanced accuracy by criterion (x = fraction of filters)")))
    return (res_crit,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercise · Rank channels by their L2 norm

    The MIT lab's channel pruning keeps the output channels whose filters have the largest L2
    norm. Write `channels_to_keep(weight, prune_ratio)` below (in `marimo edit`): `weight` is a
    conv weight $C_\text{out} \times C_\text{in} \times k \times k$; return the indices of the
    `round(C_out · (1 − prune_ratio))` filters with the largest $\lVert W_k \rVert_2$, **most
    important first**.
    """)
    return


@app.cell
def _(torch):
    def channels_to_keep(weight: torch.Tensor, prune_ratio: float) -> torch.Tensor:
        """Indices of the output channels to keep, largest filter L2 norm first."""
        # YOUR CODE BELOW
        raise NotImplementedError("write channels_to_keep")
        # YOUR CODE ABOVE
    return (channels_to_keep,)


@app.cell
def _(channels_to_keep, course):
    ex_channels = course.grade(channels_to_keep, "channels_to_keep")
    ex_channels
    return (ex_channels,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 3 · Which filters are kept, and what do they see?

    Pick a criterion, an allocation and a sparsity. The profile shows the fraction of filters
    each layer loses (labels = filters in the layer); the grid shows the feature maps one test
    image produces in the layer you pick, pruned filters crossed out in red.
    """)
    return


@app.cell
def _(CRITERIA, lab, mo, res_crit, res_gran):
    mo.stop(not (res_crit.answered and res_gran.answered),
            mo.md("_The explorer opens once you have committed the questions above: its readout answers them._"))
    explore = mo.ui.dictionary({
        "criterion": mo.ui.dropdown(CRITERIA, value="mean_activation", label="criterion"),
        "mode": mo.ui.radio(["global", "uniform"], value="global", inline=True, label="allocation"),
        "sparsity": mo.ui.slider(0.0, 0.5, step=0.05, value=0.2, debounce=True, show_value=True, label="sparsity"),
        "layer": mo.ui.dropdown(lab.layers, value=lab.layers[0], label="layer"),  # all of ResNet-20's are convs
        "image": mo.ui.slider(0, len(lab.dense_report.targets) - 1, value=0, debounce=True, label="test image"),
    })
    explore.hstack(wrap=True)
    return (explore,)


@app.cell
def _(explore, lab, mo, views):
    _v = explore.value
    trial = lab.prune(_v["criterion"], _v["sparsity"], _v["mode"], "filter")
    _acts = lab.activations(_v["layer"], _v["image"], trial.masks)
    mo.vstack([
        mo.md(f"balanced accuracy **{trial.report.balanced:.3f}** (dense {lab.dense_report.balanced:.3f}) · "
              f"{trial.masks.kept} of {trial.masks.total} filters kept"),
        views.sparsity_profile(trial.layers(), target=_v["sparsity"],
                               title="Fraction of filters removed per layer (labels = filters)"),
        views.activation_grid(_acts, kept=trial.masks[_v["layer"]],
                              title=f"{_v['layer'].removesuffix('.weight')}: feature maps of test image {_v['image']}"),
    ])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 4 · Compaction: what does removing 30 % of the channels save?

    A masked model still multiplies by its zeros. **Compaction** (Torch-Pruning's dependency
    graph) cuts the zeroed channels out of the tensors: the conv gets fewer output channels,
    its BatchNorm shrinks with it, and the next conv gets fewer *input* channels.

    Here we remove 30 % of the channels of **every** conv, the first one included. In a ResNet
    the channels that residual additions join (stem, each block's second conv, the shortcuts)
    must go together, so those layers share one score (`couple_scores`) and lose the same channels.
    A conv costs $H_\text{out} W_\text{out} \cdot C_\text{out} \cdot C_\text{in} \cdot 3 \cdot 3$ MACs.
    """)
    return


@app.cell
def _(mo):
    SPEED_OPTIONS = ["faster than dense, since it skips the zeroed channels", "no faster than dense"]
    q_masked = mo.ui.radio(SPEED_OPTIONS, label=(
        "Before compacting: the **masked** model has 30 % of its channels zeroed (weights set to 0, shapes "
        "unchanged). How fast is it on this CPU, compared with the dense model?")).form(
        submit_button_label="Commit prediction")
    q_masked
    return SPEED_OPTIONS, q_masked


@app.cell
def _(LATENCY_BATCH, couple_scores, coupled_groups, lab, lk, mo, q_macs, q_masked):
    def _measure():
        _convs = lk.prunable_parameters(lab.dense, exclude_first=False)  # the stem writes the residual channels too
        _groups = coupled_groups(lab.dense, lab.data.val.tensors()[0][:2], layers=_convs)
        _scores = couple_scores(lk.score(lab.dense, "magnitude", granularity="filter", layers=_convs), _groups)
        _trial = lab.evaluate_masks(lk.make_masks(_scores, {n: 0.3 for n in _convs}))
        with mo.status.spinner("compacting and timing dense, masked and compacted models ..."):
            _small, _cost = lab.compact(_trial, batch_size=LATENCY_BATCH)
        return _trial, _cost

    # measured once a question about it is committed (it times three models: seconds of work)
    channels30, cost30 = (None, None) if q_masked.value is None and q_macs.value is None else _measure()
    return channels30, cost30


@app.cell
def _(LATENCY_BATCH, SPEED_OPTIONS, cost30, course, mo, q_masked):
    if cost30 is None:
        res_masked = course.pending("the masked model's speed")
        _out = res_masked
    else:
        _c = cost30.set_index("model")
        _ratio = _c.loc["masked", "latency_ms"] / _c.loc["dense", "latency_ms"]
        _answer = SPEED_OPTIONS[0] if _ratio < 0.8 else SPEED_OPTIONS[1]
        _extra = (" (A masked model that looks *slower* is timing noise: on a busy machine two runs of the same "
                  "model differ by tens of percent.)" if _ratio > 1.2 else "")
        res_masked = course.check_choice(q_masked.value, _answer, options=SPEED_OPTIONS,
                                         what="the masked model's speed",
                                         measured=f"batch {LATENCY_BATCH}, median of 20 runs: dense "
                                                  f"**{_c.loc['dense', 'latency_ms']:.1f}** ms, masked "
                                                  f"**{_c.loc['masked', 'latency_ms']:.1f}** ms (×{_ratio:.2f})",
                                         explain=f"""
        A mask only sets numbers to zero. The convolution kernel does not look at the values: it
        multiplies and adds every entry of a tensor of the same shape, zeros included, so the work
        is the same.{_extra} Speed needs **smaller tensors**: cut the zeroed channels out (compaction, next),
        or run sparse kernels on hardware built for them (e.g. 2:4 sparsity on recent GPUs).""")
        _out = res_masked
    _out
    return (res_masked,)


@app.cell
def _(mo):
    q_macs = mo.ui.slider(0.0, 1.0, step=0.05, value=0.7, show_value=True, label=(
        "Remove 30 % of the channels of every conv and compact. What **fraction of the dense MACs** "
        "does the small model need?")).form(submit_button_label="Commit prediction")
    q_macs
    return (q_macs,)


@app.cell
def _(LATENCY_BATCH, channels30, cost30, course, mo, q_macs, views):
    if cost30 is None:
        res_macs = course.pending("fraction of the dense MACs")
        _out = res_macs
    else:
        _c = cost30.set_index("model")
        _ratio = _c.loc["compacted", "MACs"] / _c.loc["dense", "MACs"]
        _r = course.check(q_macs.value, _ratio, tolerance=0.05, fmt=".2f", what="fraction of the dense MACs",
                          explain=rf"""
        Each conv keeps $0.7\,C_\text{{out}}$ outputs **and** reads $0.7\,C_\text{{in}}$ inputs, because
        the previous layer lost 30 % of its channels too: $0.7 \times 0.7 = 0.49$. Only the first conv
        (its input is the 1-channel image) and the classifier (its output is the 10 classes) shrink
        on one side, so the whole model lands near one half. The *masked* model counts only its
        zero weights as savings: nonzero MACs {_c.loc['masked', 'nonzero_MACs'] / _c.loc['dense', 'MACs']:.2f} of dense,
        because a zeroed input channel still has nonzero weights reading it.

        Latency (batch {LATENCY_BATCH}, median of 20 runs): dense {_c.loc['dense', 'latency_ms']:.1f} ms,
        masked {_c.loc['masked', 'latency_ms']:.1f} ms, compacted {_c.loc['compacted', 'latency_ms']:.1f} ms.
        On a model this small, framework overhead per layer can hide much of the saving;
        MACs are not milliseconds. Balanced accuracy after this one-shot cut:
        {channels30.report.balanced:.3f} (fine-tuning would be next).""")
        res_macs = _r
        _shown = course.tidy(cost30[["model", "params", "nonzero_params", "MACs", "nonzero_MACs", "latency_ms"]], 2)
        _out = mo.vstack(_r.reveal(mo.ui.table(_shown, selection=None, pagination=False),
                            views.cost_bars(_c.loc["dense"].to_dict(), _c.loc["compacted"].to_dict(),
                                            title="Dense vs compacted")))
    _out
    return (res_macs,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ### Aside: pruning each layer on its own

    What if each layer picks its own 30 % of filters, with no coupling? Within a residual stage
    a channel is then zero in some of the layers that write it and not in others, so after the
    addition it is not zero and cannot be cut. Compaction keeps it (and says so):
    """)
    return


@app.cell
def _(LATENCY_BATCH, lab, mo, res_macs, warnings):
    mo.stop(not res_macs.answered, mo.md("_Shown once the MACs question above is committed._"))
    _naive = lab.prune("magnitude", 0.3, "uniform", "filter")
    with warnings.catch_warnings(record=True) as _caught:
        warnings.simplefilter("always")
        _small, _cost = lab.compact(_naive, batch_size=LATENCY_BATCH)
    _c = _cost.set_index("model")
    _note = "; ".join(str(w.message).split(":")[0] for w in _caught)
    mo.md(f"Uncoupled 30 % per layer: the compacted model needs **{_c.loc['compacted', 'MACs'] / _c.loc['dense', 'MACs']:.2f}** "
          f"of the dense MACs (coupled: about half). What still shrinks is inside each block: the first conv "
          f"loses 30 % of its outputs and the second conv 30 % of its inputs, a linear cut (0.7), not a "
          f"quadratic one. Compaction reports: *{_note}*.")
    return


@app.cell
def _(course, ex_channels, res_crit, res_gran, res_macs, res_masked):
    board = course.scoreboard({"Q1 weights or filters": res_gran, "Q2 best criterion": res_crit,
                               "Q3 is the masked model faster": res_masked, "Q4 MACs left after compaction": res_macs},
                              {"Exercise channels_to_keep": ex_channels})
    board
    return (board,)


@app.cell(hide_code=True)
def _(board, mo):
    mo.stop(not board.all_committed, mo.md("_The summary appears once every question is committed._"))
    mo.md(r"""
    ## What to remember

    - Filter pruning makes a model physically smaller, and costs more accuracy than weight
      pruning at the same fraction before fine-tuning.
    - Criteria disagree; always compare against **random**. Under BatchNorm, weight norms say
      little about a filter's output; data-driven criteria look at the output itself.
    - Removing a fraction $p$ of the channels everywhere leaves about $(1-p)^2$ of the MACs,
      because every conv loses inputs and outputs. Residual additions tie channels together,
      and the measured latency is the final judge.

    Next: **03 · the long tail**: which classes pay for pruning
    (`notebooks/course/03_long_tail.py`).
    """)
    return


if __name__ == "__main__":
    app.run()
