"""MindRecord, MindSpore's own file format (mindspore.mindrecord.FileWriter, mindspore.dataset.MindDataset,
Dataset.save), is refused: graphc neither writes nor reads it. Each entry point raises at the user's
line and says what to use instead; docs/mindspore.md records the choice."""
from __future__ import annotations

from graphc.errors import ArgumentError

INSTEAD = ("keep the samples in NumPy arrays (np.savez / np.load) and read them with NumpySlicesDataset, or "
           "yield them from Python with GeneratorDataset (docs/mindspore.md)")


def refuse(api: str):
    raise ArgumentError(f"{api}: MindRecord, MindSpore's own file format, is not supported by graphc; {INSTEAD}")


class FileWriter:
    """mindspore.mindrecord.FileWriter: refused (see the module's doc)."""

    def __init__(self, *args, **kwargs):
        refuse("FileWriter")


class FileReader:
    """mindspore.mindrecord.FileReader: refused (see the module's doc)."""

    def __init__(self, *args, **kwargs):
        refuse("FileReader")


class MindDataset:
    """mindspore.dataset.MindDataset: refused (see the module's doc)."""

    def __init__(self, *args, **kwargs):
        refuse("MindDataset")
