"""`python -m joulebench`: the same as the `joulebench` command."""

import sys

from joulebench.cli import main

sys.exit(main())
