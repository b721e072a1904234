"""``python -m bench`` and the ``bench`` script: Ctrl-C and SIGTERM are handled before anything
else (importing torch takes seconds) and stay handled until the process is gone."""

import sys
from typing import NoReturn

from bench import signals


def run() -> NoReturn:
    signals.install()
    from bench.cli import main  # noqa: PLC0415 - imported once the signals are handled

    code = main()
    signals.ignore()
    sys.exit(code)


if __name__ == "__main__":
    run()
