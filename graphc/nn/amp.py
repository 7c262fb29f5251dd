"""Mixed precision as MindSpore's mindspore.amp: auto_mixed_precision and build_train_network
(the `graphc.amp` face re-exports them beside the loss-scale managers).

A level says which cells compute in the half type (Cell.to_float: each op inside casts its float
operands, Parameters included, so weights, gradients and optimizer state stay float32):

- O0: nothing changes.
- O1: the white list: its cells (Conv2d, Dense, ...) compute in the half type and their outputs are
  cast back to float32; so are its ops (conv2d, matmul, relu, ...) called anywhere in the network.
- O2: the whole network, except the black list (batch norm, layer norm), which stays float32; the
  network's output is cast to float32, so the loss is float32.
- O3: the whole network; the output is cast to float32.

graphc computes a half type in float32 and stores it rounded (passes/widen_half.py). The default
half type is bfloat16, which graphc runs faster on CPUs with AVX512-BF16 and which needs no loss
scale (it has float32's range); MindSpore's default, float16, is used when asked for.
"""
from __future__ import annotations

from ..errors import ArgumentError
from ..tracing import Precision, computed_in, float32_outputs
from ..types import bfloat16, float16, float32
from .cell import Cell
from .layers import BatchNorm1d, BatchNorm2d, Conv1d, Conv2d, Conv2dTranspose, Dense, GRUCell, LayerNorm, LSTMCell, \
    RNNCell
from .loss_scale import DynamicLossScaleManager, LossScaleManager, TrainOneStepWithLossScaleCell
from .wrap import TrainOneStepCell, WithLossCell

__all__ = ["auto_mixed_precision", "build_train_network", "get_black_list", "get_white_list"]

AMP_LEVELS = ("O0", "O1", "O2", "O3")
# MindSpore's AMP_WHITE_LIST and AMP_BLACK_LIST (2.10), as far as graphc has the cells; the white
# list's primitives are graphc's ops conv2d (Conv2D, Conv2DBackpropInput), matmul (MatMul,
# BatchMatMul) and relu (ReLU)
WHITE_LIST = (Conv1d, Conv2d, Conv2dTranspose, Dense, LSTMCell, RNNCell, GRUCell)
WHITE_LIST_OPS = frozenset({"conv2d", "conv2d_grad_input", "matmul", "relu"})
BLACK_LIST = (BatchNorm1d, BatchNorm2d, LayerNorm)


def get_white_list() -> list:
    return list(WHITE_LIST)


def get_black_list() -> list:
    return list(BLACK_LIST)


def check_level(amp_level, owner: str = "auto_mixed_precision") -> str:
    if amp_level not in AMP_LEVELS:
        raise ArgumentError(f"{owner}: The amp level {amp_level} is not supported; amp_level must be one of "
                            f"{', '.join(AMP_LEVELS)}")
    return amp_level


def _check_dtype(dtype, owner: str):
    if dtype not in (float16, bfloat16):
        raise ArgumentError(f"{owner}: dtype must be graphc.float16 or graphc.bfloat16, got {dtype!r}")
    return dtype


class _OutputTo32(Cell):
    """The network with its half outputs cast to float32 (MindSpore's amp._OutputTo32); it adds no
    name to the network's parameters."""

    def __init__(self, backbone):
        super().__init__(auto_prefix=False)
        self._backbone = backbone

    def construct(self, *inputs):
        return float32_outputs(self._backbone(*inputs))


class _WhiteListOps(Cell):
    """O1's ops: each white-list op the network calls computes in `dtype`, its result cast to float32."""

    def __init__(self, backbone, dtype):
        super().__init__(auto_prefix=False)
        self._backbone, self._ops = backbone, Precision(dtype, WHITE_LIST_OPS)

    def construct(self, *inputs):
        with computed_in(self._ops):
            return self._backbone(*inputs)


def auto_mixed_precision(network: Cell, amp_level: str = "O0", dtype=bfloat16) -> Cell:
    """The network at `amp_level` in `dtype` (bfloat16 by default; MindSpore's default is float16).
    The network's cells are changed in place; O1, O2 and O3 return a wrapper of it."""
    check_level(amp_level)
    _check_dtype(dtype, "auto_mixed_precision")
    if not isinstance(network, Cell):
        raise ArgumentError(f"auto_mixed_precision: network must be a Cell, got {type(network).__name__}")
    if amp_level == "O0":
        return network
    if amp_level == "O1":
        for _, cell in network.cells_and_names():
            if isinstance(cell, WHITE_LIST):
                object.__setattr__(cell.to_float(dtype), "_precision", Precision(dtype, float32_output=True))
        return _WhiteListOps(network, dtype)
    network.to_float(dtype)
    if amp_level == "O2":
        for _, cell in network.cells_and_names():
            if isinstance(cell, BLACK_LIST):
                cell.to_float(float32)
    return _OutputTo32(network)


_BY_LEVEL = object()     # the level's loss-scale manager


def level_loss_scale_manager(level: str):
    """MindSpore's default for a level: O2 scales the loss dynamically, the others do not."""
    return DynamicLossScaleManager() if level == "O2" else None


def build_train_network(network: Cell, optimizer, loss_fn=None, level: str = "O0", boost_level: str = "O0",
                        cast_model_type=None, keep_batchnorm_fp32=None, loss_scale_manager=_BY_LEVEL) -> Cell:
    """MindSpore's amp.build_train_network: the network at `level` (cast_model_type and
    keep_batchnorm_fp32 override the level's O2/O3 choice, as MindSpore's keywords do), with the loss
    computed in float32, then TrainOneStepCell, or TrainOneStepWithLossScaleCell when the loss-scale
    manager (by default the level's: level_loss_scale_manager) checks overflows."""
    check_level(level, "build_train_network")
    if boost_level != "O0":
        raise ArgumentError(f"build_train_network: boost_level={boost_level!r} is not supported; use 'O0'")
    if level in ("O2", "O3") or cast_model_type is not None:
        keep_bn = (level == "O2") if keep_batchnorm_fp32 is None else keep_batchnorm_fp32
        if cast_model_type != float32:          # float32: MindSpore leaves the network as it is
            dtype = _check_dtype(cast_model_type or bfloat16, "build_train_network: cast_model_type")
            network = auto_mixed_precision(network, "O2" if keep_bn else "O3", dtype)
    else:
        network = auto_mixed_precision(network, level)
    if loss_fn is not None:
        network = WithLossCell(network, loss_fn)
    if loss_scale_manager is _BY_LEVEL:
        loss_scale_manager = level_loss_scale_manager(level)
    if loss_scale_manager is not None and not isinstance(loss_scale_manager, LossScaleManager):
        raise ArgumentError(f"build_train_network: loss_scale_manager must be a FixedLossScaleManager or "
                            f"DynamicLossScaleManager, got {type(loss_scale_manager).__name__}")
    if loss_scale_manager is None:
        return TrainOneStepCell(network, optimizer)
    update_cell = loss_scale_manager.get_update_cell()
    if update_cell is None:
        return TrainOneStepCell(network, optimizer, sens=float(loss_scale_manager.get_loss_scale()))
    return TrainOneStepWithLossScaleCell(network, optimizer, scale_sense=update_cell)
