"""Test-wide settings: deterministic, single-threaded torch on a shared machine."""

import os

import pytest
import torch

os.environ.setdefault("DYNSYS_NO_PROGRESS", "1")
torch.set_num_threads(int(os.environ.get("DYNSYS_TEST_THREADS", "1")))


@pytest.fixture(autouse=True)
def _seed_everything():
    torch.manual_seed(0)
    yield


@pytest.fixture(autouse=True)
def _restore_group_registry():
    """Groups a test registers at run time vanish after it, so that no test
    sees another's registrations (e.g. in a list of known groups)."""
    from dynsys.groups import _registry

    saved = dict(_registry._FACTORIES)
    yield
    _registry._FACTORIES.clear()
    _registry._FACTORIES.update(saved)
