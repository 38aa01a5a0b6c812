# /// script
# requires-python = ">=3.10"
# dependencies = ["labkit[lab]", "marimo>=0.23"]
#
# [tool.uv.sources]
# labkit = { path = "../..", editable = true }
# ///
"""Course 04: masks from several criteria, their overlap, and merging them within each layer's budget.

Open:  .venv/bin/marimo edit notebooks/course/04_mask_merging.py
Smoke: .venv/bin/marimo export html notebooks/course/04_mask_merging.py -o /tmp/x.html --no-sandbox -- --smoke
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="medium", app_title="labkit course · 04 mask merging")


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    # 04 · Mask merging *(research module)*

    *Notebooks 04 to 06 go past the MIT lab into this lab's research methods: they ask open
    questions, and their answers depend on the model and data. Time: about 25 s of CPU to load
    (25 s measured on the 2-core test machine).*

    A pruning **mask** says, for every weight, keep (True) or remove (False). Different criteria
    give different masks at the same sparsity. Two questions follow: *how much do they agree?*
    and *can a combination beat each of them?* labkit treats masks as data: it compares them
    with the **Jaccard overlap** of the kept sets,
    $J(A, B) = \lvert A \cap B \rvert / \lvert A \cup B \rvert$ (1 = identical, 0 = disjoint),
    and merges them so that every layer keeps a fixed **budget** of weights.

    Answers and tables appear after you commit; one exercise asks you to write the Jaccard
    overlap (in `marimo edit`); the scoreboard at the end counts questions and exercises.
    """)
    return


@app.cell
def _():
    import marimo as mo
    import pandas as pd
    import torch

    import labkit as lk
    from labkit import course, views

    return course, lk, mo, pd, torch, views


@app.cell
def _(mo):
    from labkit.runtime import smoke_mode

    smoke = smoke_mode(mo.cli_args())  # `-- --smoke` or LABKIT_SMOKE=1: tiny CI run on one thread
    CANDIDATES = ["magnitude", "magnitude_l2", "taylor", "random"]  # the weight-level criteria
    return CANDIDATES, smoke


@app.cell
def _(lk, mo, smoke):
    with mo.status.spinner("loading ResNet-20 and digits-LT ..."):
        lab = lk.Lab("resnet20", "digits-lt", preview=100 if smoke else None)
    mo.md(f"**{lab.model_name}** on **{lab.data.name}** · dense balanced accuracy "
          f"**{lab.dense_report.balanced:.3f}** · criteria: {', '.join(lk.list_criteria())} "
          f"(four of them score single weights: magnitude, magnitude_l2, taylor, random) · "
          f"merge modes: {', '.join(lk.list_merge_modes())}")
    return (lab,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 1 · How much do two masks agree?

    Start with the baseline: two masks that know nothing about the network.
    """)
    return


@app.cell
def _(mo):
    q_random = mo.ui.slider(0.0, 1.0, step=0.05, value=0.5, show_value=True, label=(
        "Two **random** masks (different seeds) each keep half of the weights. Their Jaccard overlap?")).form(
        submit_button_label="Commit prediction")
    q_random
    return (q_random,)


@app.cell
def _(course, lab, mo, q_random):
    _a = lab.prune("random", 0.5, "uniform")
    _b = lab.prune("random", 0.5, "uniform", options={"seed": 1})
    _j = lab.overlap(_a, _b).attrs["total"]["jaccard"]
    _r = course.check(q_random.value, _j, tolerance=0.05, fmt=".3f", what="Jaccard overlap of two random masks",
                      explain=r"""
    Each weight is kept by each mask with probability $k = 0.5$, independently. Kept by both:
    $k^2 = 0.25$; kept by at least one: $2k - k^2 = 0.75$. So $J = 0.25 / 0.75 = 1/3$, and in
    general $J = k / (2 - k)$. **Not 0.5**: that is why overlaps must be read against this
    chance level. Two criteria at $J = 0.4$ agree barely more than coin flips.""")
    res_random = _r
    mo.vstack(_r.reveal())
    return (res_random,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## Exercise · Write the Jaccard overlap

    Write `jaccard(a, b)` below (in `marimo edit`): `a` and `b` are boolean masks of the same
    shape (True = kept); return $\lvert A \cap B \rvert / \lvert A \cup B \rvert$ as a Python
    float, and 1.0 when neither keeps anything.
    """)
    return


@app.cell
def _(torch):
    def jaccard(a: torch.Tensor, b: torch.Tensor) -> float:
        """Jaccard overlap of the kept sets of two boolean masks."""
        # YOUR CODE BELOW
        raise NotImplementedError("write jaccard")
        # YOUR CODE ABOVE
    return (jaccard,)


@app.cell
def _(course, jaccard):
    ex_jaccard = course.grade(jaccard, "jaccard")
    ex_jaccard
    return (ex_jaccard,)


@app.cell
def _(mo):
    settings = mo.ui.dictionary({
        "sparsity": mo.ui.slider(0.1, 0.9, step=0.05, value=0.5, debounce=True, show_value=True, label="sparsity"),
        "mode": mo.ui.radio(["global", "uniform"], value="global", inline=True, label="allocation"),
    })
    mo.vstack([mo.md("**Candidate masks.** All four weight-level criteria prune to the same sparsity:"),
               settings.hstack(justify="start", gap=2)])
    return (settings,)


@app.cell
def _(CANDIDATES, lab, settings):
    candidates = {c: lab.prune(c, settings.value["sparsity"], settings.value["mode"]) for c in CANDIDATES}
    return (candidates,)


@app.cell
def _(mo):
    PAIRS = ["magnitude · magnitude_l2", "magnitude · taylor", "taylor · random", "magnitude · random"]
    q_pair = mo.ui.radio(PAIRS, label="Which pair of criteria agrees **most** (highest Jaccard overlap)?").form(
        submit_button_label="Commit prediction")
    q_pair
    return PAIRS, q_pair


@app.cell
def _(PAIRS, candidates, course, lab, mo, q_pair, views):
    overlaps = lab.overlap_matrix(candidates)
    _by_pair = {p: overlaps.loc[p.split(" · ")[0], p.split(" · ")[1]] for p in PAIRS}
    _top = max(_by_pair.values())
    _r = course.check_choice(q_pair.value, [p for p, v in _by_pair.items() if v == _top], options=PAIRS,
                             what="the pair that agrees most",
                             measured=" · ".join(f"{p}: **{v:.3f}**" for p, v in _by_pair.items()), explain="""
    `magnitude` scores a weight by $|w|$ and `magnitude_l2` by $w^2$: the same order, so the
    same mask (at filter level they differ, because a filter's L1 and L2 norms do not order
    filters alike). `taylor` scores $|w \\cdot \\partial L/\\partial w|$: large weights with
    small gradients can go, so it agrees with magnitude only partly. Random sits at the chance
    level from the first question. The heatmap gives each pair's overlap over the whole network
    (all kept weights pooled, so big layers weigh more); the bars show where magnitude and Taylor
    disagree, layer by layer.""")
    res_pair = _r
    mo.vstack(_r.reveal(views.overlap_heatmap(overlaps, title="Jaccard overlap of the kept weights (whole network)"),
                        views.layer_overlap(lab.overlap(candidates["magnitude"], candidates["taylor"]),
                                            title="magnitude vs taylor, per layer")))
    return (res_pair,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 2 · Merging masks

    `lk.merge_masks(masks, weights, mode)` gives each candidate $k$ a weight $\alpha_k$
    (normalised to sum 1). In every layer the merged mask keeps
    $\text{round}\big(\sum_k \alpha_k \cdot \text{kept}_k\big)$ weights, its **budget**, and picks
    them by a priority per weight:

    - `weighted`: the weighted vote $V = \sum_k \alpha_k M_k$ (ties broken by the normalised scores);
    - `majority`: weights at least half of the candidates keep come first (one mask, one vote), then $V$;
    - `intersection-first`: weights **every** candidate keeps come first, then the weighted scores.
    """)
    return


@app.cell
def _(mo):
    q_merge = mo.ui.radio(["better than both", "between the two", "worse than both"], label=(
        "Merge the **magnitude** and **taylor** masks at sparsity 0.5 (global) with equal weights. Its balanced "
        "accuracy is ...")).form(submit_button_label="Commit prediction")
    q_merge
    return (q_merge,)


@app.cell
def _(lab):
    fixed = {c: lab.prune(c, 0.5, "global") for c in ("magnitude", "taylor")}
    return (fixed,)


@app.cell
def _(course, fixed, lab, mo, q_merge):
    _m = lab.merge([fixed["magnitude"], fixed["taylor"]], [0.5, 0.5], "weighted").report.balanced
    _a, _b = (fixed[c].report.balanced for c in ("magnitude", "taylor"))
    _answer = "better than both" if _m > max(_a, _b) else ("worse than both" if _m < min(_a, _b) else "between the two")
    _r = course.check_choice(q_merge.value, _answer, options=["better than both", "between the two", "worse than both"],
                             what="where the merge lands",
                             measured=f"magnitude **{_a:.3f}** · taylor **{_b:.3f}** · merged **{_m:.3f}** · "
                                      f"dense {lab.dense_report.balanced:.3f}", explain="""
    Where both candidates agree, the merge keeps their choice; where they disagree it has to
    split the budget. If the two criteria make *different* mistakes, the vote can undo some of
    each, and the merge beats both; if one is simply worse, the merge lands in between.
    One test set and one seed decide nothing: try other sparsities with the sliders below.""")
    res_merge = _r
    mo.vstack(_r.reveal())
    return (res_merge,)


@app.cell
def _(fixed, mo):
    _kept = {c: {n: int(m.sum()) for n, m in fixed[c].masks.items()} for c in fixed}
    budget_layer = max(_kept["magnitude"], key=lambda n: abs(_kept["magnitude"][n] - _kept["taylor"][n]))
    _a, _b = _kept["magnitude"][budget_layer], _kept["taylor"][budget_layer]
    q_budget = mo.ui.number(0, 100_000, step=1, value=0, label=(
        f"At sparsity 0.5 (global), in `{budget_layer.removesuffix('.weight')}` magnitude keeps **{_a}** weights and "
        f"taylor keeps **{_b}**. Merged with weights 0.7 (magnitude) and 0.3 (taylor): how many weights does the "
        f"merged mask keep in that layer?")).form(submit_button_label="Commit prediction")
    q_budget
    return budget_layer, q_budget


@app.cell
def _(budget_layer, course, fixed, lab, mo, q_budget):
    _merged = lab.merge([fixed["magnitude"], fixed["taylor"]], [0.7, 0.3], "weighted")
    _r = course.check(q_budget.value, int(_merged.masks[budget_layer].sum()), tolerance=1, fmt=",d",
                      what="weights the merged mask keeps there", explain="""
    The budget is the weighted average of the candidates' budgets, rounded:
    $\\text{round}(0.7\\,a + 0.3\\,b)$. With uniform allocation all candidates keep the same
    number in a layer and so does the merge; with global allocation each criterion spreads the
    sparsity differently, and the merge interpolates. Which weights fill the budget is what the
    merge mode decides.""")
    res_budget = _r
    mo.vstack(_r.reveal())
    return (res_budget,)


@app.cell(hide_code=True)
def _(mo):
    mo.md(r"""
    ## 3 · Your merge

    Merge the **magnitude**, **taylor** and **random** masks from section 1 (their sparsity and
    allocation come from the controls there). Set the weights and the mode; the table shows what
    each layer keeps.
    """)
    return


@app.cell
def _(lk, mo, res_budget, res_merge):
    mo.stop(not (res_merge.answered and res_budget.answered),
            mo.md("_Your merge opens once the two merge questions above are committed: its table answers them._"))
    MERGE_DEFAULT = {"magnitude": 0.4, "taylor": 0.4, "random": 0.2, "mode": "weighted"}
    merge_ui = mo.md("Weights: {magnitude} {taylor} {random} &nbsp; {mode}").batch(  # a form: the merge runs on
        **{n: mo.ui.slider(0.0, 1.0, step=0.05, value=MERGE_DEFAULT[n], show_value=True, label=n)  # the values
           for n in ("magnitude", "taylor", "random")},                                          # you submit
        mode=mo.ui.dropdown(lk.list_merge_modes(), value="weighted", label="merge mode")).form(
        submit_button_label="Merge")
    merge_ui
    return MERGE_DEFAULT, merge_ui


@app.cell
def _(MERGE_DEFAULT, candidates, lab, lk, merge_ui, mo):
    _names = ["magnitude", "taylor", "random"]
    _v = merge_ui.value or MERGE_DEFAULT
    _w = [_v[n] for n in _names]
    mo.stop(sum(_w) == 0, mo.md("Give at least one candidate a weight above 0."))
    _masks = lk.merge_masks([candidates[n].masks for n in _names], _w, _v["mode"],
                            scores=[lab.scores(n) for n in _names])
    merged = lab.evaluate_masks(_masks)
    return (merged,)


@app.cell
def _(candidates, course, lab, merged, mo, pd, views):
    _rows = [{"mask": n, "balanced": t.report.balanced, "few": t.report.by_group["few"],
              "overlap with merged": lab.overlap(t, merged).attrs["total"]["jaccard"]}
             for n, t in {**candidates, "merged": merged}.items()]
    _budget = pd.DataFrame({n: {k.removesuffix(".weight"): int(m.sum()) for k, m in t.masks.items()}
                            for n, t in {**candidates, "merged": merged}.items()})
    mo.vstack([
        mo.md("**Candidates and the merge** (balanced and *few*-group test accuracy)"),
        mo.ui.table(course.tidy(pd.DataFrame(_rows)), selection=None, pagination=False),
        views.sparsity_profile(merged.layers(), title="Merged mask: sparsity per layer"),
        mo.md("**Weights kept per layer** (the merged budget is the weighted average of the candidates')"),
        mo.ui.table(_budget.rename_axis("layer").reset_index(), selection=None, page_size=20),
    ])
    return


@app.cell
def _(course, ex_jaccard, res_budget, res_merge, res_pair, res_random):
    board = course.scoreboard({"Q1 overlap of two random masks": res_random, "Q2 pair that agrees most": res_pair,
                               "Q3 where the merge lands": res_merge, "Q4 a layer's merged budget": res_budget},
                              {"Exercise jaccard": ex_jaccard})
    board
    return (board,)


@app.cell(hide_code=True)
def _(board, mo):
    mo.stop(not board.all_committed, mo.md("_The summary appears once every question is committed._"))
    mo.md(r"""
    ## What to remember

    - Read overlaps against chance: two random masks keeping a fraction $k$ overlap by $k/(2-k)$.
    - Criteria that rank by the same quantity give the same mask; different quantities
      (weight size vs weight × gradient) agree only partly.
    - A merge keeps each layer's budget (the weighted average of the candidates') and spends it
      by vote. It can beat its candidates when they err differently; measure it, on more than one
      sparsity and seed.

    Next: `05_domino_influence.py` judges channels by what they do downstream. The lab itself
    (`notebooks/lab.py`) has all of these controls in one place.
    """)
    return


if __name__ == "__main__":
    app.run()
