"""Method 4 study (docs/methods.md §4): filter pruning for transfer learning on a small target set.

The thesis (Ching Ya Liao, NTU 2020; abstract and reference list only) extracts a small model
for a target domain from a large pretrained one: score the filters on *target* images, prune,
replace the head and transfer-learn; the best of three rules loses < 2 % on Flowers-102 at
ratio 0.4. The criteria are [lit] (Molchanov et al. 2017, Hu et al. 2016; implemented in
:mod:`labkit.criteria`); the rest of the protocol (§4.3) follows docs/methods.md:

1. start from the source-pretrained network;
2. score every prunable conv's filters on the target training set (filter granularity);
3. allocate ratio ``r``: ``per-layer`` removes ``floor(r C_l)`` filters in every layer,
   ``global`` ranks all filters after a per-layer normalisation (``l2`` default, ``minmax``,
   ``mean``, ``none``; §4.2), keeping at least ``max(1, ceil(0.1 C_l))`` per layer; then
   **compact** physically (Torch-Pruning slices the conv, the next conv's inputs, the FC's columns);
4. put a fresh head on it (``num_classes`` of the target) and fine-tune everything (``inherit``);
5. the "rethinking" arms (Liu et al. 2019): the same pruned architecture re-initialised
   (Kaiming) and trained from scratch for the same epochs (``scratch-e``) or for
   ``epochs x min(3, MACs_dense / MACs_pruned)`` (``scratch-b``);
6. report accuracy, parameters and MACs for every criterion x ranking x arm x ratio x seed.

:func:`run_transfer` (:mod:`.protocol`) is the protocol for any source model and target
:class:`LabData` (the online path: torchvision ``vgg16`` ImageNet weights + ``flowers102`` or an
``imagefolder`` Cats vs Dogs); :func:`run_study` (:mod:`.study`) is the offline §4.5 experiment:
``vgg_small`` pretrained on digits 0-4 (the shipped checkpoint, :func:`pretrain_source` remakes
it), target digits 5-9 with 15 training images per class, the rest of 5-9 as test; its claims are
:func:`claims`, checked by :func:`verdict`. Choices not fixed by the thesis are settings here
(:mod:`.settings`), **[inferred]**: the normalisation, the floor, the fine-tune recipe.

Run: ``python -m labkit.studies.transfer run --out results.csv [--smoke] [--seeds 0 1 2 3 4]``
(``pretrain`` remakes the source checkpoint).

Example:
    >>> df = run_study(TransferSettings.smoke())        # doctest: +SKIP
    >>> verdict(df)[["criterion", "verdict"]]           # doctest: +SKIP
"""
from __future__ import annotations

from .protocol import class_activations, conv_layers, filter_scores, kept_filters, run_transfer, select_filters
from .settings import ARMS, FAMILIES, RANKINGS, SOURCE, TransferSettings
from .study import (
                    COMMAND,
                    STUDY,
                    claims,
                    load_source,
                    main,
                    pretrain_source,
                    read_results,
                    run_study,
                    source_data,
                    stated_claims,
                    study_units,
                    target_data,
                    unit_rows,
                    verdict,
                    write_results,
)

__all__ = ["TransferSettings", "FAMILIES", "RANKINGS", "ARMS", "SOURCE", "conv_layers", "filter_scores",
           "select_filters", "kept_filters", "class_activations", "run_transfer", "source_data", "target_data",
           "pretrain_source", "load_source", "run_study", "study_units", "unit_rows", "STUDY", "claims", "stated_claims",
           "verdict", "write_results", "read_results", "COMMAND", "main"]
