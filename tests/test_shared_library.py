"""file_format='SO' (graphc/export/shared_library.py): the library against Model.predict, what it links,
its C API's checks, the errors of the export, and the deploy example (examples/deploy)."""
import ctypes
import errno
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys

import llvmlite.binding as llvm
import numpy as np
import pytest

import graphc
from graphc import Tensor, nn
from graphc.errors import ArgumentError
from graphc.export import c_source
from graphc.export.shared_library import SharedLibrary, export_shared_library
from graphc.models import lenet
from runtime import Model
from runtime.checkpoint import load_checkpoint, load_param_into_net

from conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("cc") is None,
                                reason="an exported library is linked by the system C compiler, and no cc is on PATH")
CODES = {name: code for code, name in enumerate(c_source.ERRORS)}
ALLOWED = {"linux-vdso.so.1", "libc.so.6", "libm.so.6", "libpthread.so.0", "ld-linux-x86-64.so.2",
           "ld-linux-aarch64.so.1"}


@pytest.fixture(scope="module")
def exported_lenet(tmp_path_factory):
    graphc.set_seed(3)
    net = lenet()
    # 16 images: 13.5 MFLOP, enough for two threads (c_source.FLOPS_PER_THREAD)
    return net, export_shared_library(net, [np.zeros((16, 1, 32, 32), np.float32)], tmp_path_factory.mktemp("so") / "lenet")


def images(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_the_library_gives_model_predicts_outputs_on_one_and_two_threads(exported_lenet):
    net, exported = exported_lenet
    x = images((16, 1, 32, 32))
    expected = Model(net).predict(Tensor(x)).asnumpy()
    assert exported.inputs == [(16, 1, 32, 32)] and exported.outputs == [(16, 10)]
    for threads in (1, 2):
        library = SharedLibrary(exported, threads)
        np.testing.assert_array_equal(library(x)[0], expected)      # the same kernels: bitwise
        np.testing.assert_array_equal(library(x[::-1].copy())[0], expected[::-1])
        library.close()


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts this process's threads in /proc")
def test_a_handle_starts_its_workers_unless_the_network_is_too_small_for_them(exported_lenet, tmp_path):
    _, exported = exported_lenet
    small = export_shared_library(lenet(), [np.zeros((1, 1, 32, 32), np.float32)], tmp_path / "small")  # 0.85 MFLOP
    before = threads()
    library = SharedLibrary(exported, 2)
    assert threads() == before + 1
    one = SharedLibrary(small, 2)
    assert threads() == before + 1            # runs on the caller's thread alone
    one.close()
    library.close()
    assert threads() == before                # destroy joined the worker


def dynamic_libraries(path) -> set[str]:
    lines = subprocess.run(["ldd", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()
    return {os.path.basename(line.split()[0]) for line in lines if line.strip()}


@pytest.mark.skipif(shutil.which("ldd") is None or shutil.which("nm") is None, reason="needs ldd and nm")
def test_the_library_needs_only_libc_libm_libpthread_and_exports_only_its_api(exported_lenet):
    _, exported = exported_lenet
    assert dynamic_libraries(exported.library) <= ALLOWED
    symbols = subprocess.run(["nm", "-D", "--defined-only", str(exported.library)], capture_output=True, text=True,
                             check=True).stdout.split()
    functions = {s for s in symbols if s.startswith("lenet_")}
    assert functions == {f"lenet_{f}" for f in ("create", "run", "run_checked", "destroy", "error_string")}
    assert not [s for s in symbols if s.startswith(("graphc_", "k"))]    # two libraries in a process never clash


class BatchNormNet(nn.Cell):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, pad_mode="valid")
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(p=0.5)
        self.flatten = nn.Flatten()
        self.dense = nn.Dense(4 * 6 * 6, 5)

    def construct(self, x):
        return self.dense(self.flatten(self.drop(nn.ReLU()(self.bn(self.conv(x))))))


def test_batch_norm_uses_its_moving_statistics_and_dropout_is_off(tmp_path):
    net = BatchNormNet()
    net.bn.moving_mean.set_data(Tensor(np.array([0.5, -1.0, 0.25, 2.0], np.float32)))
    net.bn.moving_variance.set_data(Tensor(np.array([4.0, 0.5, 1.0, 9.0], np.float32)))
    net.set_train(True)
    exported = export_shared_library(net, [np.zeros((2, 3, 8, 8), np.float32)], tmp_path / "bn_net")
    assert net.training                          # the export leaves the network's mode as it was
    x = images((2, 3, 8, 8), seed=1)
    expected = Model(net).predict(Tensor(x)).asnumpy()
    got = SharedLibrary(exported, 2)(x)[0]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())
    net.set_train(True)
    assert not np.allclose(net(Tensor(x)).asnumpy(), expected)    # training mode would differ


def c_array(values, ctype):
    return (ctype * len(values))(*values)


def test_the_c_api_refuses_bad_arguments_and_writes_nothing_out_of_bounds(exported_lenet):
    _, exported = exported_lenet
    library = SharedLibrary(exported, 2)
    run = library.run_checked
    x = images((16, 1, 32, 32))
    out = np.full(160 + 8, 7.0, np.float32)      # the 160 outputs, then 8 guard elements
    inputs = c_array([x.ctypes.data], ctypes.c_void_p)
    outputs = c_array([out.ctypes.data], ctypes.c_void_p)
    sizes_in, sizes_out = c_array([x.size], ctypes.c_size_t), c_array([160], ctypes.c_size_t)
    null = c_array([None], ctypes.c_void_p)
    cases = {
        "NULL_POINTER": [(None, inputs, sizes_in, 1, outputs, sizes_out, 1),
                         (library.handle, None, sizes_in, 1, outputs, sizes_out, 1),
                         (library.handle, inputs, sizes_in, 1, None, sizes_out, 1),
                         (library.handle, inputs, None, 1, outputs, sizes_out, 1),
                         (library.handle, null, sizes_in, 1, outputs, sizes_out, 1),
                         (library.handle, inputs, sizes_in, 1, null, sizes_out, 1)],
        "BUFFER_COUNT": [(library.handle, inputs, sizes_in, 2, outputs, sizes_out, 1),
                         (library.handle, inputs, sizes_in, 1, outputs, sizes_out, 0)],
        "BUFFER_SIZE": [(library.handle, inputs, c_array([x.size - 1], ctypes.c_size_t), 1, outputs, sizes_out, 1),
                        (library.handle, inputs, sizes_in, 1, outputs, c_array([168], ctypes.c_size_t), 1)],
    }
    for error, calls in cases.items():
        for args in calls:
            assert run(*args) == CODES[error], (error, args)
            assert (out == 7.0).all()
    assert run(library.handle, inputs, sizes_in, 1, outputs, sizes_out, 1) == CODES["OK"]
    np.testing.assert_array_equal(out[:160], library(x)[0].reshape(-1))
    assert (out[160:] == 7.0).all()
    library.close()


def test_create_refuses_a_bad_thread_count_with_einval(exported_lenet):
    _, exported = exported_lenet
    lib = ctypes.CDLL(str(exported.library), use_errno=True)
    lib.lenet_create.restype, lib.lenet_create.argtypes = ctypes.c_void_p, [ctypes.c_int]
    lib.lenet_error_string.restype, lib.lenet_error_string.argtypes = ctypes.c_char_p, [ctypes.c_int]
    for threads in (0, -1, c_source.MAX_THREADS + 1):
        ctypes.set_errno(0)
        assert lib.lenet_create(threads) is None
        assert ctypes.get_errno() == errno.EINVAL
    lib.lenet_destroy(None)                     # a no-op, as free(NULL)
    assert lib.lenet_error_string(CODES["BUFFER_SIZE"]).decode() == c_source.ERROR_TEXT[CODES["BUFFER_SIZE"]]
    assert lib.lenet_error_string(99).decode() == "an unknown error code"


def test_export_refuses_what_a_library_cannot_take(tmp_path):
    net = lenet()
    with pytest.raises(ArgumentError, match=r"inputs must be a list or tuple.*got ndarray"):
        export_shared_library(net, np.zeros((1, 1, 32, 32), np.float32), tmp_path / "lenet")
    with pytest.raises(ArgumentError, match=r"input 0 is int32\[1, 1, 32, 32\].*float32"):
        export_shared_library(net, [np.zeros((1, 1, 32, 32), np.int32)], tmp_path / "lenet")
    with pytest.raises(ArgumentError, match=r"my-net'.*C identifier"):
        export_shared_library(net, [np.zeros((1, 1, 32, 32), np.float32)], tmp_path / "my-net")
    other = "x86_64" if platform.machine() == "aarch64" else "aarch64"
    with pytest.raises(ArgumentError, match=f"architecture '{other}' is not this machine's"):
        export_shared_library(net, [np.zeros((1, 1, 32, 32), np.float32)], tmp_path / "lenet",
                              target=f"{other}-unknown-linux-gnu")
    assert list(tmp_path.iterdir()) == []       # nothing written


@pytest.mark.skipif(platform.machine() != "x86_64" or shutil.which("objdump") is None,
                    reason="names an x86-64 CPU and reads the code with objdump")
def test_a_named_target_cpu_gets_code_for_that_cpu(exported_lenet, tmp_path):
    net, host = exported_lenet
    exported = export_shared_library(net, [np.zeros((16, 1, 32, 32), np.float32)], tmp_path / "lenet",
                                     target=f"{llvm.get_process_triple()}:x86-64")
    code = subprocess.run(["objdump", "-d", str(exported.library)], capture_output=True, text=True).stdout
    assert "ymm" not in code and "zmm" not in code          # the baseline x86-64 has SSE2 only
    assert dynamic_libraries(exported.library) <= ALLOWED
    x = images((16, 1, 32, 32), seed=2)
    expected = SharedLibrary(host, 1)(x)[0]
    np.testing.assert_allclose(SharedLibrary(exported, 2)(x)[0], expected, rtol=1e-5,
                               atol=1e-5 * np.abs(expected).max())


@pytest.mark.skipif(shutil.which("make") is None, reason="the example builds with make")
def test_the_deploy_example_runs_lenet_in_c_with_graphcs_predictions(mnist_dir, tmp_path):
    """examples/deploy as its docstring says: train and export, build the C program, run it on the
    test images; its predictions are graphc's (the same kernels)."""
    deploy = REPO / "examples" / "deploy"
    environment = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, str(deploy / "export_lenet.py"), "--data", str(mnist_dir), "--out",
                    str(tmp_path / "lenet"), "--epochs", "1"], check=True, env=environment, capture_output=True)
    subprocess.run(["make", "-C", str(deploy), f"LIB_DIR={tmp_path}"], check=True, capture_output=True)
    done = subprocess.run([str(tmp_path / "lenet_mnist"), str(mnist_dir / "test"), "2", str(tmp_path / "pred.txt")],
                          check=True, capture_output=True, text=True)
    predicted = np.loadtxt(tmp_path / "pred.txt", dtype=np.int64)

    spec = importlib.util.spec_from_file_location("export_lenet", deploy / "export_lenet.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    net = example.PixelLeNet()
    load_param_into_net(net, load_checkpoint(str(tmp_path / "lenet.ckpt")))
    pixels, labels = example.pixels(mnist_dir / "test", "test")
    padded = np.concatenate([pixels, np.zeros((-len(pixels) % 64, 1, 28, 28), np.float32)])
    model = Model(net)
    expected = np.concatenate([model.predict(Tensor(padded[i:i + 64])).asnumpy().argmax(1)
                               for i in range(0, len(padded), 64)])[:len(pixels)]
    np.testing.assert_array_equal(predicted, expected)
    accuracy = (expected == labels).mean()
    assert done.stdout.strip() == f"accuracy {accuracy:.4f} ({(expected == labels).sum()} of 10000 test images)"
    assert accuracy > 0.9


class WinogradNet(nn.Cell):
    """A stride-1 3x3 convolution on 32 channels (Winograd's kernel) after a 1->32 one (channel lanes)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, pad_mode="same")
        self.conv2 = nn.Conv2d(32, 32, 3, pad_mode="same")

    def construct(self, x):
        return self.conv2(nn.ReLU()(self.conv1(x)))


def test_weight_relayouts_run_once_in_prepare_and_the_library_still_matches_predict(tmp_path):
    """Kernel.prepare: the weights' relayout (channel lanes) and Winograd transform move out of the
    step into graphc_prepare, which the library runs at create; later calls reuse them."""
    from graphc.codegen.kernel_cache import KernelSet
    from graphc.codegen.lower import lower_graph
    from graphc.export.inference import inference_graph

    net = WinogradNet()
    x = images((8, 1, 8, 8), seed=4)           # 10 MFLOP: two threads
    graph, _ = inference_graph(net, [x], "SO")
    module = str(lower_graph(graph, False, KernelSet(None, share=False), prepared=True).module)
    step, prepare = (module.index(f'define void @"{name}"') for name in ("graphc_step", "graphc_prepare"))
    assert step < prepare
    calls = re.compile(r'call void @"k\w+\.weights"')
    assert len(calls.findall(module[prepare:])) == 2 and not calls.findall(module[step:prepare])
    library = SharedLibrary(export_shared_library(net, [x], tmp_path / "winograd"), 2)
    expected = Model(net).predict(Tensor(x)).asnumpy()
    for _ in range(2):
        np.testing.assert_array_equal(library(x)[0], expected)


class LastStepLSTM(nn.Cell):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 16, batch_first=True)
        self.dense = nn.Dense(16, 3)

    def construct(self, x):
        out, _ = self.lstm(x)
        return self.dense(out[:, -1])


def test_a_recurrent_network_runs_its_loop_in_the_library(tmp_path):
    """A scan is a loop of the step whose values live in the REGIONS block, which the runner allocates."""
    net = LastStepLSTM()
    x = images((4, 5, 8), seed=5)
    exported = export_shared_library(net, [x], tmp_path / "lstm")
    np.testing.assert_array_equal(SharedLibrary(exported, 1)(x)[0], Model(net).predict(Tensor(x)).asnumpy())


class PassThrough(nn.Cell):
    """Outputs that are the input itself, a parameter, and a computed value."""

    def __init__(self):
        super().__init__()
        self.w = graphc.Parameter(Tensor(np.arange(6, dtype=np.float32).reshape(2, 3)), name="w")

    def construct(self, x):
        return x, self.w, x * 2.0


def test_outputs_read_from_the_input_slot_the_weights_and_the_arena(tmp_path):
    x = images((2, 3), seed=6)
    got = SharedLibrary(export_shared_library(PassThrough(), [x], tmp_path / "pass"), 1)(x)
    for value, expected in zip(got, (x, np.arange(6, dtype=np.float32).reshape(2, 3), x * 2)):
        np.testing.assert_array_equal(value, expected)
