"""One rename ports a MindSpore program: every `mindspore` in an import or attribute path becomes
`graphc` (and mindvision's `mindvision` becomes `graphc.mindvision`). The namespaces are faces over
graphc's and the runtime's modules (docs/architecture.md); a MindSpore API graphc lacks is an error
that says so. docs/mindspore.md lists the paths."""
import subprocess
import sys

import pytest

import graphc
import runtime
import runtime.checkpoint
import runtime.dataset
from conftest import REPO
from graphc.faces import MissingApiError, MissingApiImportError

IMPORTS = [   # (the import, as a renamed MindSpore program writes it; the name it binds; what that must be)
    ("import graphc as ms", "ms", graphc),
    ("from graphc import nn, ops, Tensor, Parameter, ParameterTuple", "Tensor", graphc.Tensor),
    ("from graphc import Model, save_checkpoint, load_checkpoint, load_param_into_net", "load_param_into_net",
     runtime.load_param_into_net),
    ("from graphc import Model", "Model", runtime.Model),
    ("from graphc import LossMonitor, TimeMonitor, CheckpointConfig, ModelCheckpoint", "LossMonitor",
     runtime.callbacks.LossMonitor),
    ("from graphc import set_seed, get_seed, set_context, context, jit", "context", graphc.context),
    ("from graphc import dtype as mstype", "mstype", graphc.common.dtype),
    ("from graphc.common import dtype as mstype", "mstype", graphc.common.dtype),
    ("import graphc.common.dtype as mstype", "mstype", graphc.common.dtype),
    ("from graphc.common.initializer import Normal, HeUniform, initializer", "Normal", graphc.nn.Normal),
    ("from graphc.common import Tensor, Parameter, set_seed", "Parameter", graphc.Parameter),
    ("from graphc.ops import operations as P", "P", graphc.ops.operations),
    ("from graphc.ops import functional as F", "F", graphc.ops.functional),
    ("from graphc.ops import composite as C", "C", graphc.ops.composite),
    ("import graphc.ops.operations as P", "P", graphc.ops.operations),
    ("import graphc.dataset as ds", "ds", graphc.dataset),
    ("from graphc.dataset import GeneratorDataset, MnistDataset", "GeneratorDataset", runtime.dataset.GeneratorDataset),
    ("import graphc.dataset.vision as vision", "vision", graphc.dataset.vision),
    ("import graphc.dataset.vision.c_transforms as CV", "CV", graphc.dataset.vision.c_transforms),
    ("from graphc.dataset.vision import Inter", "Inter", runtime.dataset.vision.Inter),
    ("import graphc.dataset.transforms as transforms", "transforms", graphc.dataset.transforms),
    ("import graphc.dataset.transforms.c_transforms as C", "C", graphc.dataset.transforms.c_transforms),
    ("from graphc.dataset.transforms.c_transforms import TypeCast", "TypeCast", runtime.dataset.transforms.TypeCast),
    ("import graphc.dataset.text as text", "text", graphc.dataset.text),
    ("from graphc.train import Model, LossMonitor, Accuracy", "Accuracy", runtime.metrics.Accuracy),
    ("from graphc.train.callback import LossMonitor, ModelCheckpoint", "ModelCheckpoint",
     runtime.callbacks.ModelCheckpoint),
    ("from graphc.train.serialization import load_checkpoint, load_param_into_net", "load_checkpoint",
     runtime.load_checkpoint),
    ("from graphc.train.model import Model", "Model", runtime.Model),
    ("from graphc.train.metrics import Accuracy", "Accuracy", runtime.metrics.Accuracy),
    ("from graphc.nn.metrics import Accuracy", "Accuracy", runtime.metrics.Accuracy),
    ("from graphc.nn import Accuracy, Loss", "Loss", runtime.metrics.Loss),
    ("import graphc.amp as amp", "amp", graphc.amp),
    ("from graphc.communication.management import init, get_rank, get_group_size", "get_rank",
     graphc.communication.get_rank),
    ("from graphc.mindvision.dataset import Mnist", "Mnist", runtime.dataset.Mnist),
    ("from graphc.mindvision.classification.dataset import Mnist", "Mnist", runtime.dataset.Mnist),
    ("from graphc.mindvision.classification.models import lenet", "lenet", graphc.models.lenet),
    ("from graphc.mindvision.engine.callback import LossMonitor", "LossMonitor", runtime.callbacks.LossMonitor),
]

ATTRIBUTES = [   # (a path from `import graphc as ms`, what it must be)
    ("ms.nn.Dense", graphc.nn.Dense), ("ms.ops.reshape", graphc.ops.reshape), ("ms.Tensor", graphc.Tensor),
    ("ms.Model", runtime.Model), ("ms.save_checkpoint", runtime.save_checkpoint),
    ("ms.load_checkpoint", runtime.load_checkpoint), ("ms.load_param_into_net", runtime.load_param_into_net),
    ("ms.dataset.NumpySlicesDataset", runtime.dataset.NumpySlicesDataset),
    ("ms.dataset.config", runtime.dataset.config),
    ("ms.dataset.vision.Resize", runtime.dataset.vision.Resize), ("ms.train.Model", runtime.Model),
    ("ms.train.callback.History", runtime.callbacks.History), ("ms.nn.metrics.MAE", runtime.metrics.MAE),
    ("ms.nn.Accuracy", runtime.metrics.Accuracy), ("ms.common.initializer.XavierUniform", graphc.nn.XavierUniform),
    ("ms.common.dtype.float32", graphc.float32), ("ms.dtype.int32", graphc.int32), ("ms.float32", graphc.float32),
    ("ms.bool", graphc.bool_), ("ms.dtype.bool", graphc.bool_), ("ms.common.bool", graphc.bool_),
    ("ms.ops.operations.ReduceMean", graphc.ops.ReduceMean), ("ms.ops.functional.depend", graphc.ops.depend),
    ("ms.ops.composite.GradOperation", graphc.nn.GradOperation), ("ms.ops.GradOperation", graphc.nn.GradOperation),
    ("ms.context.set_context", graphc.set_context), ("ms.context.GRAPH_MODE", graphc.GRAPH_MODE),
    ("ms.context.ParallelMode", graphc.ParallelMode), ("ms.set_context", graphc.set_context),
    ("ms.set_seed", graphc.context.set_seed), ("ms.get_seed", graphc.context.get_seed), ("ms.jit", graphc.jit),
    ("ms.communication.management.get_group_size", graphc.communication.get_group_size),
    ("ms.communication.get_rank", graphc.communication.get_rank),
]


@pytest.mark.parametrize("statement, name, expected", IMPORTS, ids=[s for s, _, _ in IMPORTS])
def test_every_renamed_import_works(statement, name, expected):
    namespace = {}
    exec(statement, namespace)
    assert namespace[name] is expected


@pytest.mark.parametrize("path, expected", ATTRIBUTES, ids=[p for p, _ in ATTRIBUTES])
def test_every_renamed_attribute_path_works(path, expected):
    assert eval(path, {"ms": graphc}) is expected


def test_a_face_re_exports_for_import_star_and_dir():
    namespace = {}
    exec("from graphc.train.callback import *", namespace)
    assert namespace["LossMonitor"] is runtime.callbacks.LossMonitor and "runtime" not in namespace
    assert "TypeCast" in dir(graphc.dataset.transforms.c_transforms)


def test_graphc_reaches_the_runtime_only_when_a_runtime_name_is_asked_for():
    code = ("import sys, graphc as ms, graphc.nn, graphc.ops.composite, graphc.common.initializer; "
            "assert 'runtime' not in sys.modules, 'import graphc loaded the runtime'; "
            "ms.Model; assert 'runtime' in sys.modules; print('ok')")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0 and run.stdout.split() == ["ok"], run.stderr


# -- a MindSpore API graphc lacks ----------------------------------------------------------------------------------
MISSING = [   # (a renamed path to an API graphc lacks, written here so that the error has a line to name; the original)
    (lambda: graphc.nn.Transformer, "MindSpore's mindspore.nn.Transformer"),
    (lambda: graphc.ops.fft, "MindSpore's mindspore.ops.fft"),
    (lambda: graphc.export_graph_to_onnx, "MindSpore's mindspore.export_graph_to_onnx"),
    (lambda: graphc.amp.custom_mixed_precision, "MindSpore's mindspore.amp.custom_mixed_precision"),
    (lambda: graphc.dataset.vision.RandomColorAdjust, "MindSpore's mindspore.dataset.vision.RandomColorAdjust"),
    (lambda: graphc.train.callback.SummaryLandscape, "MindSpore's mindspore.train.callback.SummaryLandscape"),
    (lambda: graphc.context.set_ps_context, "MindSpore's mindspore.context.set_ps_context"),
    (lambda: graphc.mindvision.engine.callback.ValAccMonitor, "mindvision's mindvision.engine.callback.ValAccMonitor"),
]


@pytest.mark.parametrize("access, original", MISSING, ids=[original.split()[1] for _, original in MISSING])
def test_a_missing_api_is_named_as_mindspores_at_the_users_line(access, original):
    with pytest.raises(MissingApiError) as error:
        access()
    location, _, message = str(error.value).partition(": ")
    assert location.rpartition(":")[0].endswith("test_mindspore_namespaces.py")
    assert f"graphc does not have {original}" in message and "docs/mindspore.md" in message
    assert isinstance(error.value, AttributeError) and isinstance(error.value, graphc.GraphcError)


def test_from_import_of_a_missing_api_says_so_too():
    with pytest.raises(MissingApiImportError, match=r"graphc does not have MindSpore's mindspore.nn.Transformer; "
                                                    r"docs/mindspore.md"):
        from graphc.nn import Transformer  # noqa: F401
    with pytest.raises(ImportError, match="mindspore.dataset.vision.c_transforms.RandomColorAdjust"):
        from graphc.dataset.vision.c_transforms import RandomColorAdjust  # noqa: F401


def test_a_near_miss_suggests_graphcs_name():
    with pytest.raises(MissingApiError, match=r"did you mean graphc.nn.Dense\?"):
        graphc.nn.Dnse


def test_probing_with_hasattr_and_getattr_works_and_private_names_stay_plain():
    assert not hasattr(graphc.nn, "Transformer") and getattr(graphc.ops, "fft", None) is None
    assert hasattr(graphc, "Model") and hasattr(graphc.nn, "Accuracy")
    for module in (graphc, graphc.nn, graphc.ops, graphc.dataset, graphc.common.dtype):
        for name in ("__wrapped__", "_pytestfixturefunction", "__array_interface__"):
            with pytest.raises(AttributeError) as error:
                getattr(module, name)
            assert type(error.value) is AttributeError
