"""Tensor constructors and methods against MindSpore 2.10's recorded values (tests/mindspore_reference/), in
both modes, with gradients against finite differences where the method is differentiable."""
import re

import numpy as np
import pytest

import graphc
from graphc import GraphcError, Parameter, Tensor
from graphc.nn.init import Normal, One
from gradcheck import check_vjp
from ms_reference import assert_matches, in_mode, recorded, tensor

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")    # x // 0 and x % 0 are among the cases
MODES = [pytest.param(graphc.PYNATIVE_MODE, id="pynative"), pytest.param(graphc.GRAPH_MODE, id="graph")]
METHODS = recorded("layers")["methods"]


def call(case):
    """(fn of the tensor arguments, the tensor arguments) for one recorded method call; an argument
    {"tensor": values} is a Tensor of the receiver's dtype, and a compiled input in GRAPH_MODE."""
    args = case["args"]
    positions = [i for i, a in enumerate(args) if isinstance(a, dict)]

    def fn(x, *given):
        values = list(args)
        for i, value in zip(positions, given):
            values[i] = value
        return getattr(x, case["method"])(*values, **case["kwargs"])
    return fn, [tensor(case["input"], case["dtype"])] + [tensor(args[i]["tensor"], case["dtype"]) for i in positions]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", METHODS, ids=[f"{c['method']}{c['args']}{c['kwargs']}" for c in METHODS])
def test_method_gives_mindsporess_values(mode, case):
    fn, tensors = call(case)
    out = in_mode(mode, fn, *tensors)
    assert_matches(out, case["output"], case["out_dtype"])


@pytest.mark.parametrize("method, args", [("std", ()), ("var", (0, 1, True)), ("tile", ((2, 1, 2),)),
                                          ("repeat", (2, 3)), ("repeat_interleave", (2, 1)), ("permute", (1, 0)),
                                          ("unsqueeze", (1,)), ("square", ()), ("exp", ()),
                                          ("expand_as", (Tensor(np.zeros((4, 2, 3))),)), ("__mod__", (1.3,)),
                                          ("__rmod__", (2.7,))])
def test_method_gradients_match_finite_differences(method, args):
    x = np.random.default_rng(1).uniform(0.5, 2.0, (2, 3))
    check_vjp(lambda t: getattr(t, method)(*args), [x], np.random.default_rng(2))


# -- constructors --------------------------------------------------------------------------------------------------
def test_lazy_tensor_is_filled_by_its_initializer_at_init_data():
    lazy = Tensor(shape=(2, 3), dtype=graphc.float32, init=One())
    assert lazy.shape == (2, 3) and lazy.dtype == graphc.float32 and "uninitialized" in repr(lazy)
    assert lazy.init_data() is lazy
    np.testing.assert_array_equal(lazy.asnumpy(), np.ones((2, 3), np.float32))


def test_lazy_tensor_fills_at_first_use_and_seeds_like_an_eager_draw():
    graphc.set_seed(3)
    weight = Parameter(Tensor(shape=(4,), dtype=graphc.float32, init=Normal(0.02)), name="w")
    graphc.set_seed(3)
    values = np.zeros(4)
    Normal(0.02)(values)
    np.testing.assert_array_equal(weight.asnumpy(), values.astype(np.float32))


@pytest.mark.parametrize("kwargs, message", [
    ({"shape": (2,), "init": One()}, "give either input_data"), ({"shape": (2,), "dtype": graphc.float32, "init": "ones"},
                                                                  "init must be an Initializer")])
def test_lazy_tensor_needs_shape_dtype_and_an_initializer(kwargs, message):
    with pytest.raises(GraphcError, match=message):
        Tensor(**kwargs)


def test_from_numpy_shares_memory_and_tensor_is_the_constructor():
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    shared = Tensor.from_numpy(array)
    array[0, 0] = 100
    assert shared.asnumpy()[0, 0] == 100
    assert graphc.tensor([1, 2]).dtype == graphc.int64 and graphc.tensor([1.0, 2]).dtype == graphc.float32
    assert graphc.tensor(np.array([1.0])).dtype == graphc.float64
    assert graphc.tensor([1, 2], graphc.float32).dtype == graphc.float32


def test_sizes_and_python_protocols():
    x = Tensor(np.ones((2, 3), np.float32))
    assert (x.itemsize, x.nbytes) == (4, 24) and Tensor(np.ones(3, np.int64)).itemsize == 8
    assert len(x) == 2 and [row.shape for row in x] == [(3,), (3,)]
    assert bool(Tensor([0.0])) is False and bool(Tensor(np.array([[2]]))) is True
    assert float(Tensor([2.5])) == 2.5 and int(Tensor([2.5])) == 2 and isinstance(x.numpy(), np.ndarray)
    with pytest.raises(GraphcError, match="6 elements .* is used as a Python bool"):
        bool(Tensor(np.ones((2, 3))))
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(Tensor(1.0))


def test_strides_are_row_major_byte_steps():
    assert Tensor(np.ones((2, 2), np.int32)).strides == (8, 4)
    assert Tensor(np.zeros((2, 3, 4))).strides == (96, 32, 8)
    assert Tensor(np.ones((2, 3), np.float32)).T.strides == (8, 4)      # x.T is a new row-major tensor
    assert Tensor(1.0).strides == ()


def test_item_assignment_writes_into_the_tensor():
    given = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = Tensor(given)
    x[0] = 1.0
    x[:, 1] = Tensor([7.0, 8.0])
    x[x > 4] = 0
    np.testing.assert_array_equal(x.asnumpy(), [[1, 0, 1], [3, 0, 0]])
    assert given[0, 0] == 0                                  # the array it was made from is not written
    counts = Tensor(np.arange(3, dtype=np.int32))
    counts[Tensor(np.array([0, 2], np.int32))] = 2.7           # converted to the tensor's dtype, truncated
    assert counts.asnumpy().tolist() == [2, 1, 2] and counts.dtype == graphc.int32


def test_item_assignment_into_a_parameter_keeps_its_storage():
    weight = Parameter(np.zeros(3, np.float32), name="w")
    storage = weight.asnumpy()
    weight[1] = 2.0
    assert storage.tolist() == [0, 2, 0] and weight.asnumpy() is storage


@pytest.mark.parametrize("write, message", [
    (lambda x: x.__setitem__(0, Tensor([1.0, 2.0])), "a tensor f32[2,3] cannot take a value of shape [2] there"),
    (lambda x: x.__setitem__(5, 1.0), "index 5 is out of bounds"),
    (graphc.jit(lambda x: x.__setitem__(0, 1.0)), "inside a traced function: graphc's graphs do not write into"),
])
def test_bad_item_assignment_is_refused(write, message):
    with pytest.raises(GraphcError, match=re.escape(message)):
        write(Tensor(np.zeros((2, 3), np.float32)))


def test_repeat_needs_a_count_per_axis():
    with pytest.raises(GraphcError, match="repeat: 1 repetition count"):
        Tensor(np.ones((2, 3))).repeat(2)


# -- printing -----------------------------------------------------------------------------------------------------
# repr() as MindSpore 2.10 prints it (what print((x, y)) shows), copied from its output for these arrays.
REPRS = [
    (np.array([0.0, 6.0], np.float32), "Tensor(shape=[2], dtype=Float32, value= [ 0.00000000e+00,  6.00000000e+00])"),
    (np.array([[1, 1], [2, 2]], np.int32), "Tensor(shape=[2, 2], dtype=Int32, value=\n[[1, 1],\n [2, 2]])"),
    (np.array(2.5, np.float32), "Tensor(shape=[], dtype=Float32, value= 2.5)"),
    (np.array(1 / 3, np.float32), "Tensor(shape=[], dtype=Float32, value= 0.333333)"),
    (np.array(3, np.int32), "Tensor(shape=[], dtype=Int32, value= 3)"),
    (np.array([True, False]), "Tensor(shape=[2], dtype=Bool, value= [ True, False])"),
    (np.array([1.5, np.nan, -np.inf, 1e5], np.float32),
     "Tensor(shape=[4], dtype=Float32, value= [ 1.50000000e+00,             nan,            -inf,  1.00000000e+05])"),
    (np.array([1, -20, 300], np.int64), "Tensor(shape=[3], dtype=Int64, value= [  1, -20, 300])"),
    (np.array([-1.0, 2.0]), "Tensor(shape=[2], dtype=Float64, value= [-1.00000000e+00,  2.00000000e+00])"),
    (np.arange(8, dtype=np.float32).reshape(2, 2, 2),
     "Tensor(shape=[2, 2, 2], dtype=Float32, value=\n[[[ 0.00000000e+00,  1.00000000e+00],\n"
     "  [ 2.00000000e+00,  3.00000000e+00]],\n [[ 4.00000000e+00,  5.00000000e+00],\n"
     "  [ 6.00000000e+00,  7.00000000e+00]]])"),
    (np.arange(2000, dtype=np.float32), "Tensor(shape=[2000], dtype=Float32, value= [ 0.00000000e+00,  1.00000000e+00,"
     "  2.00000000e+00 ...  1.99700000e+03,  1.99800000e+03,  1.99900000e+03])"),
]


@pytest.mark.parametrize("array, expected", REPRS, ids=[r[1][:40] for r in REPRS])
def test_repr_is_mindspores_and_str_is_numpys(array, expected):
    x = Tensor(array)
    assert repr(x) == expected and str((x,)) == f"({expected},)"
    assert str(x) == str(array)


def test_parameter_repr_spells_the_dtype_as_mindspore():
    assert repr(Parameter(Tensor(np.ones(2, np.float32)), name="w")) == \
        "Parameter (name=w, shape=(2,), dtype=Float32, requires_grad=True)"


def test_traced_tensor_repr_names_its_node():
    seen = []
    graphc.jit(lambda x: seen.append(repr(x * 2)) or x)(Tensor(np.ones(2, np.float32)))
    assert seen and seen[0].startswith("Tensor(shape=[2], dtype=Float32, traced %")


def test_view_of_a_dtype_reads_the_same_bytes():
    values = np.array([[1, 2], [3, -4]], np.int64)
    np.testing.assert_array_equal(Tensor(values).view(graphc.int32).asnumpy(), values.view(np.int32))
    assert Tensor(values).view(graphc.int32).shape == (2, 4) and Tensor(values).view(4, 1).shape == (4, 1)
    with pytest.raises(GraphcError, match=r"Tensor\.view\(graphc\.int32\) of a traced value \(f32\[2\]\)"):
        graphc.jit(lambda x: x.view(graphc.int32))(Tensor(np.ones(2, np.float32)))
