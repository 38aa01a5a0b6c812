"""labkit: a pruning lab for notebooks.

See DESIGN.md for the data flow: dataset -> model -> scores -> allocation -> masks -> (merge)
-> apply -> evaluate -> views. This module re-exports the public API.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .runtime import default_device as default_device
from .runtime import seed_everything as seed_everything
