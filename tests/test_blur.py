"""Blurring for an art. 10 viewing (issue 10, procedures item 2; art. 10 lid 4-5, R-73).

Real parts only: segments cut from the shared real clip with PyAV in the recorder's own MP4
layout, a segment the real `nvr ingest` stored and `nvr segment play` decrypted, the real
ffprobe, and the person in the clip at a position checked by eye (docs/recording.md "Vervagen").
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from conftest import ROOT, VIDEO02, decrypt_all, nvr, recordings, shared_clip, staff, write_config
from firmware.playback.blur import BlurError, blur_mp4
from firmware.playback.detect import HOLD, Hold
from firmware.recording.segments import MOVFLAGS

FIRST = 100                     # the test segment is frames 100..349 of video02 (10 s)
CYCLIST = {125: (251, 174, 265, 218), 200: (270, 138, 285, 171)}   # x0, y0, x1, y1, by eye


def cut_segment(clip: Path, first: int, count: int, *, audio: bool = False) -> bytes:
    """Frames first..first+count-1 of a real clip as a segment like the recorder writes:
    H.264 in fragmented MP4 (segments.MOVFLAGS); with `audio`, a sine track besides."""
    buf = io.BytesIO()
    with av.open(str(clip)) as src, av.open(buf, "w", format="mp4",
                                             options={"movflags": MOVFLAGS}) as out:
        stream = src.streams.video[0]
        video = out.add_stream("libx264", rate=25)
        video.width, video.height = stream.codec_context.width, stream.codec_context.height
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "18", "g": "25"}
        sound = out.add_stream("aac", rate=48000) if audio else None
        n = 0
        for i, frame in enumerate(src.decode(stream)):
            if i < first:
                continue
            if n == count:
                break
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = n, Fraction(1, 25)
            out.mux(video.encode(frame))
            n += 1
        out.mux(video.encode(None))
        if sound is not None:
            t = np.arange(48000 * count // 25) / 48000
            samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for k in range(0, len(samples) - 1024, 1024):
                frame = av.AudioFrame.from_ndarray(samples[None, k:k + 1024], format="fltp",
                                                   layout="mono")
                frame.sample_rate, frame.pts = 48000, k
                out.mux(sound.encode(frame))
            out.mux(sound.encode(None))
    return buf.getvalue()


def lumas(data: bytes) -> list[np.ndarray]:
    with av.open(io.BytesIO(data)) as c:
        return [f.to_ndarray(format="gray") for f in c.decode(video=0)]


def sharpness(luma: np.ndarray, box) -> float:
    """Variance of the Laplacian inside box: high where there is detail, near 0 when blurred."""
    x0, y0, x1, y1 = box
    return float(cv2.Laplacian(luma[y0:y1, x0:x1].astype(np.float64), cv2.CV_64F).var())


def probe(data: bytes, tmp_path: Path) -> dict:
    path = tmp_path / "probe.mp4"                     # the test's copy, for ffprobe only
    path.write_bytes(data)
    out = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_format",
                          "-show_streams", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def segment() -> bytes:
    return cut_segment(shared_clip(VIDEO02), FIRST, 250)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> bytes:
    """One segment of video02 as the recorder stores it: real `nvr ingest`, decrypted by the
    real `nvr segment play` (caption burned in, fragmented MP4)."""
    tmp = tmp_path_factory.mktemp("ingest")
    config = write_config(tmp, storage="segment_seconds = 4")
    staff(config)
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    result = nvr("--config", str(config), "ingest", str(shared_clip(VIDEO02)), "--camera",
                 "cam", "--start", start.isoformat())
    assert result.returncode == 0, result.stderr
    rows = recordings(config)
    assert rows, "nvr ingest stored no segment of video02"
    return decrypt_all(config, rows[:1], tmp / "plain")[0].read_bytes()


def test_art10_lid4_blurred_stored_segment_plays_in_a_browser_format(ingested, tmp_path):
    out = blur_mp4(ingested)
    info = probe(out, tmp_path)
    source = probe(ingested, tmp_path)
    assert [s["codec_type"] for s in info["streams"]] == ["video"]            # no audio
    video = info["streams"][0]
    assert (video["codec_name"], video["pix_fmt"]) == ("h264", "yuv420p")
    assert video["nb_read_frames"] == source["streams"][0]["nb_read_frames"]
    assert abs(float(info["format"]["duration"]) - float(source["format"]["duration"])) < 0.05
    assert out.index(b"moov") < out.index(b"mdat")               # faststart: index in front
    assert len(lumas(out)) == int(video["nb_read_frames"])       # PyAV decodes every frame


def test_art10_lid4_audio_in_the_input_never_reaches_the_viewer(tmp_path):
    data = cut_segment(shared_clip(VIDEO02), FIRST, 50, audio=True)
    assert "audio" in [s["codec_type"] for s in probe(data, tmp_path)["streams"]]
    out = blur_mp4(data, detect=False)
    assert [s["codec_type"] for s in probe(out, tmp_path)["streams"]] == ["video"]


def test_art10_lid4_drawn_region_is_blurred_and_the_rest_unchanged(segment):
    region = (0.25, 0.25, 0.5, 0.5)                   # the middle of the road, always textured
    out = lumas(blur_mp4(segment, regions=[region], detect=False))
    src = lumas(segment)
    assert len(out) == len(src) == 250
    inside = (80 + 4, 60 + 4, 240 - 4, 180 - 4)      # 320x240: x 80..240, y 60..180
    for k in (0, 60, 125, 249):
        assert sharpness(out[k], inside) < 0.1 * sharpness(src[k], inside), k
        outside = np.ones(src[k].shape, bool)
        outside[56:184, 76:244] = False
        diff = np.abs(out[k].astype(int) - src[k].astype(int))[outside]
        assert diff.mean() < 3.0, (k, diff.mean())   # only the re-encoding's loss


def test_art10_lid4_the_person_in_the_real_clip_is_detected_and_blurred(segment):
    src = lumas(segment)
    plain = lumas(blur_mp4(segment, detect=False))
    blurred = lumas(blur_mp4(segment, detect=True))
    for frame, box in CYCLIST.items():
        k = frame - FIRST
        before = sharpness(src[k], box)
        assert sharpness(plain[k], box) > 0.5 * before, frame      # without detection: sharp
        # The detector found them: a small box is only a few blocks wide, so the block means
        # smooth ramps leave more Laplacian than in the large drawn region.
        assert sharpness(blurred[k], box) < 0.2 * before, frame


def test_art10_lid4_a_box_is_held_over_frames_where_the_detector_misses():
    hold, found = Hold(), {}
    for i in range(40):
        for frame, boxes in hold.push(i, [(0, 0, 2, 2)] if i == 20 else []):
            found[frame] = boxes
    for frame, boxes in hold.drain():
        found[frame] = boxes
    assert sorted(found) == list(range(40))
    covered = [i for i, boxes in found.items() if boxes]
    assert covered == list(range(20 - HOLD, 20 + HOLD + 1))


@pytest.fixture
def dutch():
    """A BlurError is read on the inzage page, in Dutch: the catalogue's language as a page
    would set it (the command line reads the same message in English)."""
    from firmware import i18n
    i18n.set_cli_locale("nl")
    yield
    i18n.set_cli_locale(None)


@pytest.mark.parametrize("data", [b"", b"dit is geen video" * 100, b"\x00\x00\x00\x18ftypmp42"])
def test_art10_lid4_input_that_is_not_video_gives_a_dutch_error(data, dutch):
    with pytest.raises(BlurError) as err:
        blur_mp4(data)
    assert "beeldfragment" in err.value.message and "technisch beheerder" in err.value.message


def test_art10_lid4_an_encoder_failure_is_not_blamed_on_the_footage(segment, monkeypatch, dutch):
    from firmware.playback import blur
    monkeypatch.setitem(blur.ENCODER_OPTIONS, "preset", "no-such-preset")
    with pytest.raises(BlurError) as err:
        blur_mp4(segment, detect=False)
    assert "videocodering" in err.value.message and "niet veranderd" in err.value.message


def test_art10_lid4_audio_only_file_gives_a_dutch_error(dutch):
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        sound = out.add_stream("aac", rate=48000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                           layout="mono")
        frame.sample_rate, frame.pts = 48000, 0
        out.mux(sound.encode(frame))
        out.mux(sound.encode(None))
    with pytest.raises(BlurError, match="geen videobeeld"):
        blur_mp4(buf.getvalue())


@pytest.mark.parametrize("region", [(0.5, 0.5, 0.6, 0.1), (-0.1, 0, 0.5, 0.5), (0, 0, 0, 0.5),
                                    ("a", 0, 1, 1), (0, 0, 1)])
def test_art10_lid4_region_outside_the_frame_gives_a_dutch_error(segment, region, dutch):
    with pytest.raises(BlurError, match="gebied"):
        blur_mp4(segment, regions=[region])


def test_art10_lid4_blurred_footage_is_never_written_to_disk(segment, tmp_path):
    """The player path works in memory: a run in an empty working and temporary directory
    leaves both empty, and the MP4 comes out of the pipe."""
    work, temp = tmp_path / "work", tmp_path / "tmp"
    work.mkdir(), temp.mkdir()
    code = ("import sys; from firmware.playback.blur import blur_mp4; "
            "sys.stdout.buffer.write(blur_mp4(sys.stdin.buffer.read(), regions=[(0, 0, .5, .5)]))")
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], input=segment, capture_output=True,
                            cwd=work, env=env, timeout=300)
    assert result.returncode == 0, result.stderr.decode()
    assert len(lumas(result.stdout)) == 250
    assert list(work.iterdir()) == [] and list(temp.iterdir()) == []


def scene_segment(tmp_path: Path, width: int, height: int, movers, seconds: int = 4) -> bytes:
    from conftest import render_scene
    from firmware.capture.synthetic import Scene
    scene = Scene(width, height, 25, movers, noise=2, clock=False)
    return render_scene(scene, 25 * seconds, tmp_path / "scene.mp4").read_bytes()


def box_change(out: np.ndarray, src: np.ndarray, box) -> float:
    x0, y0, x1, y1 = box
    return float(np.abs(out[y0:y1, x0:x1].astype(int) - src[y0:y1, x0:x1].astype(int)).mean())


def test_art10_lid4_someone_standing_still_is_missed_and_a_drawn_region_covers_them(tmp_path):
    """The documented limit of the detector (docs/recording.md "Vervagen"): what does not move
    is background. A walker is blurred, a figure standing still all segment is not, until the
    beheerder draws a region over it."""
    from firmware.capture.synthetic import Mover
    still = Mover(0, 99, 0.6, 0.4, 0.6, 0.4, 0.08, 0.3, luma=30)
    walker = Mover(0, 4, 0.05, 0.5, 0.65, 0.5, 0.08, 0.3, luma=30)   # 192 pixels in 4 s
    data = scene_segment(tmp_path, 320, 240, [still, walker])
    src = lumas(data)
    detected = lumas(blur_mp4(data))
    drawn = lumas(blur_mp4(data, regions=[(0.55, 0.35, 0.2, 0.4)]))
    k = 50                                                           # t = 2 s
    still_box = (192 - 4, 96 - 4, 192 + 26 + 4, 96 + 72 + 4)        # 0.6 * 320, 0.4 * 240
    walker_box = (112 - 4, 120 - 4, 112 + 26 + 4, 120 + 72 + 4)     # (0.05 + 0.3) * 320
    assert box_change(detected[k], src[k], walker_box) > 10         # found and blurred
    assert box_change(detected[k], src[k], still_box) < 3           # missed: left as it is
    assert box_change(drawn[k], src[k], still_box) > 10             # the region blurs it


def test_art10_lid4_footage_wider_than_960_is_shown_960_wide(tmp_path):
    from firmware.capture.synthetic import Mover
    data = scene_segment(tmp_path, 1280, 720, [Mover(0, 9, 0.1, 0.3, 0.7, 0.3, 0.1, 0.2, 20)],
                         seconds=1)
    out = blur_mp4(data, regions=[(0, 0, 0.5, 0.5)])
    with av.open(io.BytesIO(out)) as c:
        stream = c.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (960, 540)
        assert sum(1 for _ in c.decode(stream)) == 25


def test_art10_lid4_chromium_plays_the_blurred_segment(segment, tmp_path):
    """The real browser of the secured room's computer plays what blur_mp4 returns."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a dev "
                                   "dependency: make test installs it")
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        pytest.fail(f"{chromium} is missing: apt-get install -y chromium (.ci/run installs it)")
    (tmp_path / "blurred.mp4").write_bytes(blur_mp4(segment))   # the test's copy, for the page
    (tmp_path / "play.html").write_text('<video id="v" src="blurred.mp4" muted></video>')
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium),
                                    args=["--headless", "--no-sandbox", "--disable-gpu",
                                          "--allow-file-access-from-files"])
        page = browser.new_page()
        page.goto((tmp_path / "play.html").as_uri())
        state = page.evaluate("""() => new Promise(done => {
            const v = document.getElementById('v');
            v.onerror = () => done({error: v.error ? v.error.code : 'unknown'});
            v.onended = () => done({ended: true, duration: v.duration, width: v.videoWidth});
            v.playbackRate = 4;
            v.play().catch(e => done({error: String(e)}));
        })""")
        browser.close()
    assert state == {"ended": True, "duration": 10, "width": 320}, state
