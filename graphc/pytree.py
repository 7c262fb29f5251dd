"""Flattening nested tuples, lists and dicts of tensors into leaves and back."""
from __future__ import annotations

from typing import Any, Callable


def flatten(tree, is_leaf: Callable[[Any], bool]) -> tuple[list, Any]:
    """(leaves, treedef). Non-container values that are not leaves stay in the treedef."""
    leaves: list = []

    def walk(node):
        if is_leaf(node):
            leaves.append(node)
            return ("*",)
        if isinstance(node, (tuple, list)):
            return (type(node).__name__, tuple(walk(child) for child in node))
        if isinstance(node, dict):
            keys = tuple(node)
            return ("dict", keys, tuple(walk(node[k]) for k in keys))
        return ("static", node)

    return leaves, walk(tree)


def unflatten(treedef, leaves) -> Any:
    it = iter(leaves)

    def build(spec):
        kind = spec[0]
        if kind == "*":
            return next(it)
        if kind == "static":
            return spec[1]
        if kind == "dict":
            return {k: build(child) for k, child in zip(spec[1], spec[2])}
        children = [build(child) for child in spec[1]]
        return tuple(children) if kind == "tuple" else children

    return build(treedef)
