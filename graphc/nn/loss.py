"""Loss functions with MindSpore r1.7 semantics (mindspore/nn/loss/loss.py): names, defaults, reductions."""
from __future__ import annotations

from .. import ops
from ..errors import ArgumentError
from .cell import Cell
from .layers.checks import check_tensor, input_error

__all__ = ["L1Loss", "LossBase", "MSELoss", "SmoothL1Loss", "SoftmaxCrossEntropyWithLogits"]

REDUCTIONS = ("mean", "sum", "none")


class LossBase(Cell):
    """Base of the losses: `get_loss` weights the elementwise loss and reduces it over all axes."""

    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ArgumentError(f"{type(self).__name__}: reduction must be one of "
                                f"{', '.join(map(repr, REDUCTIONS))}, got {reduction!r}")
        self.reduction = reduction

    def get_loss(self, x, weights=1.0):
        # MindSpore casts to float32 here so that float16 losses accumulate in float32; graphc has no
        # float16, so the dtype is kept (a float64 loss stays float64).
        x = ops.mul(x, weights)
        if self.reduction == "mean":
            return ops.reduce_mean(x)
        if self.reduction == "sum":
            return ops.reduce_sum(x)
        return x

    def extend_repr(self) -> str:
        return f"reduction={self.reduction}"


class L1Loss(LossBase):
    """|logits - labels| (broadcasting), reduced."""

    def construct(self, logits, labels):
        return self.get_loss(ops.abs(ops.sub(logits, labels)))


class MSELoss(LossBase):
    """(logits - labels)², reduced."""

    def construct(self, logits, labels):
        diff = ops.sub(logits, labels)
        return self.get_loss(ops.mul(diff, diff))


class SmoothL1Loss(LossBase):
    """0.5·d²/beta where |d| < beta, else |d| - 0.5·beta, with d = logits - labels of the same shape.
    Unreduced by default, as r1.7 (which had no reduction argument)."""

    def __init__(self, beta=1.0, reduction="none"):
        super().__init__(reduction)
        if beta <= 0:
            raise ArgumentError(f"SmoothL1Loss: beta must be > 0, got {beta}")
        self.beta = float(beta)

    def construct(self, logits, labels):
        check_tensor(self, logits)
        check_tensor(self, labels)
        if logits.shape != labels.shape:
            raise input_error(self, labels, f"labels shaped like the logits ({logits.type})",
                              "give logits and labels the same shape")
        diff = ops.abs(ops.sub(logits, labels))
        quadratic = ops.div(ops.mul(ops.mul(diff, diff), 0.5), self.beta)
        linear = ops.sub(diff, 0.5 * self.beta)
        return self.get_loss(ops.select(ops.lt(diff, self.beta), quadratic, linear))


class SoftmaxCrossEntropyWithLogits(LossBase):
    """-Σ_c labels[n, c]·log softmax(logits)[n, c] per sample, for logits [N, C].

    sparse=True takes class indices [N] (int32/int64). As in MindSpore, sparse with reduction='mean'
    runs the fused sparse op; every other combination one-hots the labels and takes the dense path.
    Note MindSpore's default reduction here is 'none'."""

    def __init__(self, sparse=False, reduction="none"):
        super().__init__(reduction)
        self.sparse = sparse

    def construct(self, logits, labels):
        self._check(logits, labels)
        if self.sparse and self.reduction == "mean":
            return self.get_loss(ops.sparse_softmax_cross_entropy(logits, labels))
        if self.sparse:
            labels = ops.get("one_hot")(labels, depth=logits.shape[1], dtype=logits.dtype)
        log_probs = ops.log_softmax(logits, axis=-1)
        return self.get_loss(ops.neg(ops.reduce_sum(ops.mul(labels, log_probs), axis=-1)))

    def _check(self, logits, labels):
        check_tensor(self, logits)
        check_tensor(self, labels)
        if logits.ndim != 2:
            raise input_error(self, logits, "logits [N, C]", "give one row of class scores per sample")
        batch = logits.shape[0]
        if self.sparse and (labels.shape != (batch,) or labels.dtype.is_float):
            raise input_error(self, labels, f"labels of {batch} integer class indices (sparse=True)",
                              "give one int32 class index per sample, or use sparse=False for one-hot labels")
        if not self.sparse and labels.type != logits.type:
            raise input_error(self, labels, f"labels of the logits' type {logits.type} (sparse=False: "
                                            "one-hot rows or probabilities)",
                              "give labels of the logits' shape and dtype, or use sparse=True for class indices")

    def extend_repr(self) -> str:
        return f"sparse={self.sparse}, reduction={self.reduction}"
