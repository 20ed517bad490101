"""The ``dynsys`` command line: the only place that maps strings to objects.

Each subcommand lives in its own module ``dynsys/cli/<command>.py`` exposing
``add_parser(subparsers)`` and ``run(args) -> int``. Errors a user can cause
are printed as one line and give exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

from dynsys.cli._common import CLIError, UserError

#: Subcommand name -> module under ``dynsys.cli``.
COMMANDS = {
    "list": "list_cmd",
    "simulate": "simulate",
    "train": "train",
    "rollout": "rollout",
    "score": "score",
    "bench": "bench",
}


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr, status 2."""

    def error(self, message: str):  # noqa: D102 - argparse's contract
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available subcommand."""
    from dynsys import __version__

    parser = _Parser(
        prog="dynsys",
        description="Simulate dynamical systems on Lie groups and benchmark "
        "how well learned models keep their structure.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS.values():
        try:
            mod = importlib.import_module(f"dynsys.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name == f"dynsys.cli.{module}":
                continue  # command not built yet
            raise
        mod.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``dynsys`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # SIGTERM takes the same path as Ctrl-C: temporary files are removed and
    # finished work (bench cells) is kept.
    signal.signal(signal.SIGTERM, _terminate)
    prefix = f"dynsys {args.command}: error:"
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print(f"dynsys {args.command}: interrupted", file=sys.stderr)
        return 130
    except UserError as exc:
        print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
        return 2


def _terminate(signum, frame):
    raise KeyboardInterrupt


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, KeyError) and text.startswith("'"):
        text = text.strip("'\"")
    return " ".join(text.split())


__all__ = ["main", "build_parser", "CLIError"]
