"""Graph IR: the data structure (graph), its checks (verify) and its text form (text)."""
from .graph import Graph, Node

__all__ = ["Graph", "Node"]
