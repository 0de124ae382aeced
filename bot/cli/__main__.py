"""`python -m bot.cli …`, the same as `lysyme-bot …`."""

import sys

from bot.cli.command_line import main

sys.exit(main())
