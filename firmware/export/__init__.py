"""Exports of footage to police and prosecutor (R-60..R-62).

`service.make_package` is the one export path (the web's page and API, `nvr export create`): it
checks the request, builds the evidence package (`manifest.py`, `remux.py`) and writes the
logbooks; a helper (`helpers.py`) is the medium: `ExportdHelper`, the USB stick the privileged
export helper (exportd) offers, or `DirectoryHelper` in development (a folder stands in for the
stick).
"""
