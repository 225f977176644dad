"""Benchmark: the two AEADs a segment file may use, on 64 KiB chunks, in one run.

This machine has AES instructions, like a Pi 5; a Pi 4 (Cortex-A72) has none, and there
published figures give AES-256-GCM about 21-29 MB/s and ChaCha20-Poly1305 4-5x that
(docs/storage.md). One 1080p stream is about 0.5-1 MB/s.
"""

from __future__ import annotations

import os
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

CHUNK = 64 * 1024
TOTAL = 256 * 1024 * 1024


def throughput(aead) -> float:
    data = os.urandom(CHUNK)
    nonce = bytes(12)
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(TOTAL // CHUNK):
            aead.encrypt(nonce, data, b"header")
        best = max(best, TOTAL / (time.perf_counter() - t) / 1e6)
    return best


def main() -> None:
    chacha = throughput(ChaCha20Poly1305(os.urandom(32)))
    aes = throughput(AESGCM(os.urandom(32)))
    print(f"{'cipher':20} {'MB/s':>8} {'ratio to ChaCha20':>18}")
    print(f"{'ChaCha20-Poly1305':20} {chacha:8.0f} {1.0:18.2f}")
    print(f"{'AES-256-GCM':20} {aes:8.0f} {aes / chacha:18.2f}")


if __name__ == "__main__":
    main()
