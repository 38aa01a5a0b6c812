"""Fabricated inputs with the column contracts of labkit's engine (no engine objects needed)."""
from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib import _pylab_helpers


@pytest.fixture(autouse=True)
def _no_pyplot_leak_or_rc_change():
    """Every view must leave pyplot's figure registry and the global rcParams untouched."""
    before = dict(matplotlib.rcParams)
    n = _pylab_helpers.Gcf.get_num_fig_managers()
    yield
    assert _pylab_helpers.Gcf.get_num_fig_managers() == n, "a view created a pyplot figure"
    changed = [k for k, v in before.items() if str(matplotlib.rcParams[k]) != str(v)]
    assert not changed, f"a view changed global rcParams: {changed}"


@pytest.fixture
def per_class() -> pd.DataFrame:
    """Ten classes of a long tail, listed in class order (not frequency order) on purpose."""
    n_train = np.array([8, 500, 60, 300, 12, 150, 30, 90, 5, 210])
    group = np.where(n_train > 100, "many", np.where(n_train >= 20, "medium", "few"))
    acc = np.round(0.5 + 0.45 * np.log(n_train) / np.log(500), 3)
    n_test = np.full(10, 40)
    return pd.DataFrame({
        "class": np.arange(10), "name": [f"c{i}" for i in range(10)], "n_train": n_train,
        "n_test": n_test, "correct": np.round(acc * n_test).astype(int), "accuracy": acc, "group": group,
        "ci_low": np.clip(acc - 0.05, 0, 1), "ci_high": np.clip(acc + 0.04, 0, 1),
    })
