"""The coordinators' commands, routed: /status, /patient, /correct, /export, /stats (the views
live in bot/views/, the correction flow in bot/flows/correct.py)."""

from __future__ import annotations

from bot import routing
from bot.callback_data import Prefix
from bot.flows.correct import correct
from bot.views.export import export, export_choice
from bot.views.patient import patient
from bot.views.stats import stats
from bot.views.status import status

FEATURE = routing.Feature(
    "coordinator views",
    commands=(
        routing.Command("status", status),
        routing.Command("patient", patient),
        routing.Command("correct", correct),
        routing.Command("export", export),
        routing.Command("stats", stats),
    ),
    # The format buttons of /export: the same role as the command.
    callbacks=(routing.Callback(Prefix.EXPORT, "export", export_choice),),
)
