"""Every registered group passes ``check_group`` in float32 and float64.

The parameter list is read from the registry, so a newly registered group
cannot skip the suite; Sp(n) is also checked at n = 2.
"""

from __future__ import annotations

import pytest
import torch

from dynsys.groups import Sp, available_groups, get_group
from dynsys.testing import check_group

DTYPES = [torch.float32, torch.float64]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", available_groups())
def test_registered_group_conforms(name, dtype):
    check_group(get_group(name), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sp2_conforms(dtype):
    check_group(Sp(2), dtype=dtype)


def test_every_shipped_group_is_registered():
    assert {"so2", "so3", "se2", "se3", "sp"} <= set(available_groups())
