"""`python -m bot.cli …`, the same as `lysyme-bot …`."""

import sys

from bot.cli.main import main

sys.exit(main())
