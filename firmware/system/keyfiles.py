"""The web's secrets in key_dir and the owner and mode each has on a device: the one table
`nvr firstboot` gives them by (system/firstboot.py) and `nvr selftest`'s keys check judges them
by (system/selftest.py), docs/provisioning.md. The recorder's keys are judged by the key
directory instead (storage/sharing.private_mode: 0640 in the device's shared directory).

Each secret is as dangerous as the recorder's keys (red team 14c): the TLS key lets whoever
reads it pose as the device to the secured room's browsers, the client CA's key issues
workstation certificates (art. 4 lid 1), the session secret forges the web's sessions."""

from __future__ import annotations

WEB_USER = "nvr-web"
# name -> the mode its maker gives it (system/tls.py, system/clients.py, firmware/web); the
# certificate is public, 0640 as the rest of the shared directory.
WEB_SECRETS: dict[str, int] = {
    "web-cert.pem": 0o640,
    "web-key.pem": 0o600,
    "client-ca.pem": 0o600,
    "web-session.key": 0o600,        # made by the web at its start, never by nvr firstboot
}
