"""The settings of dispatch, Valkey and merging: parsed once, refused with one clear line, secrets kept out."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import GITHUB_API, SettingsError
from bot.valkey.streams import client_url, safe_url

from .helpers import from_env


def test_defaults_leave_all_three_off(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = from_env(monkeypatch, {})
    assert settings.valkey_url is None and settings.dispatch_agents == () and settings.github_token is None
    assert settings.github_api_url == GITHUB_API and settings.github_merge_method == "merge"


def test_dispatch_agents_in_order_once_each(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = from_env(monkeypatch, {"DISPATCH_AGENTS": " dev-e-1, dev-e-2,,dev-e-1 "})
    assert settings.dispatch_agents == ("dev-e-1", "dev-e-2")


@pytest.mark.parametrize("agents", ["dev-e-1/abc12", "dev e", "acme#1", "/x"])
def test_dispatch_agents_are_agents_not_pods_or_odd_ids(agents: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="DISPATCH_AGENTS"):
        from_env(monkeypatch, {"DISPATCH_AGENTS": agents})


def test_secrets_from_the_environment_or_a_file_never_in_the_repr(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("ghp_from_a_file_0123456789\n")
    url = "redis://:s3cret-password@valkey:6379/0"
    settings = from_env(monkeypatch, {"GITHUB_TOKEN_FILE": str(token_file), "VALKEY_URL": url})
    assert settings.github_token is not None and settings.github_token.get_secret_value() == "ghp_from_a_file_0123456789"
    assert settings.valkey_url is not None and settings.valkey_url.get_secret_value() == url
    assert "ghp_" not in repr(settings) and "s3cret" not in repr(settings)
    url_file = tmp_path / "url"
    url_file.write_text(url)
    from_file = from_env(monkeypatch, {"VALKEY_URL_FILE": str(url_file)}).valkey_url
    assert from_file is not None and from_file.get_secret_value() == url
    with pytest.raises(SettingsError, match="not both"):
        from_env(monkeypatch, {"GITHUB_TOKEN": "x", "GITHUB_TOKEN_FILE": str(token_file)})


def test_refusals_name_the_setting_without_echoing_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="VALKEY_URL") as refused:
        from_env(monkeypatch, {"VALKEY_URL": "http://:s3cret@valkey:6379"})
    assert "s3cret" not in str(refused.value)
    with pytest.raises(SettingsError, match="GITHUB_API_URL"):
        from_env(monkeypatch, {"GITHUB_API_URL": "ftp://example"})
    with pytest.raises(SettingsError, match="GITHUB_MERGE_METHOD"):
        from_env(monkeypatch, {"GITHUB_MERGE_METHOD": "octopus"})
    settings = from_env(monkeypatch, {"GITHUB_API_URL": "http://127.0.0.1:9/api/v3/", "GITHUB_MERGE_METHOD": "Squash"})
    assert settings.github_api_url == "http://127.0.0.1:9/api/v3" and settings.github_merge_method == "squash"


def test_valkey_urls_for_the_client_and_for_the_log() -> None:
    assert client_url("valkey://valkey:6379/2") == "redis://valkey:6379/2"
    assert client_url("valkeys://h:6380") == "rediss://h:6380"
    assert client_url("redis://h") == "redis://h"
    assert safe_url("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    assert safe_url("redis://user:pw@h:6379") == "redis://user:***@h:6379"
    assert safe_url("redis://h:6379") == "redis://h:6379"
