"""``python -m bench`` and the ``bench`` script: Ctrl-C and SIGTERM are handled before anything
else (importing torch takes seconds) and stay handled until the process is gone."""

import sys
from typing import NoReturn

from bench import signals
from bench.errors import EXIT_INTERRUPTED


def run() -> NoReturn:
    signals.install()
    try:
        from bench.cli import main  # noqa: PLC0415 - imported once the signals are handled
    except KeyboardInterrupt:
        print(f"bench: interrupted by {signals.received[0]} while starting; nothing written", file=sys.stderr)
        code = EXIT_INTERRUPTED
    else:
        code = main()
    signals.ignore()
    sys.exit(code)


if __name__ == "__main__":
    run()
