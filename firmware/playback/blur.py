"""Footage with other people made unrecognisable, for an art. 10 viewing (art. 10 lid 4-5).

A citizen who asks to see footage of themselves sees it with the others in view blurred. This is
done on the way to the player, frame by frame, in memory: the stored segment is never changed and
no blurred copy is ever written to disk. The beheerder can draw regions to blur (the fallback
wherever the detector misses someone, see docs/recording.md "Vervagen"); the detector
(firmware/playback/detect.py) adds a box around everything that moves.

Blurring is pixelation followed by smooth interpolation: each box is reduced to blocks of about
1/40 of the frame width and scaled back up. What comes out depends on those block averages only,
so no sharpening can bring a face back.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from fractions import Fraction

import av
import cv2
import numpy as np

from firmware.capture.frames import i420_planes
from firmware.playback.detect import (BackgroundSampler, Box, Hold, MotionDetector,
                                      detect_size)
from firmware.playback.faststart import faststart

VIEW_WIDTH = 1280           # wider footage is scaled down to this width for viewing
BLOCKS_ACROSS = 40          # pixelation block: the frame width / this, at least MIN_BLOCK
MIN_BLOCK = 8
TIME_BASE = Fraction(1, 90000)
ENCODER_OPTIONS = {"preset": "veryfast", "crf": "23", "profile": "high", "bframes": "0"}

Region = tuple[float, float, float, float]


class BlurError(Exception):
    """The footage could not be blurred; the message is Dutch, for the page that asked."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def blur_mp4(data: bytes, *, regions: Sequence[Region] = (), detect: bool = True) -> bytes:
    """Return the MP4 segment `data` re-encoded with every region and (with `detect`) every
    moving person or thing blurred: H.264, yuv420p, moov in front, no audio, in memory.

    A region is (x, y, w, h) as fractions of the frame, as the beheerder drew it. Raises
    BlurError (Dutch message) when `data` is not a video or a region is not inside the frame.
    """
    checked = [_check_region(r) for r in regions]
    try:
        return _blur(data, checked, detect)
    except BlurError:
        raise
    except (av.FFmpegError, ValueError, EOFError) as exc:
        raise BlurError(
            "Het beeldfragment kon niet als video worden gelezen, dus het kan niet vervaagd "
            f"worden getoond ({exc}). Open het fragment opnieuw; lukt dat weer niet, laat de "
            "technisch beheerder het fragment controleren met 'nvr recordings verify'.") from exc


def _check_region(region: Region) -> Region:
    try:
        x, y, w, h = (float(v) for v in region)
    except (TypeError, ValueError):
        raise BlurError(f"Het te vervagen gebied {region!r} is geen (x, y, breedte, hoogte); "
                        "teken het gebied opnieuw.") from None
    if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 - x + 1e-9 and 0 < h <= 1 - y + 1e-9):
        raise BlurError(f"Het te vervagen gebied {region!r} ligt niet binnen het beeld "
                        "(waarden tussen 0 en 1, breedte en hoogte groter dan 0); teken het "
                        "gebied opnieuw.")
    return x, y, w, h


def _open(data: bytes):
    container = av.open(io.BytesIO(data), "r")
    if not container.streams.video:
        container.close()
        raise BlurError("Het beeldfragment bevat geen videobeeld, dus er valt niets vervaagd "
                        "te tonen. Kies een ander fragment.")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def _view_size(width: int, height: int) -> tuple[int, int]:
    """The output size: at most VIEW_WIDTH wide, even dimensions (yuv420p)."""
    if width > VIEW_WIDTH:
        height = round(height * VIEW_WIDTH / width)
        width = VIEW_WIDTH
    return width & ~1, height & ~1


def _region_boxes(regions: Sequence[Region], width: int, height: int) -> list[Box]:
    boxes = []
    for x, y, w, h in regions:
        x0, y0 = int(x * width) & ~1, int(y * height) & ~1
        x1 = min(width, (int((x + w) * width + 0.999) + 1) & ~1)
        y1 = min(height, (int((y + h) * height + 0.999) + 1) & ~1)
        boxes.append((x0, y0, x1, y1))
    return boxes


def _background(data: bytes, width: int, height: int) -> np.ndarray:
    """First pass: the segment's background at detection size."""
    container, stream = _open(data)
    sampler = BackgroundSampler(detect_size(width, height))
    with container:
        for frame in container.decode(stream):
            frame = _viewable(frame, width, height)
            sampler.add(_luma(frame, width, height))
    return sampler.background()


def _viewable(frame: av.VideoFrame, width: int, height: int) -> av.VideoFrame:
    if frame.width != width or frame.height != height or frame.format.name != "yuv420p":
        return frame.reformat(width=width, height=height, format="yuv420p")
    return frame


def _luma(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    plane = frame.planes[0]
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:height, :width]


def _copy_into(frame: av.VideoFrame, planes, width: int, height: int) -> None:
    """Copy a decoded yuv420p frame's planes into the encoder's buffer."""
    for index, (dst, w, h) in enumerate(((planes.y, width, height),
                                         (planes.u, width // 2, height // 2),
                                         (planes.v, width // 2, height // 2))):
        plane = frame.planes[index]
        src = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:h, :w]
        np.copyto(dst, src)


def pixelate(planes, box: Box, block: int) -> None:
    """Make one box of an I420 frame unrecognisable, in place (all three planes)."""
    x0, y0, x1, y1 = box
    if x1 - x0 < 2 or y1 - y0 < 2:
        return
    for plane, scale in ((planes.y, 1), (planes.u, 2), (planes.v, 2)):
        roi = plane[y0 // scale:y1 // scale, x0 // scale:x1 // scale]
        h, w = roi.shape
        b = max(1, block // scale)
        small = cv2.resize(roi, (max(1, round(w / b)), max(1, round(h / b))),
                           interpolation=cv2.INTER_AREA)
        roi[:] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def frames_with_boxes(data: bytes, width: int, height: int, detect: bool = True
                      ) -> Iterator[tuple[av.VideoFrame, list[Box]]]:
    """Each frame of the segment at the viewing size, with the boxes the detector put around
    moving things in it (held over HOLD frames either side); no boxes without `detect`."""
    detector = MotionDetector(_background(data, width, height), width, height) if detect else None
    hold = Hold()
    container, stream = _open(data)
    with container:
        for frame in container.decode(stream):
            frame = _viewable(frame, width, height)
            boxes = detector.boxes(_luma(frame, width, height)) if detector else []
            yield from hold.push(frame, boxes)
    yield from hold.drain()


def view_size(data: bytes) -> tuple[int, int, Fraction]:
    """Width, height and frame rate the blurred segment will have."""
    container, stream = _open(data)
    with container:
        width, height = _view_size(stream.codec_context.width, stream.codec_context.height)
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    if width < 2 or height < 2:
        raise BlurError("Het beeldfragment heeft geen bruikbare beeldgrootte; kies een ander "
                        "fragment.")
    return width, height, Fraction(rate)


def _blur(data: bytes, regions: Sequence[Region], detect: bool) -> bytes:
    width, height, rate = view_size(data)
    fixed = _region_boxes(regions, width, height)
    block = max(MIN_BLOCK, width // BLOCKS_ACROSS) & ~1

    out_io = io.BytesIO()
    out = av.open(out_io, "w", format="mp4")
    video = out.add_stream("libx264", rate=rate.limit_denominator(1001))
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    video.time_base = TIME_BASE
    video.codec_context.time_base = TIME_BASE
    video.codec_context.options = dict(ENCODER_OPTIONS)
    # One frame buffer for the whole segment: each decoded frame is copied into it, blurred
    # in place and encoded (x264 copies the picture inside the encode call).
    buffer = np.empty((height * 3 // 2, width), np.uint8)
    planes = i420_planes(buffer, width, height)
    out_frame = av.VideoFrame.from_numpy_buffer(buffer, format="yuv420p")
    last_pts, start, frames = -1, 0.0, 0
    try:
        for frame, boxes in frames_with_boxes(data, width, height, detect):
            if frames == 0:
                start = float(frame.time or 0.0)
            frames += 1
            _copy_into(frame, planes, width, height)
            for box in fixed:
                pixelate(planes, box, block)
            for box in boxes:
                pixelate(planes, box, block)
            last_pts = max(last_pts + 1, round((float(frame.time or 0.0) - start) * 90000))
            out_frame.pts = last_pts
            out_frame.time_base = TIME_BASE
            for packet in video.encode(out_frame):
                out.mux(packet)
        if not frames:
            raise BlurError("Het beeldfragment bevat geen enkel beeld; kies een ander fragment.")
        for packet in video.encode(None):
            out.mux(packet)
    except BaseException:
        try:
            out.close()
        except av.FFmpegError:
            pass                        # the first error is the one to report
        raise
    out.close()
    return faststart(out_io.getvalue())
