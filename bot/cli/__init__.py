"""The command line: `lysyme-bot` (bot.cli.command_line), its subcommands that need the database or
the network (bot.cli.commands), and the offline console (bot.cli.console)."""

from bot.cli.command_line import main

__all__ = ["main"]
