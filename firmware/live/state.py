"""What a live tile shows when it shows no picture: why the stream ended or cannot start.

The web process asks the recorder for its view of the cameras (`client.recorder_status`, the
`?status` line of the live socket) and combines it with the viewer's access. The states, in the
order they are checked:

- `expired`: the viewer's access ended (the stated reason's grant lapsed, the session or visit
  ended, or the delegation was revoked); a new purpose and reason is needed (R-01).
- `recorder-down`: the recorder does not answer on its live socket (stopped, crashed, or hung
  for longer than the status timeout).
- `camera-lost`: the recorder answers but this camera gives no picture: it is not recording
  (stopped, refused by art. 11), absent, or its newest frame is older than STALL_SECONDS.
- `live`: frames arrive.
"""

from __future__ import annotations

from collections.abc import Mapping

STALL_SECONDS = 5.0          # a camera whose newest frame is older than this gives no picture
LIVE, EXPIRED, RECORDER_DOWN, CAMERA_LOST = "live", "expired", "recorder-down", "camera-lost"


def tile_state(camera: str, *, allowed: bool, recorder: Mapping | None, now: float) -> str:
    """The state of `camera`'s tile: `allowed` is whether the viewer may still watch it now
    (session, role or delegation, and a granted reason); `recorder` is the recorder's status
    (None: it did not answer)."""
    if not allowed:
        return EXPIRED
    if recorder is None:
        return RECORDER_DOWN
    seen = recorder.get(camera)
    if not isinstance(seen, Mapping) or seen.get("state") != "recording":
        return CAMERA_LOST
    last = seen.get("last_frame")
    if not isinstance(last, (int, float)) or now - last > STALL_SECONDS:
        return CAMERA_LOST
    return LIVE
