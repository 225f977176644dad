"""Privacy masks (R-02) and the burned-in caption (R-30) on I420 frames."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np

from firmware.capture.caption import Caption, ascii_text, caption_text
from firmware.capture.frames import blank_i420, i420_planes
from firmware.capture.privacy import BLACK_Y, PrivacyMask

AMS = ZoneInfo("Europe/Amsterdam")


def test_mask_blacks_out_exactly_the_polygon_in_all_planes():
    buf = np.full((240 * 3 // 2, 320), 200, np.uint8)
    planes = i420_planes(buf, 320, 240)
    PrivacyMask([[(0.25, 0.25), (0.5, 0.25), (0.5, 0.5), (0.25, 0.5)]], 320, 240).apply(planes)
    assert (planes.y[60:121, 80:161] == BLACK_Y).all()
    assert (planes.y[:59] == 200).all() and (planes.y[:, 162:] == 200).all()
    assert (planes.u[30:60, 40:80] == 128).all() and (planes.v[30:60, 40:80] == 128).all()
    assert (planes.u[:, 82:] == 200).all()


def test_mask_works_on_padded_strides_like_picamera2_buffers():
    buf = np.full((240 * 3 // 2, 384), 200, np.uint8)        # stride 384 for a 320 wide image
    planes = i420_planes(buf, 320, 240)
    PrivacyMask([[(0, 0), (1, 0), (1, 1), (0, 1)]], 320, 240).apply(planes)
    assert (planes.y == BLACK_Y).all() and (planes.u == 128).all() and (planes.v == 128).all()
    assert (buf[:240, 320:] == 200).all()                    # padding untouched


def test_triangle_mask_and_no_masks():
    buf = blank_i420(100, 100, luma=180)
    mask = PrivacyMask([[(0, 0), (1, 0), (0, 1)]], 100, 100)
    mask.apply(i420_planes(buf, 100, 100))
    assert buf[5, 5] == BLACK_Y and buf[95, 95] == 180
    assert not PrivacyMask([], 100, 100)


def test_caption_shows_local_date_time_and_location():
    t = 1777033800.0      # 2026-04-24 12:30:00 UTC
    assert caption_text(t, "Hal", AMS) == "2026-04-24 14:30:00 CEST  Hal"
    assert caption_text(t + 200 * 86400, "Hal", AMS).startswith("2026-11-10 13:30:00 CET")
    assert ascii_text("Raadzaal Ëindhoven") == "Raadzaal Eindhoven"


def test_caption_is_drawn_and_redrawn_each_second():
    buf = blank_i420(640, 480, luma=120)
    cap = Caption("Gemeentehuis Soest, hoofdingang", 640, 480, AMS)
    cap.apply(i420_planes(buf, 640, 480), 1777033800.0)
    w, h = cap.box
    assert 200 < w <= 640 and 8 < h < 60
    box = buf[:h, :w]
    assert (box == 16).mean() > 0.5 and (box > 200).sum() > 300   # text on a black box
    assert (buf[h + 2:480, :] == 120).all()                       # nothing else touched
    first = box.copy()
    cap.apply(i420_planes(buf, 640, 480), 1777033800.5)
    assert (buf[:h, :w] == first).all()                           # same second, same strip
    cap.apply(i420_planes(buf, 640, 480), 1777033801.0)
    assert (buf[:h, :w] != first).any()
