"""`import runtime` reaches its submodules as attributes, as `import mindspore` reaches mindspore.dataset."""
import subprocess
import sys

from conftest import REPO


def test_import_runtime_reaches_dataset_callbacks_and_metrics():
    code = ("import runtime; "
            "print(runtime.dataset.Mnist.__name__, runtime.dataset.FashionMnist.__name__, "
            "runtime.callbacks.LossMonitor.__name__, runtime.metrics.Accuracy.__name__, runtime.Model.__name__)")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["Mnist", "FashionMnist", "LossMonitor", "Accuracy", "Model"]
