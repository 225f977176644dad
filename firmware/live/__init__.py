"""Live view: JPEG frames of the masked, captioned picture, made only while someone watches.

The recorder owns the cameras, so it makes the frames (`tap.LiveTap`) and serves them on a local
Unix socket (`hub.LiveHub`); the web process reads them (`client.live_frames`) and hands them to
the browser as MJPEG. Nothing here is stored.
"""

import struct

# Each frame on the live socket: capture time (float64) and JPEG length (uint32), then the JPEG.
HEADER = struct.Struct("!dI")
