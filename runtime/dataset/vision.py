"""Image transforms in the style of mindspore.dataset.vision, vectorized over a leading sample axis.

Each transform takes a whole batch or column at once, images as (N, H, W, C), and is marked
`vectorized = True` so that `Dataset.map` hands it whole columns instead of one sample at a time.
To transform a single image, pass `image[None]` and take `[0]` of the result.
"""
from __future__ import annotations

import numpy as np


class Inter:
    """MindSpore's interpolation modes (mindspore.dataset.vision.Inter); Resize implements LINEAR."""
    NEAREST, LINEAR, BILINEAR, CUBIC, AREA, PILCUBIC = "nearest", "linear", "bilinear", "cubic", "area", "pilcubic"


class Resize:
    """Bilinear resize with OpenCV's INTER_LINEAR rule; the result is float32.

    `size` is (height, width), or an int: the shorter side becomes `size`, keeping the aspect ratio.
    A destination pixel d samples the source at s = (d + 0.5) * in / out - 0.5 (pixel centres),
    clamped to the edge pixels. The rule is separable, so the whole batch is two matrix products.
    """

    vectorized = True

    def __init__(self, size: int | tuple[int, int], interpolation: str = Inter.LINEAR):
        if interpolation not in (Inter.LINEAR, Inter.BILINEAR):
            raise ValueError(f"Resize: interpolation {interpolation!r} is not supported; use Inter.LINEAR")
        self.size = size

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = _require_nhwc(images, "Resize")
        n, height, width, channels = images.shape
        out_height, out_width = self._output_size(height, width)
        rows = interpolation_matrix(height, out_height)
        cols = interpolation_matrix(width, out_width)
        planes = np.moveaxis(images, -1, 1).astype(np.float32)  # (N, C, H, W)
        planes = (planes.reshape(-1, width) @ cols.T).reshape(n * channels, height, out_width)
        planes = (rows @ planes).reshape(n, channels, out_height, out_width)
        return np.ascontiguousarray(np.moveaxis(planes, 1, -1))

    def _output_size(self, height: int, width: int) -> tuple[int, int]:
        if not isinstance(self.size, int):
            return tuple(self.size)
        if height <= width:
            return self.size, int(self.size * width / height)
        return int(self.size * height / width), self.size


def interpolation_matrix(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) float32 weights of OpenCV's INTER_LINEAR along one axis."""
    # sources outside the first and last pixel centres take the edge pixel
    source = np.clip((np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5, 0, in_size - 1)
    left = np.floor(source).astype(np.int64)
    weight = source - left
    matrix = np.zeros((out_size, in_size), dtype=np.float32)
    rows = np.arange(out_size)
    np.add.at(matrix, (rows, left), 1.0 - weight)
    np.add.at(matrix, (rows, np.minimum(left + 1, in_size - 1)), weight)
    return matrix


class Rescale:
    """x * rescale + shift, in float32."""

    vectorized = True

    def __init__(self, rescale: float, shift: float):
        self.rescale, self.shift = np.float32(rescale), np.float32(shift)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        out = np.multiply(images, self.rescale, dtype=np.float32)
        out += self.shift
        return out


class HWC2CHW:
    """(N, H, W, C) -> (N, C, H, W), C-contiguous."""

    vectorized = True

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(_require_nhwc(images, "HWC2CHW").transpose(0, 3, 1, 2))


def _require_nhwc(images: np.ndarray, name: str) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"{name}: expected a batch of images shaped (N, H, W, C), got shape {images.shape}; "
                         f"for one image pass image[None]")
    return images
