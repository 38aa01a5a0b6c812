"""``TrainHistory``: what a training run records after every epoch.

Example:
    >>> h = TrainHistory(config={"epochs": 2})
    >>> h.append(0, loss=1.5, lr=1e-3, val_accuracy=0.5, val_balanced=0.4, seconds=0.1)
    >>> h.to_frame()[["epoch", "loss", "val_accuracy"]].values.tolist()
    [[0.0, 1.5, 0.5]]
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

__all__ = ["TrainHistory"]


@dataclass
class TrainHistory:
    """Per-epoch record of a run; ``to_frame()`` gives one row per epoch.

    ``val_accuracy`` / ``val_balanced`` (mean per-class accuracy) are NaN without a ``val`` split;
    ``config`` is the run's :meth:`~labkit.training.FitConfig.record`.
    """

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    val_balanced: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def append(self, epoch: int, loss: float, lr: float, val_accuracy: float,
               val_balanced: float, seconds: float) -> None:
        for name, value in (("epoch", epoch), ("loss", loss), ("lr", lr), ("val_accuracy", val_accuracy),
                            ("val_balanced", val_balanced), ("seconds", seconds)):
            getattr(self, name).append(value)

    def __len__(self) -> int:
        return len(self.epoch)

    def to_frame(self) -> pd.DataFrame:
        """Columns ``epoch, loss, lr, val_accuracy, val_balanced, seconds``."""
        d = asdict(self)
        d.pop("config")
        return pd.DataFrame(d)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainHistory:
        fields: dict[str, Any] = {k: (list(v) if k != "config" else dict(v)) for k, v in d.items()}
        return cls(**fields)
