"""Calls of MindSpore 2.x functions whose results no docstring prints (loss options, resizing
modes, where/initial, ties), written against a framework module `ms`: `mindspore` when
record_functions.py records the reference values, `graphc` when test_mindspore_functions.py
checks them. Each case maps `ms` to one tensor or a tuple of them."""
import numpy as np

LOGITS = np.array([[0.2, -1.0, 0.5, 2.0], [1.0, 0.3, -0.2, 0.0]], np.float32)
PROBABILITIES = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.0, 0.5, 0.0]], np.float32)
TARGETS = np.array([2, 0], np.int32)
CLASS_WEIGHTS = np.array([1.0, 2.0, 0.5, 1.0], np.float32)
IMAGE = np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3)
GRID = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
FILTERS = np.arange(18, dtype=np.float32).reshape(2, 1, 3, 3) / 10
ROWS = np.array([[2, 5, 1, 6], [7, 5, 9, 6]], np.int64)
MASK = np.array([[1, 0, 1, 0], [0, 1, 0, 1]], bool)


def _t(ms, array):
    return ms.Tensor(array)


CASES = {
    "cross_entropy-smoothing": lambda ms: ms.ops.cross_entropy(_t(ms, LOGITS), _t(ms, TARGETS), _t(ms, CLASS_WEIGHTS),
                                                               label_smoothing=0.1),
    "cross_entropy-sum": lambda ms: ms.ops.cross_entropy(_t(ms, LOGITS), _t(ms, TARGETS), _t(ms, CLASS_WEIGHTS),
                                                         reduction="sum", label_smoothing=0.1),
    "cross_entropy-none": lambda ms: ms.ops.cross_entropy(_t(ms, LOGITS), _t(ms, TARGETS), _t(ms, CLASS_WEIGHTS),
                                                          reduction="none", label_smoothing=0.1),
    "cross_entropy-ignore": lambda ms: ms.ops.cross_entropy(_t(ms, LOGITS), _t(ms, TARGETS), _t(ms, CLASS_WEIGHTS),
                                                            ignore_index=0, label_smoothing=0.1),
    "cross_entropy-probabilities": lambda ms: ms.ops.cross_entropy(_t(ms, LOGITS), _t(ms, PROBABILITIES),
                                                                   _t(ms, CLASS_WEIGHTS), label_smoothing=0.1),
    "cross_entropy-probabilities-none": lambda ms: ms.ops.cross_entropy(_t(ms, LOGITS), _t(ms, PROBABILITIES),
                                                                        reduction="none"),
    "cross_entropy-plain": lambda ms: ms.ops.cross_entropy(_t(ms, LOGITS), _t(ms, TARGETS)),
    "nll_loss-smoothing": lambda ms: ms.ops.nll_loss(_t(ms, LOGITS), _t(ms, TARGETS), _t(ms, CLASS_WEIGHTS),
                                                     label_smoothing=0.2),
    "nll_loss-none": lambda ms: ms.ops.nll_loss(_t(ms, LOGITS), _t(ms, TARGETS), reduction="none"),
    "kl_div-batchmean": lambda ms: ms.ops.kl_div(_t(ms, LOGITS), _t(ms, PROBABILITIES), "batchmean"),
    "kl_div-none": lambda ms: ms.ops.kl_div(_t(ms, LOGITS), _t(ms, PROBABILITIES), "none"),
    "binary_cross_entropy-clamped": lambda ms: ms.ops.binary_cross_entropy(
        _t(ms, np.array([0.0, 1.0, 0.5], np.float32)), _t(ms, np.array([1.0, 0.0, 1.0], np.float32)), reduction="none"),
    "binary_cross_entropy_with_logits-sum": lambda ms: ms.ops.binary_cross_entropy_with_logits(
        _t(ms, LOGITS), _t(ms, PROBABILITIES), pos_weight=_t(ms, CLASS_WEIGHTS), reduction="sum"),
    "interpolate-bilinear-corners": lambda ms: ms.ops.interpolate(_t(ms, IMAGE), size=(4, 5), mode="bilinear",
                                                                  align_corners=True),
    "interpolate-bilinear": lambda ms: ms.ops.interpolate(_t(ms, IMAGE), size=(4, 5), mode="bilinear"),
    "interpolate-nearest-shrink": lambda ms: ms.ops.interpolate(_t(ms, IMAGE), size=(3, 2), mode="nearest"),
    "interpolate-scale": lambda ms: ms.ops.interpolate(_t(ms, IMAGE), scale_factor=(2.0, 1.5), mode="bilinear",
                                                       recompute_scale_factor=True),
    "interpolate-linear-corners": lambda ms: ms.ops.interpolate(_t(ms, IMAGE[0]), size=5, mode="linear",
                                                                align_corners=True),
    "min-where-initial-wins": lambda ms: ms.ops.min(_t(ms, ROWS), axis=1, initial=0, where=_t(ms, MASK)),
    "max-where-initial-wins": lambda ms: ms.ops.max(_t(ms, ROWS), axis=1, initial=10, where=_t(ms, MASK)),
    "max-initial-ties": lambda ms: ms.ops.max(_t(ms, ROWS), axis=1, initial=6),
    "min-initial": lambda ms: ms.ops.min(_t(ms, ROWS), axis=1, initial=3),
    "max-all": lambda ms: ms.ops.max(_t(ms, ROWS.astype(np.float32))),
    "sort-ties-descending": lambda ms: ms.ops.sort(_t(ms, np.array([1.0, 3.0, 3.0, 2.0], np.float32)), descending=True),
    "topk-ties": lambda ms: ms.ops.topk(_t(ms, np.array([1.0, 3.0, 3.0, 2.0], np.float32)), 2),
    "clip_by_value-crossed": lambda ms: ms.ops.clip_by_value(_t(ms, np.array([1.0, 5.0, 9.0], np.float32)), 7.0, 3.0),
    "norm-inf-matrix": lambda ms: ms.ops.norm(_t(ms, np.array([[1.0, -2.0], [3.0, 4.0]], np.float32)),
                                              ord=float("inf")),
    "norm-p3": lambda ms: ms.ops.norm(_t(ms, np.array([1.0, -2.0, 3.0], np.float32)), ord=3),
    "cumsum-int64": lambda ms: ms.ops.cumsum(_t(ms, ROWS), 1),
    "sum-int32": lambda ms: ms.ops.sum(_t(ms, ROWS.astype(np.int32)), 1),
    "one_hot-float": lambda ms: ms.ops.one_hot(_t(ms, TARGETS), 4, 1.0, 0.0),
    "full-bool": lambda ms: ms.ops.full((2,), True),
    "range-int32": lambda ms: ms.ops.range(_t(ms, np.array(0, np.int32)), _t(ms, np.array(6, np.int32)),
                                           _t(ms, np.array(2, np.int32))),
    "flatten-vector": lambda ms: ms.ops.flatten(_t(ms, np.array([1.0, 2.0], np.float32))),
    "tensor_floordiv-ints": lambda ms: ms.ops.tensor_floordiv(_t(ms, np.array([7, -7], np.int64)),
                                                              _t(ms, np.array([2, 2], np.int64))),
    "mixed_precision_cast": lambda ms: ms.ops.mixed_precision_cast(ms.float32, (_t(ms, LOGITS.astype(np.float64)),
                                                                                _t(ms, TARGETS))),
    "meshgrid-ij": lambda ms: ms.ops.meshgrid(_t(ms, TARGETS), _t(ms, TARGETS + 5), indexing="ij"),
    "max_pool2d-default-stride": lambda ms: ms.ops.max_pool2d(_t(ms, GRID), 2),
    "max_pool2d-padding": lambda ms: ms.ops.max_pool2d(_t(ms, -GRID), 3, 2, 1),
    "avg_pool2d-padding": lambda ms: ms.ops.avg_pool2d(_t(ms, GRID), 3, 2, 1),
    "avg_pool2d-exclude-pad": lambda ms: ms.ops.avg_pool2d(_t(ms, GRID), 3, 2, 1, count_include_pad=False),
    "avg_pool2d-divisor": lambda ms: ms.ops.avg_pool2d(_t(ms, GRID), 2, 2, divisor_override=3),
    "conv2d-bias-padding": lambda ms: ms.ops.conv2d(_t(ms, GRID), _t(ms, FILTERS),
                                                    _t(ms, np.array([1.0, -2.0], np.float32)), pad_mode="pad",
                                                    padding=(1, 0)),
    "conv2d-same-stride": lambda ms: ms.ops.conv2d(_t(ms, GRID), _t(ms, FILTERS), stride=2, pad_mode="same"),
    "amax-where-initial": lambda ms: ms.ops.amax(_t(ms, ROWS), axis=1, keepdims=True, initial=6, where=_t(ms, MASK)),
    "amin-all": lambda ms: ms.ops.amin(_t(ms, LOGITS)),
    "logsumexp-every-axis": lambda ms: ms.ops.logsumexp(_t(ms, LOGITS * 40), ()),
    "logsumexp-keepdim": lambda ms: ms.ops.logsumexp(_t(ms, LOGITS), 1, True),
    "reciprocal": lambda ms: ms.ops.reciprocal(_t(ms, LOGITS)),
    "flip-two-axes": lambda ms: ms.ops.flip(_t(ms, GRID), (0, 3)),
    "tril-above": lambda ms: ms.ops.tril(_t(ms, FILTERS), 1),
    "triu-below": lambda ms: ms.ops.triu(_t(ms, ROWS), -1),
    "div-floor-ints": lambda ms: ms.ops.div(_t(ms, ROWS), _t(ms, np.array([-3, 2, 4, -5], np.int64)),
                                            rounding_mode="floor"),
    "div-trunc-ints": lambda ms: ms.ops.div(_t(ms, -ROWS), _t(ms, np.array([-3, 2, 4, -5], np.int64)),
                                            rounding_mode="trunc"),
    "div-trunc-floats": lambda ms: ms.ops.div(_t(ms, LOGITS), _t(ms, np.float32(0.3)), rounding_mode="trunc"),
    "pow-exponent-keyword": lambda ms: ms.ops.pow(_t(ms, LOGITS), exponent=3.0),
    "mse_loss-broadcast-sum": lambda ms: ms.ops.mse_loss(_t(ms, LOGITS[0]), _t(ms, LOGITS), reduction="sum"),
    "smooth_l1_loss-beta-mean": lambda ms: ms.ops.smooth_l1_loss(_t(ms, LOGITS), _t(ms, PROBABILITIES), beta=0.5,
                                                                 reduction="mean"),
    "smooth_l1_loss-default": lambda ms: ms.ops.smooth_l1_loss(_t(ms, LOGITS), _t(ms, PROBABILITIES)),
    "pad-reflect": lambda ms: ms.ops.pad(_t(ms, GRID), (2, 1, 0, 3), mode="reflect"),
    "pad-replicate": lambda ms: ms.ops.pad(_t(ms, GRID), (3, 0, 1, 2), mode="replicate"),
    "pad-circular": lambda ms: ms.ops.pad(_t(ms, GRID), (1, 4, 2, 0), mode="circular"),
    "max_pool2d-indices": lambda ms: ms.ops.max_pool2d(_t(ms, -GRID), (3, 2), (2, 1), 1, return_indices=True),
    "logical_and-floats": lambda ms: ms.ops.logical_and(_t(ms, np.array([1.0, 0.0], np.float32)),
                                                        _t(ms, np.array([1.0, 1.0], np.float32))),
}
