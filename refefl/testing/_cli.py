"""``python -m refefl check KIND package.module:function``: run a kind's properties on an importable function."""
from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from refefl.testing._kinds import KINDS, get_kind, property_names


def add_parser(sub) -> None:
    """Register the ``check`` sub-command on an argparse ``add_subparsers`` object."""
    p = sub.add_parser("check", help="property-test an implementation against refefl (see --list)",
                       description=__doc__)
    p.add_argument("kind", nargs="?", help="what the function computes (see --list)")
    p.add_argument("target", nargs="?", help="the function, as package.module:function (attributes with dots)")
    p.add_argument("--list", action="store_true", help="list the kinds and their properties, then exit")
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--examples", type=int, default=100, help="Hypothesis examples per property (default: 100)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--axis", type=int, default=-1, help="the axis the function reduces on 2-D input")
    p.add_argument("--convert", default="numpy", choices=["numpy", "torch", "jax"])
    p.add_argument("--grad", help="for *_loss kinds: the gradient function, package.module:function")
    p.add_argument("--approximate", action="store_true",
                   help="for the generalized_fy*_loss kinds: the loss uses an approximate inner solver (exact=False)")
    p.add_argument("--no-batch", action="store_true", help="the function takes 1-D input only")
    p.add_argument("--json", metavar="PATH", help="also write the report as JSON")


def load(target: str) -> Callable:
    """Import ``package.module:attr.attr`` and return the attribute."""
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"target must look like package.module:function, got {target!r}")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{target} is not callable")
    return obj


def list_kinds() -> str:
    lines = []
    for name, kind in KINDS.items():
        lines.append(f"{name}: {kind.description}")
        lines.extend(f"    {prop:<38} {doc}" for prop, doc in property_names(name))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the ``check`` sub-command; 0 when every property holds, 1 when one fails, 2 on bad usage."""
    if args.list:
        print(list_kinds())
        return 0
    if not args.kind or not args.target:
        print("usage: python -m refefl check KIND package.module:function (or --list)", file=sys.stderr)
        return 2
    try:
        kind = get_kind(args.kind)
        options = dict(dtype=args.dtype, examples=args.examples, seed=args.seed, axis=args.axis,
                       convert=args.convert, batched=not args.no_batch)
        if args.grad:
            if not args.kind.endswith("_loss"):
                raise ValueError("--grad applies to the *_loss kinds only")
            options["grad_fn"] = load(args.grad)
        if args.approximate:
            if not args.kind.startswith("generalized_fy"):
                raise ValueError("--approximate applies to the generalized_fy*_loss kinds only")
            options["exact"] = False
        fn = load(args.target)
    except (ValueError, TypeError, ImportError, AttributeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    report = kind.run(fn, **options)
    print(report.table())
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(report.to_json())
    return 0 if report.ok else 1

