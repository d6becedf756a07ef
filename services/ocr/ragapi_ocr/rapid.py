"""The RapidOCR adapter: one engine per process, pixels in, text lines out.

RapidOCR 3.x ships its PP-OCR detection, direction and recognition models
(Chinese + English) inside the wheel, so nothing is downloaded. The engine is
built once per process on first use and then reused; the runtime (OpenVINO's
CPU plugin by default, 1.7x faster than onnxruntime on the same ONNX files, or
onnxruntime) gets ``threads`` threads so that N pool processes do not
oversubscribe the cores. ``rapidocr`` (with OpenCV and onnxruntime) is imported only there: the
service's own process names these functions and :class:`Line` but never runs OCR.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .images import Pixels

if TYPE_CHECKING:
    from rapidocr import RapidOCR

_lock = threading.Lock()
_engine: RapidOCR | None = None
_threads = 0
_det_max_side = 960
_runtime = "openvino"


@dataclass(frozen=True)
class Line:
    """One detected line: text, confidence, left and right x, centre y and height in pixels.

    The height is the detected quadrilateral's own (not its upright bounding
    box's), so a slightly rotated scan keeps true line heights and gaps.
    """

    text: str
    score: float
    x0: float
    x1: float
    cy: float
    height: float

    @property
    def y0(self) -> float:
        return self.cy - self.height / 2

    @property
    def y1(self) -> float:
        return self.cy + self.height / 2


def configure(threads: int, det_max_side: int = 960, runtime: str = "openvino") -> None:
    """Set the onnxruntime threads and detection size before the engine is first built.

    Detection runs on the page scaled down to ``det_max_side`` on its long side
    (recognition still reads the full-resolution crops): on 200 dpi A4 scans
    this is 3-5x faster than RapidOCR's default and, measured on our degraded
    test scans, more accurate (full-size detection merged neighbouring lines).
    """
    global _threads, _det_max_side, _runtime
    _threads = threads
    _det_max_side = det_max_side
    _runtime = runtime


def engine() -> RapidOCR:
    """This process's engine (built on first use; the models load lazily inside it)."""
    global _engine
    with _lock:
        if _engine is None:
            from rapidocr import RapidOCR

            _engine = RapidOCR(params=_params())
        return _engine


def _params() -> dict[str, object]:
    from rapidocr import EngineType

    params: dict[str, object] = {
        "Global.log_level": "error",
        "Det.limit_type": "max",
        "Det.limit_side_len": _det_max_side,
        # onnxruntime's arena reuses buffers across runs (RapidOCR turns it off): 15% less CPU.
        "EngineConfig.onnxruntime.enable_cpu_mem_arena": True,
    }
    if _runtime == "openvino":
        for model in ("Det", "Cls", "Rec"):
            params[f"{model}.engine_type"] = EngineType.OPENVINO
    if _threads > 0:
        params["EngineConfig.onnxruntime.intra_op_num_threads"] = _threads
        params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
        params["EngineConfig.openvino.inference_num_threads"] = _threads
    return params


def read_lines(pixels: Pixels, min_score: float = 0.5) -> list[Line]:
    """Every text line RapidOCR finds in the image."""
    if pixels.shape[0] < 8 or pixels.shape[1] < 8:
        return []
    result: Any = engine()(pixels)
    if result.boxes is None or result.txts is None or result.scores is None:
        return []
    quads = [[(float(x), float(y)) for x, y in box] for box in result.boxes]
    upright = _deskew(quads, pixels.shape[1] / 2, pixels.shape[0] / 2)
    lines = []
    for quad, text, score in zip(upright, result.txts, result.scores, strict=True):
        if float(score) < min_score or not str(text).strip():
            continue
        lines.append(_line(str(text).strip(), float(score), quad))
    return lines


def skew(quads: list[list[tuple[float, float]]]) -> float:
    """The page's skew in radians: the median slope of the long lines' top edges."""
    angles = sorted(
        math.atan2(q[1][1] - q[0][1], q[1][0] - q[0][0])
        for q in quads
        if math.dist(q[0], q[1]) > 3 * max(1.0, math.dist(q[0], q[3]))
    )
    return angles[len(angles) // 2] if angles else 0.0


def _deskew(
    quads: list[list[tuple[float, float]]], cx: float, cy: float
) -> list[list[tuple[float, float]]]:
    """The quadrilaterals rotated about (cx, cy) so the page's lines run level.

    The skew is measured once per page, so rows and columns line up for
    :mod:`.layout` (a 2-degree tilt moves a column's last line by a gutter's width).
    """
    angle = skew(quads)
    if abs(angle) < 1e-3:
        return quads
    cos, sin = math.cos(-angle), math.sin(-angle)
    return [
        [(cx + (x - cx) * cos - (y - cy) * sin, cy + (x - cx) * sin + (y - cy) * cos) for x, y in q]
        for q in quads
    ]


def _line(text: str, score: float, quad: list[tuple[float, float]]) -> Line:
    """Points come clockwise from the top left: 0-3 is the left edge, 1-2 the right."""
    xs, ys = [x for x, _ in quad], [y for _, y in quad]
    left = math.dist(quad[0], quad[3])
    right = math.dist(quad[1], quad[2])
    return Line(text, score, min(xs), max(xs), sum(ys) / 4, max(1.0, (left + right) / 2))
