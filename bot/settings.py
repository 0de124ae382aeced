"""Settings from the environment or a `.env` file (DESIGN.md "Settings").

A wrong value stops the program at once with one line naming the setting (`SettingsError`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class SettingsError(Exception):
    """One line naming the setting and the problem."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    telegram_bot_token: str | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_api_base_url: str = Field(
        default="https://api.telegram.org/bot", alias="TELEGRAM_API_BASE_URL"
    )
    #: A SQLite file (the default), or a PostgreSQL URL `postgresql://user:pass@host:5432/db`.
    database: Path | str = Field(default=Path("lysyme.sqlite3"), alias="LYSYME_DATABASE")
    #: PostgreSQL: connections per process, the write connection included.
    database_pool_size: int = Field(default=5, alias="LYSYME_DATABASE_POOL_SIZE", ge=3, le=100)
    #: PostgreSQL replicas: how long the leader's lease lasts unrenewed (bot/telegram/leadership.py).
    #: Shorter: a faster takeover; longer: more patience with a slow database.
    leader_lease_seconds: float = Field(
        default=15.0, alias="LYSYME_LEADER_LEASE_SECONDS", ge=3.0, le=20.0
    )
    team_chat_id: int | None = Field(default=None, alias="LYSYME_TEAM_CHAT_ID")
    admin_ids: Annotated[tuple[int, ...], NoDecode] = Field(default=(), alias="LYSYME_ADMIN_IDS")
    timezone: str = Field(default="Europe/Paris", alias="LYSYME_TIMEZONE")
    language: Literal["fr", "en"] | None = Field(default=None, alias="LYSYME_LANGUAGE")
    site_code: str = Field(default="HMN", alias="LYSYME_SITE_CODE", pattern=r"^[A-Z0-9]{2,8}$")
    target_enrolment: int = Field(default=15, alias="LYSYME_TARGET_ENROLMENT", ge=1, le=10_000)
    backup_dir: Path | None = Field(default=None, alias="LYSYME_BACKUP_DIR")
    backup_keep: int = Field(default=14, alias="LYSYME_BACKUP_KEEP", ge=1, le=10_000)
    webhook_url: str | None = Field(default=None, alias="LYSYME_WEBHOOK_URL")
    webhook_listen: str = Field(default="0.0.0.0", alias="LYSYME_WEBHOOK_LISTEN")
    webhook_port: int = Field(default=8443, alias="LYSYME_WEBHOOK_PORT", ge=1, le=65535)
    webhook_secret: str | None = Field(
        default=None, alias="LYSYME_WEBHOOK_SECRET", pattern=r"^[A-Za-z0-9_-]{1,256}$"
    )

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, raw: object) -> object:
        if isinstance(raw, str):
            return tuple(int(part) for part in raw.replace(" ", "").split(",") if part)
        if isinstance(raw, int):
            return (raw,)
        return raw

    @field_validator("database", mode="before")
    @classmethod
    def _file_or_url(cls, raw: object) -> object:
        if isinstance(raw, str) and raw.startswith(("postgresql://", "postgres://")):
            return raw
        if isinstance(raw, str | Path):
            return Path(raw)
        return raw

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, raw: str) -> str:
        try:
            ZoneInfo(raw)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {raw!r}") from exc
        return raw

    @field_validator("telegram_api_base_url", "webhook_url")
    @classmethod
    def _http_url(cls, raw: str | None) -> str | None:
        if raw is not None and not raw.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return raw

    @field_validator("team_chat_id", "telegram_bot_token", "webhook_url", "webhook_secret",
                     "language", "backup_dir", mode="before")  # fmt: skip
    @classmethod
    def _empty_is_unset(cls, raw: object) -> object:
        return None if raw == "" else raw

    @property
    def on_postgres(self) -> bool:
        """LYSYME_DATABASE is a PostgreSQL URL (several replicas may share it)."""
        return isinstance(self.database, str)

    @property
    def database_label(self) -> str:
        """LYSYME_DATABASE as messages and logs show it: never a password."""
        if isinstance(self.database, str):
            from storage.postgres import redact

            return redact(self.database)
        return str(self.database)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_settings(**overrides: object) -> Settings:
    """Read the settings; raise SettingsError with one line naming the first bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        location = error.get("loc") or ("?",)
        name = str(location[0])
        alias = Settings.model_fields[name].alias if name in Settings.model_fields else name
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        raise SettingsError(f"{alias or name}: {message}") from None
