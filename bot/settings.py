"""Settings: a pydantic-settings model, read once from the environment by the composition root
(never at import time).

Every setting is an environment variable named in its field's ``validation_alias`` and documented
in the README's settings table; keep the two in step. A value that cannot be used is a
SettingsError naming the variable, which the CLI prints as one line (exit code 2).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from .credentials import Credentials, CredentialsError

DISCORD_API_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg"
GITHUB_API = "https://api.github.com"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
VALKEY_SCHEMES = ("redis", "rediss", "valkey", "valkeys", "unix")
_AGENT = re.compile(r"^[^\s#/,][^\s#/,]{0,199}$")  # an agent id without a pod suffix
_REPO = re.compile(r"^[^\s#/,=]+/[^\s#/,=]+$")  # owner/name
# Given either as the variable or as a file named by NAME_FILE (a mounted secret).
SECRETS = ("DISCORD_TOKEN", "CONDUCTOR_E_AGENT_TOKENS", "CONDUCTOR_E_OPERATOR_TOKENS", "VALKEY_URL", "GITHUB_TOKEN")


class SettingsError(ValueError):
    pass


def _snowflake(value: Any) -> Any:
    if isinstance(value, str) and not value.strip().isdigit():
        raise ValueError("must be a Discord id (digits)")
    return value


def _port(value: Any) -> Any:
    # "8080.0" or "+80" would pass lax int parsing; a port is written as digits.
    if isinstance(value, str) and not value.strip().isdigit() or not 0 <= int(value) <= 65535:
        raise ValueError("must be a port number from 0 to 65535")
    return value


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _log_level(value: str) -> str:
    if value.strip().upper() not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return value.strip().upper()


def _agents(value: Any) -> Any:
    """A comma-separated list of agent ids (``dev-e-1``, not its pods ``dev-e-1/abc12``), in order, once each."""
    if not isinstance(value, str):
        return value
    agents = [a.strip() for a in value.split(",") if a.strip()]
    for agent in agents:
        if not _AGENT.match(agent):
            raise ValueError(f"{agent[:60]!r} is not an agent id (1-200 characters without spaces, "
                             "'#', '/' or ','; list agents, not their pods)")
    return tuple(dict.fromkeys(agents))


def _repo_channels(value: Any) -> Any:
    """``acme/pay=<channel id>,acme/web=<channel id>``: each repo once, each channel a Discord id."""
    if not isinstance(value, str):
        return value
    routes: dict[str, int] = {}
    for entry in (e.strip() for e in value.split(",")):
        if not entry:
            continue
        repo, sep, channel = (part.strip() for part in entry.partition("="))
        if not sep or not _REPO.match(repo) or not channel.isdigit():
            raise ValueError("must list owner/name=<channel id> entries, separated by commas")
        if repo in routes:
            raise ValueError(f"must name each repo once ({repo[:80]} twice)")
        routes[repo] = int(channel)
    return routes


def _valkey_url(value: Any) -> Any:
    value = _blank_is_none(value)
    if isinstance(value, str) and value.strip().partition("://")[0].lower() not in VALKEY_SCHEMES:
        # Not echoed (see _first_problem): the URL may hold a password.
        raise ValueError("must start with redis://, rediss://, valkey://, valkeys:// or unix://")
    return value


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


_HH_MM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _utc_time(value: Any) -> Any:
    """``HH:MM`` (24 hours, UTC); blank is off."""
    value = _blank_is_none(value)
    if not isinstance(value, str):
        return value
    found = _HH_MM.match(value.strip())
    if found is None:
        raise ValueError("must be a UTC time as HH:MM (00:00 to 23:59)")
    return time(int(found[1]), int(found[2]))


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


DiscordId = Annotated[int | None, BeforeValidator(_snowflake)]


ROOT_DATA_DIR = Path("/var/lib/conductor-e")


def default_data_dir() -> Path:
    """The user's data folder; as root, /var/lib/conductor-e: the embedded server then runs as a
    user of its own, which can enter /var/lib but not root's 0700 home (and we loosen no folder)."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ROOT_DATA_DIR
    import platformdirs

    return Path(platformdirs.user_data_dir("conductor-e"))


class Settings(BaseSettings):
    # Settings(...) is what it is given and the defaults; from_env reads the environment.
    model_config = SettingsConfigDict(frozen=True, case_sensitive=True, env_ignore_empty=True,
                                      validate_by_name=True, validate_by_alias=True,
                                      arbitrary_types_allowed=True, str_strip_whitespace=True)

    host: str = Field("0.0.0.0", validation_alias="HOST")
    port: Annotated[int, BeforeValidator(_port)] = Field(8080, validation_alias="PORT")
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    # How long the start waits for a DATABASE_URL server that cannot be reached yet (start orders).
    database_connect_timeout_seconds: float = Field(30.0, ge=0.0, allow_inf_nan=False,
                                                    validation_alias="DATABASE_CONNECT_TIMEOUT_SECONDS")
    data_dir: Annotated[Path, AfterValidator(Path.expanduser)] = Field(default_factory=default_data_dir,
                                                                       validation_alias="CONDUCTOR_E_DATA_DIR")
    max_body_bytes: int = Field(256 * 1024, ge=1024, validation_alias="MAX_BODY_BYTES")
    http_timeout_seconds: float = Field(15.0, ge=0.5, allow_inf_nan=False, validation_alias="HTTP_TIMEOUT_SECONDS")
    log_level: Annotated[str, AfterValidator(_log_level)] = Field("INFO", validation_alias="LOG_LEVEL")
    log_format: Annotated[Literal["text", "json"], BeforeValidator(_lower)] = Field("text",
                                                                                 validation_alias="LOG_FORMAT")
    access_log: bool = Field(False, validation_alias="ACCESS_LOG")
    agent_online_minutes: float = Field(3.0, ge=0.01, allow_inf_nan=False, validation_alias="AGENT_ONLINE_MINUTES")
    heartbeat_timeout_minutes: float = Field(10.0, ge=0.01, allow_inf_nan=False,
                                             validation_alias="HEARTBEAT_TIMEOUT_MINUTES")
    discord_token: Annotated[SecretStr | None, BeforeValidator(_blank_is_none)] = Field(
        None, validation_alias="DISCORD_TOKEN")
    # Parsed from CONDUCTOR_E_AGENT_TOKENS and CONDUCTOR_E_OPERATOR_TOKENS (see _credentials).
    credentials: Credentials = Field(default_factory=Credentials)
    # Assignments pushed to Valkey/Redis (the URL may hold a password), the agents the dispatcher
    # hands work to, and merging through GitHub.
    valkey_url: Annotated[SecretStr | None, BeforeValidator(_valkey_url)] = Field(
        None, validation_alias="VALKEY_URL")
    dispatch_agents: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_agents)] = Field(
        (), validation_alias="DISPATCH_AGENTS")
    github_token: Annotated[SecretStr | None, BeforeValidator(_blank_is_none)] = Field(
        None, validation_alias="GITHUB_TOKEN")
    github_api_url: Annotated[str, AfterValidator(_http_url)] = Field(GITHUB_API, validation_alias="GITHUB_API_URL")
    github_merge_method: Annotated[Literal["merge", "squash", "rebase"], BeforeValidator(_lower)] = Field(
        "merge", validation_alias="GITHUB_MERGE_METHOD")
    discord_guild_id: DiscordId = Field(None, validation_alias="DISCORD_GUILD_ID")
    discord_channel_id: DiscordId = Field(None, validation_alias="DISCORD_CHANNEL_ID")
    discord_gate_role_id: DiscordId = Field(None, validation_alias="DISCORD_GATE_ROLE_ID")
    discord_repo_channels: Annotated[dict[str, int], NoDecode, BeforeValidator(_repo_channels)] = Field(
        default_factory=dict, validation_alias="DISCORD_REPO_CHANNELS")
    # At most one edit of a status card per thread, and of a board per channel, per this many
    # seconds (changes meanwhile are shown together); a board's floor keeps it within Discord's
    # per-channel rate (about 5 per 5 s).
    discord_card_seconds: float = Field(2.0, ge=0.5, le=60, allow_inf_nan=False, validation_alias="DISCORD_CARD_SECONDS")
    discord_board_seconds: float = Field(3.0, ge=1.0, le=300, allow_inf_nan=False,
                                         validation_alias="DISCORD_BOARD_SECONDS")
    discord_tool_events: bool = Field(False, validation_alias="DISCORD_TOOL_EVENTS")
    discord_tool_fold_seconds: float = Field(5.0, ge=0.1, allow_inf_nan=False, validation_alias="DISCORD_TOOL_FOLD_SECONDS")
    discord_retry_seconds: float = Field(5.0, ge=0.1, allow_inf_nan=False, validation_alias="DISCORD_RETRY_SECONDS")
    discord_api_base_url: str = Field(DISCORD_API_BASE, validation_alias="DISCORD_API_BASE_URL")
    discord_gateway_url: str = Field(DISCORD_GATEWAY, validation_alias="DISCORD_GATEWAY_URL")
    human_gate_reminder_minutes: float = Field(30.0, ge=0.01, allow_inf_nan=False,
                                               validation_alias="HUMAN_GATE_REMINDER_MINUTES")
    agent_log_retention_days: float = Field(7.0, ge=0.001, allow_inf_nan=False,
                                            validation_alias="AGENT_LOG_RETENTION_DAYS")
    # The gate ladder and the daily digest.
    human_gate_escalate_after: int = Field(4, ge=0, le=10_000, validation_alias="HUMAN_GATE_ESCALATE_AFTER")
    discord_escalation_role_id: DiscordId = Field(None, validation_alias="DISCORD_ESCALATION_ROLE_ID")
    digest_time: Annotated[time | None, BeforeValidator(_utc_time)] = Field(None, validation_alias="DIGEST_TIME")

    @model_validator(mode="after")
    def _channel_with_token(self) -> Settings:
        if self.discord_token is not None and self.discord_channel_id is None:
            raise ValueError("DISCORD_CHANNEL_ID is required when DISCORD_TOKEN is set")
        return self

    @property
    def discord_enabled(self) -> bool:
        return self.discord_token is not None

    # Settings(...) is what it is given; from_env reads the environment too (see _FromEnvironment).
    reads_environment: ClassVar[bool] = False

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings) if cls.reads_environment else (init_settings,)

    @classmethod
    def from_env(cls) -> Settings:
        """The settings the process's environment gives; SettingsError if one cannot be used."""
        secrets = {name: _secret_text(os.environ, name).strip() for name in SECRETS}
        given: dict[str, Any] = {"credentials": _credentials(secrets)}
        for name in ("DISCORD_TOKEN", "VALKEY_URL", "GITHUB_TOKEN"):
            if secrets[name]:  # from the variable or its _FILE
                given[name] = secrets[name]
        try:
            return _FromEnvironment(**given)
        except ValidationError as exc:
            raise SettingsError(_first_problem(exc)) from None


class _FromEnvironment(Settings):
    """Settings read by pydantic-settings from the environment, under each field's alias."""

    reads_environment = True


# pydantic's error types, as the README words them.
_MEANINGS = {"int_parsing": "must be a whole number", "float_parsing": "must be a number",
             "finite_number": "must be a finite number", "bool_parsing": "must be true or false"}


def _first_problem(exc: ValidationError) -> str:
    """One line naming the variable: ``PORT must be a port number from 0 to 65535, not '99999'``."""
    error = exc.errors(include_url=False)[0]
    if not error["loc"]:  # a rule across settings: its message names them
        return error["msg"].removeprefix("Value error, ")
    context = error.get("ctx", {})
    if error["type"] == "greater_than_equal":
        meaning = f"must be at least {context['ge']}"
    elif error["type"] == "less_than_equal":
        meaning = f"must be at most {context['le']}"
    elif error["type"] == "value_error":
        meaning = str(context.get("error", error["msg"]))
    elif error["type"] == "literal_error":
        meaning = f"must be one of {context['expected']}"
    else:
        meaning = _MEANINGS.get(error["type"], error["msg"].lower())
    name = error["loc"][0]
    if name in SECRETS:  # never echoed
        return f"{name} {meaning}"
    return f"{name} {meaning}, not {error['input']!r}"


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
        return Credentials.parse(env.get("CONDUCTOR_E_AGENT_TOKENS", ""), env.get("CONDUCTOR_E_OPERATOR_TOKENS", ""))
    except CredentialsError as exc:
        raise SettingsError(str(exc)) from None
