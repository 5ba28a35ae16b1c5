"""Agent-supplied text in a Discord message: shown as sent, unable to format the message.

Used by the thread messages (``bot.discord.rendering``) and the command answers alike.
"""

from __future__ import annotations

import re

# Inline markdown that agent-supplied text could use to forge formatting or masked links
# ([click](https://…)), and the start of mentions and timestamps (<@…>, <#…>, <t:…>).
_MARKDOWN = str.maketrans({c: "\\" + c for c in "\\*_~`|[]<>"})
_URL = re.compile(r"^https?://[^\s<>\[\]()`|*~\\]+$")


def text(value: object) -> str:
    """Agent-supplied text as one plain line: markdown escaped, line breaks folded (so it cannot
    fake a line of its own, such as "✅ Gate approved by …"), @everyone and @here defused."""
    line = " ".join(str(value).split())
    return line.translate(_MARKDOWN).replace("@", "@\u200b")


def code(value: object) -> str:
    """Agent-supplied text for inside a code span: one line, and no backtick to end the span."""
    return " ".join(str(value).split()).replace("`", "ʼ")


def link(value: str) -> str:
    """A URL as Discord links it when it is one; anything else as plain text."""
    return value if _URL.match(value) else text(value)
