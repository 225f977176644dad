"""A pytest plugin for runs under libfaketime (tests/test_time_of_day.py): the process leaves with
pytest's exit status as soon as pytest is done. Under libfaketime the interpreter's own shutdown
can hang (threads left waiting in its clock lock); by then every result has been written."""

from __future__ import annotations

import os
import sys

import pytest

_status: list[int] = []


def pytest_sessionfinish(session, exitstatus) -> None:
    _status.append(int(exitstatus))


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_status[-1] if _status else 3)
