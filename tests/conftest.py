"""Shared test setup: every test starts from the default context and a fixed seed; real datasets are
obtained the way a user obtains them (see `real_dataset`)."""
import os
from pathlib import Path

import pytest

import graphc
from graphc import context
from runtime.dataset import FASHION_MNIST, MNIST, DownloadError, download_split

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("GRAPHC_VERIFY_EACH", "1")   # every pass of every compile is verified, naming a culprit
os.environ.setdefault("GRAPHC_ALLOW_OVERSUBSCRIBE", "1")   # tests comparing 1 and 2 threads get 2 on any machine
REQUIRE_DATA_ENV = "GRAPHC_REQUIRE_DATA"
DEFAULT_CONTEXT = dict(context._context)   # taken before any test or fixture changes it


@pytest.fixture(autouse=True)
def fresh_context():
    graphc.set_seed(0)
    yield
    # the defaults, not what the test began with: a module-scoped fixture may have changed the context
    # before this fixture ran, and that change must not reach the next module
    context.set_context(**DEFAULT_CONTEXT)      # through set_context, so compiled functions see the change
    context.reset_auto_parallel_context()


def real_dataset(source):
    """Both splits of `source`, downloaded once per machine into its cache folder ($GRAPHC_DATA_DIR or
    ~/.cache/graphc/datasets) from its public mirrors or from its mirror variable.

    Where the data cannot be had the test is skipped with the reason, or fails under GRAPHC_REQUIRE_DATA=1."""
    root = source.default_root()
    try:
        for split in ("train", "test"):
            download_split(source, root, split)
    except DownloadError as exc:
        first_attempt = str(exc).splitlines()[1].strip()
        reason = (f"{source.name} could not be downloaded ({first_attempt} ...); to run this test offline, set "
                  f"{source.mirrors_env}=file:///path/to/a/folder/with/the/.gz/files")
        if os.environ.get(REQUIRE_DATA_ENV) == "1":
            pytest.fail(f"{reason} ({REQUIRE_DATA_ENV}=1 makes this a failure)")
        pytest.skip(reason)
    return root


@pytest.fixture(scope="session")
def mnist_dir():
    """MNIST in mindvision's layout: <dir>/train/train-images-idx3-ubyte, <dir>/test/t10k-..."""
    return real_dataset(MNIST)


@pytest.fixture(scope="session")
def fashion_mnist_dir():
    """Fashion-MNIST in the same layout."""
    return real_dataset(FASHION_MNIST)
