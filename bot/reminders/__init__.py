"""The reminders: the sender that turns due rows of the outbox into messages (the sweep, the
row's delivery, the words of every kind, upkeep), the team's morning board, the D0 ownership
loop, the follow-up questions, the admins' membership notices, and delivery to Telegram."""
