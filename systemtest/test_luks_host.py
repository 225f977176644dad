"""The host's LUKS2 reader (systemtest/luks.py), checked against cryptsetup itself on this host,
without device-mapper and without a guest: cryptsetup's offline encryption (`reencrypt
--encrypt` of an unmounted image, done in user space) turns a plain ext4 image into LUKS2, and
luks.py must give the same file system back. It runs before the guest boots (no `device`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from systemtest.luks import LuksError, decrypt, extract, listing, metadata

PASSWORD = "correct horse battery staple 1"


def encrypted_ext4(tmp: Path, sector_size: int) -> tuple[Path, bytes]:
    tree = tmp / "tree" / "export-PL-1"
    tree.mkdir(parents=True)
    payload = bytes(range(256)) * 4096 + b"end"          # 1 MiB and a bit: many sectors
    (tree / "video.bin").write_bytes(payload)
    image = tmp / "stick.raw"
    with open(image, "wb") as f:
        f.truncate(48 << 20)
    subprocess.run(["mkfs.ext4", "-q", "-b", "4096", "-d", str(tmp / "tree"), str(image),
                    "8192"], check=True)                  # 32 MiB of file system: room below
    subprocess.run(["cryptsetup", "reencrypt", "--encrypt", "--type", "luks2", "--batch-mode",
                    "--cipher", "aes-xts-plain64", "--key-size", "512", "--sector-size",
                    str(sector_size), "--reduce-device-size", "16M", "--pbkdf", "pbkdf2",
                    "--pbkdf-force-iterations", "1000", "--key-file", "-", str(image)],
                   input=PASSWORD.encode(), check=True, capture_output=True)
    return image, payload


@pytest.mark.parametrize("sector_size", [512, 4096])
def test_luks2_image_decrypted_on_the_host_gives_the_file_system_back(tmp_path, sector_size):
    image, payload = encrypted_ext4(tmp_path, sector_size)
    assert metadata(image)["segments"]["0"]["sector_size"] == sector_size
    assert payload[:4096] not in image.read_bytes()             # it is encrypted
    plain = tmp_path / "plain.ext4"
    decrypt(image, PASSWORD, plain)
    assert sorted(listing(plain)) == ["export-PL-1", "lost+found"]
    copied = extract(plain, "/export-PL-1", tmp_path / "out")
    assert (copied / "video.bin").read_bytes() == payload


def test_wrong_password_gives_no_volume_key(tmp_path):
    image, _ = encrypted_ext4(tmp_path, 512)
    with pytest.raises(LuksError, match="luksDump"):
        decrypt(image, "not the password at all", tmp_path / "plain.ext4")
