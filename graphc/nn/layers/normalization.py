"""BatchNorm1d, BatchNorm2d and LayerNorm with MindSpore's names, defaults and semantics.

Training normalises with the batch mean and the biased batch variance over every axis but the
channel axis (ops.batch_stats, one kernel), and updates the moving statistics as state, like an
optimizer's moments: impure assigns in the same graph (so in the same compiled step),
`moving = momentum * moving + (1 - momentum) * batch`, the moving variance taking the unbiased
(n - 1) batch variance. Eval normalises with the moving statistics. Both normalise with
ops.channel_affine (x · scale + shift per channel). The layer is written with ops, so its
gradient, its fusion and its native code come from theirs.
"""
from __future__ import annotations

import numbers

from ... import ops
from ...errors import ArgumentError
from ...types import dtype_of, float32
from ..cell import Cell
from ..init import initializer
from ..parameter import Parameter
from .checks import check_tensor, input_error

__all__ = ["BatchNorm1d", "BatchNorm2d", "GroupNorm", "LayerNorm"]


class _BatchNorm(Cell):
    _RANK = 0                  # input rank: [N, C] (1d) or [N, C, H, W] (2d)
    _LAYOUT = ""

    def __init__(self, num_features, eps=1e-5, momentum=0.9, affine=True, gamma_init="ones", beta_init="zeros",
                 moving_mean_init="zeros", moving_var_init="ones", use_batch_statistics=None, data_format="NCHW"):
        super().__init__()
        kind = type(self).__name__
        if not isinstance(num_features, numbers.Integral) or isinstance(num_features, bool) or num_features < 1:
            raise ArgumentError(f"{kind}: num_features must be a positive int (the channel count), "
                                f"got {num_features!r}")
        if not isinstance(eps, numbers.Real) or eps <= 0:
            raise ArgumentError(f"{kind}: eps must be a number > 0, got {eps!r}")
        if not isinstance(momentum, numbers.Real) or not 0.0 <= momentum <= 1.0:
            raise ArgumentError(f"{kind}: momentum must be in [0, 1] (the weight of the old moving statistics; "
                                f"MindSpore's 0.9 is PyTorch's 0.1), got {momentum!r}")
        if use_batch_statistics not in (None, True, False):
            raise ArgumentError(f"{kind}: use_batch_statistics must be None, True or False, "
                                f"got {use_batch_statistics!r}")
        if data_format != "NCHW":
            raise ArgumentError(f"{kind}: only data_format='NCHW' is supported, got {data_format!r}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), float(momentum)
        self.affine, self.use_batch_statistics = bool(affine), use_batch_statistics
        shape = (self.num_features,)
        self.gamma = Parameter(initializer(gamma_init, shape), name="gamma", requires_grad=self.affine)
        self.beta = Parameter(initializer(beta_init, shape), name="beta", requires_grad=self.affine)
        self.moving_mean = Parameter(initializer(moving_mean_init, shape), name="moving_mean", requires_grad=False)
        self.moving_variance = Parameter(initializer(moving_var_init, shape), name="moving_variance",
                                         requires_grad=False)

    def construct(self, x):
        self._check(x)
        batch_statistics = self.training if self.use_batch_statistics is None else self.use_batch_statistics
        return self._normalize_batch(x) if batch_statistics else self._normalize_moving(x)

    @property
    def _axes(self) -> tuple[int, ...]:
        return (0,) + tuple(range(2, self._RANK))

    def _per_channel(self, v):
        """[C] -> [1, C] or [1, C, 1, 1], broadcasting along the channel axis."""
        return ops.reshape(v, shape=(1, self.num_features) + (1,) * (self._RANK - 2))

    def _normalize_batch(self, x):
        count = x.size // self.num_features
        if count < 2:
            raise input_error(self, x, f"input {self._LAYOUT} with more than one value per channel",
                              "batch statistics need at least 2 values per channel (its unbiased variance divides "
                              "by n - 1): use a larger batch, or set_train(False) to use the moving statistics")
        stats = ops.batch_stats(x)                                            # [mean; biased variance]
        mean, variance = (ops.reshape(ops.channel_row(stats, row, 2), shape=(self.num_features,)) for row in (0, 1))
        self._update_moving(mean, variance * (count / (count - 1)))
        return self._normalize(x, mean, variance)

    def _update_moving(self, mean, unbiased_variance):
        keep, take = self.momentum, 1.0 - self.momentum
        ops.assign(self.moving_mean, self.moving_mean * keep + mean * take)
        ops.assign(self.moving_variance, self.moving_variance * keep + unbiased_variance * take)

    def _normalize_moving(self, x):
        return self._normalize(x, self.moving_mean, self.moving_variance)

    def _normalize(self, x, mean, variance):
        """gamma (x - mean) / sqrt(variance + eps) + beta as x · scale + shift with per-channel scale and
        shift: one multiply-add per element, which fuses with the activation that follows (and
        whose gradient is one pass of per-channel sums of dy and dy·x, then one elementwise pass)."""
        scale = self.gamma * ops.rsqrt(variance + self.eps)
        shift = self.beta - mean * scale
        return ops.channel_affine(x, self._per_channel(scale), self._per_channel(shift))

    def _check(self, x):
        check_tensor(self, x)
        expected = f"input {self._LAYOUT} with C = num_features = {self.num_features}"
        if x.ndim != self._RANK:
            raise input_error(self, x, expected, f"{type(self).__name__} normalises rank-{self._RANK} inputs "
                                                 f"{self._LAYOUT}; reshape the input or use the other BatchNorm")
        if x.shape[1] != self.num_features:
            raise input_error(self, x, expected,
                              f"the input has {x.shape[1]} channels but the layer was built for {self.num_features}: "
                              f"build it as {type(self).__name__}({x.shape[1]}) (num_features = the channel count "
                              "of the layer before it)")

    def extend_repr(self) -> str:
        return (f"num_features={self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"gamma={self.gamma}, beta={self.beta}, moving_mean={self.moving_mean}, "
                f"moving_variance={self.moving_variance}")


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of [N, C, H, W] inputs over N, H and W, per channel."""
    _RANK = 4
    _LAYOUT = "[N, C, H, W]"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of [N, C] inputs over N, per channel."""
    _RANK = 2
    _LAYOUT = "[N, C]"


class LayerNorm(Cell):
    """Normalises each sample over the axes from begin_norm_axis to the last, with the biased variance:
    y = gamma · (x - mean) / sqrt(var + epsilon) + beta. gamma and beta (Parameters of shape
    normalized_shape) scale the axes from begin_params_axis on, so normalized_shape must be
    x.shape[begin_params_axis:]. Written with ops, so its gradient is autodiff's."""

    def __init__(self, normalized_shape, begin_norm_axis=-1, begin_params_axis=-1, gamma_init="ones",
                 beta_init="zeros", epsilon=1e-7, dtype=float32):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        if not isinstance(shape, (tuple, list)) or not shape or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in shape):
            raise ArgumentError(f"LayerNorm: normalized_shape must be a tuple of ints >= 1 (the shape of the "
                                f"normalised trailing axes), got {normalized_shape!r}")
        for name, axis in (("begin_norm_axis", begin_norm_axis), ("begin_params_axis", begin_params_axis)):
            if not isinstance(axis, int) or isinstance(axis, bool):
                raise ArgumentError(f"LayerNorm: {name} must be an int, got {axis!r}")
        if not isinstance(epsilon, numbers.Real) or epsilon <= 0:
            raise ArgumentError(f"LayerNorm: epsilon must be a number > 0, got {epsilon!r}")
        if dtype_of(dtype) != float32:
            raise ArgumentError(f"LayerNorm: dtype must be float32, got {dtype!r}")
        self.normalized_shape, self.epsilon = tuple(shape), float(epsilon)
        self.begin_norm_axis, self.begin_params_axis = begin_norm_axis, begin_params_axis
        self.gamma = Parameter(initializer(gamma_init, self.normalized_shape), name="gamma")
        self.beta = Parameter(initializer(beta_init, self.normalized_shape), name="beta")

    def construct(self, x):
        check_tensor(self, x)
        norm_axis, params_axis = (self._axis(x, a, name) for a, name in ((self.begin_norm_axis, "begin_norm_axis"),
                                                                          (self.begin_params_axis,
                                                                           "begin_params_axis")))
        if x.shape[params_axis:] != self.normalized_shape:
            raise input_error(self, x, f"an input whose axes from begin_params_axis={self.begin_params_axis} are "
                                       f"normalized_shape {list(self.normalized_shape)}",
                              f"build LayerNorm({tuple(x.shape[params_axis:])}, ...) for this input, or reshape it")
        axes = tuple(range(norm_axis, x.ndim))
        centred = x - ops.reduce_mean(x, axis=axes, keep_dims=True)
        variance = ops.reduce_mean(centred * centred, axis=axes, keep_dims=True)
        return centred * ops.rsqrt(variance + self.epsilon) * self.gamma + self.beta

    def _axis(self, x, axis: int, name: str) -> int:
        if not -x.ndim <= axis < x.ndim:
            raise input_error(self, x, f"an input with axis {name}={axis}", f"give {name} in [{-x.ndim}, {x.ndim})")
        return axis % x.ndim

    def extend_repr(self) -> str:
        return (f"normalized_shape={self.normalized_shape}, begin_norm_axis={self.begin_norm_axis}, "
                f"begin_params_axis={self.begin_params_axis}, gamma={self.gamma}, beta={self.beta}")


class GroupNorm(Cell):
    """Normalises each sample's channels in num_groups groups (over the group's channels and all
    positions), with the biased variance, then scales and shifts each channel by gamma and beta
    (Parameters of shape [num_channels]; learned when affine). Written with ops."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, gamma_init="ones", beta_init="zeros",
                 dtype=float32):
        super().__init__()
        for name, value in (("num_groups", num_groups), ("num_channels", num_channels)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ArgumentError(f"GroupNorm: {name} must be an int >= 1, got {value!r}")
        if num_channels % num_groups:
            raise ArgumentError(f"GroupNorm: num_channels={num_channels} must be a multiple of "
                                f"num_groups={num_groups}")
        if not isinstance(eps, numbers.Real) or eps <= 0:
            raise ArgumentError(f"GroupNorm: eps must be a number > 0, got {eps!r}")
        if dtype_of(dtype) != float32:
            raise ArgumentError(f"GroupNorm: dtype must be float32, got {dtype!r}")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, float(eps), bool(affine)
        self.gamma = Parameter(initializer(gamma_init, (num_channels,)), name="gamma", requires_grad=self.affine)
        self.beta = Parameter(initializer(beta_init, (num_channels,)), name="beta", requires_grad=self.affine)

    def construct(self, x):
        check_tensor(self, x)
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise input_error(self, x, f"an input [N, {self.num_channels}, ...]",
                              f"build GroupNorm(num_groups, {x.shape[1] if x.ndim > 1 else 1}) for this input")
        groups = ops.reshape(x, shape=(x.shape[0], self.num_groups, -1))
        centred = groups - ops.reduce_mean(groups, axis=2, keep_dims=True)
        variance = ops.reduce_mean(centred * centred, axis=2, keep_dims=True)
        normalised = ops.reshape(centred * ops.rsqrt(variance + self.eps), shape=x.shape)
        per_channel = (self.num_channels,) + (1,) * (x.ndim - 2)
        return normalised * ops.reshape(self.gamma, shape=per_channel) + ops.reshape(self.beta, shape=per_channel)

    def extend_repr(self) -> str:
        return f"num_groups={self.num_groups}, num_channels={self.num_channels}, eps={self.eps}, affine={self.affine}"
