"""Saving the stages of a compilation (set_context(save_graphs=True) or GRAPHC_SAVE_GRAPHS=DIR).

Each compiled graph gets a folder DIR/<graph name>_<n> (the first n not taken) holding one
`NN_<stage>.ir` and `NN_<stage>.dot` per stage: 00_traced, then one per pass run, numbered in
pipeline order, so the files sort in the order the graph went through the pipeline.
"""
from __future__ import annotations

import itertools
import os
import re

from ..ir import Graph
from ..ir.export import to_dot
from ..ir.text import print_graph


class StageWriter:
    """An on_stage callback for run_pipeline that writes every stage of one graph."""

    def __init__(self, root: str, graph: Graph):
        self.folder = _new_folder(root, re.sub(r"[^\w.-]", "_", graph.name))
        self.stages = 0
        self("traced", graph)

    def __call__(self, stage: str, graph: Graph) -> None:
        stem = os.path.join(self.folder, f"{self.stages:02d}_{stage}")
        with open(stem + ".ir", "w") as file:
            file.write(print_graph(graph) + "\n")
        with open(stem + ".dot", "w") as file:
            file.write(to_dot(graph))
        self.stages += 1


def _new_folder(root: str, name: str) -> str:
    os.makedirs(root, exist_ok=True)
    for counter in itertools.count():
        path = os.path.join(root, f"{name}_{counter}")
        try:
            os.mkdir(path)
            return path
        except FileExistsError:
            continue
