"""``python -m pgbench``: the command line (see :mod:`pgbench.cli`)."""

import sys

from pgbench.cli import main

sys.exit(main())
