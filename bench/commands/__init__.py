"""The CLI's commands, one module each: its arguments, whether it needs torch, and what it does.

A command that only reads records (``show``, ``report``, ``compare``, ``history``) never imports
torch or the workloads, so it starts fast and works where torch is not installed.
"""

from __future__ import annotations

from bench.commands.ab import Ab
from bench.commands.base import Command
from bench.commands.compare import Compare
from bench.commands.ddp import Ddp
from bench.commands.history import History
from bench.commands.listing import List
from bench.commands.overhead import Overhead
from bench.commands.peak import Peak
from bench.commands.report import Report
from bench.commands.reproduce import Reproduce
from bench.commands.run import Run
from bench.commands.show import Show

COMMANDS: tuple[Command, ...] = (
    List(),
    Run(),
    Ddp(),
    Show(),
    Report(),
    Compare(),
    History(),
    Reproduce(),
    Overhead(),
    Ab(),
    Peak(),
)
BY_NAME = {command.name: command for command in COMMANDS}
