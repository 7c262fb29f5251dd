"""Checkpoints: save and load a Cell's Parameters in MindSpore's .ckpt layout (the ModelCheckpoint
callback is in runtime.callbacks). Files are written atomically and never unpickled."""
from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path

import numpy as np

from graphc import Parameter
from graphc.nn import Cell

from .checkpoint_format import read_checkpoint, write_checkpoint

log = logging.getLogger("runtime.checkpoint")


def _entries(save_obj) -> list[tuple[str, np.ndarray]]:
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


_writing: threading.Thread | None = None    # the checkpoint an async save is still writing


def save_checkpoint(save_obj, ckpt_file_name, integrated_save=True, async_save=False, append_dict=None):
    """Write a Cell's parameters (or a list / dict of them) to a .ckpt file, atomically.

    async_save=True takes a copy of the values now and writes the file on a background thread
    (one at a time: a later save or load waits for it, and so does the interpreter's exit)."""
    global _writing
    _check_integrated_save(integrated_save)
    path = Path(ckpt_file_name)
    if path.suffix != ".ckpt":
        path = path.with_name(path.name + ".ckpt")
    entries = _entries(save_obj)
    if append_dict:
        entries += [(name, np.asarray(value)) for name, value in append_dict.items()]
    wait_for_async_save()
    if not async_save:
        write_checkpoint(path, entries)
        return
    snapshot = [(name, np.array(value, copy=True)) for name, value in entries]   # training goes on meanwhile
    _writing = threading.Thread(target=write_checkpoint, args=(path, snapshot), name=f"save {path.name}")
    _writing.start()


def wait_for_async_save() -> None:
    """Block until the checkpoint being written by async_save (if any) is complete."""
    if _writing is not None:
        _writing.join()


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


def load_param_into_net(net, parameter_dict, strict_load=False) -> list[str]:
    """Copy matching values into net's Parameters; returns the names of net's parameters not loaded.

    A shape or dtype mismatch means the checkpoint belongs to another network: nothing is loaded
    and the error lists every mismatch."""
    if not isinstance(net, Cell):
        raise TypeError(f"load_param_into_net: net must be a Cell, got {type(net).__name__}")
    values = {name: _array(value) for name, value in parameter_dict.items()}
    own = dict(net.parameters_and_names())
    mismatched = [f"{name}: checkpoint {values[name].dtype}{list(values[name].shape)}, "
                  f"network {p.asnumpy().dtype}{list(p.shape)}"
                  for name, p in own.items() if name in values and not _compatible(values[name], p)]
    if mismatched:
        raise ValueError("load_param_into_net: the checkpoint does not fit this network:\n  "
                         + "\n  ".join(mismatched))
    missing = [name for name in own if name not in values]
    unexpected = [name for name in values if name not in own]
    if strict_load and (missing or unexpected):
        raise ValueError(_strict_load_error(missing, unexpected))
    for name, p in own.items():
        if name in values:
            p.set_data(values[name])
    if missing:
        log.warning("parameters not loaded (not in the checkpoint): %s", ", ".join(missing))
    if unexpected:
        log.warning("checkpoint entries not used (not in the network): %s", ", ".join(unexpected))
    return missing


def _strict_load_error(missing: list[str], unexpected: list[str]) -> str:
    message = (f"load_param_into_net(strict_load=True): missing {missing}, unexpected {unexpected}; "
               "nothing was loaded\n  ")
    state = [name for name in missing if name.endswith((".moving_mean", ".moving_variance"))]
    if state:
        return message + (f"{len(state)} of the missing are batch-norm moving statistics: they are state, not "
                          "trainable, so a checkpoint saved from trainable_params() lacks them; save the network "
                          "itself (save_checkpoint(net, ...)), or load with strict_load=False to keep the network's "
                          "own statistics")
    return message + "load a checkpoint saved from this network, or pass strict_load=False to load the names that match"


def _compatible(value: np.ndarray, param) -> bool:
    target = param.asnumpy()
    same_kind = value.dtype == target.dtype or (value.dtype.kind == "f" and target.dtype.kind == "f")
    return value.shape == target.shape and same_kind
