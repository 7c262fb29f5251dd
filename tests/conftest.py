"""Shared test setup: every test starts from the default context and a fixed seed."""
from pathlib import Path

import pytest

import graphc
from graphc import context

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = REPO.parent / "shared" / "datasets" / "mnist"


@pytest.fixture(autouse=True)
def fresh_context():
    saved = dict(context._context)
    graphc.set_seed(0)
    yield
    context._context.clear()
    context._context.update(saved)


@pytest.fixture(scope="session")
def mnist_mirror():
    """A file:// mirror URL of the real MNIST files shipped beside the repository."""
    if not (MNIST_DIR / "train-images-idx3-ubyte.gz").is_file():
        raise RuntimeError(f"the MNIST files are missing from {MNIST_DIR}; tests need ../shared/datasets/mnist")
    return MNIST_DIR.as_uri()
