"""Losses: MindSpore's documented outputs in both modes, reductions against NumPy, and gradients
against central finite differences."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc import Tensor, nn, ops
from graphc.errors import ArgumentError
from gradcheck import check_vjp

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=[graphc.GRAPH_MODE, graphc.PYNATIVE_MODE], ids=["graph", "pynative"])
def mode(request):
    graphc.set_context(mode=request.param)
    return request.param


def f32(values):
    return Tensor(np.array(values, dtype=np.float32))


LOGITS = [[3, 5, 6, 9, 12, 33, 42, 12, 32, 72]]


# -- MindSpore's documented examples --------------------------------------------------------------------
def test_l1_loss_tutorial_example_is_the_mean(mode):
    loss = nn.L1Loss()
    out = loss(f32([[1, 2, 3], [2, 3, 4]]), f32([[0, 2, 5], [3, 1, 1]]))
    assert out.shape == () and float(out) == pytest.approx(1.5)


def test_l1_loss_docs_example(mode):
    assert float(nn.L1Loss()(f32([1, 2, 3]), f32([1, 2, 2]))) == pytest.approx(0.33333334)


def test_mse_loss_docs_example(mode):
    assert float(nn.MSELoss()(f32([1, 2, 3]), f32([1, 1, 1]))) == pytest.approx(1.6666667)


def test_smooth_l1_loss_docs_example_is_unreduced(mode):
    out = nn.SmoothL1Loss()(f32([1, 2, 3]), f32([1, 2, 2]))
    np.testing.assert_allclose(out.asnumpy(), [0.0, 0.0, 0.5])


def test_sparse_cross_entropy_docs_example(mode):
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True)
    np.testing.assert_allclose(loss(f32(LOGITS), Tensor(np.array([1], np.int32))).asnumpy(), [67.0], rtol=1e-6)


def test_dense_cross_entropy_docs_example(mode):
    labels = np.zeros((1, 10), np.float32)
    labels[0, 6] = 1
    out = nn.SoftmaxCrossEntropyWithLogits()(f32(LOGITS), Tensor(labels))
    np.testing.assert_allclose(out.asnumpy(), [30.0], rtol=1e-6)


# -- reductions and the NumPy definitions --------------------------------------------------------------------
def cross_entropy_reference(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels]


def smooth_l1_reference(x, y, beta):
    d = np.abs(x - y)
    return np.where(d < beta, 0.5 * d ** 2 / beta, d - 0.5 * beta)


@pytest.mark.parametrize("reduction, reduce", [("mean", np.mean), ("sum", np.sum), ("none", lambda v: v)])
def test_reductions(mode, reduction, reduce):
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    cases = [(nn.L1Loss(reduction), np.abs(x - y)), (nn.MSELoss(reduction), (x - y) ** 2),
             (nn.SmoothL1Loss(beta=0.5, reduction=reduction), smooth_l1_reference(x, y, 0.5)),
             (nn.MAELoss(reduction), np.abs(x - y))]                  # MindSpore's other name for L1Loss
    for loss, elementwise in cases:
        out = loss(f32(x), f32(y))
        np.testing.assert_allclose(out.asnumpy(), reduce(elementwise), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_sparse_cross_entropy_every_reduction(mode, reduction):
    rng = np.random.default_rng(1)
    logits, labels = rng.standard_normal((6, 5)) * 3, rng.integers(0, 5, 6)
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction=reduction)
    out = loss(f32(logits), Tensor(labels.astype(np.int32)))
    reduce = {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction]
    np.testing.assert_allclose(out.asnumpy(), reduce(cross_entropy_reference(logits, labels)), rtol=1e-5)


def test_dense_cross_entropy_with_soft_labels(mode):
    rng = np.random.default_rng(2)
    logits, targets = rng.standard_normal((3, 4)), rng.dirichlet(np.ones(4), 3)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    out = nn.SoftmaxCrossEntropyWithLogits(reduction="sum")(f32(logits), f32(targets))
    assert float(out) == pytest.approx(-(targets * log_probs).sum(), rel=1e-5)


def test_l1_loss_broadcasts_labels(mode):
    out = nn.L1Loss(reduction="none")(f32([[1, 2], [3, 4]]), f32([1, 1]))
    np.testing.assert_allclose(out.asnumpy(), [[0, 1], [2, 3]])


def test_get_loss_weights_then_reduces_over_all_axes(mode):
    class Weighted(nn.LossBase):
        def construct(self, x):
            return self.get_loss(x, weights=f32([[1], [0]]))

    assert float(Weighted("sum")(f32([[1, 2], [3, 4]]))) == pytest.approx(3.0)
    assert float(Weighted()(f32([[1, 2], [3, 4]]))) == pytest.approx(0.75)


@pytest.mark.parametrize("make", [lambda: nn.L1Loss("avg"), lambda: nn.MSELoss(reduction="Mean"),
                                  lambda: nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="batch")])
def test_unknown_reduction_is_a_value_error(make):
    with pytest.raises(ValueError, match="reduction must be one of 'mean', 'sum', 'none'"):
        make()


def test_cross_entropy_defaults_follow_mindspore():
    loss = nn.SoftmaxCrossEntropyWithLogits()
    assert (loss.sparse, loss.reduction) == (False, "none")
    assert nn.L1Loss().reduction == "mean" and nn.SmoothL1Loss().reduction == "none"


def test_smooth_l1_needs_a_positive_beta():
    with pytest.raises(ArgumentError, match="beta must be > 0"):
        nn.SmoothL1Loss(beta=0.0)


def test_sparse_cross_entropy_rejects_float_labels():
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    with pytest.raises(graphc.GraphcError, match=r"labels of 2 integer class indices \(sparse=True\), got f32\[2\]"):
        loss(f32([[1, 2], [3, 4]]), f32([0, 1]))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_sparse_runs_the_fused_op_under_every_reduction(reduction):
    loss = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction=reduction)
    graph = graphc.jit(loss).lower(f32([[1, 2, 3]]), Tensor(np.array([2], np.int32))).graph
    assert [node.op for node in graph if node.op in ("sparse_softmax_cross_entropy", "one_hot")] == \
        ["sparse_softmax_cross_entropy"]


@pytest.mark.parametrize("backend", ["pynative", "interp", "llvm"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_an_out_of_range_label_is_an_error_under_every_reduction(backend, reduction):
    """MindSpore's 'sum' and 'none' give such a label loss 0 and train on; here every reduction
    raises, in both modes and in native code, naming the op, the label and the classes' range."""
    if backend == "pynative":
        graphc.set_context(mode=graphc.PYNATIVE_MODE)
    else:
        graphc.set_context(mode=graphc.GRAPH_MODE, backend=backend)
    net = nn.Dense(4, 3)
    step = nn.TrainOneStepCell(nn.WithLossCell(net, nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction=reduction)),
                               nn.Momentum(net.trainable_params(), 0.1, 0.9))
    before = net.weight.asnumpy().copy()
    labels = Tensor(np.array([0, 7, 2], np.int32))
    with pytest.raises(graphc.GraphcError, match=r"sparse_softmax_cross_entropy\w*: .*\b7\b.*\[0, 3\)") as error:
        step(f32(np.ones((3, 4))), labels)
    assert "test_losses.py:" in str(error.value).split(": ")[0]             # the user's line
    np.testing.assert_array_equal(net.weight.asnumpy(), before)            # no update landed


# -- gradients ----------------------------------------------------------------------------------------------
GRADIENT_CASES = {
    "l1": (lambda: nn.L1Loss(), lambda rng: Tensor(rng.standard_normal((3, 4)))),
    "mse-sum": (lambda: nn.MSELoss("sum"), lambda rng: Tensor(rng.standard_normal((3, 4)))),
    "smooth-l1": (lambda: nn.SmoothL1Loss(beta=0.7, reduction="mean"), lambda rng: Tensor(rng.standard_normal((3, 4)))),
    "ce-sparse-mean": (lambda: nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean"),
                       lambda rng: Tensor(np.array([0, 3, 1], np.int32))),
    "ce-sparse-none": (lambda: nn.SoftmaxCrossEntropyWithLogits(sparse=True),
                       lambda rng: Tensor(np.array([2, 2, 0], np.int32))),
    "ce-dense-mean": (lambda: nn.SoftmaxCrossEntropyWithLogits(reduction="mean"),
                      lambda rng: Tensor(rng.dirichlet(np.ones(4), 3))),
    "cross-entropy-weighted-ignored-smoothed": (
        lambda: nn.CrossEntropyLoss(weight=Tensor([0.5, 2.0, 1.0, 1.5]), ignore_index=1, label_smoothing=0.2),
        lambda rng: Tensor(np.array([0, 1, 3], np.int32))),
    "cross-entropy-probabilities-none": (lambda: nn.CrossEntropyLoss(reduction="none", label_smoothing=0.1),
                                         lambda rng: Tensor(rng.dirichlet(np.ones(4), 3))),
    "nll-sum": (lambda: nn.NLLLoss(reduction="sum"), lambda rng: Tensor(np.array([3, 0, 0], np.int64))),
    "bce-with-logits": (lambda: nn.BCEWithLogitsLoss(weight=Tensor([1.0, 2.0, 0.5, 1.0]),
                                                     pos_weight=Tensor([3.0, 1.0, 0.2, 1.0])),
                        lambda rng: Tensor(rng.uniform(0, 1, (3, 4)))),
    "bce-of-sigmoid": (lambda: (lambda x, y: nn.BCELoss(reduction="sum")(ops.sigmoid(x), y)),
                       lambda rng: Tensor(rng.uniform(0, 1, (3, 4)))),
    "kl-batchmean": (lambda: (lambda x, y: nn.KLDivLoss("batchmean")(ops.log_softmax(x, axis=1), y)),
                     lambda rng: Tensor(rng.dirichlet(np.ones(4), 3) * (rng.uniform(size=(3, 4)) > 0.3))),
}


@pytest.mark.parametrize("case", GRADIENT_CASES)
def test_loss_gradients_match_finite_differences(case):
    make_loss, make_labels = GRADIENT_CASES[case]
    rng = np.random.default_rng(3)
    loss, labels = make_loss(), make_labels(rng)
    check_vjp(lambda logits: loss(logits, labels), [rng.standard_normal((3, 4))], rng)


def test_grad_of_a_loss_in_both_modes(mode):
    # d mean|x - y| / dx = sign(x - y) / n, worked out by hand
    x, y = np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([[0.0, 0.0], [1.0, 1.0]])
    grad = graphc.grad(nn.L1Loss())(Tensor(x), Tensor(y))
    np.testing.assert_allclose(grad.asnumpy(), np.sign(x - y) / 4)


def test_bce_with_logits_gradient_at_zero_logits_is_sigmoid_minus_label(mode):
    """At x = 0 (a zero-initialised last layer) the stable form's branches meet; the gradient is
    (sigmoid(0) - y) / n = (0.5 - y) / n, not a kink's one-sided slope."""
    labels = Tensor(np.array([[0.0, 1.0, 0.25]]))
    grad = graphc.grad(lambda x: nn.BCEWithLogitsLoss()(x, labels))(Tensor(np.zeros((1, 3))))
    np.testing.assert_allclose(grad.asnumpy(), (0.5 - labels.asnumpy()) / 3, rtol=1e-12)


def test_cross_entropy_gradient_is_the_same_compiled_and_eager():
    """The native step (gather of the label weights, the fused cross-entropy) against PYNATIVE_MODE."""
    loss = nn.CrossEntropyLoss(weight=Tensor(np.array([0.5, 2.0, 1.0, 1.5], np.float32)), ignore_index=1,
                               label_smoothing=0.1)
    logits = Tensor(np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32))
    labels = Tensor(np.array([0, 1, 3, 2, 1], np.int32))
    grads = []
    for mode in (graphc.PYNATIVE_MODE, graphc.GRAPH_MODE):
        graphc.set_context(mode=mode)
        grads.append(graphc.value_and_grad(loss)(logits, labels))
    (eager_loss, eager_grad), (graph_loss, graph_grad) = grads
    np.testing.assert_allclose(graph_loss.asnumpy(), eager_loss.asnumpy(), rtol=1e-6)
    np.testing.assert_allclose(graph_grad.asnumpy(), eager_grad.asnumpy(), rtol=1e-5, atol=1e-7)
    assert np.all(eager_grad.asnumpy()[[1, 4]] == 0)       # ignored labels contribute nothing


@pytest.mark.parametrize("make, message", [
    (lambda: nn.CrossEntropyLoss(label_smoothing=1), "label_smoothing must be a float in"),
    (lambda: nn.CrossEntropyLoss(weight=[1.0, 2.0]), "weight must be None or a 1-D float Tensor"),
    (lambda: nn.NLLLoss(ignore_index=1.5), "ignore_index must be an int"),
    (lambda: nn.KLDivLoss("batch"), "'mean', 'sum', 'none', 'batchmean'"),
    (lambda: nn.BCEWithLogitsLoss(weight=graphc.Parameter(np.ones(3), name="w")), "not a Parameter")])
def test_bad_loss_arguments_are_refused(make, message):
    with pytest.raises(ArgumentError, match=message):
        make()


def test_a_label_out_of_range_is_refused_in_both_modes():
    """PYNATIVE_MODE names the loss; the compiled step refuses it before it runs, through the gather of
    the labels' weights (the message names that op), at the user's line."""
    loss, logits, labels = nn.NLLLoss(), f32([[1, 2, 3], [4, 5, 6]]), Tensor(np.array([0, 3], np.int32))
    graphc.set_context(mode=graphc.PYNATIVE_MODE)
    with pytest.raises(graphc.GraphcError, match="nll_loss: label 3 is out of range for 3 classes"):
        loss(logits, labels)
    graphc.set_context(mode=graphc.GRAPH_MODE)
    with pytest.raises(graphc.GraphcError, match=r"test_losses.py:\d+: gather: index 3 is out of range"):
        loss(logits, labels)


@pytest.mark.parametrize("call, message", [
    (lambda: nn.CrossEntropyLoss()(f32([[1, 2, 3]]), f32([1])), "must have the logits' shape"),
    (lambda: nn.CrossEntropyLoss()(f32([[1, 2, 3]]), Tensor(np.array([[1]], np.int32))),
     r"int32 or int64 class indices of shape \[1\]"),
    (lambda: nn.BCELoss(weight=f32([1, 2]))(f32([[0.5, 0.5]]), f32([[0, 1]])), "must have the logits' shape"),
    (lambda: nn.BCEWithLogitsLoss(pos_weight=f32([1, 2, 3]))(f32([[0.5, 0.5]]), f32([[0, 1]])),
     "pos_weight f32\\[3\\] must broadcast"),
    (lambda: nn.KLDivLoss()(f32([0.5, 0.5]), f32([1])), "must have the same shape"),
    (lambda: nn.NLLLoss(weight=f32([1, 2]))(f32([[1, 2, 3]]), Tensor(np.array([2], np.int32))),
     "weight f32\\[2\\] must hold one value per class \\(3\\)")])
def test_bad_loss_inputs_name_the_loss_and_the_fix(call, message):
    with pytest.raises(graphc.GraphcError, match=message):
        call()


# -- the example --------------------------------------------------------------------------------------------
def test_loss_functions_example_prints_the_documented_values():
    run = subprocess.run([sys.executable, str(REPO / "examples" / "loss_functions.py")], capture_output=True,
                         text=True, timeout=60, cwd=REPO)
    assert run.returncode == 0, run.stderr
    lines = dict(line.split(": ", 1) for line in run.stdout.strip().splitlines())
    assert lines["L1Loss (tutorial)"] == "1.5"
    assert float(lines["L1Loss"]) == pytest.approx(0.33333334)
    assert float(lines["MSELoss"]) == pytest.approx(1.6666667)
    assert lines["SmoothL1Loss"] == "[0.  0.  0.5]"
    assert lines["SoftmaxCrossEntropyWithLogits (sparse)"] == "[67.]"
    assert lines["SoftmaxCrossEntropyWithLogits (one-hot)"] == "[30.]"

