"""The virtual device: one QEMU (TCG) guest booted from the image of tools/vm/build-image.sh.

The base image stays untouched: the guest writes into a qcow2 overlay, which survives a power
cut and is booted again. The host runs commands in the guest over ssh (QEMU user networking,
restricted to one port forward on 127.0.0.1) and drives the machine through QMP on a unix
socket: `quit` is the power cut, `device_add`/`device_del` plug virtual USB disks.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import time
from pathlib import Path

ATTACH_FILE = "kept.json"   # written by `python -m systemtest.vm keep WORKDIR`
BOOT_TIMEOUT = 600          # seconds from QEMU's start to an answering sshd, under TCG (a loaded host)


class GuestError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class QMP:
    """The QEMU Machine Protocol over a unix socket: one JSON command, one JSON answer."""

    def __init__(self, path: Path, timeout: float = 30):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rw")
        self._read()                                        # the greeting
        self.execute("qmp_capabilities")

    def _read(self) -> dict:
        while True:
            line = self.file.readline()
            if not line:
                raise GuestError("QMP: QEMU closed the monitor socket")
            message = json.loads(line)
            if "event" not in message:                     # events are not answers
                return message

    def execute(self, command: str, **arguments) -> object:
        self.file.write(json.dumps({"execute": command, "arguments": arguments}) + "\n")
        self.file.flush()
        answer = self._read()
        if "error" in answer:
            raise GuestError(f"QMP {command}: {answer['error'].get('desc', answer['error'])}")
        return answer.get("return")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class VirtualDevice:
    """One guest: `boot()`, `run()` commands, `power_cut()`, `boot()` again on the same disk."""

    def __init__(self, image: Path, workdir: Path, memory_mb: int = 2048, cpus: int = 2,
                 new_disk: bool = True):
        self.image, self.workdir = Path(image), Path(workdir)
        self.memory_mb, self.cpus = memory_mb, cpus
        self.overlay = self.workdir / "overlay.qcow2"
        self.footage = self.workdir / "footage.qcow2"
        self.qmp_path = self.workdir / "qmp.sock"
        self.key = self.image / "id_ed25519"
        self.process: subprocess.Popen | None = None
        self.qmp: QMP | None = None
        self.boots = 0
        self.attached = False
        if new_disk:
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
                            str(self.image / "disk.raw"), str(self.overlay)], check=True)
            # The footage SSD: a second disk, blank, 64 GB and sparse (room for 28 days of the
            # virtual camera at 30 % motion, as `nvr selftest` asks: 47 GB by `nvr sizing`).
            # The first boot formats it (image/rootfs/overlay/usr/lib/nvr/nvr-storage-setup).
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(self.footage),
                            "64G"], check=True)

    @classmethod
    def attach(cls, workdir: Path) -> "VirtualDevice":
        """The guest `python -m systemtest.vm keep WORKDIR` keeps running (development: run
        single checks again without a new boot). Its QEMU is not ours: `stop` leaves it."""
        kept = json.loads((Path(workdir) / ATTACH_FILE).read_text())
        vm = cls(Path(kept["image"]), Path(workdir), new_disk=False)
        vm.port, vm.boots, vm.attached = kept["port"], kept["boots"], True
        vm.qmp = QMP(vm.qmp_path)
        vm.wait_ssh(60)
        return vm

    @property
    def console_log(self) -> Path:
        return self.workdir / f"console-{self.boots}.log"

    def boot(self) -> None:
        """Start QEMU and wait until sshd answers in the guest."""
        self.boots += 1
        self.port = free_port()
        self.qmp_path.unlink(missing_ok=True)
        command = [
            "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max",
            "-smp", str(self.cpus), "-m", str(self.memory_mb),
            "-kernel", str(self.image / "vmlinuz"), "-initrd", str(self.image / "initrd.img"),
            # The root slot A (partition 5), read-only: the initramfs's overlayroot puts a RAM
            # layer over it as the image's /etc/overlayroot.local.conf says (nothing about it
            # here, as on the Pi). The boot partitions 2 and 3 are on the disk but QEMU does
            # not read them: it starts the kernel itself.
            # no_timer_check: the kernel's IO-APIC timer test misfires on a starved TCG host
            # ("IO-APIC + timer doesn't work!", a panic seen on the boot after a power cut).
            "-append", "console=ttyS0 root=/dev/vda5 ro panic=5 no_timer_check",
            "-drive", f"file={self.overlay},if=virtio,format=qcow2,cache=writeback",
            "-drive", f"file={self.footage},if=virtio,format=qcow2,cache=writeback",
            "-nic", f"user,model=virtio-net-pci,restrict=on,"
                    f"hostfwd=tcp:127.0.0.1:{self.port}-:22",
            "-device", "qemu-xhci,id=xhci",
            "-rtc", "base=utc,clock=host",
            "-display", "none", "-monitor", "none", "-no-reboot",
            "-serial", f"file:{self.console_log}",
            "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
        ]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL,
                                        stdout=open(self.workdir / "qemu.log", "ab"),
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while not self.qmp_path.exists():
            self._check_alive()
            if time.monotonic() > deadline:
                raise GuestError("QEMU made no QMP socket in 20 s; see qemu.log")
            time.sleep(0.2)
        self.qmp = QMP(self.qmp_path)
        self.wait_ssh(BOOT_TIMEOUT)

    def _check_alive(self) -> None:
        if self.attached:
            return
        if self.process is None or self.process.poll() is not None:
            raise GuestError(f"QEMU exited ({self.process and self.process.returncode}); see "
                             f"{self.workdir}/qemu.log and {self.console_log}")

    def wait_ssh(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            if self.run("true", timeout=20, check=False).returncode == 0:
                return
            if time.monotonic() > deadline:
                raise GuestError(f"no ssh answer from the guest in {timeout:.0f} s; the console "
                                 f"says:\n{self.console_tail()}")
            time.sleep(2)

    def console_tail(self, lines: int = 40) -> str:
        try:
            text = self.console_log.read_text(errors="replace")
        except FileNotFoundError:
            return "(no console output)"
        return "\n".join(text.splitlines()[-lines:])

    def run(self, command: str, timeout: float = 120, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """Run a shell command in the guest as root; its output as text. `env`: variables
        exported for it (the test's passwords: the guest has no other user to see them)."""
        if env:
            command = "".join(f"export {k}={shlex.quote(v)}; " for k, v in env.items()) + command
        ssh = ["ssh", "-q", "-i", str(self.key), "-p", str(self.port),
               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
               "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
               "-o", "ServerAliveInterval=10", "root@127.0.0.1", command]
        try:
            done = subprocess.run(ssh, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)     # never the test run's stdin
        except subprocess.TimeoutExpired as e:
            if check:
                raise GuestError(f"guest command timed out after {timeout} s: {command}") from e
            return subprocess.CompletedProcess(ssh, 255, "", "timeout")
        if check and done.returncode != 0:
            raise GuestError(f"guest command failed ({done.returncode}): {command}\n"
                             f"stdout: {done.stdout}\nstderr: {done.stderr}")
        return done

    def nvr(self, args: str, timeout: float = 300, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        """`nvr` in the guest as the service user, with the device's configuration: through
        nvr-admin where systemd/ installs it (it picks the user), else as the one user nvr."""
        return self.run(f"if [ -x /usr/local/sbin/nvr-admin ]; then nvr-admin {args}; else "
                        f"runuser -u nvr -- nvr --config /etc/nvr/nvr.toml {args}; fi",
                        timeout=timeout, check=check, env=env)

    def power_cut(self) -> None:
        """Off without a shutdown: QMP `quit` ends QEMU at once; the guest writes nothing more."""
        assert self.qmp is not None and self.process is not None
        try:
            self.qmp.execute("quit")
        except (GuestError, OSError):
            pass                                 # QEMU may close the socket before answering
        self.qmp.close()
        self.qmp = None
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """Tear down: a hard quit if QEMU still runs (the test run is over); a kept guest
        (`attach`) only loses this run's monitor connection."""
        if self.attached:
            if self.qmp is not None:
                self.qmp.close()
                self.qmp = None
            return
        if self.process is not None and self.process.poll() is None:
            if self.qmp is not None:
                self.power_cut()
            else:
                self.process.terminate()
                self.process.wait(timeout=30)


def image_dir(repo: Path, cache: Path) -> Path:
    """Build (or reuse) the image; the folder that holds it."""
    done = subprocess.run(["bash", str(repo / "tools/vm/build-image.sh"), str(cache)],
                          stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise GuestError("building the image failed (tools/vm/build-image.sh; its log is "
                         "printed above)")
    return Path(done.stdout.strip().splitlines()[-1])


def cache_dir() -> Path:
    return Path(os.environ.get("NVR_VM_CACHE") or Path.home() / ".cache" / "nvr-vm")


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def keep(workdir: Path) -> None:
    """Development: build (or reuse) the image, boot one guest in `workdir` and keep it running
    until Ctrl-C or SIGTERM. `NVR_VM_ATTACH=WORKDIR pytest systemtest -k ...` then runs checks
    on it without a new boot (docs/system-test.md). Not used by `make system-test`."""
    import signal
    repo = Path(__file__).resolve().parent.parent
    workdir.mkdir(parents=True, exist_ok=True)
    vm = VirtualDevice(image_dir(repo, cache_dir()), workdir)
    vm.boot()
    vm.qmp.close()                      # QEMU's monitor takes one client: the test's
    vm.qmp = None
    (workdir / ATTACH_FILE).write_text(json.dumps({"image": str(vm.image), "port": vm.port,
                                                   "boots": vm.boots,
                                                   "pid": vm.process.pid}))
    print(f"guest up: ssh -i {vm.key} -p {vm.port} -o StrictHostKeyChecking=no "
          f"-o UserKnownHostsFile=/dev/null root@127.0.0.1\n"
          f"checks on it: NVR_VM_ATTACH={workdir} .venv/bin/pytest systemtest -s -k NAME",
          flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        vm.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        (workdir / ATTACH_FILE).unlink(missing_ok=True)
        if vm.process.poll() is None:
            vm.qmp = QMP(vm.qmp_path)
            vm.power_cut()


if __name__ == "__main__":
    import sys
    if len(sys.argv) != 3 or sys.argv[1] != "keep":
        sys.exit("usage: python -m systemtest.vm keep WORKDIR   (boot one guest and keep it "
                 "running for development)")
    keep(Path(sys.argv[2]).resolve())
