"""The Telegram adapter: handlers, update intake (polling that confirms only what was handled),
replies and their delivery record, the leader/standby lease and its fencing of outgoing calls."""
