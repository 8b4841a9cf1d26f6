r"""``python -m mfderive.publish``: execute the notebooks, print the checks, build the book.

1. Every ``notebooks/*.ipynb`` runs under papermill with the parameter ``profile``
   (``"quick"`` for CI, ``"full"`` for the published book); each records its checks
   to a shared log (:mod:`mfderive.checks`).
2. One table of all checks is printed.  A notebook that fails (an exception or a
   failed check) is never copied into the book, and the run exits non-zero.
3. The executed copies go to ``book/notebooks/`` and Jupyter Book 1.x builds the
   HTML into ``_build/html`` (``-W``: a warning is an error).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .checks import read_log, table

__all__ = ["run_notebooks", "build_book", "main"]

ROOT = Path(__file__).resolve().parent.parent


def run_notebooks(src: Path, dest: Path, profile: str, log: Path) -> list[str]:
    """Execute every notebook in ``src`` into ``dest``; return the names that failed."""
    import papermill as pm

    dest.mkdir(parents=True, exist_ok=True)
    failed = []
    notebooks = sorted(src.glob("*.ipynb"))
    os.environ["MFDERIVE_CHECKS"] = str(log)
    for i, nb in enumerate(notebooks, 1):
        t0 = time.perf_counter()
        print(f"[{i}/{len(notebooks)}] {nb.name} (profile={profile}) ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / nb.name
            try:
                pm.execute_notebook(
                    str(nb), str(out), parameters={"profile": profile}, cwd=str(src),
                    progress_bar=False,
                )
            except pm.PapermillExecutionError as exc:
                failed.append(nb.name)
                print(f"    FAILED in cell {exc.exec_count}: {exc.ename}: {exc.evalue}", flush=True)
                continue
            shutil.copy(out, dest / nb.name)
        print(f"    done in {time.perf_counter() - t0:.1f} s", flush=True)
    return failed


def build_book(root: Path) -> int:
    """``jupyter-book build`` with warnings as errors; returns its exit status."""
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe), "build", str(root), "-W", "-n", "--keep-going"]
    print("building the book:", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=root)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--profile", choices=("quick", "full"), default="quick")
    ap.add_argument("--no-book", action="store_true", help="run the notebooks only")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "checks.jsonl"
        failed = run_notebooks(ROOT / "notebooks", ROOT / "book" / "notebooks", args.profile, log)
        checks = read_log(log)
    print("\nverification report\n" + table(checks))
    bad_checks = [c.name for c in checks if not c.passed]
    if failed or bad_checks:
        print(f"\nFAILED notebooks: {failed or 'none'}; failed checks: {bad_checks or 'none'}")
        return 1
    if args.no_book:
        return 0
    status = build_book(ROOT)
    if status == 0:
        print(f"\nbook built: {ROOT / '_build' / 'html' / 'index.html'}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
