"""Checkpoints under real faults: a full disk (a 1 MiB tmpfs) and a file size limit (`ulimit -f`)."""
import errno
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from full_disk import small_disk, tmpfs  # noqa: F401  (fixtures)
from graphc import Parameter
from graphc.nn import Cell
from runtime import CheckpointConfig, ModelCheckpoint, load_checkpoint, save_checkpoint
from runtime.callbacks import RunContext
from runtime.checkpoint import CheckpointSaveError

SMALL, TOO_BIG = 16, 1 << 18        # float32 counts: 64 bytes, and 1 MiB (more than the whole disk)


class Weights(Cell):
    def __init__(self, count):
        super().__init__()
        self.w = Parameter(np.ones(count, np.float32))


def run_steps(saver, networks):
    """The callback's hooks for one epoch in which step i trains (and saves) networks[i - 1]."""
    cb = SimpleNamespace(cur_step_num=0, cur_epoch_num=1, batch_num=len(networks), train_network=None)
    context = RunContext(cb)
    for step, network in enumerate(networks, 1):
        cb.cur_step_num, cb.train_network = step, network
        saver.step_end(context)
    saver.end(context)


def temporaries(directory):
    return [name for name in os.listdir(directory) if name.endswith(".tmp")]


@pytest.mark.parametrize("async_save", [True, False])
def test_a_full_disk_keeps_the_last_checkpoint_and_says_which_write_failed(small_disk, async_save):
    config = CheckpointConfig(save_checkpoint_steps=1, keep_checkpoint_max=1, async_save=async_save)
    saver = ModelCheckpoint("net", small_disk, config)
    with pytest.raises(CheckpointSaveError) as info:     # at step 3 when async: the step after the failed write
        run_steps(saver, [Weights(SMALL), Weights(TOO_BIG), Weights(SMALL)])
    assert info.value.errno == errno.ENOSPC
    assert f"could not write the checkpoint {small_disk / 'net-1_2.ckpt'}: No space left on device" in str(info.value)
    kept = small_disk / "net-1_1.ckpt"
    assert saver.latest_ckpt_file_name == str(kept)
    assert sorted(os.listdir(small_disk)) == [kept.name]
    assert load_checkpoint(kept)["w"].asnumpy().tolist() == [1.0] * SMALL


def test_a_failed_async_save_is_raised_once_by_the_next_save(small_disk):
    save_checkpoint(Weights(TOO_BIG), small_disk / "big.ckpt", async_save=True)
    with pytest.raises(CheckpointSaveError, match="big.ckpt: No space left on device"):
        save_checkpoint(Weights(SMALL), small_disk / "small.ckpt")
    save_checkpoint(Weights(SMALL), small_disk / "small.ckpt")
    assert sorted(os.listdir(small_disk)) == ["small.ckpt"]


# Trains 2 steps with an async ModelCheckpoint keeping 1 file; after the first checkpoint is on disk,
# files may grow to 64 bytes only, so the second checkpoint's write fails with EFBIG.
TRAIN_UNDER_ULIMIT = """
import json, os, resource, signal, sys
import numpy as np
import graphc
from graphc import nn
from runtime import CheckpointConfig, Model, ModelCheckpoint
from runtime.callbacks import Callback
from runtime.checkpoint import wait_for_async_save
from runtime.dataset import NumpySlicesDataset

class LimitFileSizeAfterFirstSave(Callback):
    def step_end(self, run_context):
        if run_context.original_args().cur_step_num == 1:
            wait_for_async_save()
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)      # the write fails with EFBIG instead of a kill
            resource.setrlimit(resource.RLIMIT_FSIZE, (64, resource.RLIM_INFINITY))

graphc.set_context(mode=graphc.PYNATIVE_MODE)               # nothing compiled: no cache files to write
directory = sys.argv[1]
saver = ModelCheckpoint("net", directory, CheckpointConfig(save_checkpoint_steps=1, keep_checkpoint_max=1,
                                                           async_save=True))
net = nn.Dense(4, 2)
model = Model(net, nn.MSELoss(), nn.Momentum(net.trainable_params(), 0.1, 0.9))
data = NumpySlicesDataset({"x": np.ones((4, 4), np.float32), "y": np.zeros((4, 2), np.float32)}, shuffle=False)
try:
    model.train(1, data.batch(2), callbacks=[saver, LimitFileSizeAfterFirstSave()])
    outcome = "train returned"
except OSError as error:
    outcome = f"{type(error).__name__} errno {error.errno}: {error}"
print(json.dumps({"outcome": outcome, "latest": saver.latest_ckpt_file_name, "files": sorted(os.listdir(directory))}))
"""


def test_train_raises_a_failed_async_save_under_ulimit_f(tmp_path):
    result = subprocess.run([sys.executable, "-c", TRAIN_UNDER_ULIMIT, str(tmp_path)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["outcome"] == (f"CheckpointSaveError errno {errno.EFBIG}: [Errno {errno.EFBIG}] could not write the "
                                 f"checkpoint {tmp_path / 'net-1_2.ckpt'}: File too large. No file was replaced or "
                                 "removed; free space, or save elsewhere")
    assert report["files"] == ["net-1_1.ckpt"] and report["latest"] == str(tmp_path / "net-1_1.ckpt")


EXIT_AFTER_ASYNC_SAVE = """
import resource, signal, sys
import numpy as np
from runtime import save_checkpoint
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (64, resource.RLIM_INFINITY))
save_checkpoint({"w": np.ones(64, np.float32)}, sys.argv[1], async_save=True)
"""


def test_an_async_save_that_fails_as_the_script_ends_is_reported(tmp_path):
    path = tmp_path / "last.ckpt"
    result = subprocess.run([sys.executable, "-c", EXIT_AFTER_ASYNC_SAVE, str(path)], capture_output=True, text=True,
                            timeout=300)
    assert f"could not write the checkpoint {path}: File too large" in result.stderr
    assert os.listdir(tmp_path) == []
