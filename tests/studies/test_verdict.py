"""The shared paired PASS / FAIL rule of docs/methods.md §0.1."""
from labkit.studies._verdict import paired_pass


def test_paired_pass_follows_methods_0_1():
    assert paired_pass([0.1, 0.2, 0.3])                 # same sign every seed
    assert paired_pass([0.0, 0.0, 0.0])                 # ">= 0" met by ties in every seed
    assert not paired_pass([1.0, -0.1, 0.2])            # mean 0.37 < std 0.56
    assert paired_pass([3.0, -0.1, 3.2])                # mean 2.03 > std 1.85
    assert paired_pass([-0.2, -0.1, 0.0], -0.3)         # within the -0.3 pt margin every seed
    assert not paired_pass([-0.5, -0.4, -0.6], -0.3)
    assert not paired_pass([])
