"""Checkpoints: save and load a Cell's Parameters in MindSpore's .ckpt layout (the ModelCheckpoint
callback is in runtime.callbacks). Files are written atomically and never unpickled."""
from __future__ import annotations

import atexit
import logging
import threading
import warnings
from pathlib import Path

import numpy as np

from graphc import Parameter
from graphc.nn import Cell

from graphc.atomic_file import atomic_write_bytes
from .checkpoint_format import encode_checkpoint, read_checkpoint

log = logging.getLogger("runtime.checkpoint")


def _entries(save_obj, append_dict=None) -> list[tuple[str, np.ndarray]]:
    # a Python float is saved as Float32, the type MindSpore gives it (measured on 2.10)
    appended = [(name, np.asarray(value, np.float32) if isinstance(value, float) else _array(value))
                for name, value in (append_dict or {}).items()]
    return _saved_entries(save_obj) + appended


def _saved_entries(save_obj) -> list[tuple[str, np.ndarray]]:
    if isinstance(save_obj, Cell):
        return [(name, p.asnumpy()) for name, p in save_obj.parameters_and_names()]
    if isinstance(save_obj, dict):
        return [(name, _array(value)) for name, value in save_obj.items()]
    if isinstance(save_obj, (list, tuple)):
        entries = []
        for item in save_obj:
            if isinstance(item, Parameter):
                entries.append((item.name, item.asnumpy()))
            elif isinstance(item, dict) and {"name", "data"} <= set(item):
                entries.append((item["name"], _array(item["data"])))
            else:
                raise TypeError("save_checkpoint: a list must hold Parameters or {'name': ..., 'data': ...} dicts, "
                                f"got {type(item).__name__}")
        return entries
    raise TypeError(f"save_checkpoint: cannot save a {type(save_obj).__name__}; pass a Cell, a list of Parameters "
                    "or a dict of name -> array")


def _array(value) -> np.ndarray:
    return value.asnumpy() if hasattr(value, "asnumpy") else np.asarray(value)


class CheckpointSaveError(OSError):
    """A checkpoint the OS would not let us write (an async_save's is raised on the thread that saves or waits next)."""

    def __init__(self, path: Path, error: OSError):
        super().__init__(error.errno, f"could not write the checkpoint {path}: {error.strerror or error}. No file "
                                      "was replaced or removed; free space, or save elsewhere")


def _write_file(path: Path, data: bytes) -> None:
    try:
        atomic_write_bytes(path, data)
    except OSError as error:
        raise CheckpointSaveError(path, error) from error


class BackgroundSave:
    """A checkpoint's bytes being written to its file by a thread (in place once `finished` and `written`)."""

    def __init__(self, path: Path, data: bytes):
        self.path, self.written, self._error = path, False, None
        self._thread = threading.Thread(target=self._write, args=(data,), name=f"save {path.name}")
        self._thread.start()

    def _write(self, data: bytes) -> None:
        try:
            _write_file(self.path, data)
            self.written = True
        except CheckpointSaveError as error:
            self._error = error     # raised by finished(), on the thread that asks

    def finished(self, block: bool = True) -> bool:
        """Whether the write has ended (waiting for it if `block`). A failed write raises CheckpointSaveError,
        once: whoever asks first learns of it."""
        self._thread.join(None if block else 0)
        if self._thread.is_alive():
            return False
        error, self._error = self._error, None
        if error is not None:
            raise error
        return True


_writing: BackgroundSave | None = None      # the checkpoint an async save is still writing


def save_checkpoint(save_obj, ckpt_file_name, integrated_save=True, async_save=False, append_dict=None):
    """Write a Cell's parameters (or a list / dict of them) to a .ckpt file, atomically.

    async_save=True writes the file on a background thread, with the values of the moment of the
    call. One is written at a time: a later save or load waits for it and raises its failure, and so
    does the interpreter's exit (where the failure is logged). A write the OS refuses (a full disk, a
    file size limit) raises CheckpointSaveError, an OSError naming the file and the OS's reason."""
    _check_integrated_save(integrated_save)
    if async_save:
        save_in_background(save_obj, ckpt_file_name, append_dict)
    else:
        data = encode_checkpoint(_entries(save_obj, append_dict))
        wait_for_async_save()
        _write_file(_ckpt_path(ckpt_file_name), data)


def save_in_background(save_obj, ckpt_file_name, append_dict=None) -> BackgroundSave:
    """save_checkpoint(..., async_save=True), returning the write under way."""
    global _writing
    data = encode_checkpoint(_entries(save_obj, append_dict))   # the values of now: training goes on meanwhile
    wait_for_async_save()
    _writing = BackgroundSave(_ckpt_path(ckpt_file_name), data)
    return _writing


def wait_for_async_save() -> None:
    """Block until the checkpoint being written by async_save (if any) is complete; raise CheckpointSaveError
    if writing it failed."""
    global _writing
    writing, _writing = _writing, None
    if writing is not None:
        writing.finished()


@atexit.register
def _report_failed_save_at_exit() -> None:
    """A script that ends right after an async save learns of its failure here (threads are joined by then)."""
    try:
        wait_for_async_save()
    except CheckpointSaveError as error:
        log.error("%s", error)


def _ckpt_path(ckpt_file_name) -> Path:
    path = Path(ckpt_file_name)
    return path if path.suffix == ".ckpt" else path.with_name(path.name + ".ckpt")


def _check_integrated_save(integrated_save) -> None:
    if not integrated_save:
        warnings.warn("integrated_save=False has no effect: graphc keeps every parameter whole on each process "
                      "(no model parallelism), so the checkpoint always holds whole parameters, as MindSpore's "
                      "stand-alone and data-parallel saves do", UserWarning, stacklevel=3)


def load_checkpoint(ckpt_file_name, net=None, strict_load=False, filter_prefix=None) -> dict:
    """{name: Parameter} from a .ckpt file; also loads them into `net` when given."""
    path = Path(ckpt_file_name)
    if path.suffix != ".ckpt":
        raise ValueError(f"load_checkpoint: {path} is not a .ckpt file")
    wait_for_async_save()
    if not path.is_file():
        raise FileNotFoundError(f"load_checkpoint: {path} does not exist")
    prefixes = (filter_prefix,) if isinstance(filter_prefix, str) else tuple(filter_prefix or ())
    params = {name: Parameter(array, name=name) for name, array in read_checkpoint(path)
              if not name.startswith(prefixes or ("\0",))}
    if not params:      # as in MindSpore: nothing to load is an error, not a network left as it was
        left = f" that filter_prefix {list(prefixes)} leaves" if prefixes else ""
        raise ValueError(f"load_checkpoint: {path} holds no parameters{left}; load another checkpoint"
                         + (" or filter less" if prefixes else ""))
    if net is not None:
        load_param_into_net(net, params, strict_load)
    return params


def load_param_into_net(net, parameter_dict, strict_load=False) -> tuple[list[str], list[str]]:
    """Copy the checkpoint's values into net's Parameters of the same names; returns MindSpore 2.x's
    (param_not_load, ckpt_not_load): net's parameters left as they were, and the entries no parameter
    of net is named after.

    Without strict_load, as in MindSpore, a float value loads into a parameter of another float type
    (an int into another int), and parameters still missing are looked for under a prefix that an
    entry adds to one of them (a checkpoint saved from a network that holds this one as `backbone`);
    such entries stay in ckpt_not_load, as MindSpore lists them. A shape or dtype mismatch means the
    checkpoint belongs to another network: nothing is loaded and the error lists every mismatch."""
    if not isinstance(net, Cell):
        raise TypeError(f"load_param_into_net: net must be a Cell, got {type(net).__name__}")
    values = {name: _array(value) for name, value in parameter_dict.items()}
    own = dict(net.parameters_and_names())
    sources = {name: name for name in own if name in values}
    ckpt_not_load = [name for name in values if name not in own]
    if not strict_load:
        sources.update(_under_a_prefix([name for name in own if name not in sources], values))
    mismatched = [f"{name}: checkpoint {values[source].dtype}{list(values[source].shape)}, "
                  f"network {own[name].asnumpy().dtype}{list(own[name].shape)}"
                  for name, source in sources.items() if not _compatible(values[source], own[name], strict_load)]
    if mismatched:
        raise ValueError("load_param_into_net: the checkpoint does not fit this network:\n  "
                         + "\n  ".join(mismatched))
    for name, source in sources.items():
        own[name].set_data(values[source])
    param_not_load = [name for name in own if name not in sources]
    if param_not_load:
        log.warning("parameters not loaded (not in the checkpoint): %s%s", ", ".join(param_not_load),
                    _moving_statistics_hint(param_not_load))
    if ckpt_not_load:
        log.warning("checkpoint entries not loaded by their names: %s", ", ".join(ckpt_not_load))
    return param_not_load, ckpt_not_load


def _under_a_prefix(missing: list[str], values: dict) -> dict[str, str]:
    """{parameter: entry} for missing parameters found as prefix + name, MindSpore's non-strict rule:
    an entry whose name ends with a missing parameter's name gives the prefix to try for all of them."""
    found: dict[str, str] = {}
    tried = set()
    while True:
        prefix = next((entry[:-len(name)] for name in missing if name not in found for entry in values
                       if entry.endswith(name) and entry[:-len(name)] not in tried), None)
        if prefix is None:
            return found
        tried.add(prefix)
        found.update({name: prefix + name for name in missing if name not in found and prefix + name in values})


def _moving_statistics_hint(missing: list[str]) -> str:
    state = [name for name in missing if name.endswith((".moving_mean", ".moving_variance"))]
    if not state:
        return ""
    return (f"; {len(state)} of them are batch-norm moving statistics: they are state, not trainable, so a "
            "checkpoint saved from trainable_params() lacks them; save the network itself (save_checkpoint(net, ...))")


def _compatible(value: np.ndarray, param, strict: bool) -> bool:
    """Same shape, and the same dtype, or (not strict) the same kind, float or int, as MindSpore converts."""
    target = param.asnumpy()
    same_kind = not strict and value.dtype.kind == target.dtype.kind and value.dtype.kind in "fi"
    return value.shape == target.shape and (value.dtype == target.dtype or same_kind)
