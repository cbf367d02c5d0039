"""Command line: ``python -m refefl reproduce`` (the papers, with a report), ``python -m refefl demo`` (a tour),
``python -m refefl check KIND module:function`` (property tests)."""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m refefl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    from refefl.reproduce._run import add_parser as add_reproduce_parser

    add_reproduce_parser(sub)
    demo = sub.add_parser("demo", help="a tour of every regularizer: losses, predictions, properties, one figure")
    demo.add_argument("--out", default="refefl_demo.png", help="where to save the figure (default: %(default)s)")
    from refefl.testing._cli import add_parser as add_check_parser

    add_check_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "reproduce":
        from refefl.reproduce._run import run as run_reproduce

        return run_reproduce(args, sys.argv[1:] if argv is None else argv)
    if args.command == "demo":
        from refefl.experiments.demo import run_demo

        return run_demo(args.out)
    if args.command == "check":
        from refefl.testing._cli import run as run_check

        return run_check(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
