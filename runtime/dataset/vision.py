"""Image transforms in the style of mindspore.dataset.vision, vectorized over a leading sample axis.

Each transform takes a whole batch or column at once, images as (N, H, W, C), and is marked
`vectorized = True` so that `Dataset.map` hands it whole columns instead of one sample at a time.
To transform a single image, pass `image[None]` and take `[0]` of the result.

Random transforms (RandomCrop, RandomHorizontalFlip) are also marked `random = True` and take the
generator to draw from as `rng=`. Inside a pipeline the map stage hands them a generator derived
from the dataset seed (`set_seed`), the stage and the pass, so every epoch draws afresh and a run
is reproduced exactly by its seed, resumed runs included. Called on their own, they draw from a
generator of their own, seeded from the dataset seed when first used.
"""
from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

from runtime.dataset.pipeline import get_seed


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


class _RandomTransform:
    vectorized = True
    random = True
    _own_rng: np.random.Generator | None = None

    def __call__(self, images: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        if rng is None:
            if self._own_rng is None:
                self._own_rng = np.random.default_rng(get_seed())
            rng = self._own_rng
        return self._transform(_require_nhwc(images, type(self).__name__), rng)

    def _transform(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError


PADDING_MODES = ("constant", "edge", "reflect", "symmetric")   # the values of MindSpore's vision.Border


class RandomCrop(_RandomTransform):
    """Pad, then crop each image at its own uniformly drawn position.

    `size` is (height, width) or an int for a square. `padding` is an int for every border, a pair
    (left and right, top and bottom) or four values (left, top, right, bottom), as MindSpore 2.x reads
    them; `pad_if_needed` also pads a side shorter than the crop. Borders are filled with
    `fill_value` ('constant') or by np.pad's 'edge', 'reflect' or 'symmetric' rule. The dtype is kept.
    """

    def __init__(self, size: int | Sequence[int], padding: int | Sequence[int] | None = None,
                 pad_if_needed: bool = False, fill_value: int | Sequence[int] = 0, padding_mode: str = "constant"):
        self.size = _positive_pair(size, "RandomCrop: size")
        self.padding = _borders(padding)
        self.pad_if_needed = pad_if_needed
        self.fill_value = fill_value
        self.padding_mode = str(getattr(padding_mode, "value", padding_mode)).lower()
        if self.padding_mode not in PADDING_MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")

    def _transform(self, images, rng):
        padded = self._pad(images)
        n, height, width, _ = padded.shape
        crop_height, crop_width = self.size
        if crop_height > height or crop_width > width:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded image {(height, width)} "
                             f"(input {images.shape[1:3]}); pass a larger padding or pad_if_needed=True")
        top = rng.integers(0, height - crop_height + 1, n)
        left = rng.integers(0, width - crop_width + 1, n)
        rows = (top[:, None] + np.arange(crop_height))[:, :, None]
        cols = (left[:, None] + np.arange(crop_width))[:, None, :]
        return padded[np.arange(n)[:, None, None], rows, cols]

    def _pad(self, images):
        left, top, right, bottom = self.padding
        if self.pad_if_needed:
            extra_rows = max(self.size[0] - (images.shape[1] + top + bottom), 0)
            extra_cols = max(self.size[1] - (images.shape[2] + left + right), 0)
            top, bottom, left, right = top + extra_rows, bottom + extra_rows, left + extra_cols, right + extra_cols
        if not (left or top or right or bottom):
            return images
        widths = ((0, 0), (top, bottom), (left, right), (0, 0))
        if self.padding_mode != "constant":
            return np.pad(images, widths, mode=self.padding_mode)
        padded = np.empty((images.shape[0], images.shape[1] + top + bottom, images.shape[2] + left + right,
                           images.shape[3]), images.dtype)
        padded[...] = np.asarray(self.fill_value, images.dtype)   # one value, or one per channel
        padded[:, top:top + images.shape[1], left:left + images.shape[2]] = images
        return padded


class RandomHorizontalFlip(_RandomTransform):
    """Mirror each image left to right with probability `prob`."""

    def __init__(self, prob: float = 0.5):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: prob must be in [0, 1], got {prob!r}")
        self.prob = prob

    def _transform(self, images, rng):
        flip = rng.random(len(images)) < self.prob
        return np.where(flip[:, None, None, None], images[:, :, ::-1], images)


class Normalize:
    """(image - mean) / std per channel, in float32; mean and std are in the images' own scale (for
    uint8 pixels, 0.2860 * 255 rather than 0.2860). `is_hwc=False` takes (N, C, H, W) batches."""

    vectorized = True

    def __init__(self, mean: Sequence[float], std: Sequence[float], is_hwc: bool = True):
        self.mean = np.asarray(mean, np.float32).reshape(-1)
        self.std = np.asarray(std, np.float32).reshape(-1)
        if len(self.mean) != len(self.std) or not len(self.mean):
            raise ValueError(f"Normalize: mean and std need one value per channel, got {len(self.mean)} means and "
                             f"{len(self.std)} stds")
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: every std must be > 0, got {self.std.tolist()}")
        self.is_hwc = is_hwc

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = _require_nhwc(images, "Normalize")
        channels = images.shape[3] if self.is_hwc else images.shape[1]
        if len(self.mean) not in (1, channels):
            layout = "(N, H, W, C)" if self.is_hwc else "(N, C, H, W)"
            raise ValueError(f"Normalize: {len(self.mean)} means and stds for images {images.shape} with {channels} "
                             f"channels as {layout}; give one per channel (is_hwc={self.is_hwc})")
        shape = (1, 1, 1, -1) if self.is_hwc else (1, -1, 1, 1)
        out = np.subtract(images, self.mean.reshape(shape), dtype=np.float32)
        out *= (1 / self.std).reshape(shape)
        return out


def _positive_pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, numbers.Integral) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, numbers.Integral) and v > 0 for v in pair):
        raise ValueError(f"{name} must be a positive int or (height, width), got {value!r}")
    return int(pair[0]), int(pair[1])


def _borders(padding) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) from None, an int, (left and right, top and bottom) or four values."""
    if padding is None:
        return 0, 0, 0, 0
    values = (padding,) if isinstance(padding, numbers.Integral) else tuple(padding)
    if len(values) not in (1, 2, 4) or not all(isinstance(v, numbers.Integral) and v >= 0 for v in values):
        raise ValueError(f"RandomCrop: padding must be an int >= 0, a pair (left and right, top and bottom) or "
                         f"(left, top, right, bottom), got {padding!r}")
    if len(values) == 1:
        return (int(values[0]),) * 4
    if len(values) == 2:
        return int(values[0]), int(values[1]), int(values[0]), int(values[1])
    return tuple(int(v) for v in values)
