"""`nvr firstboot`: first-boot provisioning, run as root by nvr-firstboot.service at every boot
(issue 14 item 2; the logic is system/firstboot.py, docs/provisioning.md).

What it prints goes to the journal: hostname, configuration, keys and their fingerprints,
findings. Never an enrollment code: those go to the console devices only."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from firmware.cli.common import EXIT_FAILED, CliError
from firmware.config import CONFIG_ENV


def cmd_firstboot(args) -> int:
    from firmware.system.firstboot import FirstbootError, provision
    if os.geteuid() != 0:
        raise CliError("nvr firstboot runs as root (nvr-firstboot.service, at every boot): it "
                       "sets the hostname and gives each key to its service's user")
    config = args.config or os.environ.get(CONFIG_ENV) or None
    try:
        report = provision(Path(config) if config else None)
    except FirstbootError as exc:
        print(f"nvr firstboot: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"hostname: {report.hostname}"
          + (f" (from {report.hostname_source})" if report.hostname_source else ""))
    print(f"configuration: {report.config}"
          + (f" written from {report.config_made_from}" if report.config_made_from
             else " (existed, unchanged)"))
    for key in report.keys:
        print(f"{key.what}: {key.path} {'made' if key.made else 'existed, unchanged'}; "
              f"{'id' if key.what == 'master key' else 'SHA-256'} {key.fingerprint}")
    print(f"web address: {report.url}")
    for finding in report.findings:
        print(f"finding: {finding}")
    where = ", ".join(map(str, report.consoles)) or "no console"
    if report.codes_for:
        print(f"one-time enrollment codes for the first {' and the first '.join(report.codes_for)}"
              f" shown on {where} only (never here)")
    else:
        print(f"no enrollment code issued (the first accounts exist, no console, or refused: "
              f"see the findings); the web address and fingerprint shown on {where}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("firstboot", help="first-boot provisioning (root, nvr-firstboot.service): "
                       "hostname, configuration, keys, enrollment codes on the console")
    p.set_defaults(func=cmd_firstboot)
