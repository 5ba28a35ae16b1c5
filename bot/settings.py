"""Settings, read once from the environment by the composition root (never at import time).

Every setting is documented in the README's settings table; keep the two in step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .credentials import Credentials, CredentialsError

DISCORD_API_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg"


class SettingsError(ValueError):
    pass


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if value < minimum or value != value:
        raise SettingsError(f"{name} must be at least {minimum}, not {raw!r}")
    return value


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _port(env: Mapping[str, str]) -> int:
    raw = env.get("PORT", "").strip()
    if not raw:
        return Settings.port
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise SettingsError(f"PORT must be a port number from 0 to 65535, not {raw!r}")
    return int(raw)


def _log_level(env: Mapping[str, str]) -> str:
    raw = env.get("LOG_LEVEL", "").strip()
    if not raw:
        return Settings.log_level
    if raw.upper() not in LOG_LEVELS:
        raise SettingsError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {raw!r}")
    return raw.upper()


def _snowflake(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise SettingsError(f"{name} must be a Discord id (digits), not {raw!r}")
    return int(raw)


def _secret_text(env: Mapping[str, str], name: str) -> str:
    """``name``'s value, or the contents of the file ``name_FILE`` names (a mounted secret)."""
    value, path = env.get(name, ""), env.get(f"{name}_FILE", "").strip()
    if value.strip() and path:
        raise SettingsError(f"set {name} or {name}_FILE, not both")
    if not path:
        return value
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{name}_FILE: cannot read {path}: {exc.__class__.__name__}") from None


def _credentials(env: Mapping[str, str]) -> Credentials:
    try:
        return Credentials.parse(_secret_text(env, "CONDUCTOR_E_AGENT_TOKENS"),
                                 _secret_text(env, "CONDUCTOR_E_OPERATOR_TOKENS"))
    except CredentialsError as exc:
        raise SettingsError(str(exc)) from None


def default_data_dir(env: Mapping[str, str]) -> Path:
    configured = env.get("CONDUCTOR_E_DATA_DIR", "").strip()
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("conductor-e"))


@dataclass(frozen=True)
class Settings:
    host: str = "0.0.0.0"
    port: int = 8080
    database_url: str | None = None
    data_dir: Path = Path(".conductor-e")
    max_body_bytes: int = 256 * 1024
    http_timeout_seconds: float = 15.0
    log_level: str = "INFO"
    agent_online_minutes: float = 3.0
    heartbeat_timeout_minutes: float = 10.0
    discord_token: str | None = field(default=None, repr=False)
    credentials: Credentials = field(default_factory=Credentials)
    discord_guild_id: int | None = None
    discord_channel_id: int | None = None
    discord_gate_role_id: int | None = None
    discord_tool_events: bool = False
    discord_tool_fold_seconds: float = 5.0
    discord_retry_seconds: float = 5.0
    discord_api_base_url: str = DISCORD_API_BASE
    discord_gateway_url: str = DISCORD_GATEWAY
    human_gate_reminder_minutes: float = 30.0
    agent_log_retention_days: float = 7.0

    @property
    def discord_enabled(self) -> bool:
        return bool(self.discord_token)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        token = _secret_text(env, "DISCORD_TOKEN").strip() or None
        settings = cls(
            host=env.get("HOST", cls.host),
            port=_port(env),
            database_url=env.get("DATABASE_URL", "").strip() or None,
            data_dir=default_data_dir(env),
            max_body_bytes=int(_number(env, "MAX_BODY_BYTES", cls.max_body_bytes, minimum=1024)),
            http_timeout_seconds=_number(env, "HTTP_TIMEOUT_SECONDS", cls.http_timeout_seconds, minimum=0.5),
            log_level=_log_level(env),
            agent_online_minutes=_number(env, "AGENT_ONLINE_MINUTES", cls.agent_online_minutes, minimum=0.01),
            heartbeat_timeout_minutes=_number(
                env, "HEARTBEAT_TIMEOUT_MINUTES", cls.heartbeat_timeout_minutes, minimum=0.01
            ),
            discord_token=token,
            credentials=_credentials(env),
            discord_guild_id=_snowflake(env, "DISCORD_GUILD_ID"),
            discord_channel_id=_snowflake(env, "DISCORD_CHANNEL_ID"),
            discord_gate_role_id=_snowflake(env, "DISCORD_GATE_ROLE_ID"),
            discord_tool_events=_bool(env, "DISCORD_TOOL_EVENTS", False),
            discord_tool_fold_seconds=_number(env, "DISCORD_TOOL_FOLD_SECONDS", cls.discord_tool_fold_seconds,
                                              minimum=0.1),
            discord_retry_seconds=_number(env, "DISCORD_RETRY_SECONDS", cls.discord_retry_seconds, minimum=0.1),
            discord_api_base_url=env.get("DISCORD_API_BASE_URL", "").strip() or DISCORD_API_BASE,
            discord_gateway_url=env.get("DISCORD_GATEWAY_URL", "").strip() or DISCORD_GATEWAY,
            human_gate_reminder_minutes=_number(
                env, "HUMAN_GATE_REMINDER_MINUTES", cls.human_gate_reminder_minutes, minimum=0.01
            ),
            agent_log_retention_days=_number(env, "AGENT_LOG_RETENTION_DAYS", cls.agent_log_retention_days,
                                             minimum=0.001),
        )
        if token and settings.discord_channel_id is None:
            raise SettingsError("DISCORD_CHANNEL_ID is required when DISCORD_TOKEN is set")
        return settings
