"""User errors are graphc errors whose first line names the user's file:line, then the layer or op,
the shapes and the fix (DESIGN.md §7). Each case marks the line the error must point at."""
from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc import GraphcError, Tensor, nn, ops
from graphc.models import lenet

SOURCE = Path(__file__).read_text().splitlines()


@pytest.fixture(params=[graphc.GRAPH_MODE, graphc.PYNATIVE_MODE], ids=["graph", "pynative"])
def mode(request):
    graphc.set_context(mode=request.param)
    return request.param


def assert_located(error: GraphcError, marker: str) -> str:
    """The message starts with this file's line that ends with `# <marker>`; returns the message."""
    [line] = [i + 1 for i, text in enumerate(SOURCE) if text.rstrip().endswith(f"# {marker}")]
    message = str(error)
    location = message.split(": ", 1)[0]
    assert location.endswith(f"{Path(__file__).name}:{line}"), message
    return message


def test_lenet_fed_28x28_images_names_fc1_the_shapes_and_the_fix(mode):
    net = lenet()
    images = Tensor(np.zeros((32, 1, 28, 28), np.float32))
    with pytest.raises(GraphcError) as error:
        net(images)  # lenet-28
    message = assert_located(error.value, "lenet-28")
    assert "backbone.fc1 (Dense)" in message
    assert "expected input [N, 400], got f32[32,256]" in message       # 16 maps of 4x4 instead of 5x5
    assert "feed it 400 features" in message and "Dense(256, 120)" in message


def test_wrong_channel_count_names_the_conv(mode):
    net = lenet()
    with pytest.raises(GraphcError) as error:
        net(Tensor(np.zeros((2, 3, 32, 32), np.float32)))  # rgb
    message = assert_located(error.value, "rgb")
    assert "backbone.conv1 (Conv2d): expected input [N, 1, H, W] (NCHW), got f32[2,3,32,32]" in message
    assert "Conv2d(3, 6, ...)" in message


def test_missing_batch_axis_names_the_layer(mode):
    dense = nn.Dense(4, 2)
    with pytest.raises(GraphcError) as error:
        dense(Tensor(np.zeros(4, np.float32)))  # no-batch
    message = assert_located(error.value, "no-batch")
    assert "Dense: expected input [N, 4], got f32[4]; add the batch axis" in message


def test_unknown_reduction():
    with pytest.raises(GraphcError) as error:
        nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="average")  # reduction
    message = assert_located(error.value, "reduction")
    assert "SoftmaxCrossEntropyWithLogits: reduction must be one of 'mean', 'sum', 'none', got 'average'" in message
    assert isinstance(error.value, ValueError)        # what MindSpore raises, for code that catches it


def test_a_list_where_a_tensor_is_expected(mode):
    net = lenet()
    with pytest.raises(GraphcError) as error:
        net(np.zeros((1, 1, 32, 32)).tolist())  # list-input
    message = assert_located(error.value, "list-input")
    assert "backbone.conv1 (Conv2d): the input is a list, not a Tensor; wrap it with graphc.Tensor(...)" in message


def test_a_string_operand_to_an_op(mode):
    with pytest.raises(GraphcError) as error:
        ops.add(Tensor(np.ones(2, np.float32)), "1")  # string-operand
    message = assert_located(error.value, "string-operand")
    assert "operand 'y' is a str, not a Tensor" in message


def test_a_traced_value_used_as_a_python_bool(mode):
    # a lambda: graphc/autograph.py does not rewrite it
    gate = lambda x: x if x.mean() > 0 else -x  # traced-bool

    class Gate(nn.Cell):
        def construct(self, x):
            return gate(x)

    with pytest.raises(GraphcError) as error:
        graphc.jit(Gate())(Tensor(np.ones(3, np.float32)))
    message = assert_located(error.value, "traced-bool")
    assert "a traced value (bool[], from op 'gt') is used as a Python bool" in message
    assert "ops.select(cond, a, b)" in message and "not in lambdas" in message


def test_a_bad_layer_argument_points_at_the_constructor_call():
    with pytest.raises(GraphcError) as error:
        nn.Conv2d(3, 8, 3, pad_mode="valid", padding=1)  # conv-args
    message = assert_located(error.value, "conv-args")
    assert "Conv2d: padding=1 needs pad_mode='pad'" in message


def test_an_op_shape_error_inside_a_layer_names_op_scope_and_operands(mode):
    net = lenet()
    with pytest.raises(GraphcError) as error:
        net(Tensor(np.zeros((2, 1, 4, 4), np.float32)))  # tiny-image
    message = assert_located(error.value, "tiny-image")
    assert "conv2d in backbone.conv1" in message and "f32[2,1,4,4]" in message


def test_a_traced_value_leaking_into_another_trace_is_refused():
    kept = []

    @graphc.jit
    def remember(x):
        kept.append(x * 2.0)
        return x

    @graphc.jit
    def reuse(x):
        return x + kept[0]

    x = Tensor(np.ones(3, np.float32))
    remember(x)
    with pytest.raises(GraphcError, match="traced value from another trace"):
        reuse(x)


@pytest.mark.parametrize("backend", ["llvmx", "native", "LLVM"])
def test_an_unknown_jit_backend(backend):
    with pytest.raises(ValueError) as error:
        graphc.jit(lambda x: x + 1.0, backend=backend)  # jit backend
    assert assert_located(error.value, "jit backend").endswith(
        f"jit: backend={backend!r} is not valid: expected one of 'llvm', 'interp' (or None: the context's backend)")
    assert graphc.jit(lambda x: x + 1.0, backend="interp")(np.ones(2, np.float32)).tolist() == [2.0, 2.0]
