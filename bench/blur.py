"""Benchmark: blurring for an art. 10 viewing (firmware/playback/blur.py), quality and speed.

Quality, on the real clips (../shared/data/video) cut into 10-second segments as the recorder
stores them: at every frame where a person was checked by eye (TRUTH), is the person covered by
the blur (at least COVERED of their box inside blurred boxes)? Also the share of the picture that
is blurred (what the viewer loses). Candidates: our detector (motion against the segment's median
background), OpenCV's MOG2 background subtractor, and, when the installed OpenCV still has them
(4.x; OpenCV 5 removed them), the HOG people detector and the Haar full-body cascade.

Speed, in one run: frames per second of blur_mp4 and of a plain decode + encode with the same
encoder settings and output size, on each real clip and on a generated 720p and 1080p scene.

    .venv/bin/python bench/blur.py [--quick]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firmware.capture.synthetic import demo_scene  # noqa: E402
from firmware.playback import blur  # noqa: E402
from firmware.playback.detect import HOLD, Hold  # noqa: E402
from firmware.recording.segments import MOVFLAGS  # noqa: E402

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "video"
SEGMENT_SECONDS = 10            # the recorder's default segment length (storage.segment_seconds)
COVERED = 0.9                   # a person counts as blurred when 90% of their box is blurred

# The cyclist in video02.avi, checked by eye on 5x enlarged crops with a 10-pixel grid:
# frame -> (x0, y0, x1, y1) in the clip's 320x240 pixels. Before frame 75 nobody is in view.
# video03.avi (1700 frames, one checked per second) shows cars only: no person in view.
TRUTH = {
    "video02.avi": {
        75: (234, 210, 250, 240), 100: (243, 190, 259, 236), 125: (251, 174, 265, 218),
        150: (258, 160, 271, 199), 175: (265, 151, 278, 185), 200: (270, 138, 285, 171),
        225: (277, 129, 289, 160), 250: (279, 120, 291, 148), 275: (283, 111, 294, 138),
        300: (287, 100, 297, 128), 325: (289, 96, 298, 120), 350: (291, 91, 301, 113),
        375: (295, 86, 305, 108), 400: (297, 81, 305, 102), 425: (300, 78, 308, 97),
        450: (303, 72, 311, 93), 475: (304, 69, 310, 87), 500: (304, 65, 310, 83),
        525: (304, 63, 310, 81), 550: (305, 59, 311, 76), 575: (305, 55, 312, 73),
        600: (306, 53, 312, 69), 625: (304, 50, 310, 67), 650: (307, 49, 313, 64),
        675: (304, 46, 310, 60), 700: (304, 45, 309, 59), 725: (306, 43, 312, 57),
    },
    "video03.avi": {},
}


def segments(clip: Path, fps_out: int | None = None) -> Iterator[tuple[int, bytes]]:
    """(first frame number, MP4 bytes) of SEGMENT_SECONDS-long segments of a clip, written as
    the recorder writes them (H.264 in fragmented MP4), in memory."""
    with av.open(str(clip)) as src:
        stream = src.streams.video[0]
        rate = Fraction(stream.average_rate).limit_denominator(1001)
        per_segment = round(rate * SEGMENT_SECONDS)
        frames = [f.reformat(format="yuv420p") for f in src.decode(stream)]
    for first in range(0, len(frames), per_segment):
        yield first, encode(frames[first:first + per_segment], rate)


def encode(frames, rate, options=None) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4", options={"movflags": MOVFLAGS}) as out:
        video = out.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
        video.options = options or {"preset": "ultrafast", "crf": "18"}
        for n, frame in enumerate(frames):
            frame.pts, frame.time_base = n, 1 / rate
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return buf.getvalue()


# --- candidates: each gives the boxes blurred in each frame of one segment -------------------

def ours(data: bytes) -> Iterator[list]:
    w, h, _ = blur.view_size(data)
    for _, boxes in blur.frames_with_boxes(data, w, h):
        yield boxes


def mog2(data: bytes) -> Iterator[list]:
    """OpenCV's adaptive background subtractor, learning as the segment plays."""
    w, h, _ = blur.view_size(data)
    sub = cv2.createBackgroundSubtractorMOG2(history=120, varThreshold=25, detectShadows=False)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    hold = Hold()
    with av.open(io.BytesIO(data)) as c:
        for frame in c.decode(video=0):
            mask = sub.apply(frame.to_ndarray(format="gray"))
            mask = cv2.dilate(cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel), kernel,
                              iterations=2)
            yield from (b for _, b in hold.push(None, blobs(mask, w, h)))
    yield from (b for _, b in hold.drain())


def blobs(mask, w, h) -> list:
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    out = []
    for x, y, bw, bh, area in stats[1:n]:
        if area >= 12:
            p = max(5, 0.35 * bw), max(5, 0.35 * bh)
            out.append((int(max(0, x - p[0])), int(max(0, y - p[1])),
                        int(min(w, x + bw + p[0])), int(min(h, y + bh + p[1]))))
    return out


def still_image_detector(detect: Callable[[np.ndarray], list]):
    """A per-frame detector (HOG, Haar) on the frame enlarged 3x, boxes scaled back. It needs
    no other frame, so it runs on the frames `wanted` only (offsets in the segment)."""
    def run(data: bytes, wanted=None) -> Iterator[list]:
        with av.open(io.BytesIO(data)) as c:
            for k, frame in enumerate(c.decode(video=0)):
                if wanted is not None and k not in wanted:
                    yield []
                    continue
                big = cv2.resize(frame.to_ndarray(format="gray"), None, fx=3, fy=3,
                                 interpolation=cv2.INTER_CUBIC)
                yield [(x // 3, y // 3, (x + w) // 3 + 1, (y + h) // 3 + 1)
                       for x, y, w, h in detect(big)]
    return run


def candidates() -> dict[str, Callable]:
    found = {"ours (median background)": ours, "MOG2": mog2}
    if hasattr(cv2, "HOGDescriptor"):
        hog = cv2.HOGDescriptor()
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        found["HOG people (OpenCV 4)"] = still_image_detector(
            lambda img: list(hog.detectMultiScale(img, winStride=(8, 8), scale=1.05)[0]))
    if hasattr(cv2, "CascadeClassifier") and hasattr(cv2, "data") and \
            Path(cv2.data.haarcascades, "haarcascade_fullbody.xml").is_file():
        body = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades,
                                              "haarcascade_fullbody.xml")))
        found["Haar full body (OpenCV 4)"] = still_image_detector(
            lambda img: list(body.detectMultiScale(img, 1.05, 3)))
    return found


def covered(truth, boxes) -> float:
    """The share of the truth box inside the union of the blurred boxes."""
    x0, y0, x1, y1 = truth
    mask = np.zeros((y1 - y0, x1 - x0), bool)
    for bx0, by0, bx1, by1 in boxes:
        mask[max(0, by0 - y0):max(0, by1 - y0), max(0, bx0 - x0):max(0, bx1 - x0)] = True
    return float(mask.mean())


def quality() -> None:
    print(f"Quality: person covered when >= {COVERED:.0%} of their box is blurred; boxes held "
          f"{HOLD} frames either side; {SEGMENT_SECONDS}-s segments")
    for name in TRUTH:
        clip = CLIPS / name
        segs = list(segments(clip))
        truth = TRUTH[name]
        print(f"\n{name}: {len(truth)} frames with a person checked by eye")
        for label, detect in candidates().items():
            slow = "OpenCV 4" in label
            hits, misses, area, frames = 0, [], 0.0, 0
            t = time.perf_counter()
            for first, data in segs:
                if slow:                        # per-frame detectors: the checked frames only
                    wanted = {n - first for n in truth}
                    if not any(0 <= k < 600 for k in wanted):
                        continue
                    boxes_per_frame = detect(data, wanted)
                else:
                    wanted, boxes_per_frame = None, detect(data)
                for k, boxes in enumerate(boxes_per_frame):
                    n = first + k
                    if wanted is not None and k not in wanted:
                        continue
                    frames += 1
                    area += blurred_share(boxes, 320, 240)
                    if n in truth:
                        if covered(truth[n], boxes) >= COVERED:
                            hits += 1
                        else:
                            misses.append(n)
            spent = time.perf_counter() - t
            if not truth and slow:
                print(f"  {label:28s} not run: no person in view to check")
                continue
            person = f"{hits}/{len(truth)} covered, missed at {misses}" if truth else \
                "no person in view"
            print(f"  {label:28s} {person}; picture blurred {area / max(1, frames):.1%} "
                  f"on average over {frames} frames ({spent:.1f} s)")


def blurred_share(boxes, w, h) -> float:
    mask = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in boxes:
        mask[y0:y1, x0:x1] = True
    return float(mask.mean())


# --- speed ---------------------------------------------------------------------------------

def baseline(data: bytes) -> bytes:
    """Decode and encode with blur_mp4's encoder settings and output size, nothing else."""
    w, h, rate = blur.view_size(data)
    buf = io.BytesIO()
    with av.open(io.BytesIO(data)) as src, av.open(buf, "w", format="mp4") as out:
        video = out.add_stream("libx264", rate=rate.limit_denominator(1001))
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.options = dict(blur.ENCODER_OPTIONS)
        for frame in src.decode(video=0):
            frame = frame.reformat(width=w, height=h, format="yuv420p")
            frame.pict_type = av.video.frame.PictureType.NONE
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return blur.faststart(buf.getvalue())


def scene_segment(width: int, height: int, seconds: int) -> bytes:
    scene = demo_scene(width, height, 25.0)
    buf = np.empty((height * 3 // 2, width), np.uint8)
    frames = [av.VideoFrame.from_ndarray(scene.i420(i, buf).copy(), format="yuv420p")
              for i in range(25 * seconds)]
    return encode(frames, Fraction(25), {"preset": "ultrafast", "crf": "20", "g": "50"})


def speed(quick: bool) -> None:
    inputs = [(name, next(segments(CLIPS / name))[1]) for name in TRUTH]
    seconds = 4 if quick else SEGMENT_SECONDS
    inputs += [("scene 1280x720", scene_segment(1280, 720, seconds)),
               ("scene 1920x1080", scene_segment(1920, 1080, seconds))]
    print(f"\nSpeed (frames per second, best of 2, on this machine; output at most "
          f"{blur.VIEW_WIDTH} wide)")
    print(f"  {'input':18s} {'frames':>6s} {'out size':>9s} {'decode+encode':>14s} "
          f"{'blur regions':>13s} {'blur detect':>12s} {'ratio':>6s}")
    for name, data in inputs:
        w, h, _ = blur.view_size(data)
        frames = sum(1 for _ in av.open(io.BytesIO(data)).decode(video=0))
        runs = {"base": lambda: baseline(data),
                "regions": lambda: blur.blur_mp4(data, regions=[(0.1, 0.1, 0.3, 0.3)],
                                                 detect=False),
                "detect": lambda: blur.blur_mp4(data)}
        best = {k: float("inf") for k in runs}
        for _ in range(2):
            for key, run in runs.items():           # alternate, so machine noise hits all
                t = time.perf_counter()
                run()
                best[key] = min(best[key], time.perf_counter() - t)
        fps = {k: frames / v for k, v in best.items()}
        print(f"  {name:18s} {frames:6d} {f'{w}x{h}':>9s} {fps['base']:14.0f} "
              f"{fps['regions']:13.0f} {fps['detect']:12.0f} "
              f"{best['detect'] / best['base']:6.2f}")
    print("  ratio: time of blur with detection / time of decode+encode")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter generated scenes")
    parser.add_argument("--quality-only", action="store_true")
    parser.add_argument("--speed-only", action="store_true")
    args = parser.parse_args()
    if not args.speed_only:
        quality()
    if not args.quality_only:
        speed(args.quick)


if __name__ == "__main__":
    main()
