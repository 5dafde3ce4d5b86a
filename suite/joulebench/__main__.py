"""`python -m joulebench`: the command line, for hosts where the console script is not on PATH."""

import sys

from joulebench.cli import main

sys.exit(main())
