"""BaseClassifier, as mindvision's: backbone, then an optional neck and head."""
from __future__ import annotations

from ..nn.cell import Cell

__all__ = ["BaseClassifier"]


class BaseClassifier(Cell):
    def __init__(self, backbone: Cell, neck: Cell | None = None, head: Cell | None = None):
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.head = head

    def construct(self, x):
        x = self.backbone(x)
        if self.neck is not None:
            x = self.neck(x)
        if self.head is not None:
            x = self.head(x)
        return x
