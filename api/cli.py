"""The ``xiaoan`` command line.

Each verb lives in its own module under ``api.commands`` with a ``register(subparsers)``
function; heavy imports happen inside the verb's handler. Errors print one line
(``error: ...``) to stderr — or a problem document with ``--json`` — and exit with 2 for
bad input, 1 otherwise.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Sequence

from geo.errors import ValidationError, XiaoanError
from layers.i18n import cli_locale

__all__ = ["main", "build_parser"]

COMMANDS = [
    "api.commands.serve",
    "api.commands.import_layer",
    "api.commands.demo",
    "api.commands.bus",
    "api.commands.pipes",
    "api.commands.risk",
    "api.commands.camera",
    "api.commands.ingest",
    "api.commands.scene",
    "api.commands.org",
    "api.commands.users",
    "api.commands.patrol",
    "api.commands.compliance",
    "api.commands.mqtt_acl",
    "api.commands.batch",
]

EPILOG = (
    "The store: import, pipes import, demo, serve and ingest create it; every other verb "
    "needs one that exists (--data DIR holding xiaoan.gpkg, default $XIAOAN_DATA_DIR or "
    "./xiaoan-data; or --database-url). "
    "Output: with --json a verb prints one JSON document on stdout, whose keys "
    "`xiaoan VERB --help` lists; a campus id is always under \"campus\", and lengths, areas and "
    "durations carry their unit (_m, _m2, _s). "
    "Errors: one line \"error: ...\" on stderr (with --json also an RFC 7807 problem "
    "document on stdout); exit status 2 for bad input, 1 otherwise (not found, conflict, "
    "service unreachable)."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xiaoan", description="校安 xiaoan: campus safety on real GIS standards",
        epilog=EPILOG,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument("--lang", metavar="LANG",
                        help="language of tables, progress and pictures: zh-CN (the default) "
                             "or en; default from XIAOAN_LANG")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    _describe_from_help(parser)
    return parser


def _describe_from_help(parser: argparse.ArgumentParser) -> None:
    """Give every sub-command without a description its one-line help as description, so
    ``xiaoan VERB --help`` says what the verb does."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                sp = action.choices[choice.dest]
                if sp.description is None and choice.help:
                    sp.description = choice.help
                _describe_from_help(sp)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.locale = cli_locale(args.lang)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        rc = args.func(args)
    except XiaoanError as e:
        if getattr(args, "json", False):
            print(json.dumps(e.to_problem(), ensure_ascii=False), file=sys.stdout)
        print(f"error: {e.message}", file=sys.stderr)
        errors = getattr(e, "errors", None)
        if errors and len(errors) > 1:
            for err in errors[:50]:
                print(f"  - {err}", file=sys.stderr)
            if len(errors) > 50:
                print(f"  ... and {len(errors) - 50} more", file=sys.stderr)
        return 2 if isinstance(e, ValidationError) else 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`xiaoan ... | head`): stop quietly, as other tools do, and
        # keep the interpreter from failing again when it flushes stdout at exit
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except OSError as e:
        if e.filename is None:
            raise
        # a file named on the command line could not be read or written
        print(f"error: {e.filename}: {e.strerror or e}; check the path (does its directory "
              "exist, may you write there?)", file=sys.stderr)
        return 1
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
