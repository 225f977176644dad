"""Exports of footage to police and prosecutor (R-60..R-62).

`service.make_export` checks the request and writes the logbook; a helper writes the package:
`DirectoryHelper` in development (a directory stands in for the USB stick), the privileged
export helper (exportd) on a device.
"""
