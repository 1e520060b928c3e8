"""`python -m hjdsl` runs the command-line interface."""

import sys

from hjdsl.cli import main

sys.exit(main())
