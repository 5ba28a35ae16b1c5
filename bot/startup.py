"""What stops the start: one line for the operator and an exit code saying whose move it is."""

from __future__ import annotations

SETTING = 2  # a setting to change (a value, a folder, the database's answer to our credentials)
UNAVAILABLE = 3  # the database or the embedded server did not come up, which may pass


class StartupError(Exception):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
