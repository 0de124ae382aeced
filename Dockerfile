# LYSYME screening bot: `lysyme-bot run` (long polling, or a webhook when LYSYME_WEBHOOK_URL
# is set) as an unprivileged user, the database on the /data volume (SQLite, the default) or
# a PostgreSQL server (LYSYME_DATABASE=postgresql://…; compose.yaml: two replicas + PostgreSQL).
#   docker build -t lysyme-bot .
#   docker run -d --name lysyme --env-file lysyme.env -v lysyme-data:/data lysyme-bot
# Pinned tag; for byte-identical rebuilds pin its digest too (python:3.11.13-slim-bookworm@sha256:…).
FROM python:3.11.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LYSYME_DATABASE=/data/lysyme.sqlite3

# A system user without a login shell; /data is its own and nobody else's (health data).
RUN groupadd --system --gid 10001 lysyme \
    && useradd --system --uid 10001 --gid lysyme --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin lysyme \
    && mkdir /data \
    && chown lysyme:lysyme /data \
    && chmod 0700 /data

# Only what the package needs to build; runtime dependencies only (no dev extra), no pip cache,
# and no source tree left behind once installed. The `postgresql` extra (psycopg 3, its binary
# wheel bundles libpq: no apt package) lets one image serve LYSYME_DATABASE=postgresql://… too;
# the SQLite file on /data stays the default.
COPY pyproject.toml README.md /tmp/lysyme/
COPY conversations /tmp/lysyme/conversations
COPY storage /tmp/lysyme/storage
COPY bot /tmp/lysyme/bot
RUN pip install --no-cache-dir "/tmp/lysyme[postgresql]" \
    && rm -rf /tmp/lysyme

USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
# Webhook mode only (LYSYME_WEBHOOK_PORT); polling needs no inbound port.
EXPOSE 8443

# Healthy when the database answers and the heartbeats are recent: the last getUpdates round
# (polling) or the webhook server answering (webhook), and the reminder sender's last round.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-m", "bot.health"]

# SIGTERM (docker stop) is a graceful stop: allow it ~30 s (docker run --stop-timeout 30).
STOPSIGNAL SIGTERM
CMD ["lysyme-bot", "run"]
