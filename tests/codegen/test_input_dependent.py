"""Native code against the reference on the inputs where they could part ways (docs/codegen.md,
"Input-dependent behaviour"): indices out of range, NaN, negative zero, infinities, integer
division. Equal means bitwise equal, NaN positions and the signs of zeros included."""
import numpy as np
import pytest

import graphc
from graphc import GraphcError, Parameter, Tensor, ops
from graphc.codegen import kernel_cache, machine

from .native_support import run_both

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")    # NumPy warns on the special values

nan, inf = np.nan, np.inf
SPECIALS = np.array([nan, -0.0, 0.0, -1.0, 2.0, inf, -inf, 3.0, -nan, 1e-30], np.float32)


def assert_bitwise(native, reference):
    for got, want in zip(native, reference, strict=True):
        assert got.dtype == want.dtype and got.shape == want.shape
        if got.dtype.kind == "f":
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
            got, want = np.where(np.isnan(got), 0, got), np.where(np.isnan(want), 0, want)
            np.testing.assert_array_equal(np.signbit(got), np.signbit(want), err_msg="signs of zeros differ")
        np.testing.assert_array_equal(got, want)


def same(fn, *inputs):
    native, reference = run_both(lambda params, *xs: fn(*xs), [np.asarray(x) for x in inputs])
    assert_bitwise(native, reference)


# -- indices out of range: native code raises what the reference raises -------------------------------------
def both_modes(fn, *inputs):
    """The GraphcError message in PYNATIVE mode and in GRAPH_MODE (native)."""
    messages = []
    for mode in (graphc.PYNATIVE_MODE, graphc.GRAPH_MODE):
        graphc.set_context(mode=mode)
        call = fn if mode == graphc.PYNATIVE_MODE else graphc.jit(fn)
        with pytest.raises(GraphcError) as error:
            call(*[Tensor(x) for x in inputs])
        messages.append(str(error.value))
    graphc.set_context(mode=graphc.GRAPH_MODE)
    return messages


@pytest.mark.parametrize("bad", [5, -1, 2**31 - 1])
def test_an_out_of_range_gather_raises_in_graph_mode_as_in_pynative(bad):
    table, index = np.arange(8, dtype=np.float32).reshape(4, 2), np.array([1, bad], np.int32)
    pynative, native = both_modes(lambda t, i: ops.gather(t, i, 0), table, index)
    expected = f"gather: index {bad} is out of range for an axis of size 4; indices must be in [0, 4)"
    assert expected in pynative and expected in native
    assert "test_input_dependent.py:" in native                   # the user's line of the gather


def test_the_step_stops_before_any_update_and_the_next_call_runs():
    weight = Parameter(np.ones(4, np.float32), name="w")

    def step(i):
        picked = ops.gather(weight * 2.0, i, 0)
        return ops.assign(weight, weight + ops.reduce_sum(picked))

    fn = graphc.jit(step)
    with pytest.raises(GraphcError, match="gather: index 9 is out of range"):
        fn(Tensor(np.array([0, 9], np.int32)))
    np.testing.assert_array_equal(weight.asnumpy(), np.ones(4, np.float32))     # nothing applied
    fn(Tensor(np.array([0, 3], np.int32)))                                       # status reset
    np.testing.assert_array_equal(weight.asnumpy(), np.full(4, 5.0, np.float32))


def test_a_kernel_found_in_the_cache_keeps_its_index_check(tmp_path, monkeypatch):
    """A new step that finds the gather kernel on disk (the kernel index) still checks its indices:
    the bounds travel with the kernel, and the step emits the check from them."""
    monkeypatch.setenv("GRAPHC_CACHE_DIR", str(tmp_path))
    table, index = Tensor(np.arange(8, dtype=np.float32).reshape(4, 2)), Tensor(np.array([1, 7], np.int32))
    steps = [lambda t, i: ops.gather(t, i, 0), lambda t, i: (ops.gather(t, i, 0), ops.reduce_sum(t))]
    for step in steps:
        machine._memory_cache.clear()
        kernel_cache._known.clear()
        fn = graphc.jit(step)
        with pytest.raises(GraphcError, match=r"gather: index 7 is out of range for an axis of size 4"):
            fn(table, index)
    (executable, _), = fn._cache.values()
    assert executable.lowered.module is not None and executable.report.counts.disk >= 1   # lowered, kernel found
    assert [c.kernel.index_bounds for c in executable.lowered.calls if c.label == "gather"] == [(("index", 4),)]


def test_indices_computed_inside_the_step_are_checked_too():
    fn = graphc.jit(lambda t, x: ops.gather(t, ops.get("argmax")(x) + 3, 0))
    table = Tensor(np.arange(4, dtype=np.float32))
    assert float(fn(table, Tensor(np.array([1, 0], np.float32))).asnumpy()) == 3.0
    with pytest.raises(GraphcError, match="gather: index 4 is out of range for an axis of size 4"):
        fn(table, Tensor(np.array([0, 1], np.float32)))


def test_an_out_of_range_gather_gradient_raises():
    def loss(t, i):
        return ops.reduce_sum(ops.gather(t, i, 0) * 3.0)

    grad = graphc.grad(loss)
    good = grad(Tensor(np.ones(3, np.float32)), Tensor(np.array([2, 2], np.int64)))
    np.testing.assert_array_equal(good.asnumpy(), [0, 0, 6])
    with pytest.raises(GraphcError, match=r"gather\w*: index 3 is out of range for an axis of size 3"):
        grad(Tensor(np.ones(3, np.float32)), Tensor(np.array([3, 0], np.int64)))


def test_labels_computed_inside_the_step_are_checked():
    fn = graphc.jit(lambda logits, x: ops.sparse_softmax_cross_entropy(logits, ops.get("argmax")(x, axis=-1) + 2))
    logits = Tensor(np.zeros((2, 3), np.float32))
    assert fn(logits, Tensor(np.array([[1, 0], [1, 0]], np.float32))).shape == (2,)       # labels [2, 2]
    with pytest.raises(GraphcError, match="sparse_softmax_cross_entropy: index 3 is out of range for an axis of "
                                          "size 3"):
        fn(logits, Tensor(np.array([[0, 1], [1, 0]], np.float32)))                         # labels [3, 2]


# -- NaN, negative zero, infinities ---------------------------------------------------------------------------
@pytest.mark.parametrize("name, fn", [
    ("relu", ops.relu), ("maximum", lambda x: ops.maximum(x, 0.0)), ("minimum", lambda x: ops.minimum(x, 0.0)),
    ("abs", ops.abs), ("neg", ops.neg), ("sign", ops.sign), ("sqrt", ops.sqrt), ("rsqrt", ops.rsqrt),
    ("pow x**2", lambda x: ops.pow(x, 2.0)), ("pow x**0", lambda x: ops.pow(x, 0.0)),
    ("pow 2**x", lambda x: ops.pow(2.0, x)), ("pow x**-1", lambda x: ops.pow(x, -1.0)),
    ("select", lambda x: ops.select(x > 0, x, -x)), ("ne", lambda x: ops.ne(x, x)), ("ge", lambda x: ops.ge(x, 0.0)),
    ("cast", lambda x: ops.cast(x, dtype=graphc.int32)), ("reduce_max", lambda x: ops.reduce_max(x)),
    ("argmax", lambda x: ops.get("argmax")(x)), ("relu gradient", graphc.grad(lambda x: ops.reduce_sum(ops.relu(x)))),
])
def test_elementwise_and_reductions_on_special_values(name, fn):
    same(fn, SPECIALS)


def pool_input(values):
    return np.asarray(values, np.float32).reshape(1, 1, 4, 4)


WINDOWS = [
    [nan, 1, 2, 3, 0, -1, 5, nan, 1, 1, 1, 1, -inf, -inf, 0, 0],     # NaN first, NaN last, all -inf
    [1, nan, 2, nan, 7, 0, 3, 4, 2, 2, 2, 2, 5, 5, 5, 5],            # the first NaN of two; ties
]


@pytest.mark.parametrize("values", WINDOWS)
def test_max_pool_propagates_nan_and_routes_the_gradient_to_the_first_nan_or_maximum(values):
    same(lambda x: ops.get("max_pool2d")(x, kernel_size=2, stride=2), pool_input(values))
    pooled = lambda x: ops.get("max_pool2d")(x, kernel_size=2, stride=2)
    same(graphc.grad(lambda x: ops.reduce_sum(pooled(x) * 1.5)), pool_input(values))
    same(lambda x: ops.get("max_pool2d")(x, kernel_size=3, stride=1, pad_mode="same"), pool_input(values))


def test_max_pool_with_relu_on_nan_as_lenet_uses_them():
    x = pool_input(WINDOWS[0])
    same(lambda x: ops.get("max_pool2d")(ops.relu(x), kernel_size=2, stride=2), x)
    same(graphc.grad(lambda x: ops.reduce_sum(ops.get("max_pool2d")(ops.relu(x), kernel_size=2, stride=2))), x)


def test_max_of_two_zeros_is_a_zero_either_sign():
    """Documented difference: IEEE leaves max(+0, -0) open and NumPy's answer depends on the position
    in its SIMD loops; native code keeps the first. Both are zero."""
    x = pool_input([0.0, -0.0, -0.0, -0.0] * 4)
    native, reference = run_both(lambda p, x: ops.get("max_pool2d")(x, kernel_size=2, stride=2), [x])
    assert np.all(native[0] == 0) and np.all(reference[0] == 0)


def test_integer_division_is_true_division_in_float32_alike_in_both_modes():
    """MindSpore promotes int32 / int32 to float32 (measured on 2.10), so 7 / 0 is inf, not a trap."""
    i, j = np.array([7, -7, 0], np.int32), np.array([2, 0, 0], np.int32)
    native, reference = run_both(lambda params, a, b: ops.div(a, b), [i, j])
    assert native[0].dtype == np.float32
    assert_bitwise(native, reference)
    np.testing.assert_array_equal(reference[0], [3.5, -np.inf, np.nan])


@pytest.mark.parametrize("axis", [None, 0])
def test_the_mean_of_no_elements_is_nan_as_in_numpy(axis):
    same(lambda x: ops.reduce_mean(x, axis=axis), np.zeros((0, 3), np.float32))


def test_one_hot_outside_the_depth_is_a_row_of_off_values():
    same(lambda i: ops.get("one_hot")(i, depth=3), np.array([0, 2, 3, -1], np.int32))


def test_infinities_and_nan_propagate_through_matmul_conv_and_average_pooling():
    a, b = np.array([[nan, 0], [1, 2]], np.float32), np.array([[0, 1], [inf, 2]], np.float32)
    same(lambda a, b: ops.matmul(a, b), a, b)
    x = pool_input(WINDOWS[0])
    same(lambda x: ops.get("conv2d")(x, Tensor(np.ones((1, 1, 1, 1), np.float32))), x)
    same(lambda x: ops.get("avg_pool2d")(x, kernel_size=2, stride=2), x)


# -- floor division (`//` and `%`): native code gives the reference's values bit for bit --------------------------
def test_float_floor_division_on_special_values():
    x = np.repeat(SPECIALS, len(SPECIALS))
    y = np.tile(SPECIALS, len(SPECIALS))
    same(lambda a, b: ops.floor_div(a, b), x, y)
    same(lambda a, b: ops.floor_mod(a, b), x, y)
    same(lambda a, b: ops.floor_mod(a, b), x.astype(np.float64), y.astype(np.float64))


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_floor_division_by_zero_minus_one_and_at_the_limits(dtype):
    """The divisors that trap in a plain sdiv (0, and -1 under the smallest int) give MindSpore's values."""
    low, high = np.iinfo(dtype).min, np.iinfo(dtype).max
    values = np.array([7, -7, 0, 5, -5, low, high, 1, -1], dtype)
    x, y = np.repeat(values, len(values)), np.tile(values, len(values))
    same(lambda a, b: ops.floor_div(a, b), x, y)
    same(lambda a, b: ops.floor_mod(a, b), x, y)
