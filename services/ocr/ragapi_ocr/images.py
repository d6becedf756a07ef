"""The Pillow adapter: open images with a pixel budget, decode to arrays, encode PNG, crop.

Pillow's own decompression-bomb check warns or raises at a fixed global size;
it is switched off here because :func:`open_image` checks the caller's budget
from the header, before a single pixel is decoded.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageSequence, UnidentifiedImageError

from .rejections import Rejected

Image.MAX_IMAGE_PIXELS = None

Pixels = NDArray[np.uint8]


def open_image(source: Path | bytes, max_pixels: int) -> Image.Image:
    """A lazily decoded image whose every frame fits ``max_pixels``; Rejected otherwise."""
    try:
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise Rejected("corrupt", f"the image cannot be read: {exc}") from exc
    width, height = image.size
    if width * height > max_pixels:
        image.close()
        raise Rejected(
            "too_many_pixels",
            f"the image is {width}x{height} pixels; the limit is {max_pixels} pixels",
        )
    return image


def frame_count(image: Image.Image) -> int:
    """Pages of a multi-page TIFF (or 1)."""
    return int(getattr(image, "n_frames", 1))


def frame_rgb(image: Image.Image, index: int) -> Pixels:
    """Frame ``index`` decoded as an RGB array; Rejected if its data is damaged."""
    try:
        frame = ImageSequence.Iterator(image)[index]
        return np.asarray(frame.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as exc:
        raise Rejected("corrupt", f"the image data is damaged: {exc}") from exc


def png(pixels: Pixels) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=False, compress_level=3)
    return buffer.getvalue()


def fit(pixels: Pixels, max_side: int) -> Pixels:
    """``pixels`` scaled down (never up) so that the long side is at most ``max_side``."""
    height, width = pixels.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return pixels
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.uint8)


def crop_normalized(pixels: Pixels, box: Sequence[float], scale: float = 1000.0) -> Pixels:
    """The region of ``box`` (coordinates 0..scale of the image's size)."""
    height, width = pixels.shape[:2]
    x0, y0, x1, y1 = (max(0.0, min(1.0, v / scale)) for v in box)
    left, right = int(x0 * width), max(int(x0 * width) + 1, int(x1 * width))
    top, bottom = int(y0 * height), max(int(y0 * height) + 1, int(y1 * height))
    return pixels[top:bottom, left:right]


def decode_png(data: bytes) -> Pixels:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
