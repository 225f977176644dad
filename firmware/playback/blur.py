"""Footage with other people made unrecognisable, for an art. 10 viewing (art. 10 lid 4-5).

A citizen who asks to see footage of themselves sees it with the others in view blurred. This is
done on the way to the player, frame by frame, in memory: the stored segment is never changed and
no blurred copy is ever written to disk. The beheerder can draw regions to blur (the fallback
wherever the detector misses someone, see docs/recording.md "Vervagen"); the detector
(firmware/playback/detect.py) adds a box around everything that moves.

Blurring is pixelation followed by smooth interpolation (firmware/playback/pixelate.py): what
comes out in a blurred box depends on block means about 1/40 of the frame wide only, so no
sharpening can bring a face back.
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
from firmware.playback.pixelate import Pixelator
from firmware.i18n import _

VIEW_WIDTH = 960            # wider footage is scaled down to this width for viewing
TIME_BASE = Fraction(1, 90000)
MIN_KEY_SAMPLES = 8         # fewer keyframes than this: learn the background from every frame
# The recorder's own encoder settings (capture/encoder.py): fast enough for the device.
# Deblocking on (ultrafast turns it off): it costs little and keeps block edges out of the
# blurred boxes.
ENCODER_OPTIONS = {"preset": "ultrafast", "crf": "23", "bframes": "0", "deblock": "0:0"}

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
    except _EncoderFailed as exc:
        raise BlurError(_(
            "The blurred picture could not be made: the video encoding on the device failed "
            "(%(problem)s). The stored fragment has not changed. Try again; if it fails "
            "again, report it to the technisch beheerder.", problem=exc.__cause__)) from exc
    except (av.FFmpegError, ValueError, EOFError) as exc:
        raise BlurError(_(
            "The fragment could not be read as video, so it cannot be shown blurred "
            "(%(problem)s). Open the fragment again; if it fails again, let the technisch "
            "beheerder check it with 'nvr recordings verify'.", problem=exc)) from exc


class _EncoderFailed(Exception):
    """The encoder, not the footage, failed."""


def _encode(out: av.container.OutputContainer, video: av.VideoStream,
            frame: av.VideoFrame | None) -> None:
    try:
        out.mux(video.encode(frame))
    except av.FFmpegError as exc:
        raise _EncoderFailed() from exc


def _check_region(region: Region) -> Region:
    try:
        x, y, w, h = (float(v) for v in region)
    except (TypeError, ValueError):
        raise BlurError(_("The area to blur %(area)s is not (x, y, width, height); draw the "
                          "area again.", area=repr(region))) from None
    if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 - x + 1e-9 and 0 < h <= 1 - y + 1e-9):
        raise BlurError(_("The area to blur %(area)s does not lie within the frame (values "
                          "between 0 and 1, width and height above 0); draw the area again.",
                          area=repr(region)))
    return x, y, w, h


def _open(data: bytes):
    container = av.open(io.BytesIO(data), "r")
    if not container.streams.video:
        container.close()
        raise BlurError(_("The fragment holds no video picture, so there is nothing to show "
                          "blurred. Choose another fragment."))
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
    """First pass: the segment's background at detection size, from its keyframes alone when
    it has enough of them (the recorder writes one a second), else from every frame."""
    size = detect_size(width, height)
    for keyframes_only in (True, False):
        container, stream = _open(data)
        if keyframes_only:
            stream.codec_context.skip_frame = "NONKEY"
        sampler = BackgroundSampler(size)
        with container:
            for frame in container.decode(stream):
                sampler.add(_source_planes(frame)[0])
        if not keyframes_only or sampler.count >= MIN_KEY_SAMPLES:
            return sampler.background()
    raise AssertionError("unreachable")


def _source_planes(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views (no copy) on the Y, U and V planes of a decoded frame; other pixel formats are
    converted to yuv420p first."""
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        frame = frame.reformat(format="yuv420p")
    w, h = frame.width, frame.height
    cw, ch = (w + 1) // 2, (h + 1) // 2
    sizes = ((w, h), (cw, ch), (cw, ch))
    return tuple(np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:ph, :pw]
                 for plane, (pw, ph) in zip(frame.planes, sizes))


def _into(frame: av.VideoFrame, planes) -> None:
    """A decoded frame into the encoder's buffer: copied, or scaled down to the viewing size."""
    for src, dst in zip(_source_planes(frame), (planes.y, planes.u, planes.v)):
        if src.shape == dst.shape:
            np.copyto(dst, src)
        else:
            cv2.resize(src, (dst.shape[1], dst.shape[0]), dst=dst, interpolation=cv2.INTER_AREA)


def frames_with_boxes(data: bytes, width: int, height: int, detect: bool = True
                      ) -> Iterator[tuple[av.VideoFrame, list[Box]]]:
    """Each decoded frame of the segment with the boxes (in pixels of the viewing size) the
    detector put around moving things, held over HOLD frames either side; none without
    `detect`."""
    detector = MotionDetector(_background(data, width, height), width, height) if detect else None
    hold = Hold()
    container, stream = _open(data)
    with container:
        for frame in container.decode(stream):
            boxes = detector.boxes(_source_planes(frame)[0]) if detector else []
            yield from hold.push(frame, boxes)
    yield from hold.drain()


def view_size(data: bytes) -> tuple[int, int, Fraction]:
    """Width, height and frame rate the blurred segment will have."""
    container, stream = _open(data)
    with container:
        width, height = _view_size(stream.codec_context.width, stream.codec_context.height)
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    if width < 2 or height < 2:
        raise BlurError(_("The fragment has no usable picture size; choose another "
                          "fragment."))
    return width, height, Fraction(rate)


def _blur(data: bytes, regions: Sequence[Region], detect: bool) -> bytes:
    width, height, rate = view_size(data)
    pixelator = Pixelator(width, height, _region_boxes(regions, width, height))

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
            # The segment's own frame times; a frame without one is placed by the frame rate.
            t = float(frame.time) if frame.time is not None else frames / rate
            if frames == 0:
                start = t
            frames += 1
            _into(frame, planes)
            pixelator.apply(planes, boxes)
            last_pts = max(last_pts + 1, round((t - start) * 90000))
            out_frame.pts = last_pts
            out_frame.time_base = TIME_BASE
            _encode(out, video, out_frame)
        if not frames:
            raise BlurError(_("The fragment holds not a single picture; choose another fragment."))
        _encode(out, video, None)
    except BaseException:
        try:
            out.close()
        except av.FFmpegError:
            pass                        # the first error is the one to report
        raise
    out.close()
    return faststart(out_io.getvalue())
