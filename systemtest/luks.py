"""Read a LUKS2 disk image on the host, without device-mapper (issue 13, "verified on the host
after unplugging").

The host's kernel has no device-mapper, so `cryptsetup open` cannot work here. What does work
without it: `cryptsetup luksDump --dump-volume-key` (the password opens a keyslot in user space
and prints the volume key) and `--dump-json-metadata` (where the data segment lies, its cipher
and its encryption sector size). The data segment is then decrypted here, sector by sector, the
way dm-crypt does it for LUKS2:

- cipher `aes-xts-plain64`: AES in XTS mode, the volume key being XTS's two AES keys;
- the IV (XTS tweak) of a sector is its number as a 64-bit little-endian integer ("plain64"),
  zero-padded to 16 bytes, plus the segment's `iv_tweak`;
- each encryption sector is the segment's `sector_size` (512 to 4096 bytes), but the IV counts
  512-byte sectors whatever that size: dm-crypt's default (its `iv_large_sectors` option would
  count in `sector_size` units, and cryptsetup's man page allows `--iv-large-sectors` for plain
  mode only, never for LUKS). So a 4096-byte sector's IVs are 0, 8, 16, ... The segment's
  `iv_tweak` is added, in the same 512-byte units. test_luks_host.py checks this against
  cryptsetup's own encryption for both sector sizes.

The result is the plain file system image, which `debugfs` reads without mounting.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CHUNK_SECTORS = 2048


class LuksError(Exception):
    pass


def metadata(image: Path) -> dict:
    """The LUKS2 JSON metadata of `image` (cryptsetup luksDump --dump-json-metadata)."""
    done = subprocess.run(["cryptsetup", "luksDump", "--dump-json-metadata", str(image)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise LuksError(f"{image} is no LUKS2 image: {done.stderr.strip()}")
    return json.loads(done.stdout)


def volume_key(image: Path, password: str) -> bytes:
    """The volume key, from a keyslot opened with `password` in user space (no device-mapper).
    A wrong password raises LuksError."""
    done = subprocess.run(["cryptsetup", "luksDump", "--dump-volume-key", "--batch-mode",
                           "--key-file", "-", str(image)], input=password.encode(),
                          capture_output=True)
    if done.returncode != 0:
        raise LuksError(f"cryptsetup luksDump --dump-volume-key failed "
                        f"({done.returncode}): {done.stderr.decode(errors='replace').strip()}")
    text = done.stdout.decode()
    # "MK dump:\t<hex bytes>" then continuation lines of hex bytes, up to the next field.
    hexdigits: list[str] = []
    collecting = False
    for line in text.splitlines():
        head, _, rest = line.partition(":")
        if head.strip() in ("MK dump", "Volume key dump", "VK dump"):
            collecting, line = True, rest
        elif collecting and ":" in line:
            break
        if collecting:
            hexdigits += line.split()
    if not hexdigits:
        raise LuksError(f"no volume key in cryptsetup's answer:\n{text}")
    return bytes.fromhex("".join(hexdigits))


def decrypt(image: Path, password: str, out: Path) -> dict:
    """Write the plain contents of `image`'s data segment to `out`; return the segment."""
    meta = metadata(image)
    segments = meta["segments"]
    if list(segments) != ["0"] or segments["0"]["type"] != "crypt":
        raise LuksError(f"expected one crypt data segment, found {segments}")
    seg = segments["0"]
    if seg["encryption"] != "aes-xts-plain64" or seg.get("integrity"):
        raise LuksError(f"only aes-xts-plain64 without integrity is read here: {seg}")
    key = volume_key(image, password)
    sector, offset = int(seg["sector_size"]), int(seg["offset"])
    tweak = int(seg.get("iv_tweak", "0"))
    total = image.stat().st_size - offset if seg["size"] == "dynamic" else int(seg["size"])
    with open(image, "rb") as src, open(out, "wb") as dst:
        src.seek(offset)
        number = tweak                  # the IV: in 512-byte sectors (dm-crypt's default)
        while total > 0:
            data = src.read(min(total, CHUNK_SECTORS * sector))
            if not data:
                break
            total -= len(data)
            plain = bytearray()
            for at in range(0, len(data), sector):
                iv = number.to_bytes(16, "little")
                dec = Cipher(algorithms.AES(key), modes.XTS(iv)).decryptor()
                plain += dec.update(data[at:at + sector]) + dec.finalize()
                number += sector // 512
            dst.write(plain)
    return seg


def extract(fs_image: Path, folder: str, to: Path) -> Path:
    """Copy `folder` (a path inside the ext4 image) to `to` with debugfs, no mount."""
    to.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["debugfs", "-R", f"rdump {folder} {to}", str(fs_image)],
                          capture_output=True, text=True)
    copied = to / Path(folder).name
    if done.returncode != 0 or not copied.is_dir():
        raise LuksError(f"debugfs could not copy {folder}: {done.stderr.strip()}")
    return copied


def listing(fs_image: Path, folder: str = "/") -> list[str]:
    """The names in `folder` of the ext4 image (debugfs ls -p), without . and .."""
    done = subprocess.run(["debugfs", "-R", f"ls -p {folder}", str(fs_image)],
                          capture_output=True, text=True, check=True)
    names = [line.split("/")[5] for line in done.stdout.splitlines()
             if line.startswith("/") and line.count("/") >= 6]
    return [n for n in names if n not in (".", "..")]
