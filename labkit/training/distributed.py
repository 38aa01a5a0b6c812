"""Data-parallel training under ``torchrun``: every process takes its slice of the same global batch.

``torchrun --nproc_per_node N -m labkit.cli train ...`` starts N processes with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and a rendezvous address in the environment. :func:`init_from_env`
joins them into one process group (NCCL on GPUs, gloo on CPUs) and :func:`labkit.training.fit`
then trains through :class:`~torch.nn.parallel.DistributedDataParallel`.

How the batches are split. ``fit``'s epoch order is a pure function of ``(seed, epoch)``: a shuffle,
or the draw of :class:`~labkit.training.samplers.ClassBalancedSampler` on long-tailed data. Every
rank computes the *same* order, cuts it into the same global batches of ``batch_size`` items, and
keeps items ``rank, rank + N, rank + 2N ...`` of each (:func:`shard`). So the union of the ranks'
batches is exactly the single-process batch: the class-balanced draw stays class-balanced, and a
long-tail loss sees the same items per step. Each rank's loss is scaled by ``N · n_rank / n_batch``,
so DDP's gradient average equals the gradient of the global batch's mean loss, also for a short
last batch. (A stock ``DistributedSampler`` would reshuffle by itself and drop the sampler's
class balance.)

What is not identical: BatchNorm normalises each rank's slice with the slice's statistics.
On GPUs :func:`sync_batchnorm` swaps in ``SyncBatchNorm`` (statistics over the global batch);
PyTorch's ``SyncBatchNorm`` is GPU-only, so on CPUs (gloo) a BatchNorm model's loss curve
follows the single process closely but not to the last digit.

Example:
    $ torchrun --nproc_per_node 2 -m labkit.cli train --model resnet20 --dataset digits-lt \\
          --epochs 60 --batch-size 128 --out resnet20.safetensors
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["DistContext", "init_from_env", "current", "shard", "sync_batchnorm", "restore_batchnorm",
           "all_sum", "close"]


@dataclass(frozen=True)
class DistContext:
    """This process's place in the group: ``rank`` of ``world``, its ``device`` and the ``backend``."""

    rank: int
    world: int
    local_rank: int
    device: torch.device
    backend: str

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints, prints and shows progress."""
        return self.rank == 0


def init_from_env(device: str | torch.device | None = None) -> DistContext | None:
    """Join the process group that ``torchrun`` describes in the environment; ``None`` when run alone.

    ``device`` ``None`` / ``"auto"``: ``cuda:LOCAL_RANK`` with NCCL when CUDA is there, else the
    CPU with gloo. An explicit ``"cpu"`` forces gloo on a GPU machine.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    local = int(os.environ.get("LOCAL_RANK", "0"))
    want = None if device in (None, "auto") else torch.device(device)
    if (want is None or want.type == "cuda") and torch.cuda.is_available():
        if local >= torch.cuda.device_count():
            raise RuntimeError(f"LOCAL_RANK {local} but this machine has {torch.cuda.device_count()} GPU(s); "
                               "use --nproc_per_node <= the number of GPUs")
        dev, backend = torch.device("cuda", local), "nccl"
        torch.cuda.set_device(dev)
    elif want is not None and want.type == "cuda":
        raise RuntimeError("--device cuda under torchrun, but CUDA is not available; use --device cpu (gloo)")
    else:
        dev, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return DistContext(dist.get_rank(), dist.get_world_size(), local, dev, backend)


def current() -> DistContext | None:
    """The context of an initialised group of more than one process (what ``fit`` checks), else ``None``."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() <= 1:
        return None
    local = int(os.environ.get("LOCAL_RANK", "0"))
    backend = str(dist.get_backend())
    dev = torch.device("cuda", local) if backend == "nccl" else torch.device("cpu")
    return DistContext(dist.get_rank(), dist.get_world_size(), local, dev, backend)


def shard(batch: Tensor, rank: int, world: int) -> Tensor:
    """This rank's items of one global batch: positions ``rank, rank + world, ...``.

    Example:
        >>> shard(torch.arange(7), 0, 2).tolist(), shard(torch.arange(7), 1, 2).tolist()
        ([0, 2, 4, 6], [1, 3, 5])
    """
    return batch[rank::world]


def all_sum(*values: float, device: torch.device = torch.device("cpu")) -> list[float]:
    """Sums of ``values`` over all ranks (loss totals and item counts of an epoch)."""
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def sync_batchnorm(model: nn.Module) -> list[tuple[nn.Module, str, nn.Module]]:
    """Swap every BatchNorm for a ``SyncBatchNorm`` sharing its parameters and buffers (GPU only).

    Returns what :func:`restore_batchnorm` needs to put the original modules back, so the
    caller's model keeps its classes (the trained values are shared, not copied).
    """
    swaps: list[tuple[nn.Module, str, nn.Module]] = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm) and not isinstance(child, nn.SyncBatchNorm):
                sync = nn.SyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine,
                                        child.track_running_stats)
                sync.training = child.training
                for key, p in child.named_parameters(recurse=False):
                    setattr(sync, key, p)
                for key, b in child.named_buffers(recurse=False):
                    setattr(sync, key, b)
                setattr(parent, name, sync)
                swaps.append((parent, name, child))
    return swaps


def restore_batchnorm(swaps: list[tuple[nn.Module, str, nn.Module]]) -> None:
    """Undo :func:`sync_batchnorm` (the original modules hold the trained values already)."""
    for parent, name, child in reversed(swaps):
        setattr(parent, name, child)


def close() -> None:
    """Leave the process group (end of ``labkit train`` under torchrun)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
