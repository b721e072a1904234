"""``python -m bench``: run the suite, show, report, compare and keep runs, reproduce accuracies.

Exit codes: 0 success; 1 a benchmark failed (compare: a regression); 2 bad input; 3 device not available;
130 interrupted. Each command is a module of ``bench.commands``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bench import signals
from bench.arguments import OneLineParser
from bench.commands import BY_NAME, COMMANDS
from bench.commands.base import EPILOG
from bench.errors import EXIT_INTERRUPTED, EXIT_USAGE, BenchError


def build_parser(chosen: str | None = None) -> argparse.ArgumentParser:
    """The CLI with command ``chosen`` alone where it names one, else every command by name without its
    arguments (enough to list them or refuse a wrong one). The whole of it cost every invocation 3 ms,
    and ``--help`` torch's import (a second and a half)."""
    parser = OneLineParser(prog="python -m bench", description=__doc__.splitlines()[0], epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    for command in [BY_NAME[chosen]] if chosen in BY_NAME else COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, epilog=command.epilog)
        if command.name == chosen:
            command.add_arguments(sub)
    return parser


def one_line(text: str) -> str:
    """``text`` with line breaks shown as escapes (a file name may hold one)."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    try:
        with signals.handled():
            args = build_parser(argv[0] if argv else None).parse_args(argv)
            args.command_line = argv  # as given: a run over several devices repeats it for each
            command = BY_NAME[args.command]
            if extra and not command.takes_extra:
                print(f"python -m bench {command.name}: error: takes no arguments after --", file=sys.stderr)
                return EXIT_USAGE
            if command.needs_torch:
                signals.check()  # torch is imported; the suite arms the signals when its cases start
            else:
                signals.arm()  # the rest is Python-level work that a signal may stop at once
            return command.run(args, extra)
    except BenchError as error:  # one line, whatever a path in it holds
        print(f"bench: error: {one_line(str(error))}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:  # before a run's cases started, or in a command that is not a run
        why = signals.received[0] if signals.received else "SIGINT"
        print(f"bench: interrupted by {why}; nothing half-written was left", file=sys.stderr)
        return EXIT_INTERRUPTED
