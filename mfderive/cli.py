r"""The ``mfderive`` command: what users run, one subcommand each.

==================  =========================================================================
subcommand          what it runs
==================  =========================================================================
``run-notebooks``   execute ``notebooks/`` with papermill (two at a time by default), publish
                    the verified ones, print and write the verification report
                    (``_build/report.json``, ``_build/report.md``); ``--no-book`` skips the
                    book build that follows a fully verified run
                    (:func:`mfderive.publish.book.main`)
``report``          the derivation report: what the engine derives for the examples of C1–C3
                    and the dissipation identities, with timings
                    (:func:`mfderive.publish.report.main`)
``bench``           a benchmark script of ``benchmarks/`` in the source checkout
                    (``mfderive bench --list`` names them)
==================  =========================================================================

``mfderive`` and ``python -m mfderive`` are the same program (:func:`main`); each subcommand
has ``--help``.  The exit status is the subcommand's: non-zero when a check failed.

>>> main(["--version"])  # doctest: +ELLIPSIS
mfderive ...
0
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["build_parser", "main"]


def _run_notebooks(args: argparse.Namespace) -> int:
    from .publish import book

    argv = list(args.names) + ["--profile", args.profile, "-j", str(args.jobs), "--claims", str(args.claims)]
    argv += ["--no-book"] * args.no_book + ["--allow-uncovered"] * args.allow_uncovered + ["--quiet"] * args.quiet
    return book.main(argv)


def _report(args: argparse.Namespace) -> int:
    from .publish import report

    return report.main([])


def _benchmarks_dir(root: Path) -> Path | None:
    """``benchmarks/`` of the source checkout at ``root`` (or of the one this package was
    imported from); ``None`` for an installed wheel, which ships no benchmarks."""
    for base in (root, Path(__file__).resolve().parents[1]):
        d = base / "benchmarks"
        if (d / "bench.py").is_file():
            return d
    return None


def benchmark_scripts(bench_dir: Path) -> dict[str, Path]:
    """The benchmark names and scripts: ``bench_NAME.py`` → ``NAME``; ``bench.py``'s own
    subcommands are reached as ``mfderive bench main SUBCOMMAND …``."""
    scripts = {"main": bench_dir / "bench.py"}
    for f in sorted(bench_dir.glob("bench_*.py")):
        scripts[f.stem[len("bench_"):]] = f
    return scripts


def _bench(args: argparse.Namespace) -> int:
    from .errors import InvalidOptionError

    bench_dir = _benchmarks_dir(Path(args.root))
    if bench_dir is None:
        raise InvalidOptionError(
            "no benchmarks/ directory found: benchmarks live in the source checkout, not in the "
            "installed package (run `mfderive bench` from the repository root, or pass --root)")
    scripts = benchmark_scripts(bench_dir)
    if args.list or not args.name:
        for name, path in scripts.items():
            print(f"{name:<14} {path.relative_to(bench_dir.parent)}")
        return 0
    if args.name in scripts:
        script, rest = scripts[args.name], list(args.args)
    else:  # a subcommand of bench.py itself, e.g. `mfderive bench mfld --N 4096`
        script, rest = scripts["main"], [args.name, *args.args]
    cmd = [sys.executable, str(script), *rest]
    if not args.quiet:
        print("running:", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=bench_dir.parent)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mfderive`` (subcommands ``run-notebooks``, ``report``,
    ``bench``)."""
    from . import __version__
    from .publish import book

    ap = argparse.ArgumentParser(
        prog="mfderive",
        description="Symbolic calculus on measures for mean-field training: run the "
                    "verification notebooks, print the derivation report, run benchmarks.")
    ap.add_argument("--version", action="version", version=f"mfderive {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    nb = sub.add_parser("run-notebooks", help="execute the notebooks, print the verification report, build the book",
                        description=book.__doc__.splitlines()[0] if book.__doc__ else None)
    book.add_arguments(nb)
    nb.set_defaults(func=_run_notebooks)

    rp = sub.add_parser("report", help="print the derivation report (formulas derived by the engine, timings)")
    rp.set_defaults(func=_report)

    bp = sub.add_parser("bench", help="run a benchmark script of benchmarks/ (--list names them)")
    bp.add_argument("name", nargs="?", help="benchmark name (bench_NAME.py) or a subcommand of bench.py")
    bp.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed on to the script")
    bp.add_argument("--list", action="store_true", help="list the benchmarks")
    bp.add_argument("--root", default=os.getcwd(), help="the source checkout (default: the current directory)")
    bp.add_argument("-q", "--quiet", action="store_true", help="do not echo the command")
    bp.set_defaults(func=_bench)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``mfderive`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    An :class:`~mfderive.errors.MfDeriveError` (a bad option) is printed as one line and
    exits with status 2, like argparse's own usage errors."""
    from .errors import MfDeriveError

    ap = build_parser()
    try:
        args = ap.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0)
    try:
        return int(args.func(args) or 0)
    except MfDeriveError as exc:
        print(f"mfderive {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
