"""The settings of the status cards, the boards and the per-repo channels."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError

from .helpers import from_env


def test_repo_channels_card_and_board_intervals(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = from_env(monkeypatch, {})
    assert defaults.discord_repo_channels == {}
    assert (defaults.discord_card_seconds, defaults.discord_board_seconds) == (2.0, 3.0)
    given = from_env(monkeypatch, {"DISCORD_REPO_CHANNELS": " acme/pay=123, acme/web = 456 ,",
                                   "DISCORD_CARD_SECONDS": "5", "DISCORD_BOARD_SECONDS": "10"})
    assert given.discord_repo_channels == {"acme/pay": 123, "acme/web": 456}
    assert (given.discord_card_seconds, given.discord_board_seconds) == (5.0, 10.0)


@pytest.mark.parametrize("env, says", [
    ({"DISCORD_REPO_CHANNELS": "acme/pay"},
     "DISCORD_REPO_CHANNELS must list owner/name=<channel id> entries, separated by commas, not 'acme/pay'"),
    ({"DISCORD_REPO_CHANNELS": "acme/web=2,pay=1"},
     "DISCORD_REPO_CHANNELS must list owner/name=<channel id> entries, separated by commas, not 'acme/web=2,pay=1'"),
    ({"DISCORD_REPO_CHANNELS": "acme/pay=#pay"},
     "DISCORD_REPO_CHANNELS must list owner/name=<channel id> entries, separated by commas, not 'acme/pay=#pay'"),
    ({"DISCORD_REPO_CHANNELS": "acme/pay=1,acme/pay=2"},
     "DISCORD_REPO_CHANNELS must name each repo once (acme/pay twice), not 'acme/pay=1,acme/pay=2'"),
    ({"DISCORD_BOARD_SECONDS": "0.5"}, "DISCORD_BOARD_SECONDS must be at least 1.0, not '0.5'"),
    ({"DISCORD_CARD_SECONDS": "600"}, "DISCORD_CARD_SECONDS must be at most 60.0, not '600'"),
])
def test_each_mistake_is_one_line_naming_the_variable(env: dict[str, str], says: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as caught:
        from_env(monkeypatch, env)
    assert str(caught.value) == says
