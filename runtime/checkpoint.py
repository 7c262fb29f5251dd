"""Checkpoints: save and load a Cell's Parameters in MindSpore's .ckpt layout, and the
ModelCheckpoint callback. Files are written atomically and never unpickled."""
from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from pathlib import Path

import numpy as np

from graphc import Parameter
from graphc.nn import Cell

from .callbacks import Callback
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


class CheckpointConfig:
    """When to save and how many checkpoints to keep (MindSpore's CheckpointConfig)."""

    def __init__(self, save_checkpoint_steps=1, save_checkpoint_seconds=0, keep_checkpoint_max=5,
                 keep_checkpoint_per_n_minutes=0, integrated_save=True, async_save=False, saved_network=None,
                 append_info=None):
        for name, value in (("save_checkpoint_steps", save_checkpoint_steps),
                            ("save_checkpoint_seconds", save_checkpoint_seconds),
                            ("keep_checkpoint_max", keep_checkpoint_max),
                            ("keep_checkpoint_per_n_minutes", keep_checkpoint_per_n_minutes)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"CheckpointConfig: {name} must be a non-negative int, got {value!r}")
        if not (save_checkpoint_steps or save_checkpoint_seconds):
            raise ValueError("CheckpointConfig: save_checkpoint_steps and save_checkpoint_seconds are both 0; "
                             "set one of them")
        if not (keep_checkpoint_max or keep_checkpoint_per_n_minutes):
            raise ValueError("CheckpointConfig: keep_checkpoint_max and keep_checkpoint_per_n_minutes are both 0")
        self.save_checkpoint_steps = save_checkpoint_steps
        self.save_checkpoint_seconds = save_checkpoint_seconds if not save_checkpoint_steps else 0
        self.keep_checkpoint_max = keep_checkpoint_max
        self.keep_checkpoint_per_n_minutes = keep_checkpoint_per_n_minutes if not keep_checkpoint_max else 0
        _check_integrated_save(integrated_save)
        self.integrated_save, self.async_save = integrated_save, async_save
        self.saved_network = saved_network
        self.append_info = append_info


class ModelCheckpoint(Callback):
    """Saves `<prefix>-<epoch>_<step>.ckpt` (network and optimizer state) as training goes."""

    def __init__(self, prefix="CKP", directory=None, config=None):
        if not isinstance(prefix, str) or not prefix or "/" in prefix:
            raise ValueError(f"ModelCheckpoint: prefix must be a non-empty file name part, got {prefix!r}")
        self.directory = Path(directory) if directory is not None else Path.cwd()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config = config or CheckpointConfig()
        self.prefix = self._unique_prefix(prefix)
        self.saved: list[Path] = []
        self._last_saved_step = 0
        self._last_saved_time = self._last_kept_time = time.monotonic()

    def _unique_prefix(self, prefix: str) -> str:
        """MindSpore's rule: if files with this prefix exist, use prefix_1, prefix_2, ..."""
        def taken(p):
            return any(f.name.startswith(f"{p}-") and f.suffix == ".ckpt" for f in self.directory.iterdir())
        candidate, n = prefix, 0
        while taken(candidate):
            n += 1
            candidate = f"{prefix}_{n}"
        return candidate

    @property
    def latest_ckpt_file_name(self):
        return str(self.saved[-1]) if self.saved else None

    def step_end(self, run_context):
        cb = run_context.original_args()
        steps, seconds = self.config.save_checkpoint_steps, self.config.save_checkpoint_seconds
        due = (steps and cb.cur_step_num % steps == 0) or \
              (seconds and time.monotonic() - self._last_saved_time >= seconds)
        if due:
            self._save(cb)

    def end(self, run_context):
        cb = run_context.original_args()
        if cb.cur_step_num != self._last_saved_step:
            self._save(cb)

    def _save(self, cb):
        step_in_epoch = (cb.cur_step_num - 1) % cb.batch_num + 1
        path = self.directory / f"{self.prefix}-{cb.cur_epoch_num}_{step_in_epoch}.ckpt"
        network = self.config.saved_network or cb.train_network
        save_checkpoint(network, path, async_save=self.config.async_save, append_dict=self._append_info(cb))
        self._last_saved_step, self._last_saved_time = cb.cur_step_num, time.monotonic()
        if path in self.saved:
            self.saved.remove(path)
        self.saved.append(path)
        self._remove_old()

    def _append_info(self, cb):
        info = {}
        for item in self.config.append_info or ():
            if item == "epoch_num":
                info["epoch_num"] = np.array(cb.cur_epoch_num, np.int64)
            elif item == "step_num":
                info["step_num"] = np.array(cb.cur_step_num, np.int64)
            elif isinstance(item, dict):
                info.update({k: np.asarray(v) for k, v in item.items()})
        return info

    def _remove_old(self):
        """keep_checkpoint_max: the newest N files. Else keep_checkpoint_per_n_minutes: of the files
        saved since the last kept one, only the newest stays until N minutes have passed."""
        keep, minutes = self.config.keep_checkpoint_max, self.config.keep_checkpoint_per_n_minutes
        if keep:
            while len(self.saved) > keep:
                self._delete(self.saved.pop(0))
        elif len(self.saved) > 1 and time.monotonic() - self._last_kept_time < minutes * 60:
            self._delete(self.saved.pop(-2))
        else:
            self._last_kept_time = time.monotonic()

    @staticmethod
    def _delete(path: Path):
        if path.exists():
            os.remove(path)
