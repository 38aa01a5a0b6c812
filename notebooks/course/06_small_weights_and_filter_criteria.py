# /// script
# requires-python = ">=3.10"
# dependencies = ["labkit[lab]", "marimo>=0.23"]
#
# [tool.uv.sources]
# labkit = { path = "../..", editable = true }
# ///
"""Course 06: which filters to drop by their weights or by the data they see, and small weights chosen by search.

Open:  .venv/bin/marimo edit notebooks/course/06_small_weights_and_filter_criteria.py
Smoke: .venv/bin/marimo export html notebooks/course/06_small_weights_and_filter_criteria.py -o /tmp/x.html --no-sandbox -- --smoke
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(
    width="medium",
    app_title="labkit course · 06 small weights and filter criteria",
)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 06 · Filters by their data, and small weights chosen by search *(research module)*

    *Research methods of this lab, past the MIT lab: open questions whose answers depend on the
    model. Time: about 15 s of CPU to load (16 s measured on the 2-core test machine); the genetic search (about a
    minute and a half) and the fine-tune run when you press their buttons. Answers appear after
    you commit; one exercise asks you to measure APoZ with a forward hook (in `marimo edit`); the
    scoreboard at the end counts questions and exercises.*

    Two ideas from methods 4 and 3 of this lab, each testing a habit of magnitude pruning.

    1. **Filters by the data they see.** When a network is moved to a new task, the filters that
       matter are the ones the *new* images switch on. Mean activation scores a filter by its
       average output after ReLU; **APoZ** (Average Percentage of Zeros, Hu et al. 2016) by how
       often that output is exactly zero, and labkit scores it as $1 - \mathrm{APoZ}$ so that
       higher means more important, like every criterion.
    2. **Are small weights useless?** Magnitude pruning keeps the $K$ largest weights of a
       layer. Keep instead the $(1-\rho)K$ largest plus $\rho K$ small ones **chosen by a search**
       (a genetic algorithm) to keep the loss on a few calibration images low.
    """)
    return


@app.cell
def _():
    import marimo as mo
    import torch

    import labkit as lk
    from labkit import course, views

    return course, lk, mo, torch, views


@app.cell
def _(mo):
    from labkit.runtime import smoke_mode

    smoke = smoke_mode(mo.cli_args())  # `-- --smoke` or LABKIT_SMOKE=1: tiny CI run on one thread
    return (smoke,)


@app.cell
def _(lk, mo, smoke):
    with mo.status.spinner("loading ResNet-20 and digits-LT ..."):
        lab = lk.Lab("resnet20", "digits-lt", preview=100 if smoke else None)
    mo.md(f"**{lab.model_name}** on **{lab.data.name}** · dense balanced accuracy "
          f"**{lab.dense_report.balanced:.3f}** · data-driven scores use the {len(lab.data.val.targets)} "
          f"validation images, never the test images the accuracies are measured on")
    return (lab,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 1 · How often is a ReLU output zero?
    """)
    return


@app.cell
def _(mo):
    q_apoz = mo.ui.slider(0.0, 1.0, step=0.05, value=0.2, show_value=True, label=(
        "Averaged over all filters of the network and all positions of the validation images: "
        "what fraction of the outputs after ReLU are exactly **zero** (the APoZ)?")).form(
        submit_button_label="Commit prediction")
    q_apoz
    return (q_apoz,)


@app.cell
def _(course, lab, mo, q_apoz, torch, views):
    _active = lab.scores("apoz", "filter")  # 1 - APoZ per filter
    _apoz = {n: 1.0 - v for n, v in _active.items()}
    _mean = float(torch.cat([v.flatten() for v in _apoz.values()]).mean())
    _r = course.check(q_apoz.value, _mean, tolerance=0.1, fmt=".2f", what="mean APoZ", explain="""
    About half. A ReLU after BatchNorm sees inputs centred near zero, so roughly half of them
    are clipped. That is why APoZ separates filters only where it departs from one half: a
    filter that is zero almost everywhere carries little, one that is rarely zero carries a
    lot. The per-layer distributions show how narrow the spread is in most layers. Note the
    direction: a **higher** APoZ means a filter is zero more often, so it is **less** important
    (labkit's `apoz` criterion scores $1 - \mathrm{APoZ}$).""")
    res_apoz = _r
    _fig = views.score_distributions({n: v for n, v in _apoz.items()}, title="APoZ per filter, layer by layer")
    _fig.axes[0].set_ylabel("APoZ (fraction of zero outputs; higher = less important)")
    mo.vstack(_r.reveal(_fig))
    return (res_apoz,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercise · Measure APoZ with a forward hook

    Write `apoz(model, layer, x)` below (in `marimo edit`): register a **forward hook** on
    `layer` (a ReLU) that keeps its output, run `model(x)` in eval mode without gradients,
    **remove the hook**, and return, per channel, the fraction of that output's entries (over
    images and positions) that are exactly zero: a tensor of shape `[C]`. Do not change the
    model (eval mode does not update BatchNorm's statistics; train mode would).
    """)
    return


@app.cell
def _(torch):
    def apoz(model: torch.nn.Module, layer: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Per-channel fraction of zeros in layer's output while model(x) runs (forward hook)."""
        # YOUR CODE BELOW
        raise NotImplementedError("write apoz")
        # YOUR CODE ABOVE
    return (apoz,)


@app.cell
def _(apoz, course):
    ex_apoz = course.grade(apoz, "apoz")
    ex_apoz
    return (ex_apoz,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 2 · Weights or data: which criterion keeps the right filters?

    Remove 20 % of the filters of the network, ranked **globally** (each layer's scores
    L2-normalised first, at least 10 % kept per layer), one-shot, no fine-tuning.
    """)
    return


@app.cell
def _(mo):
    CRITERIA = ["magnitude", "mean_activation", "apoz", "random"]
    q_crit = mo.ui.radio(CRITERIA, label="Which criterion keeps the highest balanced accuracy?").form(
        submit_button_label="Commit prediction")
    q_crit
    return CRITERIA, q_crit


@app.cell
def _(CRITERIA, course, lab, mo, q_crit, views):
    _trials = {c: lab.prune(c, 0.2, "global", "filter", normalize="l2") for c in CRITERIA}
    _acc = {c: t.report.balanced for c, t in _trials.items()}
    _top = max(_acc.values())
    _data = max(_acc["mean_activation"], _acc["apoz"])
    _verdict = ("On this network the weights win: magnitude keeps the most accuracy." if _acc["magnitude"] >= _data
                else f"Here a data-driven criterion wins, by {_data - _acc['magnitude']:.3f} over magnitude.")
    _r = course.check_choice(q_crit.value, [c for c, a in _acc.items() if a == _top], options=CRITERIA,
                             what="the best criterion at 20 % of the filters",
                             measured=" · ".join(f"{c}: **{a:.3f}**" for c, a in _acc.items()), explain=f"""
    {_verdict} The
    thesis behind method 4 found the data-driven criteria better *after transfer to a new task*,
    where the source weights say little about the target; here the network was trained on these
    very images, so its weights should already encode what matters. The method's study
    (`notebooks/studies/transfer.py`) tests the transfer case and, on digits, did not confirm it
    either. The bars show where each criterion takes its filters from.""")
    res_crit = _r
    mo.vstack(_r.reveal(views.kept_filters_bars(lab.kept_filters(CRITERIA, 0.2, "global"))))
    return (res_crit,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 3 · Small weights chosen by search

    Prune half of the weights of every layer. Magnitude keeps the largest half. The search keeps
    the largest 40 % and lets a genetic algorithm pick the other 10 % among the small weights
    ($\rho = 0.2$ of the budget) to lower the loss on 128 validation images (the calibration
    set); its first population includes magnitude's own choice.
    """)
    return


@app.cell
def _(mo):
    q_gain = mo.ui.slider(-0.2, 0.5, step=0.05, value=0.0, show_value=True, label=(
        "Balanced test accuracy, one-shot: (magnitude + searched small weights) − (magnitude alone)?")).form(
        submit_button_label="Commit prediction")
    q_gain
    return (q_gain,)


@app.cell
def _(mo, smoke):
    GENERATIONS = 4 if smoke else 12
    ga_button = mo.ui.run_button(label=f"run the genetic search: {GENERATIONS} generations "
                                       "(about 1.5 min on a laptop CPU)")
    ga_button
    return GENERATIONS, ga_button


@app.cell
def _(GENERATIONS, ga_button, lab, mo, smoke):
    picked = searched = magnitude = None
    if ga_button.value or smoke:
        with mo.status.spinner(f"genetic search over small weights: {GENERATIONS} generations of 12 masks, "
                               "each scored on the calibration images ..."):
            picked = lab.rescue(0.5, rho=0.2, generations=GENERATIONS)
        searched = lab.evaluate_masks(picked.masks)
        magnitude = lab.prune("magnitude", 0.5, "uniform")
    return magnitude, picked, searched


@app.cell
def _(course, lab, magnitude, mo, picked, q_gain, searched, views):
    if picked is None:
        res_gain = course.pending("gain of the search", "_Press the search button above: it measures the answer._")
        _out = res_gain
    else:
        _gain = searched.report.balanced - magnitude.report.balanced
        _why = ("Small weights matter in combination: each one is small, but a set of them can restore a "
                "direction the large ones miss." if _gain > 0.02 else
                "A lower loss on 128 calibration images did not carry over to the test images here: "
                "the search can fit its calibration set.")
        _r = course.check(q_gain.value, _gain, tolerance=0.1, fmt="+.2f", what="gain of the search", explain=f"""
        Magnitude alone: {magnitude.report.balanced:.3f}; with searched small weights:
        {searched.report.balanced:.3f} (dense {lab.dense_report.balanced:.3f}). The search lowered the
        calibration loss from {picked.magnitude_loss:.3f} to {picked.loss:.3f}. {_why} The histogram
        shows where the rescued weights (green) sit: just below the threshold and far into the
        small ones.""")
        res_gain = _r
        _layer = max(picked.masks, key=lambda n: int(picked.rescued[n].sum()))
        _out = mo.vstack(_r.reveal(mo.vstack([
            views.weight_histogram(lab.dense.get_parameter(_layer), picked.large[_layer], picked.rescued[_layer],
                                   picked.threshold[_layer], layer=_layer),
            views.fitness_curve(picked.history, magnitude_fitness=-picked.magnitude_loss)])))
    _out
    return (res_gain,)


@app.cell
def _(mo):
    q_after = mo.ui.radio(["the gap stays", "the gap shrinks to about zero", "magnitude overtakes"],
                          label="Now fine-tune both pruned networks (masks fixed) for a few epochs. Then?").form(
        submit_button_label="Commit prediction")
    q_after
    return (q_after,)


@app.cell
def _(mo):
    ft_button = mo.ui.run_button(label="fine-tune both, 4 epochs each (about 30 s on a laptop CPU)")
    ft_button
    return (ft_button,)


@app.cell
def _(course, ft_button, lab, magnitude, mo, q_after, searched, smoke):
    if searched is None or not (ft_button.value or smoke):
        res_after = course.pending("what fine-tuning does to the gap",
                                   "_Press the search button, then **fine-tune both**: they measure the answer._")
        _out = res_after
    else:
        _epochs = 1 if smoke else 4
        _m = lab.finetune(magnitude, epochs=_epochs, progress=False).report.balanced
        _s = lab.finetune(searched, epochs=_epochs, progress=False).report.balanced
        _gap = _s - _m
        _answer = ("the gap stays" if _gap > 0.05 else "magnitude overtakes" if _gap < -0.05
                   else "the gap shrinks to about zero")
        _r = course.check_choice(q_after.value, _answer,
                                 options=["the gap stays", "the gap shrinks to about zero", "magnitude overtakes"],
                                 what="what fine-tuning does to the gap",
                                 measured=f"magnitude {_m:.3f} · searched {_s:.3f} · gap {_gap:+.3f} after {_epochs} epochs",
                                 explain="""
        Fine-tuning lets the kept weights move, and that repairs most of what the choice of weights
        broke: the method's study (5 seeds) found the one-shot gain of +34 points at 80 % sparsity
        gone after fine-tuning (−0.07 points). Searched small weights help most where fine-tuning is
        not an option: one-shot pruning, or very little data.""")
        res_after = _r
        _out = mo.vstack(_r.reveal())
    _out
    return (res_after,)


@app.cell
def _(course, ex_apoz, res_after, res_apoz, res_crit, res_gain):
    board = course.scoreboard({"Q1 mean APoZ": res_apoz, "Q2 best filter criterion": res_crit,
                               "Q3 one-shot gain of the search": res_gain, "Q4 the gap after fine-tuning": res_after},
                              {"Exercise apoz": ex_apoz})
    board
    return (board,)


@app.cell(hide_code=True)
def _(board, mo):
    mo.stop(not board.all_committed, mo.md("_The summary appears once every question is committed._"))
    mo.md(r"""
    ## What to remember

    - About half of the outputs after a ReLU are zero; APoZ separates filters by their departure
      from that.
    - Data-driven filter criteria are not better in general: on the task a network was trained
      for, its weights already say a lot. Compare against weights **and** random, globally and
      per layer.
    - A search over small weights beats pure magnitude one-shot, and fine-tuning largely closes
      that gap. Ask which regime you are in before paying for a search.

    The full experiments: `notebooks/studies/transfer.py` and `notebooks/studies/optimized.py`.
    """)
    return


if __name__ == "__main__":
    app.run()
