"""The evidence package (issue 13 item 3): recording-time hashes, the one remuxed MP4, the
signed manifest, and `nvr export create/verify`, checked with independent tools (ffprobe,
sha256sum, openssl)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest
from conftest import recorded_site

from firmware.config import load
from firmware.storage.store import EncryptedStore


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return recorded_site(tmp_path_factory.mktemp("package"), {})


@pytest.fixture(scope="module")
def store(site):
    s = EncryptedStore.from_config(load(site))
    yield s
    s.close()


def test_each_segment_has_its_sha256_from_recording_time_and_it_matches_R30(store):
    from firmware.storage.hashes import chain_breaks, hashes_of
    segments = store.list_segments("cam")
    assert len(segments) >= 2
    with store.lock:
        known = hashes_of(store.db, [s["id"] for s in segments])
        assert chain_breaks(store.db) == []
    for s in segments:
        plain = hashlib.sha256(b"".join(store.read_segment(s["id"]))).hexdigest()
        assert known[s["id"]]["sha256"] == plain


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-show_frames",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_segments_remux_into_one_h264_mp4_without_audio_covering_the_window(store, tmp_path):
    from firmware.export.remux import remux
    segments = store.list_segments("cam")
    out = remux(segments, store.read_segment, tmp_path / "cam.mp4")
    probe = ffprobe(out.path)
    assert [(s["codec_type"], s["codec_name"]) for s in probe["streams"]] == [("video", "h264")]
    frames = [float(f["pts_time"]) for f in probe["frames"]]
    assert len(frames) == out.frames == sum(s["frames"] for s in segments)
    interval = 1 / 25
    assert abs(frames[0] - 0) <= interval
    assert abs(out.first - segments[0]["start"]) <= interval
    assert abs(out.last - (segments[-1]["end"] - interval)) <= interval
    assert abs(frames[-1] - (out.last - segments[0]["start"])) <= interval
    assert out.gaps == []


# --- the package through `nvr export create/verify`, checked with independent tools ----------

REFERENCE = "PL0900-2026-3003"
OFFICER = "brigadier K. Bakker"


def cli(config, env, *args):
    from conftest import nvr
    result = nvr("--config", str(config), *args, env=env)
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def package(site, store, tmp_path_factory):
    """An art. 9 request with identity and declaration, and its package written by the CLI."""
    from datetime import datetime, timedelta, timezone

    from conftest import staff
    env = staff(site)
    segments = store.list_segments("cam")
    start = datetime.fromtimestamp(segments[0]["start"], timezone.utc) - timedelta(seconds=1)
    end = datetime.fromtimestamp(segments[-1]["end"], timezone.utc) + timedelta(seconds=1)
    req = json.loads(cli(site, env, "request", "add", "--article", "9", "--reference",
                         REFERENCE, "--requester", "Politie Midden-Nederland", "--legal-basis",
                         "126nd", "--camera", "cam", "--start", start.isoformat(), "--end",
                         end.isoformat(), "--user", "b.beheerder", "--json").stdout)
    cli(site, env, "request", "identity", str(req["id"]), "--officer", OFFICER,
        "--document-type", "dienstpas", "--last-digits", "4411", "--user", "b.beheerder")
    cli(site, env, "request", "declaration", str(req["id"]), "--signed-by", OFFICER,
        "--user", "b.beheerder")
    to = tmp_path_factory.mktemp("stick")
    out = json.loads(cli(site, env, "export", "create", "--request", REFERENCE, "--camera",
                         "cam", "--start", start.isoformat(), "--end", end.isoformat(), "--to",
                         str(to), "--user", "b.beheerder", "--reason", "art. 9 request of the "
                         "police", "--json").stdout)
    archive = Path(out["path"])             # the folder stand-in takes the 7z: FOLDER/NAME.7z
    assert [p.name for p in to.iterdir()] == [archive.parent.name]      # no .part left
    assert [p.name for p in archive.parent.iterdir()] == [archive.name]
    path = extract(archive, out["password"], tmp_path_factory.mktemp("extracted"))
    return path, out, segments


def extract(archive: Path, password: str, into: Path) -> Path:
    """The recipient's first step: the real 7z with the password handed over apart."""
    done = subprocess.run(["7z", "x", f"-p{password}", f"-o{into}", str(archive)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    [folder] = into.iterdir()
    return folder


def test_package_verifies_with_sha256sum_and_openssl_alone_R62(package):
    path, out, _ = package
    assert sorted(out["files"]) == sorted(p.name for p in path.iterdir())
    assert {"manifest.json", "manifest.sig", "manifest.sha256", "device-pubkey.pem",
            "LEESMIJ.txt", "README.txt"} <= set(out["files"])
    sums = subprocess.run(["sha256sum", "-c", "manifest.sha256"], cwd=path,
                          capture_output=True, text=True)
    assert sums.returncode == 0, sums.stdout + sums.stderr
    assert sums.stdout.count(": OK") == len(out["files"]) - 1
    sig = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                          "device-pubkey.pem", "-rawin", "-in", "manifest.json", "-sigfile",
                          "manifest.sig"], cwd=path, capture_output=True, text=True)
    assert sig.returncode == 0 and "Signature Verified Successfully" in sig.stdout, sig.stderr


def test_manifest_lists_the_recording_time_hashes_of_the_source_segments_R62(package, store):
    from firmware.storage.hashes import hashes_of
    path, _, segments = package
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["request"] == REFERENCE and OFFICER in manifest["recipient"]
    assert manifest["operator"] == "b.beheerder" and manifest["camera"]["id"] == "cam"
    with store.lock:
        recorded = hashes_of(store.db, [s["id"] for s in segments])
    [video] = manifest["videos"]
    assert [(s["id"], s["sha256_at_recording"]) for s in video["segments"]] == [
        (s["id"], recorded[s["id"]]["sha256"]) for s in segments]
    for s in segments:          # and they are the plaintext's hashes today
        assert recorded[s["id"]]["sha256"] == hashlib.sha256(
            b"".join(store.read_segment(s["id"]))).hexdigest()
    assert all(s["sha256_at_export"] == s["sha256_at_recording"] for s in video["segments"])
    probe = ffprobe(path / video["name"])
    assert [st["codec_name"] for st in probe["streams"]] == ["h264"]
    # the pictures are the recorded packets: the packet hash ffmpeg computes is the manifest's
    hashed = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path / video["name"]), "-map",
                             "0:v", "-c", "copy", "-f", "hash", "-hash", "sha256", "-"],
                            capture_output=True, text=True, check=True).stdout.strip()
    assert hashed == f"SHA256={video['packets_sha256']}"
    assert "Logboek" not in (path / "README.txt").read_text()
    assert "sha256sum -c manifest.sha256" in (path / "LEESMIJ.txt").read_text()
    assert "Nauwkeurigheid van de tijd" in (path / "LEESMIJ.txt").read_text()


def test_nvr_export_verify_accepts_the_package_R62(site, package):
    from conftest import nvr
    path, _, _ = package
    ok = nvr("--config", str(site), "export", "verify", str(path))
    assert ok.returncode == 0, ok.stderr


def test_the_package_is_recorded_and_in_both_logbooks_R51_R62(site, package):
    from firmware.export.service import list_exports
    from firmware.governance.service import Governance
    path, out, _ = package
    gov = Governance.open(load(site))
    try:
        store = EncryptedStore.from_config(load(site))
        [row] = [r for r in list_exports(gov.requests(store).db) if r["id"] == out["id"]]
        store.close()
        assert row["archive"]["kind"] == "package" and row["archive"]["path"] == out["path"]
        assert row["archive"]["container"] == "7z"
        assert "password" not in json.dumps(row)
        assert row["archive"]["sha256"] == hashlib.sha256(
            (path / "manifest.json").read_bytes()).hexdigest()
        for book in ("usage", "inzien"):
            written = [json.loads(e["details"]) for e in gov.logbook.entries(book)
                       if e["action"] == "export-written"]
            assert any(d["export"] == out["id"] for d in written), book
    finally:
        gov.close()


@pytest.mark.parametrize("name", ["mp4", "manifest.json", "manifest.sig", "manifest.sha256",
                                  "device-pubkey.pem", "LEESMIJ.txt", "README.txt"])
def test_one_changed_byte_in_any_file_fails_and_verify_names_it_R62(site, package, tmp_path, name):
    import shutil

    from conftest import nvr
    path, _, _ = package
    copy = tmp_path / path.name
    shutil.copytree(path, copy)
    target = next(copy.glob("*.mp4")) if name == "mp4" else copy / name
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    sums = subprocess.run(["sha256sum", "--quiet", "-c", "manifest.sha256"], cwd=copy,
                          capture_output=True, text=True)
    sig = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey",
                          "device-pubkey.pem", "-rawin", "-in", "manifest.json", "-sigfile",
                          "manifest.sig"], cwd=copy, capture_output=True, text=True)
    assert sums.returncode != 0 or sig.returncode != 0
    bad = nvr("--config", str(site), "export", "verify", str(copy))
    assert bad.returncode == 1
    assert f"FAILED {target.name}:" in bad.stderr


def test_a_gap_between_segments_stays_a_gap_and_is_recorded(store, tmp_path):
    from firmware.export.remux import remux
    segments = store.list_segments("cam")
    assert len(segments) >= 3
    kept = [segments[0], segments[-1]]             # as if the middle was never recorded
    out = remux(kept, store.read_segment, tmp_path / "gap.mp4")
    assert out.gaps == [{"start": kept[0]["end"], "end": kept[1]["start"]}]
    frames = [float(f["pts_time"]) for f in ffprobe(out.path)["frames"]]
    assert len(frames) == kept[0]["frames"] + kept[1]["frames"]
    second = frames[kept[0]["frames"]]             # the second segment at its own time
    assert abs(second - (kept[1]["start"] - kept[0]["start"])) <= 1 / 25


def test_a_failed_write_leaves_nothing_that_looks_like_a_package(store, tmp_path):
    from firmware.export.manifest import write_package
    from firmware.governance.logbook import DeviceSigner
    segments = store.list_segments("cam")

    def read(segment_id):
        if segment_id == segments[-1]["id"]:
            raise OSError(5, "Input/output error")   # the stick pulled, the disk failing
        return store.read_segment(segment_id)

    class Failing:
        def __getattr__(self, name):
            return read if name == "read_segment" else getattr(store, name)

    info = {"export": 1, "reference": "R", "operator": "o", "recipient": "r", "device": "d",
            "camera": "cam", "camera_name": "c", "location": "l",
            "start": segments[0]["start"], "end": segments[-1]["end"]}
    with pytest.raises(OSError):
        write_package(tmp_path, "export-x", store=Failing(), signer=DeviceSigner(
            tmp_path / "keys"), segments=segments, recorded={}, info=info)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys"]


def test_the_recording_time_hashes_are_sealed_in_the_logbook_and_an_edit_breaks_the_chain(
        site, package, store):
    from firmware.governance.service import Governance
    from firmware.storage.hashes import chain_breaks, chain_head, link
    gov = Governance.open(load(site))
    try:
        sealed = [e for e in gov.logbook.entries("usage") if e["action"] == "segment-hashes"]
        assert sealed and gov.logbook.verify().ok
        details = json.loads(sealed[-1]["details"])
        with store.lock:
            rows = store.db.execute("SELECT segment_id, sha256, chain FROM segment_hashes "
                                    "ORDER BY n").fetchall()
            assert (details["hashes"], details["chain"]) == chain_head(store.db)
        chain = "0" * 64
        for sid, sha, _ in rows:           # anyone can recompute the sealed head
            chain = link(chain, sid, sha)
        assert chain == details["chain"]
    finally:
        gov.close()
    import sqlite3
    copy = sqlite3.connect(":memory:")
    copy.execute("CREATE TABLE segment_hashes (n INTEGER PRIMARY KEY, segment_id TEXT, "
                 "sha256 TEXT, chain TEXT)")
    copy.executemany("INSERT INTO segment_hashes VALUES (?, ?, ?, ?)",
                     [(i + 1, *r) for i, r in enumerate(rows)])
    copy.execute("UPDATE segment_hashes SET sha256 = ? WHERE n = 2", ("f" * 64,))
    assert chain_breaks(copy) == [2]


def test_the_declaration_lists_the_package_and_the_key_fingerprint_R62(site, package, tmp_path):
    from conftest import staff
    path, out, _ = package
    pdf = tmp_path / "verklaring.pdf"
    cli(site, staff(site), "export", "declaration", str(out["id"]), "--out", str(pdf), "--user",
        "b.beheerder")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["device"]["fingerprint"] in text
    assert "bewijspakket" in text and "SHA256SUMS" not in text      # not the old 7z export
    for name in ("manifest.json", "manifest.sig", "device-pubkey.pem", "LEESMIJ.txt"):
        assert name in text


def test_a_segment_changed_since_recording_is_not_exported(store, tmp_path):
    from firmware.export.manifest import PackageError, write_package
    from firmware.governance.logbook import DeviceSigner
    segments = store.list_segments("cam")
    recorded = {s["id"]: {"sha256": "0" * 64, "chain": "0" * 64} for s in segments[:1]}
    info = {"export": 1, "reference": "R", "operator": "o", "recipient": "r", "device": "d",
            "camera": "cam", "camera_name": "c", "location": "l",
            "start": segments[0]["start"], "end": segments[-1]["end"]}
    with pytest.raises(PackageError, match=f"segment {segments[0]['id']} no longer has"):
        write_package(tmp_path, "export-x", store=store, signer=DeviceSigner(tmp_path / "keys"),
                      segments=segments, recorded=recorded, info=info)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys"]
