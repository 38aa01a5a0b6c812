"""The fixed text of the study reports (:mod:`labkit.studies._report`): what a failed claim would need.

:data:`THESIS_RUNS` says, per study, what the thesis setting needs (data, epochs, compute) and
gives the exact command for the real-data run. Compute figures are **estimates**: training
image-steps counted from the preset's settings, priced at a stated throughput of one current
GPU; none of these runs was made on this project's CPU machines. No measured number lives here;
the measured ones are read from the CSV by the report.
"""
from __future__ import annotations

__all__ = ["THESIS_RUNS", "NOTES"]

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
}
"""Per study: the thesis setting's data, epochs and estimated GPU time, and the real-data command."""

NOTES: dict[str, str] = {}
"""Per study: how to read the proxy (fixed text about the setup; the numbers are in the tables)."""
