"""Image transforms of mindspore.dataset.vision, on one image (MindSpore's eager mode,
`vision.Resize((32, 32))(image)`) and, inside `Dataset.map`, on a whole column of images at once.

An image is a NumPy array, HWC or HW (a column: NHWC or NHW), or a PIL image. As in MindSpore, a PIL
image given to a transform that MindSpore runs with PIL (Resize, CenterCrop, Pad, RandomCrop and the
random flips) comes back as a PIL image, resized by PIL itself; the others (Rescale, Normalize,
HWC2CHW, ToTensor, HorizontalFlip, VerticalFlip) return arrays, as MindSpore's do. Pillow is
needed only to decode files (Decode) and is imported only then, or when a PIL image is given.

Random transforms (RandomCrop, RandomHorizontalFlip, RandomVerticalFlip) draw each image's choice
from the `rng` the map stage hands them (see operation.py), so an epoch is reproduced by its seed.
"""
from __future__ import annotations

import io
import numbers
from typing import Sequence

import numpy as np

from graphc.errors import ArgumentError
from runtime.dataset.operation import Transform, numpy_dtype


class Inter:
    """MindSpore's interpolation modes (mindspore.dataset.vision.Inter)."""
    NEAREST, LINEAR, BILINEAR, CUBIC, BICUBIC = "nearest", "linear", "bilinear", "cubic", "bicubic"
    AREA, PILCUBIC, ANTIALIAS = "area", "pilcubic", "antialias"


class Border:
    """MindSpore's padding modes (mindspore.dataset.vision.Border)."""
    CONSTANT, EDGE, REFLECT, SYMMETRIC = "constant", "edge", "reflect", "symmetric"


PADDING_MODES = (Border.CONSTANT, Border.EDGE, Border.REFLECT, Border.SYMMETRIC)


def _is_pil(image) -> bool:
    return type(image).__module__.startswith("PIL.") and hasattr(image, "mode")   # without importing PIL


class ImageTransform(Transform):
    """A transform of images: `on_rows` maps a column shaped (N, H, W, C) or (N, H, W). Called, it takes
    one image, or a batch of HWC images shaped (N, H, W, C), as MindSpore's Resize does."""
    keeps_pil = False   # a PIL image in gives a PIL image out, as MindSpore's PIL-backed transforms do

    def __call__(self, image, rng: np.random.Generator | None = None):
        if _is_pil(image):
            return self._pil(image)
        if np.ndim(image) == 4:
            return self.on_rows(image, **({"rng": rng or self._eager_rng()} if self.random else {}))
        return super().__call__(image, rng=rng)

    def _pil(self, image):
        result = super().__call__(np.asarray(image))
        if not self.keeps_pil:
            return result
        from PIL import Image
        return Image.fromarray(result)


def _nhwc(images, name: str) -> tuple[np.ndarray, bool]:
    """A column of images as (N, H, W, C), and whether they came as (N, H, W) (to give them back so)."""
    images = np.asarray(images)
    if images.ndim == 3:
        return images[..., None], True
    if images.ndim == 4:
        return images, False
    raise ArgumentError(f"{name}: expected an image shaped (H, W) or (H, W, C), got shape {images.shape[1:]}")


def _as_given(images: np.ndarray, was_hw: bool) -> np.ndarray:
    return images[..., 0] if was_hw else images


# -- resizing ------------------------------------------------------------------------------------------------

_PIL_FILTERS = {Inter.NEAREST: "NEAREST", Inter.LINEAR: "BILINEAR", Inter.BILINEAR: "BILINEAR",
                Inter.CUBIC: "BICUBIC", Inter.BICUBIC: "BICUBIC", Inter.ANTIALIAS: "LANCZOS"}


class Resize(ImageTransform):
    """Resize to `size`, (height, width), or an int: the shorter side becomes `size`, keeping the
    aspect ratio. Arrays keep their dtype (uint8, float32 or float64), with OpenCV's rules, which
    MindSpore uses: LINEAR samples the source at s = (d + 0.5) * in / out - 0.5 (pixel centres),
    for uint8 in OpenCV's 11-bit fixed point, so the pixels equal MindSpore's; NEAREST takes
    floor(d * in / out). A PIL image is resized by PIL (its BILINEAR, NEAREST, BICUBIC, LANCZOS).
    """
    keeps_pil = True

    def __init__(self, size: int | Sequence[int], interpolation: str = Inter.LINEAR):
        if interpolation not in _PIL_FILTERS:
            raise ArgumentError(f"Resize: interpolation {interpolation!r} is not supported; use Inter.LINEAR, "
                                "Inter.NEAREST (or, for PIL images, Inter.CUBIC or Inter.ANTIALIAS)")
        self.size = size if isinstance(size, numbers.Integral) else _positive_pair(size, "Resize: size")
        self.interpolation = interpolation

    def on_rows(self, images, rng=None):
        images, was_hw = _nhwc(images, "Resize")
        if self.interpolation not in (Inter.LINEAR, Inter.BILINEAR, Inter.NEAREST):
            raise ArgumentError(f"Resize: interpolation {self.interpolation!r} works on PIL images only; use "
                                "Inter.LINEAR or Inter.NEAREST for arrays")
        if images.dtype not in (np.uint8, np.float32, np.float64):
            raise ArgumentError(f"Resize: images of dtype {images.dtype} are not supported; cast them to uint8 or "
                                "float32 first (transforms.TypeCast)")
        out_height, out_width = self._output_size(*images.shape[1:3])
        if self.interpolation == Inter.NEAREST:
            rows, cols = (_nearest_sources(n, out) for n, out in ((images.shape[1], out_height),
                                                                  (images.shape[2], out_width)))
            return _as_given(images[:, rows[:, None], cols[None, :]], was_hw)
        resize = _linear_uint8 if images.dtype == np.uint8 else _linear_float
        return _as_given(resize(images, out_height, out_width), was_hw)

    def _output_size(self, height: int, width: int) -> tuple[int, int]:
        if not isinstance(self.size, numbers.Integral):
            return self.size
        if height <= width:
            return self.size, int(self.size * width / height)
        return int(self.size * height / width), self.size

    def _pil(self, image):
        from PIL import Image
        width, height = image.size
        if isinstance(self.size, numbers.Integral) and min(width, height) == self.size:
            return image
        out_height, out_width = self._output_size(height, width)
        return image.resize((out_width, out_height), getattr(Image, _PIL_FILTERS[self.interpolation]))


def _nearest_sources(in_size: int, out_size: int) -> np.ndarray:
    return np.minimum(np.floor(np.arange(out_size) * (in_size / out_size)).astype(np.int64), in_size - 1)


def _linear_sources(in_size: int, out_size: int, clamp_weights: bool):
    """OpenCV's INTER_LINEAR along one axis: the two source indices of each output pixel and their
    weights (float32, as OpenCV computes them). Along x (clamp_weights) a source left of the first
    pixel centre or right of the last takes that pixel whole; along y the weights stay and the rows
    are clamped, which changes the rounding of the fixed-point result at the borders."""
    position = ((np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5).astype(np.float32)
    first = np.floor(position).astype(np.int64)
    fraction = position - first
    if clamp_weights:
        fraction[(first < 0) | (first >= in_size - 1)] = 0
        first = np.clip(first, 0, in_size - 1)
    return np.clip(first, 0, in_size - 1), np.clip(first + 1, 0, in_size - 1), np.float32(1) - fraction, fraction


def _linear_float(images: np.ndarray, out_height: int, out_width: int) -> np.ndarray:
    """Two matrix products (the rule is separable), in the images' float dtype."""
    n, height, width, channels = images.shape
    rows = _interpolation_matrix(height, out_height).astype(images.dtype)
    cols = _interpolation_matrix(width, out_width).astype(images.dtype)
    planes = np.moveaxis(images, -1, 1)  # (N, C, H, W)
    planes = (planes.reshape(-1, width) @ cols.T).reshape(n * channels, height, out_width)
    planes = (rows @ planes).reshape(n, channels, out_height, out_width)
    return np.ascontiguousarray(np.moveaxis(planes, 1, -1))


def _interpolation_matrix(in_size: int, out_size: int) -> np.ndarray:
    """(out_size, in_size) weights of INTER_LINEAR along one axis."""
    first, second, first_weight, second_weight = _linear_sources(in_size, out_size, clamp_weights=True)
    matrix = np.zeros((out_size, in_size), dtype=np.float64)
    np.add.at(matrix, (np.arange(out_size), first), first_weight)
    np.add.at(matrix, (np.arange(out_size), second), second_weight)
    return matrix


_COEF_SCALE = 2048   # OpenCV's INTER_RESIZE_COEF_SCALE: weights are 11-bit fixed point


def _linear_uint8(images: np.ndarray, out_height: int, out_width: int) -> np.ndarray:
    """OpenCV's uint8 INTER_LINEAR: integer weights, a horizontal pass into int32, then the vertical
    pass with OpenCV's shifts and rounding."""
    def fixed(weights):
        return np.rint(weights * np.float32(_COEF_SCALE)).astype(np.int32)
    left, right, left_w, right_w = _linear_sources(images.shape[2], out_width, clamp_weights=True)
    top, bottom, top_w, bottom_w = _linear_sources(images.shape[1], out_height, clamp_weights=False)
    pixels = images.astype(np.int32)
    across = pixels[:, :, left] * fixed(left_w)[:, None] + pixels[:, :, right] * fixed(right_w)[:, None]
    upper = (fixed(top_w)[:, None, None] * (across[:, top] >> 4)) >> 16
    lower = (fixed(bottom_w)[:, None, None] * (across[:, bottom] >> 4)) >> 16
    return np.clip((upper + lower + 2) >> 2, 0, 255).astype(np.uint8)


# -- values --------------------------------------------------------------------------------------------------

class Rescale(ImageTransform):
    """x * rescale + shift, in float32."""

    def __init__(self, rescale: float, shift: float):
        self.rescale, self.shift = np.float32(rescale), np.float32(shift)

    def on_rows(self, images, rng=None):
        out = np.multiply(images, self.rescale, dtype=np.float32)
        out += self.shift
        return out


class Normalize(ImageTransform):
    """(image - mean) / std per channel, in float32; mean and std are in the images' own scale (for
    uint8 pixels, 0.2860 * 255 rather than 0.2860). `is_hwc=False` takes CHW images."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], is_hwc: bool = True):
        self.mean = np.asarray(mean, np.float32).reshape(-1)
        self.std = np.asarray(std, np.float32).reshape(-1)
        if len(self.mean) != len(self.std) or not len(self.mean):
            raise ArgumentError(f"Normalize: mean and std need one value per channel, got {len(self.mean)} means "
                                f"and {len(self.std)} stds")
        if np.any(self.std <= 0):
            raise ArgumentError(f"Normalize: every std must be > 0, got {self.std.tolist()}")
        self.is_hwc = is_hwc

    def on_rows(self, images, rng=None):
        images = np.asarray(images)
        hw = images.ndim == 3
        channels = 1 if hw else images.shape[3] if self.is_hwc else images.shape[1]
        if images.ndim not in (3, 4) or len(self.mean) not in (1, channels):
            layout = "(H, W, C)" if self.is_hwc else "(C, H, W)"
            raise ArgumentError(f"Normalize: {len(self.mean)} means and stds for an image of shape {images.shape[1:]}; "
                                f"give one per channel of a {layout} or (H, W) image (is_hwc={self.is_hwc})")
        shape = (1, 1, 1) if hw else (1, 1, 1, -1) if self.is_hwc else (1, -1, 1, 1)
        out = np.subtract(images, self.mean.reshape(shape), dtype=np.float32)
        out *= (1 / self.std).reshape(shape)
        return out


class HWC2CHW(ImageTransform):
    """(H, W, C) -> (C, H, W), C-contiguous; an (H, W) image is returned as it is (as MindSpore does)."""

    def on_rows(self, images, rng=None):
        images, was_hw = _nhwc(images, "HWC2CHW")
        return images[..., 0] if was_hw else np.ascontiguousarray(images.transpose(0, 3, 1, 2))


class ToTensor(ImageTransform):
    """HWC (or HW) -> CHW, divided by 255, as `output_type` (float32)."""

    def __init__(self, output_type=np.float32):
        self.output_type = numpy_dtype(output_type, "ToTensor: output_type")

    def on_rows(self, images, rng=None):
        images, _ = _nhwc(images, "ToTensor")
        return np.ascontiguousarray(images.transpose(0, 3, 1, 2) / np.float32(255), dtype=self.output_type)


# -- geometry ------------------------------------------------------------------------------------------------

class Pad(ImageTransform):
    """Pad the borders: `padding` is an int for every border, a pair (left and right, top and bottom)
    or four values (left, top, right, bottom); filled with `fill_value` (one value, or one per
    channel) or by the 'edge', 'reflect' or 'symmetric' rule (`padding_mode`, a Border)."""
    keeps_pil = True

    def __init__(self, padding: int | Sequence[int], fill_value: int | Sequence[int] = 0,
                 padding_mode: str = Border.CONSTANT):
        self.padding = _borders(padding, "Pad")
        self.fill_value = fill_value
        self.padding_mode = _padding_mode(padding_mode, "Pad")

    def on_rows(self, images, rng=None):
        images, was_hw = _nhwc(images, "Pad")
        return _as_given(_pad(images, self.padding, self.fill_value, self.padding_mode), was_hw)


def _pad(images: np.ndarray, borders, fill_value, mode: str) -> np.ndarray:
    left, top, right, bottom = borders
    if not (left or top or right or bottom):
        return images
    widths = ((0, 0), (top, bottom), (left, right), (0, 0))
    if mode != Border.CONSTANT:
        return np.pad(images, widths, mode=mode)
    n, height, width, channels = images.shape
    padded = np.empty((n, height + top + bottom, width + left + right, channels), images.dtype)
    padded[...] = np.asarray(fill_value, images.dtype)   # one value, or one per channel
    padded[:, top:top + height, left:left + width] = images
    return padded


def _padding_mode(mode, owner: str) -> str:
    mode = str(getattr(mode, "value", mode)).lower()
    if mode not in PADDING_MODES:
        raise ArgumentError(f"{owner}: padding_mode must be one of {PADDING_MODES}, got {mode!r}")
    return mode


class CenterCrop(ImageTransform):
    """The centre `size` (height, width; an int for a square) of each image: the top-left corner at
    floor((H - h) / 2), floor((W - w) / 2). A crop larger than the image pads it with zeros first,
    the extra pixel of an odd difference before (top, left), as MindSpore does."""
    keeps_pil = True

    def __init__(self, size: int | Sequence[int]):
        self.size = _positive_pair(size, "CenterCrop: size")

    def on_rows(self, images, rng=None):
        images, was_hw = _nhwc(images, "CenterCrop")
        (height, width), (crop_height, crop_width) = images.shape[1:3], self.size
        extra_rows, extra_cols = max(crop_height - height, 0), max(crop_width - width, 0)
        images = _pad(images, ((extra_cols + 1) // 2, (extra_rows + 1) // 2, extra_cols // 2, extra_rows // 2), 0,
                      Border.CONSTANT)
        top, left = (images.shape[1] - crop_height) // 2, (images.shape[2] - crop_width) // 2
        return _as_given(images[:, top:top + crop_height, left:left + crop_width], was_hw)

    def _pil(self, image):
        """MindSpore's PIL route rounds the corner (round half to even) where arrays take the floor."""
        width, height = image.size
        top, left = round((height - self.size[0]) / 2), round((width - self.size[1]) / 2)
        return image.crop((left, top, left + self.size[1], top + self.size[0]))


class RandomCrop(ImageTransform):
    """Pad, then crop each image at its own uniformly drawn position.

    `size` is (height, width) or an int for a square. `padding` is read as Pad reads it;
    `pad_if_needed` also pads a side shorter than the crop. Borders are filled with `fill_value`
    ('constant') or by the 'edge', 'reflect' or 'symmetric' rule. The dtype is kept.
    """
    random = True
    keeps_pil = True

    def __init__(self, size: int | Sequence[int], padding: int | Sequence[int] | None = None,
                 pad_if_needed: bool = False, fill_value: int | Sequence[int] = 0, padding_mode: str = Border.CONSTANT):
        self.size = _positive_pair(size, "RandomCrop: size")
        self.padding = _borders(padding, "RandomCrop")
        self.pad_if_needed = pad_if_needed
        self.fill_value = fill_value
        self.padding_mode = _padding_mode(padding_mode, "RandomCrop")

    def on_rows(self, images, rng=None):
        images, was_hw = _nhwc(images, "RandomCrop")
        padded = _pad(images, self._borders(images), self.fill_value, self.padding_mode)
        n, height, width, _ = padded.shape
        crop_height, crop_width = self.size
        if crop_height > height or crop_width > width:
            raise ArgumentError(f"RandomCrop: crop size {self.size} is larger than the padded image "
                                f"{(height, width)} (input {images.shape[1:3]}); pass a larger padding or "
                                "pad_if_needed=True")
        top = rng.integers(0, height - crop_height + 1, n)
        left = rng.integers(0, width - crop_width + 1, n)
        rows = (top[:, None] + np.arange(crop_height))[:, :, None]
        cols = (left[:, None] + np.arange(crop_width))[:, None, :]
        return _as_given(padded[np.arange(n)[:, None, None], rows, cols], was_hw)

    def _borders(self, images):
        left, top, right, bottom = self.padding
        if self.pad_if_needed:
            extra_rows = max(self.size[0] - (images.shape[1] + top + bottom), 0)
            extra_cols = max(self.size[1] - (images.shape[2] + left + right), 0)
            top, bottom, left, right = top + extra_rows, bottom + extra_rows, left + extra_cols, right + extra_cols
        return left, top, right, bottom


class _Flip(ImageTransform):
    """Mirror images along `axis` (2: left to right, 1: top to bottom), each with probability `prob`."""
    axis = 2
    prob = 1.0

    def on_rows(self, images, rng=None):
        images, was_hw = _nhwc(images, type(self).__name__)
        flipped = np.flip(images, self.axis)
        if self.prob < 1.0:
            flip = rng.random(len(images)) < self.prob
            flipped = np.where(flip[:, None, None, None], flipped, images)
        return _as_given(flipped, was_hw)


class HorizontalFlip(_Flip):
    """Mirror left to right."""


class VerticalFlip(_Flip):
    """Mirror top to bottom."""
    axis = 1


class _RandomFlip(_Flip):
    random = True
    keeps_pil = True   # MindSpore flips a PIL image with PIL only in the random flips

    def __init__(self, prob: float = 0.5):
        if not 0.0 <= prob <= 1.0:
            raise ArgumentError(f"{type(self).__name__}: prob must be in [0, 1], got {prob!r}")
        self.prob = prob


class RandomHorizontalFlip(_RandomFlip):
    """Mirror each image left to right with probability `prob`."""


class RandomVerticalFlip(_RandomFlip):
    """Mirror each image top to bottom with probability `prob`."""
    axis = 1


# -- decoding ------------------------------------------------------------------------------------------------

class Decode:
    """Decode an encoded image (the bytes of a JPEG, PNG, ... file, as bytes or a uint8 array) into
    an RGB (H, W, 3) uint8 array, or a PIL image with to_pil=True. It needs Pillow."""

    def __init__(self, to_pil: bool = False):
        self.to_pil = to_pil

    def __call__(self, data):
        try:
            from PIL import Image
        except ImportError:
            raise ArgumentError("vision.Decode needs Pillow to decode image files: pip install Pillow (graphc's "
                                "'image' extra)") from None
        encoded = data if isinstance(data, bytes) else np.asarray(data, dtype=np.uint8).tobytes()
        image = Image.open(io.BytesIO(encoded)).convert("RGB")
        return image if self.to_pil else np.asarray(image).copy()


# -- arguments -----------------------------------------------------------------------------------------------

def _positive_pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, numbers.Integral) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, numbers.Integral) and v > 0 for v in pair):
        raise ArgumentError(f"{name} must be a positive int or (height, width), got {value!r}")
    return int(pair[0]), int(pair[1])


def _borders(padding, owner: str) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) from None, an int, (left and right, top and bottom) or four values."""
    if padding is None:
        return 0, 0, 0, 0
    values = (padding,) if isinstance(padding, numbers.Integral) else tuple(padding)
    if len(values) not in (1, 2, 4) or not all(isinstance(v, numbers.Integral) and v >= 0 for v in values):
        raise ArgumentError(f"{owner}: padding must be an int >= 0, a pair (left and right, top and bottom) or "
                            f"(left, top, right, bottom), got {padding!r}")
    if len(values) == 1:
        return (int(values[0]),) * 4
    if len(values) == 2:
        return int(values[0]), int(values[1]), int(values[0]), int(values[1])
    return tuple(int(v) for v in values)
