"""The command line: `lysyme-bot` (bot.cli.main), its subcommands that need the database or
the network (bot.cli.commands), and the offline console (bot.cli.console)."""

from bot.cli.main import main

__all__ = ["main"]
