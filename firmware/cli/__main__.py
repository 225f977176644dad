"""`python -m firmware.cli`: the recorder starts the web process this way."""

import sys

from firmware.cli import main

sys.exit(main())
