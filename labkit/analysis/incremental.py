"""Incremental evaluation: re-run a network only from the first stage whose weights changed.

A labkit model is a chain of stages (``labkit.models.stages``): ``logits = s_n(...s_1(s_0(x)))``.
When a slider changes the masks of layers that all live in stage ``k`` or later, the inputs
of stages ``0..k`` are unchanged, so we keep them cached and recompute only ``k..n``.
Moving the last stage's sparsity therefore costs one stage, not the whole network
(docs/design.md §4; ``benchmarks/lab_latency.py`` measures the ratio).

The working copy is written in place (``dense * mask`` for the parameters whose masks changed,
the dense value for parameters no longer masked), so the dense model is never touched and
no model is allocated per slider move. Results are exactly equal to a full forward pass of
``apply_masks(dense, masks)`` on the CPU: the same kernels run on the same inputs.

Example:
    >>> from labkit import load_model
    >>> net = load_model("tiny_cnn", num_classes=10, in_channels=1).eval()
    >>> inc = IncrementalForward(net, torch.rand(4, 1, 8, 8))
    >>> m = Masks({"head.fc.weight": torch.rand(net.head.fc.weight.shape) > 0.5})
    >>> logits, first = inc.run(m)   # only the head stage re-runs
    >>> first == len(inc.stages) - 1
    True
"""
from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from ..models._base import stages as model_stages
from ..pruning.apply import expand_masks
from ..pruning.masks import Masks
from ..runtime import accelerate

__all__ = ["IncrementalForward"]


class IncrementalForward:
    """Cache the input of every stage of a working copy of ``dense`` on the batch ``x``.

    Args:
        dense: the reference model (eval mode); never modified.
        x: the evaluation batch, already on the model's device.
        batch_size: forward ``x`` in chunks of this size (bounds peak memory; the cached
            activations themselves are kept whole).
        channels_last: keep images and conv weights in NHWC order; on the CPU oneDNN's
            convolutions run about 1.5x faster that way for these small nets (measured by
            ``benchmarks/lab_latency.py``). Only the working copy changes layout.
        amp: precision of the forward passes (:func:`labkit.runtime.accelerate` for ``x``'s
            device): ``"auto"`` is bf16/fp16 autocast on CUDA and float32 elsewhere, so CPU
            results are unchanged; the cached activations then hold that dtype.
    """

    def __init__(self, dense: nn.Module, x: Tensor, batch_size: int = 2048,
                 channels_last: bool = True, amp: str = "auto") -> None:
        self.dense = dense
        self.policy = accelerate(x.device, amp)
        self.work = copy.deepcopy(dense).eval()
        if channels_last and x.dim() == 4:
            self.work = self.work.to(memory_format=torch.channels_last)
            x = x.contiguous(memory_format=torch.channels_last)
        self.stages = model_stages(self.work)
        self.batch_size = batch_size
        owner = {id(p): i for i, st in enumerate(self.stages) for p in st.parameters()}
        self.stage_of: dict[str, int] = {}
        for name, p in self.work.named_parameters():
            if id(p) not in owner:
                raise ValueError(f"parameter {name!r} belongs to no stage of {type(dense).__name__}; "
                                 f"its stages() must cover the whole model")
            self.stage_of[name] = owner[id(p)]
        self._written: dict[str, Tensor] = {}
        self.acts: list[Tensor] = [x]
        self._forward_from(0)

    @torch.no_grad()
    def _forward_from(self, k: int) -> None:
        del self.acts[k + 1:]
        with self.policy.autocast():
            for stage in self.stages[k:]:
                h = self.acts[-1]
                outs = [stage(h[i:i + self.batch_size]) for i in range(0, h.shape[0], self.batch_size)]
                self.acts.append(torch.cat(outs))

    @property
    def logits(self) -> Tensor:
        """Logits of the working copy as it stands."""
        return self.acts[-1]

    @torch.no_grad()
    def run(self, masks: Masks | None, full: bool = False) -> tuple[Tensor, int]:
        """Write ``masks`` into the working copy and return ``(logits, first stage re-run)``.

        ``masks=None`` restores the dense weights. ``full=True`` re-runs every stage (the
        reference the incremental path is checked against). The first stage index equals
        ``len(self.stages)`` when nothing changed and nothing had to run.
        """
        expanded = expand_masks(self.dense, masks) if masks is not None and len(masks) else {}
        changed = []
        for name in set(expanded) | set(self._written):
            new, old = expanded.get(name), self._written.get(name)
            if new is None or old is None or not torch.equal(new, old):
                changed.append(name)
        for name in changed:
            p, ref = self.work.get_parameter(name), self.dense.get_parameter(name)
            p.copy_(ref * expanded[name] if name in expanded else ref)
        self._written = dict(expanded)
        first = 0 if full else min((self.stage_of[n] for n in changed), default=len(self.stages))
        if first < len(self.stages):
            self._forward_from(first)
        return self.logits, first

    def stage_input(self, k: int) -> Tensor:
        """The cached input of stage ``k`` under the current masks (``k = 0`` is the batch)."""
        return self.acts[k]
