"""Display helpers for the course notebooks: tables a student can read.

Example:
    >>> import numpy as np, pandas as pd
    >>> tidy(pd.DataFrame({"x": np.array([0.8309999704360962], dtype=np.float32), "n": [3]}))
           x  n
    0  0.831  3
"""
from __future__ import annotations

import pandas as pd

__all__ = ["tidy"]


def tidy(df: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A copy of ``df`` whose float columns are float64 rounded to ``digits`` decimals.

    float32 values (from torch) print with 18 digits once converted (0.831 -> 0.8309999704360962);
    converting to float64 *before* rounding gives the short number.
    """
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].astype("float64").round(digits)
    return out
