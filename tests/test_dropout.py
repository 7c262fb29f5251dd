"""nn.Dropout and ops.dropout: the Philox generator against Random123's known answers, the keep
fraction within binomial bounds, the 1/keep_prob scale, determinism, a new mask every step, the
same mask in PYNATIVE and GRAPH mode and on 1 or 2 threads, the counter as checkpointed state,
and the errors."""
import numpy as np
import pytest

import graphc
import runtime
from graphc import Tensor, nn, ops
from graphc.errors import ArgumentError, GraphcError
from graphc.ops.random import philox4x32_10


def test_philox_matches_random123_known_answers():
    # Random123's kat_vectors for philox4x32 with 10 rounds: counter, key -> four words
    cases = [((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
             ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
             ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
              (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1))]
    for counter, key, words in cases:
        assert tuple(int(w) for w in philox4x32_10(counter, key)) == words


def net_with_dropout(keep_prob=0.5, **kwargs):
    graphc.set_seed(3)

    class Net(nn.Cell):
        def __init__(self):
            super().__init__()
            self.drop = nn.Dropout(keep_prob, **kwargs)

        def construct(self, x):
            return self.drop(x)
    return Net().set_train(True)


def masks(net, x, steps):
    return [net(Tensor(x)).asnumpy() for _ in range(steps)]


@pytest.mark.parametrize("keep_prob", [0.1, 0.5, 0.9])
def test_keep_fraction_is_binomial_and_kept_values_are_scaled(keep_prob):
    x = np.ones((64, 1000), np.float32)
    n = x.size
    for y in masks(net_with_dropout(keep_prob), x, 3):
        kept = y != 0
        # 5 standard deviations of Binomial(n, keep_prob): fails by chance with probability < 1e-6
        assert abs(kept.sum() - n * keep_prob) < 5 * np.sqrt(n * keep_prob * (1 - keep_prob))
        np.testing.assert_array_equal(y[kept], np.float32(1.0) * np.float32(1.0 / keep_prob))


def test_masks_differ_between_steps_and_elements_look_independent():
    x = np.ones((4096,), np.float32)
    first, second = masks(net_with_dropout(0.5), x, 2)
    assert (first != 0).sum() > 0 and not np.array_equal(first != 0, second != 0)
    # neighbours agree about half the time (a lane or index pattern would show here)
    agreement = np.mean((first[1:] != 0) == (first[:-1] != 0))
    assert abs(agreement - 0.5) < 5 * 0.5 / np.sqrt(x.size)


def test_same_seed_same_masks_and_the_counter_advances_once_per_step():
    x = np.ones((8, 50), np.float32)
    a, b = net_with_dropout(0.7), net_with_dropout(0.7)
    np.testing.assert_array_equal(np.stack(masks(a, x, 3)), np.stack(masks(b, x, 3)))
    assert int(a.drop.counter.asnumpy()) == 3
    assert [name for name, _ in a.parameters_and_names()] == ["drop.counter"]
    assert not a.drop.counter.requires_grad


@pytest.mark.parametrize("threads", [1, 2])
def test_graph_mode_native_and_interpreter_and_pynative_give_the_same_masks(threads):
    x = np.random.default_rng(0).standard_normal((3, 5, 7, 9)).astype(np.float32)
    results = {}
    for name, settings in {"pynative": dict(mode=graphc.PYNATIVE_MODE),
                           "native": dict(mode=graphc.GRAPH_MODE, backend="llvm", num_threads=threads),
                           "interp": dict(mode=graphc.GRAPH_MODE, backend="interp")}.items():
        graphc.set_context(**settings)
        results[name] = np.stack(masks(net_with_dropout(0.6), x, 3))
    np.testing.assert_array_equal(results["native"], results["pynative"])
    np.testing.assert_array_equal(results["interp"], results["pynative"])


def test_gradient_uses_the_forward_mask():
    graphc.set_context(mode=graphc.GRAPH_MODE)
    x = np.random.default_rng(1).standard_normal((6, 40)).astype(np.float32)
    counter = graphc.Parameter(np.array(11, np.int64), name="counter", requires_grad=False)
    f = lambda x: ops.reduce_sum(ops.get("dropout")(x, counter, keep_prob=0.75, seed=5) * x)
    value, dx = graphc.value_and_grad(f)(Tensor(x))
    y = ops.get("dropout")(Tensor(x), counter, keep_prob=0.75, seed=5).asnumpy()
    np.testing.assert_allclose(dx.asnumpy(), y + y / x * x, rtol=1e-6)   # d/dx (mask·x/kp · x) = 2·mask·x/kp
    np.testing.assert_allclose(float(value.asnumpy()), float(np.sum(y * x)), rtol=1e-5)


def test_eval_is_the_identity_and_keep_prob_one_never_drops():
    x = np.random.default_rng(2).standard_normal((5, 6)).astype(np.float32)
    net = net_with_dropout(0.5).set_train(False)
    np.testing.assert_array_equal(net(Tensor(x)).asnumpy(), x)
    assert int(net.drop.counter.asnumpy()) == 0
    np.testing.assert_array_equal(net_with_dropout(p=0.0)(Tensor(x)).asnumpy(), x)


def test_p_is_the_drop_probability_and_wins_over_keep_prob():
    layer = nn.Dropout(keep_prob=0.9, p=0.25)
    assert layer.keep_prob == 0.75 and "p=0.25" in repr(layer)
    assert "keep_prob=0.5" in repr(nn.Dropout())


def test_counter_is_saved_and_a_resumed_run_continues_the_sequence(tmp_path):
    x = np.ones((16, 64), np.float32)
    straight = net_with_dropout(0.5)
    expected = masks(straight, x, 4)
    first = net_with_dropout(0.5)
    masks(first, x, 2)
    path = tmp_path / "drop.ckpt"
    runtime.save_checkpoint(first, str(path))
    resumed = net_with_dropout(0.5)
    runtime.load_param_into_net(resumed, runtime.load_checkpoint(str(path)), strict_load=True)
    np.testing.assert_array_equal(np.stack(masks(resumed, x, 2)), np.stack(expected[2:]))


@pytest.mark.parametrize("kwargs, message", [({"keep_prob": 0.0}, r"keep_prob must be a number in \(0, 1\]"),
                                             ({"keep_prob": 1.5}, "probability of KEEPING"),
                                             ({"p": 1.0}, r"p \(the drop probability\) must be a number in \[0, 1\)")])
def test_bad_probabilities_name_the_layer_and_the_fix(kwargs, message):
    with pytest.raises(ArgumentError, match=message) as caught:
        nn.Dropout(**kwargs)
    assert "test_dropout.py:" in str(caught.value) and "Dropout:" in str(caught.value)


def test_functional_dropout_takes_mindspore_2x_arguments_and_follows_set_seed():
    x = Tensor(np.ones((64, 64), np.float32))
    graphc.set_seed(3)
    first = ops.dropout(x, p=0.25).asnumpy()
    graphc.set_seed(3)
    np.testing.assert_array_equal(ops.dropout(x, 0.25).asnumpy(), first)
    assert set(np.unique(first)) == {0.0, np.float32(1 / 0.75)} and abs((first == 0).mean() - 0.25) < 0.03
    assert ops.dropout(x, p=0.5, training=False) is x and ops.dropout(x, p=0.0) is x
    with pytest.raises(GraphcError, match=r"ops\.dropout: p=1\.0 is not valid; expected a probability in \[0, 1\)"):
        ops.dropout(x, p=1.0)
    with pytest.raises(GraphcError, match=r"ops\.dropout: cannot run inside a compiled function"):
        graphc.jit(lambda x: ops.dropout(x, p=0.5))(x)
