"""Portable frame sources: the synthetic scene, video files and V4L2 webcams (via PyAV).

A source yields (I420 frame, capture time) pairs. The frame is one buffer, reused for every
frame: `out` when the consumer passes one (the encoder's input, so that a frame is drawn where
it is encoded and never copied again), else the source's own; a consumer copies what it keeps.
With `realtime`, frames are paced to the wall clock and stamped with it; without, they come as
fast as they can be made, stamped from `start` plus the frame's own time (used by `nvr
ingest`). A live device (V4L2) paces itself and is stamped with the wall clock on arrival.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from firmware.capture.frames import Planes, i420_planes
from firmware.capture.synthetic import Scene

Frame = tuple[np.ndarray, float]


class SourceError(Exception):
    """A source that cannot deliver frames: the message says which and why."""


class _Pacer:
    def __init__(self, realtime: bool, start: float | None, live: bool = False):
        self.realtime, self.live = realtime, live
        self.start = start if start is not None else time.time()
        self._wall0 = time.monotonic()

    def stamp(self, media_time: float, stop: threading.Event) -> float:
        if self.live:
            return time.time()
        if not self.realtime:
            return self.start + media_time
        delay = self._wall0 + media_time - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        return time.time()


def _buffer(out: np.ndarray | None, width: int, height: int) -> np.ndarray:
    shape = (height * 3 // 2, width)
    if out is None:
        return np.empty(shape, np.uint8)
    if out.shape != shape or out.dtype != np.uint8:
        raise ValueError(f"a {width}x{height} I420 buffer has shape {shape}, not {out.shape}")
    return out


def _copy_into(frame: av.VideoFrame, planes: Planes) -> None:
    """Copy a yuv420p frame's planes into `planes` (one copy, no temporary array)."""
    for plane, dst in zip(frame.planes, (planes.y, planes.u, planes.v)):
        rows, cols = dst.shape
        src = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:rows, :cols]
        np.copyto(dst, src)


class SyntheticSource:
    """The generated scene. With `freeze`, no frame comes while a file exists at that path: a
    camera that stalled, for the watchdog's tests (one stat() a frame, only when set)."""

    def __init__(self, scene: Scene, *, realtime: bool = True, start: float | None = None,
                 frames: int | None = None, freeze: Path | None = None):
        self.scene = scene
        self.width, self.height, self.fps = scene.width, scene.height, scene.fps
        self.realtime, self.start, self.limit = realtime, start, frames
        self.freeze = freeze

    def _frozen(self, stop: threading.Event) -> bool:
        """Wait while the freeze file exists; True when it did."""
        waited = False
        while self.freeze.exists() and not stop.is_set():
            waited = True
            stop.wait(0.2)
        return waited

    def frames(self, stop: threading.Event, out: np.ndarray | None = None) -> Iterator[Frame]:
        pacer = _Pacer(self.realtime, self.start)
        buf = _buffer(out, self.width, self.height)
        i = first = 0
        while not stop.is_set() and (self.limit is None or i < self.limit):
            if self.freeze is not None and self._frozen(stop):
                pacer, first = _Pacer(self.realtime, None), i   # on from now, no burst
            t = pacer.stamp((i - first) / self.fps, stop)
            if stop.is_set():
                return
            yield self.scene.i420(i, buf), t
            i += 1


class AvSource:
    """Frames decoded by PyAV: a video file (optionally looping) or a V4L2 device.

    `size` scales to (width, height); None keeps the source's own size. `max_fps` drops frames
    of a faster file, as a camera set to that rate would deliver them.
    """

    def __init__(self, path: str | Path, *, size: tuple[int, int] | None = None,
                 loop: bool = False, realtime: bool = False, start: float | None = None,
                 device_format: str | None = None, fps: float | None = None,
                 max_fps: float | None = None):
        self.path, self.loop, self.realtime, self.start = str(path), loop, realtime, start
        self.device_format = device_format
        options = {}
        if device_format == "v4l2":
            if size:
                options["video_size"] = f"{size[0]}x{size[1]}"
            if fps:
                options["framerate"] = str(fps)
        self._options = options
        try:
            with av.open(self.path, format=device_format, options=options) as probe:
                if not probe.streams.video:
                    raise SourceError(f"{self.path}: contains no video stream")
                stream = probe.streams.video[0]
                rate = stream.average_rate or stream.guessed_rate or fps or 25
                native = (stream.codec_context.width, stream.codec_context.height)
        except (av.FFmpegError, OSError) as exc:
            raise SourceError(f"{self.path}: cannot be opened as video: {exc}") from None
        self.fps = float(rate)
        self._keep = 1.0                    # share of the file's frames a camera would deliver
        if max_fps and self.fps > max_fps:
            self._keep, self.fps = max_fps / self.fps, float(max_fps)
        w, h = size or native
        self.width, self.height = w & ~1, h & ~1

    def frames(self, stop: threading.Event, out: np.ndarray | None = None) -> Iterator[Frame]:
        pacer = _Pacer(self.realtime, self.start, live=self.device_format is not None)
        buf = _buffer(out, self.width, self.height)
        planes = i420_planes(buf, self.width, self.height)
        # One scaler for the stream: `VideoFrame.reformat` would set up swscale (and its
        # threads) again for every frame. It scales on this thread (threads=1, the same pixels):
        # decoding and scaling the clip to 1080p used 0.05-0.5 ms less CPU a frame than with
        # swscale's own threads.
        scaler = VideoReformatter()
        offset = 0.0
        index = decoded = 0
        while not stop.is_set():
            last, first = offset, index
            with av.open(self.path, format=self.device_format, options=self._options) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                try:
                    for frame in container.decode(stream):
                        decoded += 1
                        if self._keep < 1.0:
                            # Counted, not timed: some files carry out-of-order timestamps.
                            if int(decoded * self._keep) == int((decoded - 1) * self._keep):
                                continue              # faster than the camera's rate
                            media = (index - first) / self.fps
                        else:
                            media = frame.time if frame.time is not None else index / self.fps
                        last = offset + media
                        t = pacer.stamp(last, stop)
                        if stop.is_set():
                            return
                        img = scaler.reformat(frame, self.width, self.height, "yuv420p",
                                              threads=1)
                        _copy_into(img, planes)
                        index += 1
                        yield buf, t
                except av.FFmpegError as exc:
                    raise SourceError(f"{self.path}: decoding failed after {index} frames: "
                                      f"{exc}") from None
            if not self.loop or index == 0:
                return
            offset = last + 1.0 / self.fps
