# /// script
# requires-python = ">=3.10"
# dependencies = ["labkit[lab]", "marimo>=0.23"]
#
# [tool.uv.sources]
# labkit = { path = "../..", editable = true }
# ///
"""Course 05: how far a channel's removal travels (domino influence), its Weibull fit, and removing whole blocks.

Open:  .venv/bin/marimo edit notebooks/course/05_domino_influence.py
Smoke: .venv/bin/marimo export html notebooks/course/05_domino_influence.py -o /tmp/x.html --no-sandbox -- --smoke
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(
    width="medium",
    app_title="labkit course · 05 domino influence",
)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 05 · Domino influence and removing whole blocks *(research module)*

    *A research method of this lab, past the MIT lab: open questions whose answers depend on the
    model. Time: about 25 s of CPU to load (26 s measured on the 2-core test machine); the block search of section 3
    and the fine-tune run when you press their buttons. Answers appear after you commit; one
    exercise asks you to write the Weibull fit (in `marimo edit`); the scoreboard at the end
    counts questions and exercises.*

    The criteria so far judge a filter by what it *is* (its weights) or what it *does* in its own
    layer (its activations). DOMINOS (method 5 of this lab) asks what happens **downstream**:
    zero one channel, run the rest of the network, and measure at every later depth $d$ how much
    the activations changed, relative to their size:

    $$\Delta_d(i) = \mathbb{E}_x\,\frac{\lVert A_{l+d}(x;\, i \text{ removed}) - A_{l+d}(x)\rVert}{\lVert A_{l+d}(x)\rVert}$$

    The ratio $S(t) = \Delta_{t+1} / \Delta_1$ is the channel's **survival curve**: how much of its
    first effect is still there $t$ depths later. A channel whose effect dies out quickly has
    little *domino influence* and is a candidate for pruning.
    """)
    return


@app.cell
def _():
    import marimo as mo
    import numpy as np
    import torch

    import labkit as lk
    from labkit import course, views
    from labkit.analysis.influence import influence_table
    from labkit.criteria.influence import influence_curves
    from labkit.pruning.blocks import select_blocks, slim

    return (
        course,
        influence_curves,
        influence_table,
        lk,
        mo,
        np,
        select_blocks,
        slim,
        torch,
        views,
    )


@app.cell
def _(mo):
    from labkit.runtime import smoke_mode

    smoke = smoke_mode(mo.cli_args())  # `-- --smoke` or LABKIT_SMOKE=1: tiny CI run on one thread
    return (smoke,)


@app.cell
def _(influence_curves, influence_table, lk, mo, smoke):
    with mo.status.spinner("loading ResNet-20 and digits-LT, measuring every channel's influence ..."):
        lab = lk.Lab("resnet20", "digits-lt", preview=100 if smoke else None)
        curves = influence_curves(lab.dense, lab.data.val, lab.conv_layers, max_items=16 if smoke else 32)
        table = influence_table(curves).assign(stage=lambda t: t["layer"].str.split(".").str[0])
    mo.md(f"**{lab.model_name}** on **{lab.data.name}** · dense balanced accuracy "
          f"**{lab.dense_report.balanced:.3f}** · influence curves of {len(table)} channels in "
          f"{len(curves.layers)} conv layers, measured in **{curves.seconds:.1f} s** on {curves.n_items} "
          f"validation images (each channel zeroed in turn, the rest of the network re-run)")
    return curves, lab, table


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 1 · Does a removed channel's effect die out?

    Take the very first block, `layer1.0.conv1`. Zero one of its channels. The logits are 17
    activation sites later; on the way, every block adds its input back (the residual
    connection) and every ReLU clips.
    """)
    return


@app.cell
def _(mo):
    q_survive = mo.ui.slider(0.0, 1.5, step=0.05, value=0.3, show_value=True, label=(
        "Median over its channels: what fraction S of the first effect is still there at the **logits**?")).form(
        submit_button_label="Commit prediction")
    q_survive
    return (q_survive,)


@app.cell
def _(course, curves, mo, q_survive, views):
    _layer = "layer1.0.conv1.weight"
    _S = curves.survival(_layer)
    _r = course.check(q_survive.value, float(_S[:, -1].median()), tolerance=0.15, fmt=".2f",
                      what="median survival at the logits", explain=r"""
    Much more than most people guess. The identity shortcuts carry the change forward unchanged:
    a block adds $F(x)$ to $x$, so a dent in $x$ survives every block that does not repair it.
    Some channels even **grow** ($S > 1$): later layers amplify the change. This is why a
    channel's local size (its weights, its activation) can mislead: in a ResNet the early
    channels speak to every later layer.""")
    res_survive = _r
    _share_above = float((_S[:, 1:] >= 1).float().mean())
    _fig = views.decay_curves(_S, *weibull_params(_S), layer=_layer, channels=list(range(0, 16, 2)))
    _ax = _fig.axes[0]
    _ax.axhspan(1.0, max(1.05, float(_S.max()) * 1.05), color="#C44E52", alpha=0.08, lw=0)
    _ax.axhline(1.0, color="#C44E52", lw=0.8, ls=":")
    _ax.text(0.01, 0.01, "red band, S ≥ 1: the effect grew; left out of the fit", transform=_ax.transAxes,
             ha="left", va="bottom", fontsize=8, color="#C44E52")
    mo.vstack(_r.reveal(_fig, mo.md(f"""
    **How the lines treat S ≥ 1.** A Weibull curve never exceeds 1 and its fit works on
    $\ln(-\ln S)$, which does not exist for $S \ge 1$. So the points where the effect **grew**
    ({_share_above:.0%} of this layer's points after $t = 0$, in the red band) are left out of the
    fit, and the lines run below them: the fit describes only the decaying part. When a
    channel's effect never decays, the fit falls back to a rule instead (section 2).""")))
    return (res_survive,)


@app.function
def weibull_params(S):
    """(k, λ) of the Weibull fit of every row of S (see section 2)."""
    from labkit.criteria.influence import fit_weibull

    f = fit_weibull(S)
    return f.k, f.lam


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 2 · A Weibull curve for every channel

    DOMINOS smooths each survival curve with a **Weibull** survival function,
    $S(t) = \exp(-(t/\lambda)^k)$: $\lambda$ is the depth by which most of the effect is gone,
    $k$ its shape ($k < 1$: a quick drop then a long tail; $k > 1$: it holds, then collapses).
    Taking logs twice makes it a line, $\ln(-\ln S) = k \ln t - k \ln \lambda$, so a
    least-squares line gives both (`labkit.criteria.influence.fit_weibull`, checked against scipy).
    The channel's **domino score** is its first effect times the area under the fitted curve,
    $D_i = \Delta_1(i) \sum_t S_{fit}(t)$: big, and long-lived.
    """)
    return


@app.cell
def _(mo):
    STAGES = ["layer1", "layer2", "layer3"]
    q_stage = mo.ui.radio(STAGES, label="Which stage's channels have the **largest** median domino score D?").form(
        submit_button_label="Commit prediction")
    q_stage
    return STAGES, q_stage


@app.cell
def _(STAGES, course, mo, q_stage, table, views):
    _by = table.groupby("stage")[["delta1", "D"]].median().reindex(STAGES)
    _fitted = table[table["kind"] == "fit"].groupby("stage")[["k", "lam", "r2"]].median().reindex(STAGES)
    _by = _by.join(_fitted).assign(
        fitted=table.assign(f=table["kind"] == "fit").groupby("stage")["f"].sum().reindex(STAGES).astype(int),
        channels=table.groupby("stage").size().reindex(STAGES))
    _best = str(_by["D"].idxmax())
    _r = course.check_choice(q_stage.value, _best, options=STAGES, what="the stage with the largest median D",
                             measured=" · ".join(f"{s}: **{v:.3f}**" for s, v in _by["D"].items()), explain="""
    Early channels win twice: their first effect Δ₁ is larger (fewer channels share the work)
    and it has the whole network left to travel, so the sum over depths is long. The last
    stage's channels reach the logits after four sites. A global ranking by D therefore cuts the
    **late** stages first. A global magnitude ranking also cuts the wide late layers first
    (notebook 01), for another reason: their weights are small. The two agree on *where*, not
    on *which* channels.

    The table gives medians per stage: Δ₁ and D over all channels; $k$, $\lambda$ and R² only
    over the channels whose Weibull line was fitted (`fitted` of `channels`), because the
    fallback rules set $k = 1$ or $\lambda = \lambda_{max}$ without fitting anything.""")
    res_stage = _r
    mo.vstack(_r.reveal(views.weibull_scatter(table),
                        mo.ui.table(course.tidy(_by.reset_index()), selection=None, pagination=False)))
    return (res_stage,)


@app.cell
def _(mo):
    q_r2 = mo.ui.slider(0.0, 1.0, step=0.05, value=0.5, show_value=True, label=(
        "Of the channels with at least 3 usable points, what share does the Weibull line fit with R² ≥ 0.9?")).form(
        submit_button_label="Commit prediction")
    q_r2
    return (q_r2,)


@app.cell
def _(course, mo, np, q_r2, table):
    _r2 = table["r2"].dropna().to_numpy()
    _kinds = table["kind"].value_counts()
    _r = course.check(q_r2.value, float(np.mean(_r2 >= 0.9)), tolerance=0.1, fmt=".2f",
                      what="share of fits with R² ≥ 0.9", explain=f"""
    Of {len(table)} channels, {int(_kinds.get('fit', 0))} get a fitted line (the scatter above);
    {len(_r2)} of those have three or more points, where R² means something (a line through two
    points always fits). The other {len(table) - int(_kinds.get('fit', 0))} fall back to the rules of
    docs/methods.md §5.2 ({', '.join(f'{k} {v}' for k, v in _kinds.items() if k != 'fit')}). A Weibull curve is a
    model of a *monotone* decay; curves that dip and rise again through the residual adds do
    not follow it, which is why the method's study counts this share as a check on the model
    (its full run, on freshly trained networks and noisy digits, found 35 %, far from the 80 %
    its rule asks for).""")
    res_r2 = _r
    mo.vstack(_r.reveal())
    return (res_r2,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercise · Write the Weibull fit

    Write `weibull_fit(S)` below (in `marimo edit`): `S` is one channel's survival curve,
    `S[t]` for $t = 0, 1, \dots$ (with `S[0] = 1`). Fit the line
    $\ln(-\ln S_t) = k \ln t - k \ln \lambda$ by least squares over the points with $t \ge 1$
    and $0 < S_t < 1$ (the others have no place on the Weibull plot: leave them out), and
    return `(k, lam)` as two floats.
    """)
    return


@app.cell
def _(torch):
    def weibull_fit(S: torch.Tensor) -> tuple[float, float]:
        """Shape k and scale lam of S(t) = exp(-(t/lam)**k), by a line on the Weibull plot."""
        # YOUR CODE BELOW
        raise NotImplementedError("write weibull_fit")
        # YOUR CODE ABOVE
    return (weibull_fit,)


@app.cell
def _(course, weibull_fit):
    ex_weibull = course.grade(weibull_fit, "weibull_fit")
    ex_weibull
    return (ex_weibull,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 3 · From channels to blocks

    Removing a residual block's *internal* channels (`conv1`) is easy; its *output* channels
    (`conv2`) are tied to every other block of the stage through the additions. DOMINOS ranks
    all channels globally until the MACs target is met, and when most of a block's output
    channels fall below the cut (a share ≥ τ), it removes the **whole block**: the stage then
    skips it, $x \mapsto \mathrm{relu}(x)$. Set the MACs target:
    """)
    return


@app.cell
def _(mo):
    target = mo.ui.slider(0.2, 0.7, step=0.1, value=0.4, show_value=True, label="MACs reduction", debounce=True)
    q_blocks = mo.ui.number(0, 9, step=1, value=0, label="How many of the 9 blocks will be removed?").form(
        submit_button_label="Commit prediction")
    blocks_button = mo.ui.run_button(label="score every channel with DOMINOS (about 30 s on a laptop CPU)")
    mo.vstack([target, q_blocks, blocks_button])
    return blocks_button, q_blocks, target


@app.cell
def _(blocks_button, lab, lk, mo, smoke):
    dominos_scores = None
    if blocks_button.value or smoke:
        with mo.status.spinner("DOMINOS scores of every channel ..."):
            dominos_scores = lk.score(lab.dense, "dominos", data=lab.data.val, granularity="filter")
    return (dominos_scores,)


@app.cell
def _(dominos_scores, lab, select_blocks, target):
    plan = None if dominos_scores is None else select_blocks(lab.dense, dominos_scores, target.value,
                                                             input_shape=lab.input_shape)
    return (plan,)


@app.cell
def _(course, mo, plan, q_blocks, target, views):
    if plan is None:
        res_blocks = course.pending(f"blocks removed at −{target.value:.0%} MACs",
                                    "_Press the scoring button above: the block plan is computed from the scores._")
        _out = res_blocks
    else:
        _r = course.check(q_blocks.value, len(plan.removed_blocks), tolerance=0, fmt="d",
                          what=f"blocks removed at −{target.value:.0%} MACs", explain=f"""
        Removed: {', '.join(plan.removed_blocks) or 'none'} (MACs −{plan.reduction:.1%}). The late
        blocks go first, as the domino scores predicted. Only blocks with an identity shortcut can
        go: the first blocks of `layer2` and `layer3` change the width and the resolution, so there
        is nothing to fall back on without them.""")
        res_blocks = _r
        _out = mo.vstack(_r.reveal(views.block_diagram(plan.kept(), title=f"Channels kept per layer at −{target.value:.0%} MACs")))
    _out
    return (res_blocks,)


@app.cell
def _(lab, mo):
    q_oneshot = mo.ui.slider(0.0, 1.0, step=0.05, value=0.6, show_value=True, label=(
        "Balanced test accuracy of the slimmed network **before** any fine-tuning? "
        f"(dense: {lab.dense_report.balanced:.2f})")).form(
        submit_button_label="Commit prediction")
    q_oneshot
    return (q_oneshot,)


@app.cell
def _(lab, plan, slim):
    small = None if plan is None else slim(lab.dense, plan)
    return (small,)


@app.cell
def _(course, lab, lk, mo, q_oneshot, small):
    if small is None:
        res_oneshot = course.pending("one-shot balanced accuracy", "_Press the scoring button of section 3 first._")
        _out = res_oneshot
    else:
        _before = lk.evaluate(small, lab.data.test, n_boot=0).balanced
        _r = course.check(q_oneshot.value, _before, tolerance=0.1, fmt=".2f", what="one-shot balanced accuracy",
                          explain=f"""
        Chance is 0.10 and the dense network {lab.dense_report.balanced:.2f}: the cut lost
        {lab.dense_report.balanced - _before:.2f}. Removing whole blocks and a share of every remaining block's channels
        at once moves every later activation: BatchNorm's statistics no longer match and the head
        sees different features. Structured pruning is a two-step method: prune, then **fine-tune**.
        Press the button below to fine-tune the small network itself (no masks: it is physically
        smaller).""")
        res_oneshot = _r
        _out = mo.vstack(_r.reveal(mo.md(f"parameters {lk.cost(small, lab.input_shape, latency=False)['params']:,} "
                                  f"(dense {lab.dense_cost['params']:,})")))
    _out
    return (res_oneshot,)


@app.cell
def _(mo, smoke):
    ft_epochs = 1 if smoke else 20
    ft_button = mo.ui.run_button(label=f"fine-tune the slimmed network for {ft_epochs} epochs (about a minute)")
    ft_button
    return ft_button, ft_epochs


@app.cell
def _(ft_button, ft_epochs, lab, lk, mo, res_oneshot, small, smoke):
    mo.stop(small is None or not res_oneshot.answered or not (ft_button.value or smoke),
            mo.md("_Commit the question above, then press the button (after the scoring button of section 3): "
                  "about a minute on a laptop CPU._"))
    _tuned = lk.finetune(small, lab.data.train, lk.FitConfig(epochs=ft_epochs, lr=1e-3, seed=0, progress=False,
                                                             class_counts=lab.data.class_counts))
    _rep = lk.evaluate(_tuned, lab.data.test, groups=lab.data.groups, n_boot=0)
    mo.md(f"after {ft_epochs} epochs: balanced **{_rep.balanced:.3f}** (dense {lab.dense_report.balanced:.3f}) · "
          + " · ".join(f"{g} {v:.3f}" for g, v in _rep.by_group.items()))
    return


@app.cell
def _(
    course,
    ex_weibull,
    res_blocks,
    res_oneshot,
    res_r2,
    res_stage,
    res_survive,
):
    board = course.scoreboard({"Q1 survival at the logits": res_survive, "Q2 stage with the largest D": res_stage,
                               "Q3 share of good Weibull fits": res_r2, "Q4 blocks removed": res_blocks,
                               "Q5 one-shot accuracy of the slimmed net": res_oneshot},
                              {"Exercise weibull_fit": ex_weibull})
    board
    return (board,)


@app.cell(hide_code=True)
def _(board, mo):
    mo.stop(not board.all_committed, mo.md("_The summary appears once every question is committed._"))
    mo.md(r"""
    ## What to remember

    - In a residual network a removed channel's effect does **not** die out on its own: the
      shortcuts carry it to the logits. Measuring it downstream (domino influence) ranks
      channels differently from their weights.
    - A Weibull survival curve is a two-number summary ($k$, $\lambda$) of that decay; check how
      well it fits (R²) before trusting it.
    - Channel-to-block: when a block's output channels would mostly go, removing the whole block
      keeps the shapes consistent and the network slimmer. Any structured cut needs fine-tuning.

    The method's full experiment, with its baselines, the attention stage and an honest verdict,
    is `notebooks/studies/dominos.py`.
    """)
    return


if __name__ == "__main__":
    app.run()
