"""How much data disk the cameras need for the retention period (hardware.md, "Storage for 28
days"; issue 14 item 5).

Per camera, for `days` days (R-40: 28):

    seconds recorded = days x 86400 x recorded share
    recorded share   = min(1, motion share x (1 + (pre-roll + keyframe/2 + post-roll) / E))
    video bytes      = bitrate (kbit/s) / 8 x 1000 x seconds recorded

`motion share` is the share of the time in which the detector sees motion. Motion comes in
spells of E = EVENT_SECONDS on average (a person crossing the hall); every spell is recorded
with its pre-roll (which starts at a keyframe, so half a keyframe interval more on average) and
its post-roll (firmware/recording/recorder.py). Spells closer together than the post-roll
merge into one event, so the count is an upper bound, never an underestimate.

On top of the video the store writes (measured, see tests/test_sizing.py):
- the MP4 container of each segment: its header (ftyp, moov with the tags of R-30, mfra), a
  fragment header per keyframe and 4 bytes per frame (firmware/recording/segments.py);
- the encryption (firmware/storage/segcrypt.py): a header per segment and a 16-byte tag per
  256 KiB chunk, plus the final chunk's;
- the index (firmware/storage/index.py): the rows of `segments`, `segment_hashes` and
  `segment_clock` with their indexes per segment, and an `events` row per event;
- the logbooks (R-50, R-51), which grow with use, not with footage, and are kept for years:
  LOGBOOK_ENTRIES_PER_DAY entries of at most LOGBOOK_ENTRY_BYTES for LOGBOOK_YEARS.
The store erases the oldest footage once the disk is fuller than `high_water_percent` (R-42,
EncryptedStore.ensure_capacity), so the disk must be that much larger: the free-space margin.
The store counts the disk as the file system reports it (total minus what may still be
written), so what the file system takes for itself counts as full too: on ext4 made with
mkfs.ext4's defaults the 5 % reserved for root, and the inode tables, journal and bitmaps, which
the file system's size (statvfs) already leaves out: FS_OVERHEAD_PERCENT. Measured on empty
ext4 file systems (mkfs.ext4 defaults, e2fsprogs 1.47) of 5 GiB to 2,000 GiB, the room below a
90 % mark was 81.8 % to 83.5 % of the disk; 1 GiB gave 79 %, smaller than any data disk here.
So the disk needed is the store / (high water - reserve - overhead):

    disk = store x 100 / (high_water_percent - FS_RESERVE_PERCENT - FS_OVERHEAD_PERCENT)

Sizes are in GB of 10^9 bytes, as disks are sold.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from firmware.config import CameraConfig, StorageConfig
from firmware.i18n import _
from firmware.storage.segcrypt import CHUNK_SIZE, TAG, Header

GB = 10**9
DAY = 86400
EVENT_SECONDS = 20.0          # average spell of motion (assumption, see the docstring)

# The MP4 container around the H.264 stream, measured on segments of the synthetic camera
# (fragmented MP4, a fragment per keyframe): ftyp 28 + moov 1325 + mfra 238 bytes per segment.
MP4_SEGMENT_BYTES = 1600
MP4_FRAGMENT_BYTES = 112      # moof without its sample table (about 104) + the mdat header (8)
MP4_FRAME_BYTES = 4           # the sample size in the trun box, per frame
# The encryption: the segment header with a device id of up to 64 characters, a tag per chunk.
ENCRYPTION_HEADER_BYTES = len(Header("0" * 32, 0, "d" * 64).pack())
# The index per segment: its rows in segments (about 280 bytes), segment_hashes (about 170),
# segment_clock (about 60) and their six indexes (about 150), in B-tree pages that are about
# three quarters full; per event its row and index entry.
INDEX_SEGMENT_BYTES = 1024
INDEX_EVENT_BYTES = 256
# The logbooks: an entry (hashes and MAC 192 bytes, who, what, why, details) is rarely above
# 1 KB, a configuration change's up to 2 KB; 200 entries a day is a busy town hall (logins,
# views, requests); they are kept for years, 10 years reserved.
LOGBOOK_ENTRY_BYTES = 2048
LOGBOOK_ENTRIES_PER_DAY = 200
LOGBOOK_YEARS = 10
# What ext4 takes of a disk (mkfs.ext4's defaults), counted by the store as full (R-42).
FS_RESERVE_PERCENT = 5        # reserved blocks for root (mkfs.ext4 -m 5)
FS_OVERHEAD_PERCENT = 4       # inode tables, journal, bitmaps (3.2 % measured at 5 GiB)


@dataclass(frozen=True)
class CameraNeed:
    """What one camera stores in `days` days."""
    camera: str
    width: int
    height: int
    fps: int
    bitrate_kbps: int
    recorded_share: float
    seconds: float          # recorded
    events: float
    segments: float
    video_bytes: int
    container_bytes: int
    encryption_bytes: int
    index_bytes: int

    @property
    def bytes(self) -> int:
        return self.video_bytes + self.container_bytes + self.encryption_bytes + self.index_bytes

    def to_json(self) -> dict:
        return {"camera": self.camera, "width": self.width, "height": self.height,
                "fps": self.fps, "bitrate_kbps": self.bitrate_kbps,
                "recorded_share": round(self.recorded_share, 4),
                "seconds_recorded": round(self.seconds), "events": round(self.events),
                "segments": round(self.segments), "video_bytes": self.video_bytes,
                "container_bytes": self.container_bytes,
                "encryption_bytes": self.encryption_bytes, "index_bytes": self.index_bytes,
                "bytes": self.bytes, "gb": round(self.bytes / GB, 1)}


@dataclass(frozen=True)
class Sizing:
    """The data disk a device needs: its cameras, the logbooks and the free-space margin."""
    cameras: tuple[CameraNeed, ...]
    motion_share: float
    days: int
    logbook_bytes: int
    high_water_percent: int

    @property
    def store_bytes(self) -> int:
        """What the store holds at most: footage with its overheads, the index, the logbooks."""
        return sum(c.bytes for c in self.cameras) + self.logbook_bytes

    @property
    def usable_percent(self) -> int:
        """The share of a disk the store may fill: below its high-water mark, less what the
        file system takes for itself (counted as full by the store, R-42)."""
        return self.high_water_percent - FS_RESERVE_PERCENT - FS_OVERHEAD_PERCENT

    @property
    def disk_bytes(self) -> int:
        """The disk size at which the store stays below its high-water mark (R-42)."""
        return -(-self.store_bytes * 100 // self.usable_percent)

    @property
    def margin_bytes(self) -> int:
        return self.disk_bytes - self.store_bytes

    def to_json(self) -> dict:
        return {"motion_share": self.motion_share, "days": self.days,
                "event_seconds": EVENT_SECONDS,
                "cameras": [c.to_json() for c in self.cameras],
                "logbook_bytes": self.logbook_bytes, "store_bytes": self.store_bytes,
                "high_water_percent": self.high_water_percent,
                "filesystem_percent": FS_RESERVE_PERCENT + FS_OVERHEAD_PERCENT,
                "margin_bytes": self.margin_bytes, "disk_bytes": self.disk_bytes,
                "disk_gb": round(self.disk_bytes / GB, 1)}


def recorded_share(cam: CameraConfig, motion_share: float) -> float:
    """The share of the time that is recorded: motion with its pre- and post-roll."""
    if not 0.0 <= motion_share <= 1.0:
        raise ValueError(_("the share of time with motion is a fraction from 0 to 1, not "
                           "%(share)s", share=motion_share))
    extra = cam.preroll_seconds + cam.keyframe_seconds / 2 + cam.postroll_seconds
    return min(1.0, motion_share * (1 + extra / EVENT_SECONDS))


def camera_need(cam: CameraConfig, motion_share: float, days: int = 28,
                storage: StorageConfig = StorageConfig()) -> CameraNeed:
    share = recorded_share(cam, motion_share)
    seconds = days * DAY * share
    window = EVENT_SECONDS + cam.preroll_seconds + cam.keyframe_seconds / 2 + cam.postroll_seconds
    events = seconds / window
    # A segment ends at the first keyframe after segment_seconds; each event ends in a shorter one.
    segments = seconds / storage.segment_seconds + events
    video = cam.bitrate_kbps * 1000 / 8 * seconds
    container = (segments * MP4_SEGMENT_BYTES + seconds / cam.keyframe_seconds * MP4_FRAGMENT_BYTES
                 + seconds * cam.fps * MP4_FRAME_BYTES)
    chunks = (video + container) / CHUNK_SIZE + segments
    encryption = segments * ENCRYPTION_HEADER_BYTES + chunks * TAG
    index = segments * INDEX_SEGMENT_BYTES + events * INDEX_EVENT_BYTES
    return CameraNeed(cam.id, cam.width, cam.height, cam.fps, cam.bitrate_kbps, share, seconds,
                      events, segments, round(video), round(container), round(encryption),
                      round(index))


def stored_bytes_per_second(cam: CameraConfig, storage: StorageConfig = StorageConfig()) -> float:
    """Bytes of segment files (video, container, encryption) per second recorded, without the
    index: what tests/test_sizing.py compares with a real recording."""
    need = camera_need(cam, 1.0, 1, storage)
    return (need.video_bytes + need.container_bytes + need.encryption_bytes) / need.seconds


def logbook_bytes() -> int:
    return LOGBOOK_ENTRY_BYTES * LOGBOOK_ENTRIES_PER_DAY * 365 * LOGBOOK_YEARS


def plan(cameras: Iterable[CameraConfig], motion_share: float, days: int = 28,
         storage: StorageConfig = StorageConfig()) -> Sizing:
    """The sizing of a device with these cameras (cfg.cameras) and storage settings."""
    needs = tuple(camera_need(cam, motion_share, days, storage) for cam in cameras)
    return Sizing(needs, motion_share, days, logbook_bytes(), storage.high_water_percent)


def needed_bytes(cameras: Iterable[CameraConfig], motion_share: float, days: int = 28,
                 storage: StorageConfig = StorageConfig()) -> int:
    """The size of data disk these cameras need for `days` days of footage (R-40), with the
    store's overheads, the logbooks and the free-space margin of the high-water mark (R-42)."""
    return plan(cameras, motion_share, days, storage).disk_bytes


@dataclass(frozen=True)
class DiskCheck:
    """Whether the filesystem of data_dir holds a sizing."""
    path: Path              # the directory measured (data_dir, or its nearest existing parent)
    total: int
    other_bytes: int        # used by anything but the store itself (the system, other files)
    room: int               # what the store may fill: total x high water - other_bytes
    needed: int             # the store's bytes

    @property
    def holds(self) -> bool:
        return self.room >= self.needed

    def to_json(self) -> dict:
        return {"path": str(self.path), "total_bytes": self.total,
                "other_bytes": self.other_bytes, "room_bytes": self.room,
                "needed_bytes": self.needed, "holds": self.holds}


def _tree_bytes(root: Path) -> int:
    """Bytes on disk of the files under root (st_blocks, as the filesystem counts them)."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except FileNotFoundError:        # a segment erased while we count
                pass
    return total


def check_disk(data_dir: Path, sizing: Sizing) -> DiskCheck:
    """Whether the disk of data_dir holds the store: what is used by other things stays, the
    store's own files are counted as free (they are the ones it replaces)."""
    path = Path(data_dir).absolute()
    while not path.exists():
        path = path.parent
    usage = shutil.disk_usage(path)
    own = _tree_bytes(path) if path == Path(data_dir).absolute() else 0
    other = max(0, usage.total - usage.free - own)
    room = usage.total * sizing.high_water_percent // 100 - other
    return DiskCheck(path, usage.total, other, room, sizing.store_bytes)
