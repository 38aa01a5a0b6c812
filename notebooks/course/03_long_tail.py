# /// script
# requires-python = ">=3.10"
# dependencies = ["labkit[lab]", "marimo>=0.23"]
#
# [tool.uv.sources]
# labkit = { path = "../..", editable = true }
# ///
"""Course 03: pruning on long-tailed data: per-class accuracy, many / medium / few, intervals, the classifier.

Open:  .venv/bin/marimo edit notebooks/course/03_long_tail.py
Smoke: .venv/bin/marimo export html notebooks/course/03_long_tail.py -o /tmp/x.html --no-sandbox -- --smoke
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="labkit course · 03 the long tail")


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 03 · Who pays for pruning? The long tail

    Real training sets are **long-tailed**: a few classes have many images, many classes have few.
    Our ResNet-20 was trained on digits-LT, where the most frequent digit has about 20 times the
    training images of the rarest one; the test split is balanced. An overall accuracy hides what
    happens to the rare classes, and Hooker et al. (2019, *What do compressed deep neural networks
    forget?*) found that pruning costs the under-represented classes most.

    Here you measure that on our model: per class, per group (**many / medium / few**: the three
    most frequent, the four middle and the three rarest digits), with the uncertainty a small
    test set carries, and you see why labkit keeps the classifier dense. Figures that would give
    an answer away appear after you commit; one exercise asks you to write the Wilson interval
    (in `marimo edit`), and the scoreboard at the end counts questions and exercises.

    *Time: about 25 s of CPU to load (26 s measured on the 2-core test machine).*
    """)
    return


@app.cell
def _():
    import marimo as mo
    import numpy as np
    import pandas as pd
    from scipy.stats import spearmanr

    import labkit as lk
    from labkit import course, views

    return course, lk, mo, np, pd, spearmanr, views


@app.cell
def _(mo):
    from labkit.runtime import smoke_mode

    smoke = smoke_mode(mo.cli_args())  # `-- --smoke` or LABKIT_SMOKE=1: tiny CI run on one thread
    SPARSITIES = [0.0, 0.5, 0.6] if smoke else [0.0, 0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7]
    AT = 0.5  # the sparsity the questions ask about
    return AT, SPARSITIES, smoke


@app.cell
def _(lk, mo, smoke):
    with mo.status.spinner("loading ResNet-20 and digits-LT ..."):
        lab = lk.Lab("resnet20", "digits-lt", preview=100 if smoke else None)
    dense = lab.dense_report
    mo.md(f"**{lab.model_name}** on **{lab.data.name}** · {len(dense.targets)} test images "
          f"({len(dense.targets) // len(lab.data.classes)} per class) · dense balanced accuracy "
          f"**{dense.balanced:.3f}** · " + " · ".join(f"{g} {v:.3f}" for g, v in dense.by_group.items()))
    return dense, lab


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 1 · The dense model, class by class

    With a few dozen test images per class, a per-class accuracy is a rough estimate. labkit
    gives each one a 95 % **Wilson interval**. After you commit, the figure shows every class,
    sorted from the most to the least frequent in training (grey line, right axis: training
    images), coloured by group, with its interval as whiskers.
    """)
    return


@app.cell
def _(dense, mo):
    _worst = dense.per_class.nsmallest(1, "accuracy").iloc[0]
    q_ci = mo.ui.slider(0.0, 0.8, step=0.02, value=0.1, show_value=True, label=(
        f"Class {_worst['name']} got {int(_worst['correct'])} of its {int(_worst['n_test'])} test images right "
        f"({_worst['accuracy']:.2f}). How **wide** is its 95 % interval (upper − lower)?")).form(
        submit_button_label="Commit prediction")
    q_ci
    return (q_ci,)


@app.cell
def _(course, dense, mo, np, q_ci, views):
    _w = dense.per_class.nsmallest(1, "accuracy").iloc[0]
    _p, _n = float(_w["accuracy"]), int(_w["n_test"])
    _r = course.check(q_ci.value, _w["ci_high"] - _w["ci_low"], tolerance=0.06, fmt=".2f",
                      what=f"width of class {_w['name']}'s interval", explain=rf"""
    The interval is [{_w['ci_low']:.2f}, {_w['ci_high']:.2f}]. A quick estimate is the normal
    approximation $\pm 1.96\sqrt{{p(1-p)/n}}$ = ±{1.96 * np.sqrt(_p * (1 - _p) / _n):.2f} with
    $p = {_p:.2f}$ and $n = {_n}$; the Wilson interval is a little narrower and stays inside [0, 1].
    So two classes whose accuracies differ by less than about {1.96 * np.sqrt(_p * (1 - _p) / _n):.2f} may
    not differ at all, and a pruned model that moves one class by that much may have done nothing.""")
    res_ci = _r
    mo.vstack(_r.reveal(views.per_class_accuracy(dense.per_class, title="Dense model: per-class test accuracy")))
    return (res_ci,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercise · Write the Wilson interval

    Write `wilson_interval(correct, n)` below (in `marimo edit`): the 95 % Wilson score interval
    of the proportion $p = \text{correct}/n$, with $z = 1.96$:

    $$\frac{p + \frac{z^2}{2n} \pm z\sqrt{\frac{p(1-p)}{n} + \frac{z^2}{4n^2}}}{1 + \frac{z^2}{n}}$$

    clipped to [0, 1]. Return `(low, high)` as two floats.
    """)
    return


@app.function
def wilson_interval(correct: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval (low, high) of correct / n."""
    # YOUR CODE BELOW
    raise NotImplementedError("write wilson_interval")
    # YOUR CODE ABOVE


@app.cell
def _(course):
    ex_wilson = course.grade(wilson_interval, "wilson_interval")
    ex_wilson
    return (ex_wilson,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 2 · Prune, and watch each class

    Global magnitude pruning (notebook 01). Predict first; after the two questions a slider
    lets you watch every class as the sparsity grows.
    """)
    return


@app.cell
def _(AT, dense, mo):
    CLASS_OPTIONS = {f"{r['name']} ({r['group']}, {int(r['n_train'])} training images)": str(r["name"])
                     for _, r in dense.per_class.sort_values("n_train", ascending=False).iterrows()}
    q_class = mo.ui.dropdown(CLASS_OPTIONS, label=f"At sparsity {AT}, which class **loses the most** accuracy?"
                             ).form(submit_button_label="Commit prediction")
    q_class
    return CLASS_OPTIONS, q_class


@app.cell
def _(AT, lab):
    at = lab.prune("magnitude", AT, "global")
    return (at,)


@app.cell
def _(AT, CLASS_OPTIONS, at, course, dense, mo, q_class):
    _d = at.report.delta(dense)
    _losers = _d.loc[_d["delta"] == _d["delta"].min()]
    _r = course.check_choice(q_class.value, [str(n) for n in _losers["name"]], options=list(CLASS_OPTIONS.values()),
                             what=f"the class that loses the most at {AT}",
                             measured=" · ".join(f"{r.name}: {r.reference:.2f} → {r.accuracy:.2f}"
                                                 for r in _d.sort_values("delta").head(3).itertuples()),
                             explain=f"""
    The three biggest losers above, from the largest drop. Their training counts:
    {", ".join(f"{r.name} had {r.n_train}" for r in _d.sort_values("delta").head(3).itertuples())}
    (the most frequent class had {int(_d['n_train'].max())}, the rarest {int(_d['n_train'].min())}).
    A rare class was learned from few examples, so its decision region is thin: a small change
    of the features moves its test images into a neighbouring class. Check the intervals
    before reading much into a single class, though.""")
    res_class = _r
    mo.vstack(_r.reveal())
    return (res_class,)


@app.cell
def _(mo):
    GROUPS = ["many", "medium", "few"]
    q_group = mo.ui.radio(GROUPS, label="At the same sparsity, which **group's mean accuracy** drops the most?"
                          ).form(submit_button_label="Commit prediction")
    q_group
    return GROUPS, q_group


@app.cell
def _(SPARSITIES, lab):
    group_curves = lab.sweep(SPARSITIES, "magnitude", "global").query("metric != 'overall'")
    return (group_curves,)


@app.cell
def _(
    AT,
    GROUPS,
    at,
    course,
    dense,
    group_curves,
    lab,
    mo,
    np,
    pd,
    q_group,
    views,
):
    _drop = {g: at.report.by_group[g] - dense.by_group[g] for g in GROUPS}
    _k = len(lab.data.classes)
    _where = pd.DataFrame({"class": lab.data.classes, "training images": lab.data.class_counts,
                           "predicted (dense)": np.bincount(dense.predictions.numpy(), minlength=_k),
                           f"predicted (pruned {AT})": np.bincount(at.report.predictions.numpy(), minlength=_k)})
    _r = course.check_choice(q_group.value, min(_drop, key=_drop.get), options=GROUPS,
                             what=f"the group whose mean drops the most at {AT}",
                             measured=" · ".join(f"{g} {v:+.3f}" for g, v in _drop.items()), explain="""
    A group mean averages its classes, and pruning does not only take accuracy away: it also
    moves the decision boundaries, so some classes **gain** because test images of their
    neighbours now land in them. The table shows where the predictions went (the test split has
    the same number of images per class, so a perfect model predicts every class equally often).
    A group can look fine while its rarest class collapses. Look at classes, not only at groups,
    and at the whole curve below, not at one sparsity.""")
    res_group = _r
    mo.vstack(_r.reveal(mo.ui.table(_where, selection=None, pagination=False),
                        views.accuracy_vs_sparsity(group_curves, baselines=lab.baselines(), current=AT,
                                                   title="Global magnitude pruning: accuracy by group")))
    return (res_group,)


@app.cell
def _(mo, res_class, res_group):
    mo.stop(not (res_class.answered and res_group.answered),
            mo.md("_A slider to watch every class opens once both questions above are committed._"))
    sparsity = mo.ui.slider(0.0, 0.8, step=0.05, value=0.3, debounce=True, show_value=True,
                            label="global magnitude sparsity")
    mo.vstack([mo.md("**Explore.** Which classes start to fall first as the sparsity grows? "
                     "(lower panel: pruned − dense per class)"), sparsity])
    return (sparsity,)


@app.cell
def _(dense, lab, mo, sparsity, views):
    _t = lab.prune("magnitude", sparsity.value, "global")
    mo.hstack([views.per_class_accuracy(_t.report.per_class, dense=dense.per_class),
               views.group_accuracy({"overall": _t.report.overall, **_t.report.by_group},
                                    {"overall": dense.overall, **dense.by_group})], widths=[2, 1])
    return


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 3 · Is the change bigger than the noise?

    Every number above comes from a finite test set. labkit attaches a 95 % **bootstrap
    interval** to each group accuracy (resampling the test images of each class).
    """)
    return


@app.cell
def _(AT, mo):
    NOISE_OPTIONS = ["a real change", "within the noise"]
    q_noise = mo.ui.radio(NOISE_OPTIONS, label=f"The **few** group's accuracy after pruning to {AT} differs from "
                          "the dense one. Is the difference larger than the noise of this test set?").form(
        submit_button_label="Commit prediction")
    q_noise
    return NOISE_OPTIONS, q_noise


@app.cell
def _(NOISE_OPTIONS, at, course, dense, mo, pd, q_noise):
    _lo, _hi = at.report.ci["few"]
    _inside = _lo <= dense.by_group["few"] <= _hi
    _table = pd.DataFrame([{"model": m, **{g: f"{r.by_group[g]:.3f} [{r.ci[g][0]:.3f}, {r.ci[g][1]:.3f}]"
                                           for g in r.by_group}} for m, r in (("dense", dense), ("pruned", at.report))])
    _r = course.check_choice(q_noise.value, NOISE_OPTIONS[int(_inside)], options=NOISE_OPTIONS,
                             what="the verdict of this rough check",
                             measured=f"few: dense {dense.by_group['few']:.3f}, pruned {at.report.by_group['few']:.3f} "
                                      f"with interval [{_lo:.3f}, {_hi:.3f}]",
                             explain="""
    The rough rule used here: if the dense accuracy lies inside the pruned model's 95 % interval,
    the test set cannot tell them apart. It is conservative. Both models see the **same** test
    images, so a paired comparison (bootstrap the difference image by image, or McNemar's test)
    is sharper. Either way, a change of a few points on a group of three classes needs more test
    images, or several seeds, before it is a finding.""")
    res_noise = _r
    mo.vstack(_r.reveal(mo.ui.table(_table, selection=None)))
    return (res_noise,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 4 · Why the classifier stays dense

    The last layer maps features to classes: one row of weights per class. labkit excludes it
    from pruning by default (`lk.Lab(..., exclude_last=True)`, like most pruning papers); here we
    prune it **alone** to see why.
    """)
    return


@app.cell
def _(GROUPS, mo):
    q_fc = mo.ui.radio(GROUPS, label="Prune only the classifier, 90 % of its weights by magnitude. Which group "
                       "loses the most?").form(submit_button_label="Commit prediction")
    q_fc
    return (q_fc,)


@app.cell
def _(lab, lk):
    fc_name = lk.prunable_parameters(lab.dense, exclude_first=False, exclude_last=False)[-1]
    fc_masks = lk.make_masks(lk.score(lab.dense, "magnitude", layers=[fc_name]), {fc_name: 0.9})
    fc_trial = lab.evaluate_masks(fc_masks)
    return fc_masks, fc_name, fc_trial


@app.cell
def _(
    GROUPS,
    course,
    dense,
    fc_masks,
    fc_name,
    fc_trial,
    lab,
    mo,
    pd,
    q_fc,
    spearmanr,
    views,
):
    _drop = {g: fc_trial.report.by_group[g] - dense.by_group[g] for g in GROUPS}
    _rows = pd.DataFrame({"class": lab.data.classes, "training images": lab.data.class_counts,
                          "row norm": lab.dense.get_parameter(fc_name).norm(dim=1).cpu().numpy().round(3),
                          "row removed": (1 - fc_masks[fc_name].float().mean(dim=1)).cpu().numpy().round(2),
                          "dense acc": dense.per_class["accuracy"].round(2),
                          "pruned acc": fc_trial.report.per_class["accuracy"].round(2)})
    _rho = spearmanr(_rows["row norm"], _rows["training images"]).statistic
    _r = course.check_choice(q_fc.value, min(_drop, key=_drop.get), options=GROUPS,
                             what="the group that loses the most",
                             measured=" · ".join(f"{g} {v:+.3f}" for g, v in _drop.items()), explain=f"""
    Every weight of the classifier belongs to exactly one class, so a magnitude cut there is a
    cut **per class**: rows with smaller weights lose more (see "row removed"). Whether rare
    classes get the smaller rows depends on the training (here the rank correlation between row
    norm and training images is ρ = {_rho:.2f}), but they have the **smallest margins** to begin
    with: their dense accuracy is already the lowest, so the same perturbation tips them over
    first. The classifier holds only {fc_masks.total} of the model's weights; pruning it saves
    almost nothing and risks the tail. That is why it is kept dense.""")
    res_fc = _r
    mo.vstack(_r.reveal(mo.ui.table(course.tidy(_rows), selection=None, pagination=False),
                        views.group_accuracy({"overall": fc_trial.report.overall, **fc_trial.report.by_group},
                                             {"overall": dense.overall, **dense.by_group},
                                             title="Classifier pruned to 0.9, everything else dense")))
    return (res_fc,)


@app.cell
def _(course, ex_wilson, res_ci, res_class, res_fc, res_group, res_noise):
    board = course.scoreboard({"Q1 width of a per-class interval": res_ci, "Q2 class that loses most": res_class,
                               "Q3 group that loses most": res_group, "Q4 change or noise": res_noise,
                               "Q5 pruning the classifier": res_fc},
                              {"Exercise wilson_interval": ex_wilson})
    board
    return (board,)


@app.cell(hide_code=True)
def _(board, mo):
    mo.stop(not board.all_committed, mo.md("_The summary appears once every question is committed._"))
    mo.md(r"""
    ## What to remember

    - Report accuracy **per class** and **per group**, sorted by training frequency, with intervals.
    - Pruning moves decision boundaries: some classes lose, some gain; group means can hide the
      class that collapses. On this model, see for yourself which classes go first as the
      sparsity grows.
    - A handful of test images per class gives wide intervals; compare models on the same images
      and with more than one seed before claiming an effect.
    - Keep the classifier dense: it is tiny, and every weight in it belongs to one class.

    Next: **04 · mask merging**: masks from several criteria, how much they agree, and how to
    combine them (`notebooks/course/04_mask_merging.py`).
    """)
    return


if __name__ == "__main__":
    app.run()
