"""Atomic writes: a writer SIGKILLed mid-save leaves its temporary, and the next save in the directory removes it."""
import os
import signal
import socket
import subprocess
import sys

import numpy as np

from runtime import save_checkpoint
from runtime.checkpoint_format import read_checkpoint

# Saves a checkpoint, but blocks inside the save once its bytes are in the temporary file.
SAVE_THEN_BLOCK = """
import os, sys, time
import numpy as np
from runtime import save_checkpoint

def block(fd):
    print("writing", flush=True)
    time.sleep(120)            # the test kills this process here
os.fsync = block
save_checkpoint({"w": np.full(4, 2.0, np.float32)}, sys.argv[1])
"""


def temporaries(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_a_killed_writer_s_temporary_is_removed_by_the_next_save(tmp_path):
    path = tmp_path / "net.ckpt"
    save_checkpoint({"w": np.ones(4, np.float32)}, path)
    writer = subprocess.Popen([sys.executable, "-c", SAVE_THEN_BLOCK, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "writing\n"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    host = socket.gethostname()
    [left] = temporaries(tmp_path)
    assert left.startswith(f".net.ckpt.{host}.{writer.pid}.")
    assert dict(read_checkpoint(path))["w"].tolist() == [1.0] * 4       # the kill lost nothing

    # temporaries of a live process (this one) and of another machine are not ours to delete
    live = tmp_path / f".other.ckpt.{host}.{os.getpid()}.0123abcd.tmp"
    elsewhere = tmp_path / f".other.ckpt.another-host.{writer.pid}.0123abcd.tmp"
    live.write_bytes(b"")
    elsewhere.write_bytes(b"")
    save_checkpoint({"w": np.zeros(4, np.float32)}, tmp_path / "next.ckpt")
    assert temporaries(tmp_path) == sorted([live.name, elsewhere.name])
