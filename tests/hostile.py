"""Files made to attack the suite: a pickle that runs a shell command when it is loaded unsafely."""

from __future__ import annotations

import os


class RunsCode:
    """Pickles as a call to ``os.system(command)``: an unrestricted unpickler would run it."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple:
        return (os.system, (self.command,))
