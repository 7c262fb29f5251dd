"""Benchmark: inference latency of LeNet (batch 1 and 64), resnet18 and mobilenet_v2 (32x32 images,
batch 1 and 32) in graphc's Model.predict, in the library graphc exports (file_format='SO', called
through ctypes), in ONNX Runtime on the ONNX file graphc exports, and in PyTorch eager, all in this
run, on --threads threads (2 by default).

    python benchmarks/inference.py
    python benchmarks/inference.py --models lenet --batches 1 --rounds 3 --calls 20     # a smoke run

Each column is the median over --rounds rounds of the mean time of --calls calls, after warm-up, in
milliseconds per call (a call: the batch in, the logits out). Every runner's logits are first checked
against predict's. A runner that is not available says why in its column: ONNX Runtime needs the
`onnxruntime` and `onnx` packages (pip install '.[onnx]'); PyTorch needs `torch`.
"""
import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lenet_step import ms_per_step  # noqa: E402

import graphc  # noqa: E402
from graphc import Tensor  # noqa: E402
from graphc.export.shared_library import SharedLibrary, export_shared_library  # noqa: E402
from graphc.models import lenet, mobilenet_v2, resnet18  # noqa: E402
from runtime import Model  # noqa: E402

# name -> (builder, one image's shape, batch sizes)
MODELS = {
    "lenet": (lambda: lenet(num_classes=10), (1, 32, 32), (1, 64)),
    "resnet18": (lambda: resnet18(num_classes=10, small_input=True), (3, 32, 32), (1, 32)),
    "mobilenet_v2": (lambda: mobilenet_v2(num_classes=10), (3, 32, 32), (1, 32)),
}


def check(name, got, expected):
    scale = np.abs(expected).max()
    if not np.allclose(got, expected, rtol=1e-4, atol=1e-4 * scale):
        raise AssertionError(f"{name}'s logits differ from predict's by {np.abs(got - expected).max():.3g} "
                             f"(largest logit {scale:.3g})")


def onnx_runner(net, x, threads, directory):
    """ONNX Runtime on the file graphc.export writes, or the reason it cannot run."""
    try:
        import onnx  # noqa: F401  (graphc's ONNX export writes with it)
        import onnxruntime
    except ImportError as error:
        return f"{error.name} is not installed"
    onnx_file = graphc.export(net, Tensor(x), file_name=str(Path(directory) / "net"), file_format="ONNX")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = onnxruntime.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: x}
    return lambda: session.run(None, feed)[0]


def torch_runner(net, x, threads):
    """PyTorch eager on the same weights, or the reason it cannot run."""
    try:
        import torch
    except ImportError:
        return "torch is not installed"
    torch.set_num_threads(threads)
    if isinstance(net, graphc.models.BaseClassifier):
        import torch_lenet
        params = {name.split("backbone.")[1]: torch.from_numpy(p.asnumpy().copy())
                  for name, p in net.parameters_and_names()}
        model = lambda images: torch_lenet.logits(params, images)
    else:
        import torch_models
        model = torch_models.torch_model(net).eval()
    images = torch.from_numpy(x)

    def call():
        with torch.inference_mode():
            return model(images).numpy()
    return call


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=list(MODELS))
    parser.add_argument("--batches", nargs="+", type=int, help="batch sizes (default: each model's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    graphc.set_context(mode=graphc.GRAPH_MODE, num_threads=args.threads)
    columns = ("predict", "so", "onnxruntime", "torch")
    print(f"{'model':<14}{'batch':>6}" + "".join(f"{c + ' ms':>16}" for c in columns) + f"{'so/ort':>8}")
    for name in args.models:
        make, image, batches = MODELS[name]
        for batch in args.batches or batches:
            graphc.set_seed(0)
            net = make()
            x = np.random.default_rng(0).standard_normal((batch, *image)).astype(np.float32)
            model = Model(net)
            expected = model.predict(Tensor(x)).asnumpy()
            with tempfile.TemporaryDirectory() as directory:
                library = SharedLibrary(export_shared_library(net, [x], Path(directory) / "net"), args.threads)
                runners = {"predict": lambda: model.predict(Tensor(x)).asnumpy(), "so": lambda: library(x)[0],
                           "onnxruntime": onnx_runner(net, x, args.threads, directory),
                           "torch": torch_runner(net, x, args.threads)}
                times = {}
                for column, runner in runners.items():
                    if isinstance(runner, str):
                        times[column] = runner
                        continue
                    check(column, runner(), expected)
                    times[column] = ms_per_step(runner, args.rounds, args.calls)
                library.close()
            cells = "".join(f"{t:>16.3f}" if isinstance(t, float) else f"{t[:15]:>16}" for t in times.values())
            ratio = times["so"] / times["onnxruntime"] if isinstance(times["onnxruntime"], float) else float("nan")
            print(f"{name:<14}{batch:>6}{cells}{ratio:>8.2f}", flush=True)
            for column, t in times.items():
                if isinstance(t, str):
                    print(f"  {column}: {t}")


if __name__ == "__main__":
    main()
