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
