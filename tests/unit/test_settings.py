"""Settings from the environment: defaults, each mistake as one line naming its variable, the
Discord token kept secret."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError

from .helpers import from_env


def test_defaults_and_values_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = from_env(monkeypatch, {})
    assert (defaults.host, defaults.port, defaults.log_level, defaults.database_url) == ("0.0.0.0", 8080, "INFO", None)
    assert not defaults.discord_enabled and defaults.discord_tool_events is False
    given = from_env(monkeypatch, {"PORT": " 81 ", "LOG_LEVEL": "debug", "DATABASE_URL": "", "MAX_BODY_BYTES": "2048",
                                   "DISCORD_TOOL_EVENTS": "yes", "CONDUCTOR_E_DATA_DIR": "~/ce",
                                   "HUMAN_GATE_REMINDER_MINUTES": "0.5", "DISCORD_GUILD_ID": "123",
                                   "AGENT_LOG_RETENTION_DAYS": "0.5"})
    assert (given.port, given.log_level, given.database_url, given.max_body_bytes) == (81, "DEBUG", None, 2048)
    assert given.discord_tool_events is True and given.human_gate_reminder_minutes == 0.5
    assert given.data_dir == Path("~/ce").expanduser() and given.discord_guild_id == 123
    assert defaults.agent_log_retention_days == 7 and given.agent_log_retention_days == 0.5


@pytest.mark.parametrize("env, says", [
    ({"PORT": "99999"}, "PORT must be a port number from 0 to 65535, not '99999'"),
    ({"PORT": "80.0"}, "PORT must be a port number from 0 to 65535, not '80.0'"),
    ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'verbose'"),
    ({"HTTP_TIMEOUT_SECONDS": "0"}, "HTTP_TIMEOUT_SECONDS must be at least 0.5, not '0'"),
    ({"AGENT_ONLINE_MINUTES": "nan"}, "AGENT_ONLINE_MINUTES must be a finite number, not 'nan'"),
    ({"MAX_BODY_BYTES": "lots"}, "MAX_BODY_BYTES must be a whole number, not 'lots'"),
    ({"DISCORD_TOOL_EVENTS": "maybe"}, "DISCORD_TOOL_EVENTS must be true or false, not 'maybe'"),
    ({"DISCORD_CHANNEL_ID": "#general"}, "DISCORD_CHANNEL_ID must be a Discord id (digits), not '#general'"),
    ({"DISCORD_TOKEN": "t"}, "DISCORD_CHANNEL_ID is required when DISCORD_TOKEN is set"),
    ({"AGENT_LOG_RETENTION_DAYS": "0"}, "AGENT_LOG_RETENTION_DAYS must be at least 0.001, not '0'"),
    ({"AGENT_LOG_RETENTION_DAYS": "-1"}, "AGENT_LOG_RETENTION_DAYS must be at least 0.001, not '-1'"),
    ({"DIGEST_TIME": "9am"}, "DIGEST_TIME must be a UTC time as HH:MM (00:00 to 23:59), not '9am'"),
    ({"DIGEST_TIME": "24:00"}, "DIGEST_TIME must be a UTC time as HH:MM (00:00 to 23:59), not '24:00'"),
    ({"HUMAN_GATE_ESCALATE_AFTER": "-1"}, "HUMAN_GATE_ESCALATE_AFTER must be at least 0, not '-1'"),
    ({"HUMAN_GATE_ESCALATE_AFTER": "2.5"}, "HUMAN_GATE_ESCALATE_AFTER must be a whole number, not '2.5'"),
    ({"DISCORD_ESCALATION_ROLE_ID": "@leads"}, "DISCORD_ESCALATION_ROLE_ID must be a Discord id (digits), not '@leads'"),
])
def test_each_mistake_is_one_line_naming_the_variable(env: dict[str, str], says: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as caught:
        from_env(monkeypatch, env)
    assert str(caught.value) == says


def test_the_discord_token_is_a_secret_and_blank_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = from_env(monkeypatch, {"DISCORD_TOKEN": "the-real-token", "DISCORD_CHANNEL_ID": "1"})
    assert settings.discord_enabled and settings.discord_token is not None
    assert settings.discord_token.get_secret_value() == "the-real-token"
    assert "the-real-token" not in repr(settings) and "the-real-token" not in str(settings.model_dump())
    assert not from_env(monkeypatch, {"DISCORD_TOKEN": "   "}).discord_enabled


def test_settings_made_in_code_do_not_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9999")
    monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/db")
    made = Settings(host="127.0.0.1", port=0)
    assert (made.port, made.database_url) == (0, None)
    assert made.model_copy(update={"port": 5}).port == 5


def test_the_gate_ladder_and_the_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = from_env(monkeypatch, {})
    assert (defaults.human_gate_escalate_after, defaults.discord_escalation_role_id, defaults.digest_time) == \
        (4, None, None)  # the digest is off unless a time is given
    given = from_env(monkeypatch, {"HUMAN_GATE_ESCALATE_AFTER": "0", "DISCORD_ESCALATION_ROLE_ID": "42",
                                   "DIGEST_TIME": " 7:05 "})
    assert (given.human_gate_escalate_after, given.discord_escalation_role_id) == (0, 42)
    assert given.digest_time == time(7, 5)
    assert from_env(monkeypatch, {"DIGEST_TIME": "23:59"}).digest_time == time(23, 59)
