"""The Raspberry Pi camera through picamera2: the only module that imports it.

Two streams from one sensor: the main stream (YUV420, e.g. 1920x1080) goes to the hardware
H.264 encoder (Pi 4) or libx264 (Pi 5), the lores stream (YUV420, e.g. 320x240) feeds motion
detection. A `pre_callback` draws the privacy masks into both streams and the caption into the
main stream before anything is encoded or analysed (R-02, R-30). Audio stays off (R-03).

Time: lores frames carry libcamera's SensorTimestamp (CLOCK_MONOTONIC); picamera2 hands the
output encoder timestamps in microseconds since its first frame, so packets are anchored to the
wall clock when the first one arrives. Both end up in epoch seconds within a frame or two.
"""

from __future__ import annotations

import threading
import time
from zoneinfo import ZoneInfo

from firmware.capture.camera import FrameConsumer
from firmware.capture.caption import Caption
from firmware.capture.frames import i420_planes
from firmware.capture.packets import EncodedPacket
from firmware.capture.privacy import PrivacyMask
from firmware.config import CameraConfig


class CameraUnavailable(Exception):
    pass


def _import_picamera2():
    try:
        from picamera2 import MappedArray, Picamera2
        from picamera2.encoders import H264Encoder
        from picamera2.outputs import Output
    except ImportError as exc:      # libcamera exists only on a Pi
        raise CameraUnavailable(
            f"picamera2 cannot be imported ({exc}). On a Raspberry Pi: apt install "
            "python3-picamera2 --no-install-recommends and create the venv with "
            "--system-site-packages. On a PC use source = \"synthetic\", \"file\" or \"v4l2\"."
        ) from None
    return Picamera2, MappedArray, H264Encoder, Output


class PiCamera:
    def __init__(self, cam: CameraConfig, tz: ZoneInfo, index: int = 0):
        Picamera2, self._MappedArray, H264Encoder, Output = _import_picamera2()
        self.cam = cam
        self.width, self.height, self.fps = cam.width, cam.height, float(cam.fps)
        self.lores_size = (cam.lores_width, cam.lores_height)
        self.mask = PrivacyMask(cam.privacy_masks, cam.width, cam.height)
        self.lores_mask = PrivacyMask(cam.privacy_masks, cam.lores_width, cam.lores_height)
        self.caption = Caption(cam.location, cam.width, cam.height, tz)
        self._clock_offset = time.time() - time.monotonic()
        self.picam2 = Picamera2(index)
        config = self.picam2.create_video_configuration(
            main={"size": (cam.width, cam.height), "format": "YUV420"},
            lores={"size": self.lores_size, "format": "YUV420"},
            controls={"FrameRate": float(cam.fps)}, encode="main")
        self.picam2.configure(config)
        self.encoder = H264Encoder(bitrate=cam.bitrate_kbps * 1000, repeat=True,
                                   iperiod=max(1, round(cam.fps * cam.keyframe_seconds)))
        if getattr(self.encoder, "audio", False):
            raise CameraUnavailable("the encoder has audio enabled; this recorder never records "
                                    "sound (R-03)")
        self._output_class = Output
        self.live = None            # a firmware.live.tap.LiveTap, set by the recorder service

    def _wall(self, request) -> float:
        ts = request.get_metadata().get("SensorTimestamp")
        return ts / 1e9 + self._clock_offset if ts else time.time()

    def _pre_callback(self, request) -> None:
        with self._MappedArray(request, "main") as m:
            planes = i420_planes(m.array, self.width, self.height)
            if self.mask:
                self.mask.apply(planes)
            t = self._wall(request)
            self.caption.apply(planes, t)
            if self.live is not None:
                self.live.offer(planes, t)
        if self.lores_mask:
            lw, lh = self.lores_size
            with self._MappedArray(request, "lores") as m:
                self.lores_mask.apply_luma(m.array[:lh, :lw])

    def run(self, consumer: FrameConsumer, stop: threading.Event) -> None:
        anchor: list[float] = []

        class _PacketOutput(self._output_class):
            def outputframe(self, frame, keyframe=True, timestamp=None, packet=None,
                            audio=False):
                if audio:
                    return                        # never stored
                if not anchor:
                    anchor.append(time.time() - (timestamp or 0) / 1e6)
                t = anchor[0] + (timestamp or 0) / 1e6
                consumer.on_packet(EncodedPacket(bytes(frame), t, bool(keyframe)))

        lw, lh = self.lores_size
        self.picam2.pre_callback = self._pre_callback
        self.picam2.start_encoder(self.encoder, _PacketOutput())
        self.picam2.start()
        try:
            while not stop.is_set():
                request = self.picam2.capture_request()
                try:
                    luma = request.make_array("lores")[:lh, :lw]
                    t = self._wall(request)
                finally:
                    request.release()
                consumer.on_lores(luma, t)
        finally:
            self.picam2.stop_encoder()
            self.picam2.stop()
            self.picam2.close()
