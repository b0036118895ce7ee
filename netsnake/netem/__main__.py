"""``python -m netsnake.netem``: run the relay."""

import sys

from netsnake.netem.relay import main

sys.exit(main())
