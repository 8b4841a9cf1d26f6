r"""``python -m mfderive.publish``: execute the notebooks, print the checks, build the book.

1. ``book/notebooks/*.ipynb`` (generated, git-ignored) is emptied first, so no page
   from an earlier run can be built unless this run verified it again.
2. Every ``notebooks/*.ipynb`` runs under papermill with the parameter ``profile``
   (``"quick"`` for CI, ``"full"`` for the published book).  Each notebook records its
   checks (:mod:`mfderive.checks`) into a log of its own: the publisher points
   ``MFDERIVE_CHECKS`` at a fresh file before executing it, so every check is
   attributed to the notebook that made it.
3. A notebook is *verified* when papermill finished it without an error, it recorded
   at least one check, and every check it recorded passed.  The verdict comes from
   the log, not from papermill's exit alone: a notebook that never calls
   :func:`~mfderive.checks.require_all` still fails on a failed check.  A notebook
   that records no check verifies nothing and is not published either (every
   notebook of the book checks its claims numerically).
4. Only verified notebooks are copied to ``book/notebooks/``.  One table of all
   checks is printed and written, with the notebook of each check, the profile, the
   date and the commit, to ``_build/report.json``.
5. If any notebook was not verified the run exits non-zero and builds nothing;
   otherwise Jupyter Book 1.x builds the HTML into ``_build/html`` (``-W``: a warning
   is an error).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..checks import Check, read_log, table

__all__ = ["NotebookResult", "clear_published", "run_notebooks", "report_data", "build_book", "main"]

ROOT = Path(__file__).resolve().parents[2]  # the repository (mfderive/publish/book.py)
CHECKS_ENV = "MFDERIVE_CHECKS"


@dataclass(frozen=True)
class NotebookResult:
    """The outcome of executing one notebook: its name, the checks it recorded in its
    own log, and papermill's error message (``None`` when execution finished)."""

    name: str
    checks: tuple[Check, ...]
    error: str | None = None

    @property
    def verified(self) -> bool:
        """Executed without error, at least one check, and every check passed."""
        return self.error is None and bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def reason(self) -> str:
        """Why the notebook is (not) verified, for the printed summary and the report."""
        if self.error is not None:
            return f"execution failed: {self.error}"
        if not self.checks:
            return "recorded no checks"
        bad = [c.name for c in self.checks if not c.passed]
        if bad:
            return "failed checks: " + ", ".join(bad)
        return f"{len(self.checks)} checks passed"


def clear_published(dest: Path) -> list[str]:
    """Delete the executed copies ``dest/*.ipynb`` of earlier runs; return their names.

    ``dest`` (``book/notebooks/``) is generated and git-ignored; only the notebooks
    the publisher writes there are removed, nothing else in it."""
    removed = []
    if dest.is_dir():
        for nb in sorted(dest.glob("*.ipynb")):
            nb.unlink()
            removed.append(nb.name)
    return removed


@contextlib.contextmanager
def _env(name: str, value: str):
    """Set the environment variable ``name`` (inherited by the kernel papermill
    starts) for the duration of the block, then restore its previous state."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _execute(nb: Path, out: Path, profile: str, log: Path) -> NotebookResult:
    """Run ``nb`` into ``out`` with its checks logged to ``log`` (a fresh file)."""
    import papermill as pm

    error = None
    with _env(CHECKS_ENV, str(log)):
        try:
            pm.execute_notebook(
                str(nb), str(out), parameters={"profile": profile}, cwd=str(nb.parent),
                progress_bar=False,
            )
        except pm.PapermillExecutionError as exc:
            error = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
        except Exception as exc:  # the kernel died, the notebook is unreadable, ...
            error = f"{type(exc).__name__}: {exc}"
    return NotebookResult(nb.name, tuple(read_log(log)), error)


def run_notebooks(src: Path, dest: Path, profile: str) -> list[NotebookResult]:
    """Execute every ``src/*.ipynb``; copy the verified ones (and only those) to ``dest``.

    ``dest/*.ipynb`` is cleared first, so afterwards it holds exactly this run's
    verified notebooks."""
    src, dest = Path(src), Path(dest)
    removed = clear_published(dest)
    if removed:
        print(f"removed {len(removed)} executed notebook(s) of an earlier run from {dest}", flush=True)
    dest.mkdir(parents=True, exist_ok=True)
    notebooks = sorted(src.glob("*.ipynb"))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, nb in enumerate(notebooks, 1):
            t0 = time.perf_counter()
            print(f"[{i}/{len(notebooks)}] {nb.name} (profile={profile}) ...", flush=True)
            out, log = Path(tmp) / nb.name, Path(tmp) / f"{nb.stem}.checks.jsonl"
            res = _execute(nb, out, profile, log)
            results.append(res)
            if res.verified:
                shutil.copy(out, dest / nb.name)
            status = "verified" if res.verified else "NOT PUBLISHED"
            print(f"    {status} ({res.reason}) in {time.perf_counter() - t0:.1f} s", flush=True)
    return results


def _number(x: float):
    """A float for JSON: non-finite values as the strings ``"nan"``, ``"inf"``, ``"-inf"``
    (strict JSON has no NaN or infinity)."""
    return x if math.isfinite(x) else repr(x)


def _git_commit(root: Path) -> str | None:
    """``git rev-parse HEAD`` of ``root`` (suffixed ``-dirty`` when the work tree has
    changes), or ``None`` outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def report_data(results: list[NotebookResult], profile: str, commit: str | None = None) -> dict:
    """The content of ``_build/report.json``: run metadata, one entry per notebook
    (verified or not, and why) and one per check, attributed to its notebook."""
    return {
        "profile": profile,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "passed": bool(results) and all(r.verified for r in results),
        "notebooks": [{"notebook": r.name, "verified": r.verified, "reason": r.reason} for r in results],
        "checks": [
            {
                "notebook": r.name, "name": c.name, "claim": c.claim,
                "predicted": _number(c.predicted), "measured": _number(c.measured),
                "tolerance": _number(c.tolerance), "expect": c.expect, "source": c.source,
                "verdict": "PASS" if c.passed else "FAIL",
            }
            for r in results for c in r.checks
        ],
    }


def build_book(root: Path) -> int:
    """``jupyter-book build`` with warnings as errors; returns its exit status."""
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe), "build", str(root), "-W", "-n", "--keep-going"]
    print("building the book:", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=root)


def main(argv=None, *, src: Path = ROOT / "notebooks", dest: Path = ROOT / "book" / "notebooks",
         report: Path = ROOT / "_build" / "report.json") -> int:
    """Run the notebooks of ``src``, publish the verified ones to ``dest``, write
    ``report``; build the book only if every notebook was verified.  Returns the exit
    status (non-zero if any notebook failed, or if ``src`` has no notebook).  The book
    is always built from ``ROOT`` (``_toc.yml``), so ``src``/``dest`` other than the
    defaults are meant for ``--no-book`` runs such as the tests."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", choices=("quick", "full"), default="quick")
    ap.add_argument("--no-book", action="store_true", help="run the notebooks only")
    args = ap.parse_args(argv)
    results = run_notebooks(src, dest, args.profile)
    data = report_data(results, args.profile, _git_commit(ROOT))
    report = Path(report)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    print("\nverification report\n" + table([c for r in results for c in r.checks]))
    print(f"written to {report}")
    if not results:
        print(f"\nFAILED: no notebooks in {src}")
        return 1
    failed = [r for r in results if not r.verified]
    if failed:
        print("\nFAILED (not published, book not built):")
        for r in failed:
            print(f"  {r.name}: {r.reason}")
        return 1
    if args.no_book:
        return 0
    status = build_book(ROOT)
    if status == 0:
        print(f"\nbook built: {ROOT / '_build' / 'html' / 'index.html'}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
