"""Token settings: the two lists, their *_FILE variants, refusals that never show a token."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.credentials import Credentials, InvalidCredential
from bot.settings import SettingsError
from eventstore.authorization import ANONYMOUS, Caller, Role

from .helpers import from_env

A = "a" * 32
B = "b" * 32
C = "c" * 32


def test_each_token_speaks_for_its_agent_or_operator() -> None:
    credentials = Credentials.parse(agents=f"dev-e-1={A}, review-e={B}", operators=f"carol={C}")
    assert credentials.agents_required
    assert credentials.caller(f"Bearer {A}") == Caller(Role.AGENT, "dev-e-1")
    assert credentials.caller(f"bearer  {B} ") == Caller(Role.AGENT, "review-e")
    assert credentials.caller(f"Bearer {C}") == Caller(Role.OPERATOR, "carol")
    assert credentials.caller(None) is ANONYMOUS
    for header in (f"Bearer {A}x", f"Bearer {A[:-1]}", "Bearer", "", f"Token {A}", A):
        with pytest.raises(InvalidCredential):
            credentials.caller(header)


def test_no_agent_tokens_is_the_open_mode() -> None:
    assert not Credentials.parse(operators=f"carol={C}").agents_required
    assert not Credentials().agents_required


def test_rotation_two_tokens_for_one_agent_and_a_file_with_lines_and_comments() -> None:
    credentials = Credentials.parse(agents=f"# rotated 2026-12\ndev-e-1={A}\ndev-e-1={B}\n\n")
    assert credentials.caller(f"Bearer {A}") == credentials.caller(f"Bearer {B}") == Caller(Role.AGENT, "dev-e-1")


@pytest.mark.parametrize("agents, operators, says", [
    ("dev-e-1", "", "name=token"),
    (f"dev-e-1/pod={A}", "", "the name"),
    ("dev-e-1=short", "", "at least 16"),
    (f"dev-e-1={A}", f"carol={A}", "twice"),
    (f"={A}", "", "name=token"),
])
def test_unusable_lists_are_refused_without_showing_a_token(agents: str, operators: str, says: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as caught:
        from_env(monkeypatch, {"CONDUCTOR_E_AGENT_TOKENS": agents, "CONDUCTOR_E_OPERATOR_TOKENS": operators})
    assert says in str(caught.value) and A not in str(caught.value) and "short" not in str(caught.value)


def test_file_variants_and_secrets_kept_out_of_the_settings_repr(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "agents").write_text(f"dev-e-1={A}\n")
    (tmp_path / "operators").write_text(f"carol={C}\n")
    (tmp_path / "discord").write_text("discord-secret-token\n")
    settings = from_env(monkeypatch, {
        "CONDUCTOR_E_AGENT_TOKENS_FILE": str(tmp_path / "agents"),
        "CONDUCTOR_E_OPERATOR_TOKENS_FILE": str(tmp_path / "operators"),
        "DISCORD_TOKEN_FILE": str(tmp_path / "discord"), "DISCORD_CHANNEL_ID": "1",
    })
    assert settings.credentials.caller(f"Bearer {A}") == Caller(Role.AGENT, "dev-e-1")
    assert settings.credentials.caller(f"Bearer {C}") == Caller(Role.OPERATOR, "carol")
    assert settings.discord_token is not None and settings.discord_token.get_secret_value() == "discord-secret-token"
    for secret in (A, C, "discord-secret-token"):
        assert secret not in repr(settings)


def test_a_file_variant_that_cannot_be_read_or_clashes_is_a_clear_error(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="CONDUCTOR_E_AGENT_TOKENS_FILE: cannot read"):
        from_env(monkeypatch, {"CONDUCTOR_E_AGENT_TOKENS_FILE": str(tmp_path / "missing")})
    (tmp_path / "agents").write_text(f"dev-e-1={A}")
    with pytest.raises(SettingsError, match="not both"):
        from_env(monkeypatch, {"CONDUCTOR_E_AGENT_TOKENS": f"x={B}",
                               "CONDUCTOR_E_AGENT_TOKENS_FILE": str(tmp_path / "agents")})
