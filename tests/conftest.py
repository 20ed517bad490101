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
