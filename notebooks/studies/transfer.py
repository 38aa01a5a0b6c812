# /// script
# requires-python = ">=3.10"
# dependencies = ["labkit[lab]", "marimo>=0.23"]
#
# [tool.uv.sources]
# labkit = { path = "../..", editable = true }
# ///
"""Method 4 study notebook: filter pruning for transfer learning on a small dataset, docs/methods.md §4.

Run:   marimo edit notebooks/studies/transfer.py    (shows the committed full run; a button reruns it)
Smoke: marimo export html notebooks/studies/transfer.py -o /tmp/x.html --no-sandbox -- --smoke
"""
import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium")


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # Method 4 · Filter pruning for transfer learning on a small dataset

    **Thesis.** 廖經亞 Ching Ya Liao, *Convolution Filter Pruning for Transfer Learning on Small
    Dataset*, NTU CSIE, 2020 ([record](https://tdr.lib.ntu.edu.tw/jspui/handle/123456789/69838)).
    From an ImageNet VGG-16, select the filters *sensitive to the target data*, prune them physically
    and transfer-learn; the best of three rules loses **< 2 % accuracy at pruning ratio 0.4 on
    Flowers-102**. Retraining the pruned structure from random initialisation is compared.

    **Read this first.** Only the abstract and reference list are public. The filter criteria are
    from the cited papers [lit] (Molchanov et al. 2017; Hu et al. 2016). The per-layer L2
    normalisation of the global ranking, the 10 % per-layer floor and the fine-tune recipe are
    **[inferred]** options (docs/methods.md §4.2–4.3), not the author's exact method. The CPU experiment
    is a miniature: a small VGG trained on digits 0–4 is the "ImageNet model", digits 5–9 with
    15 noisy images per class the "Flowers-102".
    """)
    return


@app.cell
def _(mo, study):
    from labkit.course import studies as committed_ui

    committed, _view = committed_ui.committed_view(
        mo.notebook_dir(), "transfer", study,
        rule="Here the pairs are seeds; accuracies are on the target task after fine-tuning the pruned source network.")
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
    import pandas as pd
    import torch

    from labkit import views as lkv
    from labkit.pruning.allocate import normalize_scores
    from labkit.studies import load_or_run
    from labkit.studies import transfer as study
    from labkit.views import transfer as views
    return load_or_run, lkv, mo, normalize_scores, pd, study, torch, views


@app.cell
def _(mo, study, torch):
    smoke = "smoke" in mo.cli_args()
    if smoke:  # CI shares 2 cores with other jobs: one thread avoids oversubscription (10x faster there)
        torch.set_num_threads(1)
    settings = study.TransferSettings.smoke() if smoke else study.TransferSettings()
    mo.md(f"**Mode:** {'smoke (tiny, for CI: numbers are noise)' if smoke else 'full §4.5 settings'} · "
          f"{len(settings.criteria)} criteria × {len(settings.rankings)} rankings × ratios {list(settings.ratios)} "
          f"× arms {list(settings.arms)} × {len(settings.seeds)} seeds × {settings.epochs} epochs")
    return settings, smoke


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 1 · Source model and target set (§4.5)

    `vgg_small` (convs 16,16 | 32,32 | 64,64, no BN, GAP → FC) trained on digits 0–4 at 32×32
    for 20 epochs is shipped in `labkit/models/assets/` (sha256 in the manifest; remake it with
    `python -m labkit.studies.transfer pretrain`). The target: digits 5–9, **15 training images
    per class** (the seed resamples them), every other 5–9 image is the test set.
    """)
    return


@app.cell
def _(committed, committed_ui, explore_button, mo, settings, smoke, study):
    mo.stop(not (smoke or explore_button.value),
            mo.md("_Press **open the interactive sections** at the top to run this part._"))
    committed_ui.match_threads(committed)  # the committed run's --threads, so the numbers match
    source = study.load_source()
    target = study.target_data(settings, settings.seeds[0])
    source_test = study.source_data().test
    dict(source_metrics=source.labkit_meta["metrics"], target_train=len(target.train),
         target_test=len(target.test), prunable_filters=sum(
             source.get_parameter(n).shape[0] for n in study.conv_layers(source, settings.exclude_first)))
    return source, source_test, target


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 2 · Criteria and where they cut (§4.1, §4.2)

    Per filter $k$ of a conv layer, on the **target** images (post-ReLU map $A_k$):
    mean activation $\frac{1}{NHW}\sum A_k$; APoZ score $1-\frac{1}{NHW}\sum \mathbb 1[A_k=0]$;
    minimum weight $\frac{1}{|W_k|}\sum W_k^2$; average weight $\frac{1}{|W_k|}\sum |W_k|$; random.
    Weight criteria cannot see the target data; activation criteria can, which is the thesis's point.

    **Per-layer** removes $\lfloor rC_l\rfloor$ filters in every layer. **Global** ranks all filters
    after a per-layer normalisation (default L2, $\hat\Theta=\Theta/\lVert\Theta_l\rVert_2$) and keeps at
    least $\max(1,\lceil 0.1C_l\rceil)$ per layer. Move the controls: the violins show the
    (normalised, for global) scores and the red cut; the bars compare what every criterion keeps.
    """)
    return


@app.cell
def _(mo, settings):
    controls = mo.ui.dictionary({
        "criterion": mo.ui.dropdown(list(settings.criteria), value=settings.criteria[0], label="criterion"),
        "ranking": mo.ui.radio(["per-layer", "global"], value="global", label="ranking", inline=True),
        "normalize": mo.ui.dropdown(["l2", "minmax", "mean", "none"], value="l2", label="normalisation (global)"),
        "ratio": mo.ui.slider(0.1, 0.8, step=0.1, value=0.4, label="pruning ratio r", debounce=True),
    })
    controls.hstack(wrap=True, justify='start', gap=1.5)
    return (controls,)


@app.cell
def _(settings, source, study, target):
    scores = {c: study.filter_scores(source, c, target.train, exclude_first=settings.exclude_first)
              for c in settings.criteria}
    return (scores,)


@app.cell
def _(controls, lkv, normalize_scores, scores, study, views):
    _c = controls.value
    _masks = study.select_filters(scores[_c["criterion"]], _c["ratio"], _c["ranking"], normalize=_c["normalize"])
    _shown = scores[_c["criterion"]]
    if _c["ranking"] == "global":
        _shown = {n: normalize_scores(t, _c["normalize"]) for n, t in _shown.items()}
    lkv.score_distributions(_shown, views.cut_thresholds(_shown, _masks),
                            title=f"{_c['criterion']} scores per layer ({_c['ranking']}, r = {_c['ratio']:.1f})")
    return


@app.cell
def _(controls, pd, scores, study, views):
    _c = controls.value
    kept_table = pd.concat([study.kept_filters(study.select_filters(scores[c], _c["ratio"], rk, normalize=_c["normalize"]),
                                               criterion=c, ranking=rk)
                            for rk in ("per-layer", "global") for c in scores], ignore_index=True)
    views.kept_filters_bars(kept_table)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 3 · Sensitive filters (§4.4 view 4)

    Mean activation of every filter of one layer, per class: source images (digits 0–4, top) and
    target images (digits 5–9, bottom). Each column is scaled to its own maximum, and filters are
    sorted by the target class that excites them most. The red marks are the filters the chosen
    criterion prunes at the chosen ratio.
    """)
    return


@app.cell
def _(mo, scores):
    layer_pick = mo.ui.dropdown(list(next(iter(scores.values()))), value=list(next(iter(scores.values())))[-1],
                                label="layer")
    layer_pick
    return (layer_pick,)


@app.cell
def _(controls, layer_pick, scores, source, source_test, study, target, views):
    _c = controls.value
    _masks = study.select_filters(scores[_c["criterion"]], _c["ratio"], _c["ranking"], normalize=_c["normalize"])
    _layer = layer_pick.value
    views.class_activation_heatmap(study.class_activations(source, _layer, source_test, ["0", "1", "2", "3", "4"]),
                                   study.class_activations(source, _layer, target.train, target.classes),
                                   kept=_masks[_layer], layer=_layer)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 4 · The experiment (§4.3, §4.5)

    The source is `vgg_small` trained on clean digits 0–4; the target is digits 5–9 with Gaussian
    pixel noise (σ = 0.5) on every split, 15 training images per class and 10 validation images per
    class (the best data-driven criterion is chosen on them), the rest as test. For every seed,
    criterion, ranking and ratio: score on the 75 target images, prune, compact
    (Torch-Pruning slices each conv, the next conv's inputs and the FC's columns), put on a fresh
    5-way head and fine-tune everything (Adam 1e-3) — **inherit**. The "rethinking" arms train the
    *same pruned architecture* from a Kaiming initialisation: **Scratch-E** for the same epochs,
    **Scratch-B** for epochs × min(3, dense MACs / pruned MACs). Same seed = same 15-shot sample,
    head init and batch order, so everything is compared **paired by seed**.

    In smoke mode the study runs here in seconds; otherwise the committed full run is shown
    (`notebooks/studies/results/transfer.csv`; its header records the command and the wall time of
    that run on Ray with 2 CPUs), and the button reruns it here, in this one process.
    """)
    return


@app.cell
def _(mo, smoke):
    rerun = mo.ui.run_button(label="rerun the full experiment", disabled=smoke)
    rerun
    return (rerun,)


@app.cell
def _(load_or_run, mo, rerun, settings, smoke, study):
    _got = load_or_run(study, settings, mo.notebook_dir() / "results" / "transfer.csv", rerun=smoke or rerun.value)
    mo.stop(_got is None, mo.md("No committed full run yet: press the button, or run `python -m "
                                "labkit.studies.transfer run --out notebooks/studies/results/transfer.csv`."))
    results = _got.table
    mo.md(f"**Results from** {_got.source} · {len(results)} rows")
    return (results,)


@app.cell
def _(results):
    (results.groupby(["ratio", "criterion", "ranking", "arm"], sort=False)
     .agg(accuracy=("accuracy", "mean"), std=("accuracy", "std"), params=("params", "mean"),
          MACs=("MACs", "mean"), filters_kept=("filters_kept", "mean"), epochs=("epochs", "mean"))
     .round(4).reset_index())
    return


@app.cell
def _(results, views):
    views.transfer_curves(results)
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 5 · Verdict (§4.5 pass rules, as measured)

    Paired over seeds, by the one shared rule: a claim passes when it beats its margin strictly in
    every seed or with the paired 95 % interval above it (a tie does not beat; an all-zero difference
    fails); fewer than 3 seeds cannot pass. "Best data-driven" picks the better of mean activation /
    APoZ (and its ranking) at r = 0.4 **on validation accuracy**, then compares its test accuracy per
    seed with unpruned transfer (margin −2 pt). The source transferring at all and the proxy's
    headroom are checks.
    INFO rows are reported without a pass rule. The thesis's own claim (VGG-16 on Flowers-102) needs
    the online path in the README and a machine with the data.
    """)
    return


@app.cell
def _(committed_ui, results, study):
    committed_ui.verdict_board(study.verdict(results), title="Verdict of this run")
    return


if __name__ == "__main__":
    app.run()
