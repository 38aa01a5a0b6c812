"""Head surgery: a copy with a new classifier; the source model is never touched."""
import pytest
import torch
from torch import nn

from labkit.models.heads import replace_head, with_new_head


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 8), nn.ReLU(),
                         nn.Linear(8, 3))


def test_new_head_replaces_the_last_linear_of_a_copy_and_is_seeded():
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    new = with_new_head(net, 5, seed=0)
    assert new[5].out_features == 5 and new[5].in_features == 8 and net[5].out_features == 3
    assert torch.equal(new[3].weight, net[3].weight) and new[3] is not net[3]  # the body is a copy
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert torch.equal(with_new_head(net, 5, seed=0)[5].weight, new[5].weight)
    assert not torch.equal(with_new_head(net, 5, seed=1)[5].weight, new[5].weight)


def test_replace_head_by_name_on_a_bare_linear_and_errors():
    net = _net()
    swapped = replace_head(net, lambda old: nn.Identity(), "3")
    assert isinstance(swapped[3], nn.Identity) and isinstance(net[3], nn.Linear)
    lin = nn.Linear(4, 2)
    assert isinstance(replace_head(lin, lambda old: nn.Linear(old.in_features, 7)), nn.Linear)
    with pytest.raises(KeyError, match="linear layers"):
        replace_head(net, lambda old: old, "0")
    with pytest.raises(ValueError, match="no nn.Linear"):
        with_new_head(nn.Sequential(nn.ReLU()), 3)
