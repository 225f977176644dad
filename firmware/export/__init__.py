"""Exports of footage to police and prosecutor (R-60..R-62).

`service.make_package` checks the request, builds the evidence package and writes the logbooks;
a helper (`helpers.py`) is the medium: `ExportdHelper`, the USB stick the privileged export
helper (exportd) offers, or `DirectoryHelper` in development (a folder stands in for the
stick). `service.make_export`, the old 7z of separate files, stays until the web calls
`make_package`.
"""
