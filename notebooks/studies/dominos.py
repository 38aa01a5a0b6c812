# /// script
# requires-python = ">=3.10"
# dependencies = ["labkit[lab]", "marimo>=0.23"]
#
# [tool.uv.sources]
# labkit = { path = "../..", editable = true }
# ///
"""Method 5 study notebook: DOMINOS, attentive channel pruning with Weibull domino influence, docs/methods.md §5.

Run:   marimo edit notebooks/studies/dominos.py    (trains one seed to explore; shows the committed full run)
Smoke: marimo export html notebooks/studies/dominos.py -o /tmp/x.html --no-sandbox -- --smoke
"""
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # Method 5 · DOMINOS: attentive channel pruning

    **Thesis.** 陳庭安 Ting-An Chen (advisors 陳銘憲 Ming-Syan Chen, 楊得年 De-Nian Yang),
    *Dominance in an Overall Sight: Attentive Channel Pruning via Filter Importance Learning*, NTU, 2020
    ([record](https://tdr.lib.ntu.edu.tw/handle/123456789/8475)). Two stages: measure structure
    importance from *feature representativeness* (how unique a feature is) and *domino influence*
    (a filter's layer-by-layer decaying effect on later layers, modelled with a **Weibull** survival
    curve), remove redundant structures with *channel-to-block* pruning, then add *attention* on the
    slimmed network. Claim: large FLOPs and parameter cuts, better than recent work.

    **Read this first.** Only the abstract is public. The formulas for R and D, the selection rule,
    the block rule and the SE attention stage below are **our [inferred] designs** (docs/methods.md
    §5.1–5.5); each is an option here, none is the author's exact method. The verdict at the end
    tests *these* designs on a small CPU task.
    """)
    return


@app.cell
def _(mo, study):
    from labkit.course import studies as committed_ui

    committed, _view = committed_ui.committed_view(
        mo.notebook_dir(), "dominos", study,
        rule="Here the pairs are seeds; accuracies are after fine-tuning at each MACs target.")
    mo.stop(committed is None, _view)
    _view
    return committed, committed_ui


@app.cell
def _(committed, mo):
    _mins = f"about {committed.seconds / 60:.0f} min here" if committed.seconds else "minutes"
    rerun_button = mo.ui.run_button(label=f"rerun the committed study: same command, same threads ({_mins})")
    explore_button = mo.ui.run_button(label="open the interactive sections (they train models: minutes on a laptop CPU)")
    mo.hstack([rerun_button, explore_button], justify="start")
    return explore_button, rerun_button


@app.cell
def _(committed, committed_ui, mo, rerun_button, study):
    mo.stop(not rerun_button.value)
    committed_ui.rerun_view(committed, study, cwd=mo.notebook_dir().parents[1])
    return


@app.cell
def _():
    import marimo as mo

    from labkit.analysis.cost import cost
    from labkit.analysis.influence import influence_table
    from labkit.criteria.influence import survival
    from labkit.models.se import add_se, se_overhead
    from labkit.pruning.blocks import select_blocks, slim
    from labkit.studies import dominos as study
    from labkit.studies import load_or_run
    from labkit.views import dominos as views
    return add_se, cost, influence_table, load_or_run, mo, se_overhead, select_blocks, slim, study, survival, views


@app.cell
def _(mo, study):
    from labkit.runtime import smoke_mode

    smoke = smoke_mode(mo.cli_args())  # `-- --smoke` or LABKIT_SMOKE=1: tiny CI run on one thread
    settings = study.DominosSettings.smoke() if smoke else study.DominosSettings()
    shape = (1, settings.image_size, settings.image_size)
    mo.md(f"**Mode:** {'smoke (tiny, for CI: numbers are noise)' if smoke else 'full §5.7 settings'} · "
          f"ResNet-20, digits {settings.image_size}×{settings.image_size}, noise σ = {settings.noise}, "
          f"{settings.train_fraction:.0%} of the training pool · {settings.epochs} dense epochs")
    return settings, shape, smoke


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 1 · Two measurements per channel (§5.1–5.2)

    **Representativeness.** Flatten channel $i$'s post-BN-ReLU map over a calibration batch to $f_i$,
    centre and normalise it (Pearson, since raw cosines of non-negative maps are biased high):
    $R_i = 1 - \max_{j\ne i}|\rho_{ij}|$. A copy of another channel has $R = 0$; so has a dead one.

    **Domino influence.** Zero channel $i$ where a filter mask would, re-run the rest of the network
    and measure the relative change at each later layer, $\Delta_d(i)$, down to the logits. The
    survival $S_i(t)=\Delta_{t+1}/\Delta_1$ is fitted with $S(t)=e^{-(t/\lambda)^k}$ on the Weibull
    plot ($\ln(-\ln S)$ against $\ln t$ is a line of slope $k$), and
    $D_i = \Delta_1 \sum_{t<T} S_{fit}(t)$ is the channel's smoothed total downstream influence.
    All channels of a layer are ablated in batched passes that re-run only the blocks after it.

    The next cell trains the dense network of the first seed and measures both (about two minutes on
    a laptop CPU in full mode).
    """)
    return


@app.cell
def _(committed, committed_ui, explore_button, mo, settings, smoke, study):
    mo.stop(not (smoke or explore_button.value),
            mo.md("_Press **open the interactive sections** at the top to run this part._"))
    committed_ui.match_threads(committed)  # the committed run's --threads, so the numbers match
    data, art, dense_row = study.prepare_seed(settings, settings.seeds[0])
    mo.md(f"Dense ResNet-20, seed {settings.seeds[0]}: test accuracy **{dense_row['acc_ft']:.3f}**, "
          f"{dense_row['macs']:,} MACs · exact influence curves of {dense_row['weibull_fits']} channels "
          f"in **{dense_row['influence_seconds']:.1f} s** ({art.curves.n_items} items) · "
          f"Weibull R² ≥ 0.9 in {dense_row['weibull_r2_ge_09']} of the {dense_row['weibull_r2_defined']} fits "
          f"with ≥ 3 usable depths")
    return (art,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 2 · Explore the options (§5.6)

    α weighs the two measurements in $I = R^\alpha \hat D^{1-\alpha}$ ($\hat D = D/\max_{layer} D$);
    the fit horizon uses only the first $D$ depths for the Weibull fit and extrapolates it to the
    logits. Channels are ranked globally (L2-normalised per layer, ≥ 20% kept per layer) until the
    MACs target is met. With the **channel-to-block** rule, a block whose residual (`conv2`) channels
    fall below the cut in a fraction $q_b \ge \tau_{blk}$ is removed whole (only blocks with an
    identity shortcut); without it, only the internal (`conv1`) channels are cut.
    """)
    return


@app.cell
def _(art, mo):
    layers = list(art.curves.deltas)
    deepest = max(art.curves.depths.values())
    controls = mo.ui.dictionary({
        "layer": mo.ui.dropdown(layers, value=layers[len(layers) // 3], label="layer"),
        "alpha": mo.ui.slider(0.0, 1.0, step=0.1, value=0.5, label="α (1 = R only, 0 = D only)", debounce=True),
        "horizon": mo.ui.slider(2, max(deepest, 2), step=1, value=max(deepest, 2), label="fit horizon D",
                                debounce=True),
        "target": mo.ui.slider(0.1, 0.75, step=0.05, value=0.6, label="MACs reduction", debounce=True),
        "tau": mo.ui.slider(0.1, 1.0, step=0.05, value=0.5, label="τ_blk", debounce=True),
        "blocks": mo.ui.switch(value=True, label="channel-to-block rule"),
        "se": mo.ui.switch(value=True, label="SE attention stage"),
    })
    controls.hstack(wrap=True, justify='start', gap=1.5)
    return (controls,)


@app.cell
def _(art, controls, study):
    c = controls.value
    rescored, fits = study.rescore(art, alpha=c["alpha"], horizon=c["horizon"])
    return c, fits, rescored


@app.cell
def _(art, c, fits, influence_table, mo, survival, views):
    _layer = c["layer"]
    mo.hstack([
        views.decay_curves(survival(art.curves.deltas[_layer][:, : c["horizon"]]), fits[_layer].k,
                           fits[_layer].lam, layer=_layer),
        views.weibull_scatter(influence_table(art.curves, fits)),
    ], widths="equal")
    return


@app.cell
def _(art, c, rescored, select_blocks, settings, shape, slim):
    try:
        plan = select_blocks(art.dense, rescored["I"], c["target"], input_shape=shape, floor=settings.floor,
                             tau_blk=c["tau"], structure="blocks" if c["blocks"] else "internal")
        small, problem = slim(art.dense, plan), ""
    except ValueError as err:
        plan, small, problem = None, None, str(err)
    return plan, problem, small


@app.cell
def _(add_se, c, cost, mo, plan, problem, se_overhead, shape, small):
    if plan is None:
        _out = mo.callout(mo.md(problem), kind="warn")
    else:
        _cost = cost(small, shape, latency=False)
        _se = se_overhead(add_se(small)) if c["se"] else {"params": 0, "macs": 0}
        _out = mo.md(f"MACs {plan.macs_dense:,} → **{_cost['MACs']:,}** (−{plan.reduction:.1%}) · "
                     f"parameters {_cost['params']:,} · removed blocks: "
                     f"**{', '.join(plan.removed_blocks) or 'none'}** · SE gates add {_se['params']:,} "
                     f"parameters and {_se['macs']:,} MACs")
    _out
    return


@app.cell
def _(c, mo, plan, rescored, study, views):
    mo.stop(plan is None)
    _frame = study.importance_frame(rescored, plan)
    mo.hstack([
        views.importance_scatter(_frame[_frame["layer"] == c["layer"]], alpha=c["alpha"],
                                 cut=plan.layer_cut.get(c["layer"]), layer=c["layer"]),
        views.block_diagram(plan.kept()),
    ], widths=[2, 3])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 3 · The experiment (§5.7)

    Per seed: the dense ResNet-20 (SGD 0.1, cosine, 30 epochs), then at MACs −40 %, −60 %, −70 % and
    −75 % eight variants, each slimmed (removed blocks replaced, channels compacted with
    Torch-Pruning) and fine-tuned 15 epochs (SGD 0.01): **L1-norm**, **random**, **FPGM**,
    **first-order Taylor**, **R only**, **D only** (all with the same selection and block rule),
    **R·D without channel-to-block**, and **R·D + channel-to-block** (the method). The method's fine-tuned networks then get SE gates and 10 more epochs, against a
    control with the same 10 epochs and no gates. Same seed = same split, noise, init and batch
    order: every comparison is **paired**.

    In smoke mode the study runs here; otherwise the committed full run
    (`notebooks/studies/results/dominos.csv`; its header records the command and the wall time of
    that run on Ray with 2 CPUs) is shown and the button reruns it here, in this one process.
    """)
    return


@app.cell
def _(mo, smoke):
    rerun = mo.ui.run_button(label="rerun the full experiment", disabled=smoke)
    rerun
    return (rerun,)


@app.cell
def _(load_or_run, mo, rerun, settings, smoke, study):
    _got = load_or_run(study, settings, mo.notebook_dir() / "results" / "dominos.csv", rerun=smoke or rerun.value)
    mo.stop(_got is None, mo.md("No committed full run yet: press the button, or run "
                                "`python -m labkit.studies.dominos --out notebooks/studies/results/dominos.csv`."))
    results = _got.table
    mo.md(f"**Results from** {_got.source} · {results['seed'].nunique()} seed(s), {len(results)} rows")
    return (results,)


@app.cell
def _(results):
    (results.groupby(["target", "run"], sort=False)
     .agg(acc_pruned=("acc_pruned", "mean"), acc_ft=("acc_ft", "mean"), acc_ft_std=("acc_ft", "std"),
          macs=("macs", "mean"), params=("params", "mean"), blocks_removed=("n_removed", "mean"),
          acc_se=("acc_se", "mean"), acc_extra=("acc_extra", "mean")).round(4).reset_index())
    return


@app.cell
def _(c, results, study, views):
    _summary = study.stage_summary(results)
    views.stage_bars(_summary if c["se"] else _summary[_summary["stage"] != "+ SE"])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 4 · Verdict (§5.7 pass rules, as measured)

    *R·D + c2b beats L1 / FPGM / Taylor* and *SE beats +0.2 pt* are judged on per-seed paired
    differences of test accuracy by the one shared rule: strictly better in every seed, or the paired
    95 % interval above the margin (a tie does not beat; an all-zero difference fails). The proxy's
    points per test item are in the headroom check. *Blocks removed* (a property of the block rule)
    and the MACs met are checks, in their own table. *Weibull fits* counts the fits with
    an R² (≥ 3 usable depths on the Weibull plot; a line through two points always fits). INFO rows
    report every ablation, whether or not it helps. In smoke mode the accuracy rows are noise.
    """)
    return


@app.cell
def _(committed_ui, results, study):
    committed_ui.verdict_board(study.verdict(results), title="Verdict of this run")
    return


if __name__ == "__main__":
    app.run()
