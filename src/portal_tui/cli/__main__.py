"""``python -m portal_tui.cli``."""

import sys

from portal_tui.cli.main import main

sys.exit(main())
