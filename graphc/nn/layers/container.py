"""Containers of cells: SequentialCell (calls them in order) and CellList (holds them)."""
from __future__ import annotations

from ...errors import ArgumentError
from ..cell import Cell

__all__ = ["CellList", "SequentialCell"]


class _CellSequence(Cell):
    """Children named '0', '1', ... (so their parameters are '0.weight', ...), indexable like a list."""

    def _add(self, name: str, cell) -> None:
        if not isinstance(cell, Cell):
            raise ArgumentError(f"{type(self).__name__}: item {name} is a {type(cell).__name__}, not a Cell")
        setattr(self, name, cell)

    def append(self, cell: Cell) -> None:
        self._add(str(len(self)), cell)

    def __getitem__(self, index: int) -> Cell:
        return list(self._cells.values())[index]

    def __len__(self) -> int:
        return len(self._cells)

    def __iter__(self):
        return iter(list(self._cells.values()))


class SequentialCell(_CellSequence):
    """SequentialCell(a, b, c), SequentialCell([a, b, c]) or SequentialCell({'conv': a, ...}); construct
    feeds each cell's output to the next."""

    def __init__(self, *args):
        super().__init__()
        cells = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple, dict)) else args
        for name, cell in (cells.items() if isinstance(cells, dict) else enumerate(cells)):
            self._add(str(name), cell)

    def construct(self, x):
        for cell in self:
            x = cell(x)
        return x


class CellList(_CellSequence):
    """A list of cells whose parameters belong to the owner; call them from the owner's construct."""

    def __init__(self, cells=None):
        super().__init__()
        self.extend(cells or [])

    def extend(self, cells) -> None:
        for cell in cells:
            self.append(cell)
