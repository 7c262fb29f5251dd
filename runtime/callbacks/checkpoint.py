"""MindSpore's ModelCheckpoint callback and its CheckpointConfig."""
from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

from graphc.errors import ArgumentError
from graphc.tracing import Tensor

from .. import distributed
from ..checkpoint import BackgroundSave, _check_integrated_save, save_checkpoint, save_in_background
from .base import Callback


class CheckpointConfig:
    """When to save and how many checkpoints to keep (MindSpore's CheckpointConfig).

    As in MindSpore, save_checkpoint_steps overrides save_checkpoint_seconds and keep_checkpoint_max
    overrides keep_checkpoint_per_n_minutes (the overridden one reads None); setting both warns."""

    def __init__(self, save_checkpoint_steps=1, save_checkpoint_seconds=0, keep_checkpoint_max=5,
                 keep_checkpoint_per_n_minutes=0, integrated_save=True, async_save=False, saved_network=None,
                 append_info=None):
        for name, value in (("save_checkpoint_steps", save_checkpoint_steps),
                            ("save_checkpoint_seconds", save_checkpoint_seconds),
                            ("keep_checkpoint_max", keep_checkpoint_max),
                            ("keep_checkpoint_per_n_minutes", keep_checkpoint_per_n_minutes)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ArgumentError(f"CheckpointConfig: {name} must be a non-negative int, got {value!r}")
        if not (save_checkpoint_steps or save_checkpoint_seconds):
            raise ArgumentError("CheckpointConfig: save_checkpoint_steps and save_checkpoint_seconds are both 0, "
                                "so nothing would be saved; set one of them")
        if not (keep_checkpoint_max or keep_checkpoint_per_n_minutes):
            raise ArgumentError("CheckpointConfig: keep_checkpoint_max and keep_checkpoint_per_n_minutes are both 0; "
                                "set one of them")
        self.save_checkpoint_steps = save_checkpoint_steps
        self.save_checkpoint_seconds = _unless(("save_checkpoint_seconds", save_checkpoint_seconds),
                                               ("save_checkpoint_steps", save_checkpoint_steps))
        self.keep_checkpoint_max = keep_checkpoint_max
        self.keep_checkpoint_per_n_minutes = _unless(("keep_checkpoint_per_n_minutes", keep_checkpoint_per_n_minutes),
                                                     ("keep_checkpoint_max", keep_checkpoint_max))
        _check_integrated_save(integrated_save)
        self.integrated_save, self.async_save = integrated_save, async_save
        self.saved_network = saved_network
        self.append_info = _checked_append_info(append_info)


def _unless(setting: tuple[str, int | None], overriding: tuple[str, int | None]) -> int | None:
    """The setting's value, or None when the overriding one is set (saying so if both are)."""
    (name, value), (other, other_value) = setting, overriding
    if not other_value:
        return value
    if value:
        warnings.warn(f"CheckpointConfig: {name}={value} has no effect: {other}={other_value} overrides it, as in "
                      f"MindSpore; pass {other}=0 to use {name}", UserWarning, stacklevel=3)
    return None


_APPEND_NAMES = ("epoch_num", "step_num")


def _checked_append_info(append_info) -> list:
    """MindSpore's rules: a list of "epoch_num", "step_num" and at most one dict of str -> int, float,
    bool, Parameter or Tensor. Anything else is an error, not an entry left out of the checkpoints."""
    if append_info is None:
        return []
    if not isinstance(append_info, list):
        raise TypeError(f"CheckpointConfig: append_info must be a list, got {type(append_info).__name__}")
    for item in append_info:
        if isinstance(item, str) and item not in _APPEND_NAMES:
            raise ArgumentError(f"CheckpointConfig: append_info names {item!r}; the names it takes are {_APPEND_NAMES} "
                                "(other values go in one dict: [{'name': value}])")
        if not isinstance(item, (str, dict)):
            raise TypeError(f"CheckpointConfig: append_info holds a {type(item).__name__}; it takes the strings "
                            f"{_APPEND_NAMES} and one dict of name -> value")
    dicts = [item for item in append_info if isinstance(item, dict)]
    if len(dicts) > 1:
        raise TypeError(f"CheckpointConfig: append_info holds {len(dicts)} dicts; it takes one (merge them)")
    for key, value in (dicts[0] if dicts else {}).items():
        if isinstance(value, str):
            raise ArgumentError(f"CheckpointConfig: append_info entry {key!r} is a str; graphc's checkpoints hold "
                                "tensors only (MindSpore's str entries are not supported): store a number instead")
        if not isinstance(key, str) or not isinstance(value, (int, float, bool, Tensor)):
            raise TypeError(f"CheckpointConfig: append_info entry {key!r}: {type(value).__name__}; the names must be "
                            "str and the values int, float, bool, Parameter or Tensor")
    return append_info


class ModelCheckpoint(Callback):
    """Saves `<prefix>-<epoch>_<step>.ckpt` (network and optimizer state) as training goes."""

    def __init__(self, prefix="CKP", directory=None, config=None):
        if not isinstance(prefix, str) or not prefix or "/" in prefix:
            raise ValueError(f"ModelCheckpoint: prefix must be a non-empty file name part, got {prefix!r}")
        self.directory = Path(directory) if directory is not None else Path.cwd()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config = config or CheckpointConfig()
        self.prefix = self._unique_prefix(prefix)
        self.saved: list[Path] = []     # complete checkpoints on disk, oldest first
        self._pending: BackgroundSave | None = None    # the one async_save is writing
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
        """The newest complete checkpoint (not one async_save is still writing), or None."""
        return str(self.saved[-1]) if self.saved else None

    def step_end(self, run_context):
        self._keep_finished_save(block=False)   # a failed background write is raised here, a step later
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
        self._keep_finished_save(block=True)

    def _save(self, cb):
        step_in_epoch = (cb.cur_step_num - 1) % cb.batch_num + 1
        path = self.directory / f"{self.prefix}-{cb.cur_epoch_num}_{step_in_epoch}.ckpt"
        network = self.config.saved_network or cb.train_network
        distributed.average_moving_statistics(network)     # every rank, before rank 0 writes
        self._last_saved_step, self._last_saved_time = cb.cur_step_num, time.monotonic()
        if not distributed.is_main_rank():
            return
        if self.config.async_save:
            self._keep_finished_save(block=True)
            self._pending = save_in_background(network, path, self._append_info(cb))
        else:
            save_checkpoint(network, path, append_dict=self._append_info(cb))
            self._keep(path)

    def _keep_finished_save(self, block: bool):
        """Once the background write has ended, keep its file (raising CheckpointSaveError if it failed)."""
        if self._pending is not None and self._pending.finished(block):
            done, self._pending = self._pending, None
            if done.written:
                self._keep(done.path)

    def _keep(self, path: Path):
        """`path` is complete on disk: only now may the checkpoints it makes surplus go."""
        if path in self.saved:
            self.saved.remove(path)
        self.saved.append(path)
        self._remove_old()

    def _append_info(self, cb):
        info = {}
        for item in self.config.append_info:
            if isinstance(item, dict):
                info.update(item)
            else:
                info[item] = cb.cur_epoch_num if item == "epoch_num" else cb.cur_step_num
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
