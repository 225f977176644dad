#!/bin/sh
# What the tests need from Debian: the packages in debian-packages.txt and the nl_NL.UTF-8 locale
# (the deadline tests run under it too, R-72). Called by `make test` and by `.ci/run`.
#
# Nothing missing: says nothing, exits 0. Something missing: installs it when it can (running as
# root, or `sudo` works without a password), otherwise prints the one command that does it and
# exits 1. Every command is looked up on PATH (tests/test_setup.py runs this with stubs).
set -eu
cd "$(dirname "$0")/.."

FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

packages() { grep -v '^#' debian-packages.txt | tr '\n' ' '; }

has_locale() { locale -a 2>/dev/null | grep -qix 'nl_NL.utf-\?8'; }

# What is missing, in words, or nothing.
missing() {
    python3 -c 'import ensurepip' 2>/dev/null || printf ' %s' "python3-venv"
    for cmd in ffprobe pdftotext 7z chromium faketime; do
        command -v "$cmd" >/dev/null 2>&1 || printf ' %s' "$cmd"
    done
    [ -f "$FONT" ] || printf ' %s' "the DejaVu fonts"
    has_locale || printf ' %s' "the locale nl_NL.UTF-8"
}

lacking=$(missing)
[ -z "$lacking" ] && exit 0

if [ "$(id -u)" = 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root="sudo -n"
else
    echo "The tests need$lacking. Install them as root, then run make test again:" >&2
    echo "  sudo sh tools/debian-setup.sh" >&2
    echo "(without sudo: su -c 'sh tools/debian-setup.sh', in $(pwd))" >&2
    exit 1
fi

echo "The tests need$lacking: installing debian-packages.txt${as_root:+ with sudo}" >&2
$as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2046 # one word per package
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(packages) >/dev/null
if ! has_locale; then
    $as_root sed -i 's/^# *nl_NL.UTF-8 UTF-8/nl_NL.UTF-8 UTF-8/' /etc/locale.gen
    $as_root locale-gen >/dev/null
fi

lacking=$(missing)
if [ -n "$lacking" ]; then
    echo "Still missing after installing debian-packages.txt:$lacking. Is this Debian 12 with" \
         "its main archive in /etc/apt/sources.list?" >&2
    exit 1
fi
