"""Containers of cells: SequentialCell (calls them in order) and CellList (holds them), with Python's
list API (append, extend, insert, x[i] = cell, del x[i], len, iteration, slices)."""
from __future__ import annotations

from ...errors import ArgumentError
from ..cell import Cell

__all__ = ["CellList", "SequentialCell"]


class _CellSequence(Cell):
    """Children named '0', '1', ... (so their parameters are '0.weight', ...), indexable like a list. A
    change of the list renumbers the children after it, and renames their parameters to match, as
    MindSpore 2.10 does (a Dense inserted at 1 moves layers.1.weight to layers.2.weight)."""

    def _set_cells(self, cells: list) -> None:
        """Hold `cells`, named by their positions: cells already held move to their new names."""
        for position, cell in enumerate(cells):
            if not isinstance(cell, Cell):
                raise ArgumentError(f"{type(self).__name__}: item {position} is a {type(cell).__name__}, not a Cell")
        held = {id(cell) for cell in self._cells.values()}
        for name in list(self._cells):
            delattr(self, name)
        for position, cell in enumerate(cells):
            name = str(position)
            if id(cell) in held:       # already prefixed with its old position: rename, then hold it as is
                cell._rename_parameters(cell._name_prefix, self._name_prefix + (f"{name}." if self._auto_prefix else ""))
                self._cells[name] = cell
                object.__setattr__(self, name, cell)
            else:
                setattr(self, name, cell)

    def append(self, cell: Cell) -> None:
        self.insert(len(self), cell)

    def extend(self, cells) -> None:
        self._set_cells(list(self) + list(cells))

    def insert(self, index: int, cell: Cell) -> None:
        cells = list(self)
        cells.insert(index, cell)
        self._set_cells(cells)

    def __getitem__(self, index):
        cells = list(self._cells.values())
        if isinstance(index, slice):       # a view: the cells keep their names (and parameter names)
            view = type(self)()
            for position, cell in enumerate(cells[index]):
                view._cells[str(position)] = cell
                object.__setattr__(view, str(position), cell)
            return view
        return cells[index]

    def __setitem__(self, index: int, cell: Cell) -> None:
        cells = list(self)
        cells[index] = cell
        self._set_cells(cells)

    def __delitem__(self, index) -> None:
        cells = list(self)
        del cells[index]
        self._set_cells(cells)

    def __len__(self) -> int:
        return len(self._cells)

    def __iter__(self):
        return iter(list(self._cells.values()))


class SequentialCell(_CellSequence):
    """SequentialCell(a, b, c), SequentialCell([a, b, c]) or SequentialCell({'conv': a, ...}); construct
    feeds each cell's output to the next. A change of the list names every child by its position."""

    def __init__(self, *args):
        super().__init__()
        cells = args[0] if len(args) == 1 and isinstance(args[0], (list, tuple, dict)) else args
        for name, cell in (cells.items() if isinstance(cells, dict) else enumerate(cells)):
            if not isinstance(cell, Cell):
                raise ArgumentError(f"SequentialCell: item {name} is a {type(cell).__name__}, not a Cell")
            setattr(self, str(name), cell)

    def construct(self, x):
        for cell in self:
            x = cell(x)
        return x


class CellList(_CellSequence):
    """A list of cells whose parameters belong to the owner; call them from the owner's construct."""

    def __init__(self, cells=None):
        super().__init__()
        self.extend(cells or [])
