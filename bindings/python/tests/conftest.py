"""Fixtures shared by the Python test files."""

import pytest


@pytest.fixture(scope="session")
def torch_threads_at_start():
    """torch's intra-op thread count when the first test asking for it starts (a session fixture
    is set up before the module fixtures that might import silero_vad)."""
    torch = pytest.importorskip("torch")
    return torch.get_num_threads()


@pytest.fixture
def keep_torch_threads(torch_threads_at_start):
    """Keeps torch's thread count at its value from before silero_vad was imported: importing
    the silero-vad package runs ``torch.set_num_threads(1)`` for the whole process, which would
    leave the test (when a module fixture imported it) and every later test of the session on one
    thread. Every test of a file that imports silero_vad uses it."""
    import torch
    torch.set_num_threads(torch_threads_at_start)
    yield
    torch.set_num_threads(torch_threads_at_start)
