"""The fixed text of the study reports (:mod:`labkit.studies._report`): what a failed claim would need.

:data:`THESIS_RUNS` says, per study, what the thesis setting needs (data, epochs, compute) and
gives the exact command for the real-data run. Compute figures are **estimates**: training
image-steps counted from the preset's settings, priced at a stated throughput of one current
GPU; none of these runs was made on this project's CPU machines. No measured number lives here;
the measured ones are read from the CSV by the report.
"""
from __future__ import annotations

from typing import NamedTuple

__all__ = ["THESIS_RUNS", "NOTES", "MEANS", "Pivot"]

THESIS_RUNS: dict[str, str] = {
    "longtail": """
The thesis setting is CIFAR-100-LT (imbalance factor 100, 10,847 training images) with ResNet-32,
trained dense with the LDAM-DRW recipe (SGD 0.1, 200 epochs) and the auxiliary trainers and
fine-tunes at 20 epochs each (`LongTailSettings.cifar100_lt`, docs/methods.md §1.1, §1.7). Per seed
that is about 580 epochs (θ0 200, L 40 more, 4 trainers × 20, B 20, C / D / E × 4 sparsities × 20),
about 6.3 M image-steps, so 5 seeds are about 31 M: **about 2 GPU-hours** at an assumed 5,000
ResNet-32 training images per second (an estimate, not measured). The data files
(`cifar-100-python`) must be on disk:

```bash
python -m labkit.studies.longtail --cifar100-lt ~/data --ray --pie-k 5 --out results/longtail_cifar100lt.csv
```
""",
    "csasml": """
The thesis's +1.8 % claim is on CIFAR-100 (50,000 training images, 32 × 32). `CSASMLSettings.cifar100`
trains each of the 7 runs for 200 epochs (AdamW, cosine; the recipe is [inferred]): 7 × 5 seeds × 200
× 50,000 = 350 M image-steps, **about 20 GPU-hours** at an assumed 5,000 images per second (an
estimate, not measured; one seed is a fifth of it). With the data files on disk:

```bash
python -m labkit.studies.csasml --cifar100 ~/data --ray --out results/csasml_cifar100.csv
```
""",
    "transfer": """
The thesis transfers an ImageNet VGG-16 (torchvision weights) to a small target. On Oxford
Flowers-102 (1,020 training images at 224 × 224) `TransferSettings.thesis()` fine-tunes about 110
networks per seed (6 criteria × 2 rankings × 3 ratios × 3 arms, plus the unpruned one) for 30 epochs:
about 3.4 M VGG-16 image-steps, **about 2–3 GPU-hours per seed** at an assumed 400 images per
second (an estimate, not measured). It needs the torchvision VGG-16 weights in the torch cache and
the Flowers-102 files (`flowers-102/jpg`, `imagelabels.mat`, `setid.mat`):

```python
import labkit as lk
from labkit.studies.transfer import TransferSettings, run_transfer, verdict
source = lk.load_model("vgg16", pretrained=True)
target = lk.load_dataset("flowers102", root="~/data")
df = run_transfer(source, target, TransferSettings.thesis())
print(verdict(df))
```
""",
    "optimized": """
The thesis does not name its data. The usual first benchmark of unstructured pruning is CIFAR-10;
`OptimizedSettings.cifar10` trains ResNet-20 for 100 epochs (Adam 1e-3, crop and flip) and searches
on a 1,000-image calibration set ([inferred]). Per seed: 5 M dense image-steps, the GA's 2 × 1,440
calibration passes and the matched SGD steps, 3 fine-tuning epochs per variant and sparsity: about
9 M image-step equivalents, so 5 seeds are **about 2.5 GPU-hours** at an assumed 5,000 images per
second (an estimate, not measured). With `cifar-10-batches-py` on disk:

```bash
python -m labkit.studies.optimized --cifar10 ~/data --ray --out results/optimized_cifar10.csv
```
""",
    "dominos": """
The thesis does not name its data; FPGM, HRank and CHIP, the methods DOMINOS compares against, all
report ResNet-56 on CIFAR-10. `DominosSettings.cifar10` trains it dense for 160 epochs (SGD 0.1,
cosine), fine-tunes every run for 40 epochs and the SE stage for 20 ([inferred]). Per seed that is
about 720 dense-equivalent epochs (the pruned networks cost 25–60 % of the dense MACs), 36 M
image-steps, so 5 seeds are **about 17 GPU-hours** at an assumed 3,000 ResNet-56 training images per
second (an estimate, not measured), plus the exact domino-influence ablations (one calibration
forward per channel). With `cifar-10-batches-py` on disk:

```bash
python -m labkit.studies.dominos --cifar10 ~/data --ray --out results/dominos_cifar10.csv
```
""",
}
"""Per study: the thesis setting's data, epochs and estimated GPU time, and the real-data command."""

NOTES: dict[str, str] = {
    "longtail": """
E is the full method (auxiliary trainers, layered budgets, weighted mask merging) at s = 0.3; D is
one trainer's mask with the same budgets; L is the dense network trained as long as the method
(E_aux + E_ft more cross-entropy epochs), the matched baseline; A is L before those epochs (shown as
INFO only: it trains less). Merging is degenerate when one trainer's merge weight α exceeds 0.5:
the merged mask is then that trainer's mask, E equals D, and the paired difference is exactly zero
(the per-seed column shows which seeds). The sweep rows show how the tail fares as s grows.
""",
    "csasml": """
Every run trains with the same recipe, epochs and seed (same split, noise, initial draw and batch
order), so the differences are paired by seed. The ablations change one part of CSASML-lite each;
`full_mhsa` swaps cross-scale attention for full attention over all stage-3 tokens. MACs are
computed twice, from the formulas and by torch's `FlopCounterMode`, so the MACs rows are checks of
the architecture, not results; the accuracy rows are the results.
""",
    "optimized": """
At sparsity s every variant keeps the same number of weights per layer. One-shot accuracy (no
retraining) is where the thesis's effect can live; the fine-tuned rows are INFO. `bn_recal` and
`sgd_cal` see the GA's calibration set: `bn_recal` only re-estimates the BatchNorm statistics of the
magnitude-pruned network on it, `sgd_cal` trains the magnitude-pruned network on it (mask fixed) for
as many full-batch steps as the GA's population × generations / 3. The "GA search" check holds by
construction (the GA's first individual is the magnitude mask and the elite survive every
generation), so it is a check, not a result.
""",
    "transfer": """
The source is `vgg_small` trained on clean digits 0–4; the target is digits 5–9 with Gaussian
pixel noise on every split and 15 training images per class. Each seed resamples the 15-shot set.
"inherit" fine-tunes the pruned source; Scratch-E trains the same pruned architecture from a fresh
initialisation for as many epochs, Scratch-B for more (the rethinking-pruning control). The best
data-driven criterion is chosen per seed on the validation images and judged on test. The
"source transfers" check asks whether unpruned transfer beats unpruned Scratch-E at all: without it
there is nothing for pruning to keep.
""",
    "dominos": """
All runs at a MACs target share the selection and the channel-to-block rule; only the importance
differs (L1, random, FPGM, first-order Taylor, R only, D only, R·D), except `rd_internal` (R·D with
no block removed). Every pruned network is fine-tuned the same epochs; the SE claim compares the
method's network with SE gates plus extra epochs against the same extra epochs without gates.
The MACs reached and the blocks removed are checks of the rule; the accuracies after fine-tuning are
the results. The SE gates start as the identity (the second layer is zero), and the SE run and its
control share the seed and the batch order, so where the gates barely move the two follow nearly
the same path: equal accuracies are what "no effect" looks like here, and the rule counts them as
FAIL.
""",
}
"""Per study: how to read the proxy (fixed text about the setup; the numbers are in the tables)."""

class Pivot(NamedTuple):
    """Which seed means a report shows: ``table.pivot_table(index, columns, values)``."""

    rows: tuple[str, ...]
    values: str | tuple[str, ...]
    columns: str | None = None


MEANS: dict[str, Pivot] = {
    "longtail": Pivot(("run", "sparsity"), ("balanced", "many", "medium", "few")),
    "csasml": Pivot(("run",), ("test_acc", "params", "macs_counted")),
    "optimized": Pivot(("sparsity", "variant"), "accuracy", "phase"),
    "transfer": Pivot(("arm", "ranking", "criterion"), "accuracy", "ratio"),
    "dominos": Pivot(("run",), "acc_ft", "target"),
}
"""Per study: the seed means its report shows (accuracies as fractions)."""
