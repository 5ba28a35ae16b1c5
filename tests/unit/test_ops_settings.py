"""The operating settings: how long the start waits for the database, where root keeps its data, the log."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import settings as settings_module
from bot.settings import ROOT_DATA_DIR, Settings, SettingsError, default_data_dir

from .helpers import from_env


def test_the_database_wait_defaults_to_30_s_and_zero_means_one_try(monkeypatch: pytest.MonkeyPatch) -> None:
    assert from_env(monkeypatch, {}).database_connect_timeout_seconds == 30
    assert from_env(monkeypatch, {"DATABASE_CONNECT_TIMEOUT_SECONDS": "0"}).database_connect_timeout_seconds == 0
    with pytest.raises(SettingsError, match="^DATABASE_CONNECT_TIMEOUT_SECONDS must be at least 0.0, not '-1'$"):
        from_env(monkeypatch, {"DATABASE_CONNECT_TIMEOUT_SECONDS": "-1"})


def test_root_keeps_its_data_where_the_server_user_can_reach_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings_module.os, "geteuid", lambda: 0)
    assert default_data_dir() == ROOT_DATA_DIR == Path("/var/lib/conductor-e")
    monkeypatch.setattr(settings_module.os, "geteuid", lambda: 1000)
    assert default_data_dir().name == "conductor-e" and default_data_dir() != ROOT_DATA_DIR


def test_the_log_format_and_the_access_log(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = from_env(monkeypatch, {})
    assert (defaults.log_format, defaults.access_log) == ("text", False)
    given = from_env(monkeypatch, {"LOG_FORMAT": " JSON ", "ACCESS_LOG": "true"})
    assert (given.log_format, given.access_log) == ("json", True)
    with pytest.raises(SettingsError) as caught:
        from_env(monkeypatch, {"LOG_FORMAT": "xml"})
    assert str(caught.value) == "LOG_FORMAT must be one of 'text' or 'json', not 'xml'"


def test_the_readme_lists_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    aliases = [f.validation_alias for f in Settings.model_fields.values() if isinstance(f.validation_alias, str)]
    assert [a for a in aliases if f"| `{a}` |" not in readme] == []
