"""Flows: one concern per module, each returning plain `Out` messages (no Telegram types)."""
