"""The evidence package (issue 13 item 3): a folder anyone can verify with standard tools.

    <camera>_<start>.mp4     one per camera and window (export/remux.py)
    manifest.json            every other file with its SHA-256, the device, camera, window (UTC
                             and local), clock state, gaps, request, operator, recipient, export
                             id, and per MP4 the source segments with their recording-time hashes
    manifest.sig             Ed25519 over manifest.json's bytes, by the device's signing key
    device-pubkey.pem        that key's public half; its fingerprint is in manifest.json's
                             `device.fingerprint` and printed on the declaration (out of band)
    manifest.sha256          every file but itself, in the format `sha256sum -c` reads
    LEESMIJ.txt, README.txt  how to play and verify it, and the time-accuracy statement

`build_package` writes the files into whatever the target opens (a folder, the stick's files
that exportd opened, or memory files for the 7z archive); the target makes it atomic: written
into `.<name>.part`, every file synced, renamed only when complete (the directory synced
after), so a half-written package never looks valid.
`verify` checks a package with the same rules a recipient's tools apply.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import (Encoding, PublicFormat,
                                                          load_pem_public_key)

from firmware.export.drain import DrainingFile
from firmware.export.remux import remux
from firmware.i18n import N_, _, dutch
from firmware.storage.clockrecord import clocks_of, summary as clock_summary
from firmware.storage.durable import fsync_dir

FORMAT = "nvr-evidence-package/1"
SUMS = "manifest.sha256"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PUBKEY = "device-pubkey.pem"

GUIDE = N_(
    "Evidence package %(export)s of camera %(camera)s (%(location)s), request %(reference)s\n"
    "Made by device %(device)s for %(recipient)s by %(operator)s.\n\n"
    "Playing: %(video)s plays in VLC and in the Windows media player. The pictures are the "
    "recorded ones, copied without re-encoding.\n\n"
    "Checking that nothing changed, with standard tools only:\n"
    "  sha256sum -c manifest.sha256\n"
    "  openssl pkeyutl -verify -pubin -inkey device-pubkey.pem -rawin -in manifest.json "
    "-sigfile manifest.sig\n"
    "The first checks every file, the second that manifest.json was signed by the device. "
    "Compare the key's fingerprint (openssl pkey -pubin -in device-pubkey.pem -outform DER | "
    "sha256sum) with the fingerprint on the signed declaration: %(fingerprint)s.\n"
    "manifest.json lists, per video, the recorded segments and the SHA-256 each had when it "
    "was recorded, so the recording can be shown unchanged since recording time.\n\n"
    "Time accuracy: the times are the device's clock, in UTC and in Dutch local time. When "
    "the footage was recorded the clock was %(synced)s. Gaps in the recording are listed "
    "in manifest.json under 'gaps'.\n")
SYNCED = N_("synchronised with a time server (NTP) for every segment")
NOT_SYNCED = N_("NOT confirmed synchronised for every segment: treat the times with care")
ACCURACY = N_("While it was recorded, the kernel reported a clock offset of at most "
              "%(offset)s s and an estimated error of at most %(error)s s (adjtimex, read when "
              "each segment began).\n")
NO_READING = N_("No measured clock offset was recorded for this footage (for instance a file "
                "that was imported): its times are as the recorder was told.\n")


_SUM_LINE = re.compile(r"[0-9a-f]{64}  [^/\x00-\x1f]+")


class PackageError(Exception):
    """The package could not be written; nothing that verifies was left behind."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _times(t: float, zone: ZoneInfo) -> dict:
    return {"utc": datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds"),
            "local": datetime.fromtimestamp(t, zone).isoformat(timespec="milliseconds")}


def _accuracy(clock: dict, in_dutch: bool) -> str:
    """The time-accuracy statement's measured part, in English or Dutch (decimal comma)."""
    if clock["offset_seconds"] is None:
        return dutch(NO_READING) if in_dutch else NO_READING
    words = {"offset": f"{clock['offset_seconds']:.4f}",
             "error": f"{clock['estimated_error_seconds']:.4f}"}
    if in_dutch:
        return dutch(ACCURACY, **{k: v.replace(".", ",") for k, v in words.items()})
    return ACCURACY % words


def _write(f: BinaryIO, data: bytes) -> None:
    f.write(data)
    f.flush()


def sha256_of(f: BinaryIO) -> tuple[str, int]:
    """SHA-256 and size of what was written to `f`, read back from the medium."""
    f.flush()
    f.seek(0)
    digest, size = hashlib.sha256(), 0
    for block in iter(lambda: f.read(1 << 20), b""):
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


def video_name(camera: str, start: float, zone: str = "Europe/Amsterdam") -> str:
    return f"{camera}_{datetime.fromtimestamp(start, ZoneInfo(zone)):%Y%m%d-%H%M%S}.mp4"


def package_files(video: str) -> list[str]:
    """Every file of a package, known before it is written (exportd opens them first)."""
    return [video, PUBKEY, "README.txt", "LEESMIJ.txt", MANIFEST, SIGNATURE, SUMS]


def write_package(dest: Path, name: str, **kwargs) -> dict:
    """`build_package` into the folder `dest/name`: written into `.<name>.part`, every file
    synced, renamed only when complete; nothing is left when it fails."""
    final = Path(dest) / name
    if final.exists():
        raise PackageError(_("%(folder)s exists already: choose another target folder",
                             folder=final))
    tmp = Path(dest) / f".{name}.part"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    opened: list[BinaryIO] = []

    def open_file(n: str) -> BinaryIO:
        opened.append(open(tmp / n, "w+b"))
        return opened[-1]
    try:
        written = build_package(open_file, **kwargs)
        for f in opened:
            f.flush()
            os.fsync(f.fileno())
            f.close()
        fsync_dir(tmp)
        os.rename(tmp, final)
        fsync_dir(Path(dest))
    except BaseException:
        for f in opened:
            f.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {**written, "path": str(final)}


def build_package(open_file: Callable[[str], BinaryIO], *, store, signer, segments: list[dict],
                  recorded: dict[str, dict], info: dict, zone: str = "Europe/Amsterdam",
                  read: Callable[[str], Iterable[bytes]] | None = None) -> dict:
    """Write the package's files (`package_files`) from `segments` (index rows of one camera,
    oldest first), each into `open_file(name)` (a new, readable and seekable file: the target
    keeps, syncs and closes it); `recorded` maps segment id to its recording-time hash; `info`
    holds export, reference, operator, recipient, device, camera, camera_name, location,
    start, end; `read(id)` (default store.read_segment) yields a segment's plaintext. Returns
    {files, bytes, manifest_sha256, video}."""
    tz = ZoneInfo(zone)
    video = video_name(info["camera"], segments[0]["start"], zone)
    sizes: dict[str, tuple[str, int]] = {}
    video_file = DrainingFile(open_file(video))     # the stick writes while we remux
    try:
        out = remux(segments, read or store.read_segment, video_file, info["start"],
                    info["end"])
    finally:
        video_file.join()
    video_file.wait()
    for sid, now in out.sources.items():       # unchanged since recording, or no package
        then = recorded.get(sid, {}).get("sha256")
        if then is not None and then != now:
            raise PackageError(_("segment %(segment)s no longer has the SHA-256 it had "
                                 "when it was recorded (%(then)s, now %(now)s): it was "
                                 "changed on the device; nothing was exported; report "
                                 "this to the privacy officer", segment=sid, then=then,
                                 now=now))
    sizes[video] = sha256_of(out.path)

    def put(n: str, data: bytes) -> None:
        f = open_file(n)
        _write(f, data)
        sizes[n] = (hashlib.sha256(data).hexdigest(), len(data))
    synced = all(s["clock_synced"] for s in segments)
    with store.lock:
        clocks = clocks_of(store.db, [s["id"] for s in segments])
    clock = clock_summary(segments, clocks, synced)
    put(PUBKEY, signer.public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    words = {"export": info["export"], "camera": info["camera_name"],
             "location": info["location"], "reference": info["reference"],
             "device": info["device"], "recipient": info["recipient"],
             "operator": info["operator"], "video": video,
             "fingerprint": signer.fingerprint}
    put("README.txt", (GUIDE % {**words, "synced": SYNCED if synced else NOT_SYNCED}
                       + _accuracy(clock, False)).encode())
    put("LEESMIJ.txt", (dutch(GUIDE, **words, synced=dutch(SYNCED if synced else NOT_SYNCED))
                        + _accuracy(clock, True)).encode())
    files = [{"name": n, "sha256": sizes[n][0], "bytes": sizes[n][1]}
             for n in (video, PUBKEY, "README.txt", "LEESMIJ.txt")]
    manifest = {
        "format": FORMAT, "export": info["export"], "request": info["reference"],
        "operator": info["operator"], "recipient": info["recipient"],
        "device": {"id": info["device"], "fingerprint": signer.fingerprint,
                   "signature": "Ed25519"},
        "camera": {"id": info["camera"], "name": info["camera_name"],
                   "location": info["location"]},
        "window": {"start": _times(info["start"], tz), "end": _times(info["end"], tz),
                   "timezone": zone},
        "clock": clock,
        "files": files,
        "videos": [{
            "name": video, "codec": "h264", "audio": False, "frames": out.frames,
            "packets_sha256": out.packets_sha256,
            "first_frame": _times(out.first, tz), "last_frame": _times(out.last, tz),
            "gaps": [{"start": _times(g["start"], tz), "end": _times(g["end"], tz)}
                     for g in out.gaps],
            "segments": [{"id": s["id"], "start": _times(s["start"], tz),
                          "end": _times(s["end"], tz), "frames": s["frames"],
                          "clock_synchronised": bool(s["clock_synced"]),
                          "clock_offset_seconds": clocks.get(s["id"], {}).get("offset"),
                          "clock_error_seconds": clocks.get(s["id"], {}).get("est_error"),
                          "sha256_at_recording": recorded.get(s["id"], {}).get("sha256"),
                          "hash_chain": recorded.get(s["id"], {}).get("chain"),
                          "sha256_at_export": out.sources[s["id"]],
                          "packets_sha256": out.segment_packets[s["id"]]}
                         for s in segments]}],
    }
    body = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
    put(MANIFEST, body)
    put(SIGNATURE, signer.sign(body))
    names = sorted(sizes)
    put(SUMS, "".join(f"{sizes[n][0]}  {n}\n" for n in names).encode())
    return {"files": sorted(sizes), "bytes": sum(size for _, size in sizes.values()),
            "manifest_sha256": hashlib.sha256(body).hexdigest(), "video": video,
            "sha256": {n: digest for n, (digest, _) in sizes.items()}}


def key_fingerprint(path: Path) -> str | None:
    """The SHA-256 of the DER form of the package's device-pubkey.pem (what the declaration
    prints), or None when there is no readable key."""
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    try:
        key = load_pem_public_key((Path(path) / PUBKEY).read_bytes())
    except (OSError, ValueError):
        return None
    return hashlib.sha256(key.public_bytes(Encoding.DER,
                                           PublicFormat.SubjectPublicKeyInfo)).hexdigest()


def verify(path: Path, fingerprint: str | None = None) -> list[tuple[str, str]]:
    """Check a package as a recipient would: (file, what is wrong) for every fault; empty when
    it verifies. Checks manifest.sha256, the files manifest.json lists, the signature, that
    every file is in the signed manifest.json (manifest.sha256 is signed by nobody: a file
    listed only there is not part of the package; redteam13), and, given the `fingerprint`
    printed on the signed declaration, that the package's key is the device's."""
    path = Path(path)
    faults: list[tuple[str, str]] = []
    if not path.is_dir():
        return [(str(path), "not a package folder")]
    if path.name.endswith(".part"):
        return [(path.name, "an unfinished package (.part): it was never completed")]
    try:
        text = (path / SUMS).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [(SUMS, f"unreadable ({exc})")]
    listed = {}
    lines = text.split("\n")
    if lines[-1] != "" or not all(_SUM_LINE.fullmatch(line) for line in lines[:-1]):
        faults.append((SUMS, "not in the format sha256sum -c reads (a line was changed)"))
    for line in lines[:-1]:
        if _SUM_LINE.fullmatch(line):
            digest, _, name = line.partition("  ")
            if name in listed and listed[name] != digest:
                faults.append((name, "listed twice in manifest.sha256 with different "
                                     "SHA-256s"))
            listed.setdefault(name, digest)
    for name, digest in listed.items():
        target = path / name
        if "/" in name or not target.is_file():
            faults.append((name, "listed in manifest.sha256 but missing"))
        elif sha256_file(target) != digest:
            faults.append((name, "SHA-256 differs from manifest.sha256: the file was changed"))
    for extra in sorted(p.name for p in path.iterdir() if p.name not in listed and p.name != SUMS):
        faults.append((extra, "not listed in manifest.sha256"))
    try:
        body = (path / MANIFEST).read_bytes()
        key = load_pem_public_key((path / PUBKEY).read_bytes())
        key.verify((path / SIGNATURE).read_bytes(), body)
    except InvalidSignature:
        faults.append((MANIFEST, "the signature in manifest.sig does not match: manifest.json, "
                                 "manifest.sig or device-pubkey.pem was changed"))
        return faults
    except (OSError, ValueError, TypeError) as exc:
        faults.append((MANIFEST, f"cannot check the signature ({exc})"))
        return faults
    try:
        manifest = json.loads(body)
        for f in manifest["files"]:
            target = path / f["name"]
            if not target.is_file() or sha256_file(target) != f["sha256"]:
                faults.append((f["name"], "SHA-256 differs from the signed manifest.json"))
        signed = {f["name"] for f in manifest["files"]} | {MANIFEST, SIGNATURE}
        present = {p.name for p in path.iterdir()} - {SUMS}
        for extra in sorted((present | set(listed)) - signed):
            faults.append((extra, "not in the signed manifest.json: not part of the package"))
        named = {name for name, _ in faults}
        for name in sorted(signed - set(listed) - named):
            faults.append((name, "not listed in manifest.sha256"))
        der = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        if hashlib.sha256(der).hexdigest() != manifest["device"]["fingerprint"]:
            faults.append((PUBKEY, "its fingerprint is not the one in manifest.json"))
        if fingerprint and hashlib.sha256(der).hexdigest() != fingerprint.strip().lower():
            faults.append((PUBKEY, f"its fingerprint {hashlib.sha256(der).hexdigest()} is not "
                                   f"the one on the declaration ({fingerprint}): the package "
                                   "was not signed by that device"))
    except (ValueError, KeyError, TypeError) as exc:
        faults.append((MANIFEST, f"not a package manifest ({exc})"))
    return faults
