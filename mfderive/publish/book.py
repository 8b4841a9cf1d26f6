r"""``mfderive run-notebooks`` (also ``python -m mfderive.publish``): execute the notebooks,
print the checks, build the book.

1. ``book/notebooks/*.ipynb`` (generated, git-ignored) is emptied first, so no page
   from an earlier run can be built unless this run verified it again.
2. Every ``notebooks/*.ipynb`` (or those named) runs under papermill with the parameter
   ``profile`` (``"quick"`` for CI, ``"full"`` for the published book), two at a time by
   default (``-j``), each kernel's threads capped to its share of the cores.  Each notebook records its
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
   date and the commit, to ``_build/report.json`` (and as Markdown to
   ``_build/report.md``), with the claim sub-part IDs of ``CLAIMS.md`` each check
   covers and those no check covers.
5. If any notebook was not verified the run exits non-zero and builds nothing;
   otherwise Jupyter Book 1.x builds the HTML into ``_build/html`` (``-W``: a warning
   is an error).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..checks import Check, read_log, table

__all__ = [
    "NotebookResult", "add_arguments", "build_book", "claim_ids", "clear_published", "coverage", "main",
    "md_cell", "report_data", "report_markdown", "run_notebooks", "select_notebooks", "tidy",
]

ROOT = Path(__file__).resolve().parents[2]  # the repository (mfderive/publish/book.py)
CHECKS_ENV = "MFDERIVE_CHECKS"


@dataclass(frozen=True)
class NotebookResult:
    """The outcome of executing one notebook: its name, the checks it recorded in its
    own log, and papermill's error message (``None`` when execution finished)."""

    name: str
    checks: tuple[Check, ...]
    error: str | None = None
    seconds: float | None = None  # the notebook's own execution time (wall)

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


def clear_published(dest: Path, names=None) -> list[str]:
    """Delete the executed copies ``dest/*.ipynb`` of earlier runs (only those of ``names``,
    notebook file names, when given); return their names.

    ``dest`` (``book/notebooks/``) is generated and git-ignored; only the notebooks
    the publisher writes there are removed, nothing else in it."""
    removed = []
    if dest.is_dir():
        for nb in sorted(dest.glob("*.ipynb")):
            if names is None or nb.name in names:
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


def _thread_caps(jobs: int) -> dict[str, str]:
    """Environment for a kernel that shares the machine with ``jobs - 1`` others: BLAS and
    XLA threads capped at ``max(1, cores // jobs)`` so the kernels do not oversubscribe."""
    n = str(max(1, (os.cpu_count() or 1) // max(1, jobs)))
    caps = {k: n for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    if n == "1":
        flags = os.environ.get("XLA_FLAGS", "")
        caps["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false "
                             "intra_op_parallelism_threads=1").strip()
    return caps


def _execute_capped(nb: Path, out: Path, profile: str, log: Path, jobs: int) -> tuple[NotebookResult, float]:
    """:func:`_execute` in a worker process, with the thread caps of :func:`_thread_caps`
    in this process's environment (inherited by the kernel papermill starts); returns the
    result and the notebook's own wall time in seconds."""
    os.environ.update(_thread_caps(jobs))
    t0 = time.perf_counter()
    res = _execute(nb, out, profile, log)
    return res, time.perf_counter() - t0


def select_notebooks(src: Path, names=None) -> list[Path]:
    """``src/*.ipynb`` in name order, or those of ``names`` (a name with or without
    ``.ipynb``, or a prefix such as ``03``); a name matching nothing raises
    :class:`~mfderive.errors.InvalidOptionError` naming the notebooks there are."""
    from ..errors import InvalidOptionError

    notebooks = sorted(Path(src).glob("*.ipynb"))
    if not names:
        return notebooks
    chosen = []
    for name in names:
        stem = name[:-6] if name.endswith(".ipynb") else name
        hits = [nb for nb in notebooks if nb.stem == stem] or [nb for nb in notebooks if nb.stem.startswith(stem)]
        if not hits:
            raise InvalidOptionError(
                f"no notebook {name!r} in {src}; there are: " + ", ".join(nb.name for nb in notebooks))
        chosen += [nb for nb in hits if nb not in chosen]
    return sorted(chosen)


def run_notebooks(src: Path, dest: Path, profile: str, jobs: int = 1, names=None,
                  quiet: bool = False) -> list[NotebookResult]:
    """Execute ``src/*.ipynb`` (or the ``names`` chosen, see :func:`select_notebooks`),
    ``jobs`` at a time; copy the verified ones (and only those) to ``dest``.

    ``dest/*.ipynb`` is cleared first, so afterwards it holds exactly this run's
    verified notebooks.  With ``jobs > 1`` each notebook runs in a worker process of its
    own (so each has its own check log in its environment) with its kernel's threads
    capped (:func:`_thread_caps`).  One line per notebook when it finishes, with its
    elapsed time (and a progress bar on a terminal), unless ``quiet``."""
    src, dest = Path(src), Path(dest)
    notebooks = select_notebooks(src, names)
    say = (lambda *a: None) if quiet else (lambda msg: print(msg, flush=True))
    # a run of chosen notebooks replaces their copies only; a run of all clears them all
    removed = clear_published(dest, {nb.name for nb in notebooks} if names else None)
    if removed:
        say(f"removed {len(removed)} executed notebook(s) of an earlier run from {dest}")
    dest.mkdir(parents=True, exist_ok=True)
    results: dict[str, NotebookResult] = {}
    t_all = time.perf_counter()
    bar = _progress(len(notebooks), quiet)
    with tempfile.TemporaryDirectory() as tmp:
        def finish(nb, res, seconds):
            res = dataclasses.replace(res, seconds=round(seconds, 1))
            results[nb.name] = res
            if res.verified:
                tidy(Path(tmp) / nb.name, dest / nb.name)
            status = "verified" if res.verified else "NOT PUBLISHED"
            line = f"[{len(results)}/{len(notebooks)}] {nb.name}: {status} ({res.reason}) in {seconds:.1f} s"
            if bar is not None:
                bar.write(line)
                bar.update(1)
            else:
                say(line)

        jobs = max(1, min(int(jobs), len(notebooks) or 1))
        say(f"running {len(notebooks)} notebook(s), profile={profile}, {jobs} at a time")
        if jobs == 1:
            for nb in notebooks:
                t0 = time.perf_counter()
                res = _execute(nb, Path(tmp) / nb.name, profile, Path(tmp) / f"{nb.stem}.checks.jsonl")
                finish(nb, res, time.perf_counter() - t0)
        else:
            import concurrent.futures as cf
            import multiprocessing as mp

            with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
                started = {}
                for nb in notebooks:
                    fut = pool.submit(_execute_capped, nb, Path(tmp) / nb.name, profile,
                                      Path(tmp) / f"{nb.stem}.checks.jsonl", jobs)
                    started[fut] = nb
                for fut in cf.as_completed(started):
                    nb = started[fut]
                    try:
                        res, seconds = fut.result()
                    except Exception as exc:  # the worker itself died
                        res, seconds = NotebookResult(nb.name, (), f"{type(exc).__name__}: {exc}"), float("nan")
                    finish(nb, res, seconds)
    if bar is not None:
        bar.close()
    say(f"{len(notebooks)} notebook(s) in {time.perf_counter() - t_all:.1f} s wall")
    return [results[nb.name] for nb in notebooks]


def tidy(src: Path, dest: Path) -> None:
    """Copy an executed notebook for the book, with the cell papermill injected (tagged
    ``injected-parameters``) tagged ``remove-cell`` too, so the page shows the notebook's
    own ``parameters`` cell and not papermill's copy of it."""
    import nbformat

    nb = nbformat.read(str(src), as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            tags.append("remove-cell")
    nbformat.write(nb, str(dest))


def _progress(total: int, quiet: bool):
    """A tqdm bar on a terminal (``None`` when quiet, not a terminal, or tqdm missing)."""
    if quiet or not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="notebook", file=sys.stderr)


def claim_ids(path) -> list[str]:
    """The claim sub-part IDs (``C1.1`` … ) defined in ``CLAIMS.md``, in order of first
    appearance; ``[]`` if the file does not exist."""
    import re

    path = Path(path)
    if not path.is_file():
        return []
    seen = []
    for m in re.finditer(r"\bC\d+\.\d+\b", path.read_text(encoding="utf-8")):
        if m.group(0) not in seen:
            seen.append(m.group(0))
    return seen


def coverage(results: list[NotebookResult], ids: list[str]) -> dict[str, list[str]]:
    """For each claim sub-part ID, the names of the checks whose ``claim`` is that ID."""
    cover = {i: [] for i in ids}
    for r in results:
        for c in r.checks:
            if c.claim in cover:
                cover[c.claim].append(c.name)
    return cover


def md_cell(text: str) -> str:
    r"""``text`` as literal Markdown table-cell content: every character Markdown (or MyST's
    dollar math) would read as syntax is backslash-escaped, so a check named
    ``max |N grad F| < 1e-12`` stays one cell of plain text.

    >>> md_cell("max |f*_x - g| < $1")
    'max \\|f\\*\\_x - g\\| \\< \\$1'
    """
    out = text.replace("\\", "\\\\")
    for ch in "|*_[]<>`$#~":
        out = out.replace(ch, "\\" + ch)
    return out


def report_markdown(data: dict) -> str:
    """The report as a Markdown page: a summary line, one table row per check, and the
    claim sub-parts with their number of checks (uncovered ones listed)."""
    checks = data["checks"]
    n_fail = sum(not c["passed"] for c in checks)
    lines = [
        "# Verification report", "",
        f"{len(checks)} checks, {n_fail} failed; profile `{data['profile']}`, {data['date']}, "
        f"commit `{data['commit']}`.", "",
        "| claim | check | predicted | measured | tolerance | verdict | notebook |",
        "|---|---|---|---|---|---|---|",
    ]
    fmt = lambda x: x if isinstance(x, str) else f"{x:.6g}"
    for c in checks:
        lines.append(f"| {c['claim']} | {md_cell(c['check'])} | {fmt(c['predicted'])} | {fmt(c['measured'])} | "
                     f"{fmt(c['tolerance'])} | {c['verdict']} | {c['notebook']} |")
    cov = data.get("coverage") or {}
    if cov:
        lines += ["", "## Claim sub-parts", "", "| claim | checks |", "|---|---|"]
        lines += [f"| {k} | {len(v)} |" for k, v in cov.items()]
        missing = [k for k, v in cov.items() if not v]
        lines += ["", f"Uncovered ({len(missing)}): " + (", ".join(missing) if missing else "none") + "."]
    return "\n".join(lines) + "\n"


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


def report_data(results: list[NotebookResult], profile: str, commit: str | None = None,
                claims: list[str] | None = None) -> dict:
    """The content of ``_build/report.json``: run metadata, one entry per notebook
    (verified or not, and why), one per check, attributed to its notebook, and, given the
    claim sub-part IDs, which checks cover each (``coverage``) and which IDs none does
    (``uncovered``)."""
    cover = coverage(results, claims or [])
    return {
        "profile": profile,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "passed": bool(results) and all(r.verified for r in results),
        "notebooks": [{"notebook": r.name, "verified": r.verified, "reason": r.reason, "seconds": r.seconds}
                      for r in results],
        "checks": [
            {
                "notebook": r.name, "check": c.name, "name": c.name, "claim": c.claim, "passed": c.passed,
                "predicted": _number(c.predicted), "measured": _number(c.measured),
                "tolerance": _number(c.tolerance), "expect": c.expect, "source": c.source,
                "verdict": "PASS" if c.passed else "FAIL",
            }
            for r in results for c in r.checks
        ],
        "coverage": cover,
        "uncovered": [k for k, v in cover.items() if not v],
    }


def build_book(root: Path) -> int:
    """``jupyter-book build`` with warnings as errors; returns its exit status."""
    exe = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(exe), "build", str(root), "-W", "-n", "--keep-going"]
    print("building the book:", " ".join(cmd), flush=True)
    return subprocess.call(cmd, cwd=root)


CLAIMS = ROOT.parent / "shared" / "CLAIMS.md"


def add_arguments(ap: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``mfderive run-notebooks`` (and ``python -m mfderive.publish``)."""
    ap.add_argument("names", nargs="*", metavar="NAME",
                    help="notebooks to run (name, stem or prefix such as 03); default: all")
    ap.add_argument("--profile", choices=("quick", "full"), default="quick",
                    help="notebook sizes: quick (CI) or full (the published book)")
    ap.add_argument("-j", "--jobs", type=int, default=2,
                    help="notebooks executed at a time (default 2, one per core here)")
    ap.add_argument("--no-book", action="store_true", help="run the notebooks only")
    ap.add_argument("--claims", type=Path, default=CLAIMS,
                    help="CLAIMS.md whose sub-part IDs the report covers (default ../shared/CLAIMS.md)")
    ap.add_argument("--allow-uncovered", action="store_true",
                    help="do not fail when a claim sub-part ID of CLAIMS.md has no check "
                         "(by default an uncovered sub-part fails the run, like a failed check)")
    ap.add_argument("-q", "--quiet", action="store_true", help="only the report and errors")
    return ap


def main(argv=None, *, src: Path = ROOT / "notebooks", dest: Path = ROOT / "book" / "notebooks",
         report: Path = ROOT / "_build" / "report.json") -> int:
    """Run the notebooks of ``src``, publish the verified ones to ``dest``, write
    ``report`` (and its Markdown twin ``report.md``); build the book only if every
    notebook was verified.  Returns the exit status (non-zero if any notebook failed, if
    ``src`` has no notebook, or — in a run of all notebooks, unless ``--allow-uncovered`` —
    if a claim sub-part of ``CLAIMS.md`` has no check).  The book is always built from ``ROOT`` (``_toc.yml``), so ``src``/``dest``
    other than the defaults are meant for ``--no-book`` runs such as the tests."""
    from ..errors import InvalidOptionError

    args = add_arguments(argparse.ArgumentParser(description=__doc__.splitlines()[0])).parse_args(argv)
    if args.jobs < 1:
        raise InvalidOptionError(f"--jobs must be at least 1, got {args.jobs}")
    results = run_notebooks(src, dest, args.profile, jobs=args.jobs, names=args.names, quiet=args.quiet)
    data = report_data(results, args.profile, _git_commit(ROOT), claims=claim_ids(args.claims))
    report = Path(report)
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    report.with_suffix(".md").write_text(report_markdown(data), encoding="utf-8")
    print("\nverification report\n" + table([c for r in results for c in r.checks]))
    print(f"written to {report} and {report.with_suffix('.md')}")
    if data["coverage"]:
        n = len(data["coverage"])
        print(f"claim sub-parts covered: {n - len(data['uncovered'])}/{n}"
              + (f"; uncovered: {', '.join(data['uncovered'])}" if data["uncovered"] else ""))
    if not results:
        print(f"\nFAILED: no notebooks in {src}")
        return 1
    failed = [r for r in results if not r.verified]
    if failed:
        print("\nFAILED (not published, book not built):")
        for r in failed:
            print(f"  {r.name}: {r.reason}")
        return 1
    if data["uncovered"] and not args.allow_uncovered and not args.names:
        print(f"\nFAILED: {len(data['uncovered'])} claim sub-part(s) have no check")
        return 1
    if args.no_book:
        return 0
    if args.names:
        print("\nnot building the book: only the notebooks named were run (run them all to publish)")
        return 0
    from .pages import write_generated

    for path in write_generated(ROOT, data):
        print(f"wrote {path.relative_to(ROOT)}", flush=True)
    status = build_book(ROOT)
    if status == 0:
        print(f"\nbook built: {ROOT / '_build' / 'html' / 'index.html'}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
