r"""The book pages written at build time (git-ignored), so that none can drift from the code.

=====================  ===================================================================
page                   what writes it
=====================  ===================================================================
``book/derivations``   :func:`mfderive.publish.derivations.page`: formulas derived now
``book/report``        :func:`report_page`: the verification report of this run
                       (``_build/report.json``), one row per check, claim coverage
``book/api/*``         :func:`api_page`: one page per stage package, every module's
                       docstring and members by Sphinx autodoc
=====================  ===================================================================

>>> print(api_page("grids").splitlines()[0])
# Shared: errors, grids, checks, command line
"""

from __future__ import annotations

import pkgutil
from pathlib import Path

from .book import report_markdown

__all__ = ["API_PAGES", "api_page", "report_page", "write_generated"]

#: page name → (title, modules documented on it; a package's own modules are listed)
API_PAGES = {
    "derive": ("derive — calculus on measures (SymPy)", "mfderive.derive"),
    "flows": ("flows — PDE systems, identities, fixed points (SymPy)", "mfderive.flows"),
    "codegen": ("codegen — SymPy to JAX, on particles and grids", "mfderive.codegen"),
    "simulate": ("simulate — JAX integrators and observables", "mfderive.simulate"),
    "publish": ("publish — notebooks, report, book", "mfderive.publish"),
    "grids": ("Shared: errors, grids, checks, command line",
              ["mfderive.errors", "mfderive.grids", "mfderive.checks", "mfderive.cli"]),
}


def _package_modules(package: str) -> list[str]:
    import importlib

    pkg = importlib.import_module(package)
    return [f"{package}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)
            if not m.name.startswith("_")]


def api_page(name: str) -> str:
    """The MyST source of the API page ``name`` (a key of :data:`API_PAGES`)."""
    title, target = API_PAGES[name]
    lines = [f"# {title}", ""]
    if isinstance(target, str):  # a stage package: its table of contents, then each module
        lines += ["```{eval-rst}", f".. automodule:: {target}", "   :no-members:", "```", ""]
        modules = _package_modules(target)
    else:
        modules = target
    for mod in modules:
        extra = ["   :undoc-members:"] if mod == "mfderive.errors" else []  # every error class
        lines += [f"## `{mod}`", "", "```{eval-rst}", f".. automodule:: {mod}", "   :members:",
                  *extra, "   :show-inheritance:", "```", ""]
    return "\n".join(lines)


def report_page(data: dict) -> str:
    """The verification report page: :func:`mfderive.publish.book.report_markdown` with a
    link from each notebook name to its page."""
    md = report_markdown(data)
    for nb in {c["notebook"] for c in data["checks"]}:
        stem = nb[:-6] if nb.endswith(".ipynb") else nb
        md = md.replace(f"| {nb} |", f"| [{stem}](notebooks/{stem}.ipynb) |")
    return md


def write_generated(root: Path, data: dict) -> list[Path]:
    """Write the derivations, report and API pages under ``root/book``; return their paths."""
    from . import derivations

    book = Path(root) / "book"
    (book / "api").mkdir(parents=True, exist_ok=True)
    written = [derivations.write(book / "derivations.md")]
    (book / "report.md").write_text(report_page(data), encoding="utf-8")
    written.append(book / "report.md")
    for name in API_PAGES:
        path = book / "api" / f"{name}.md"
        path.write_text(api_page(name), encoding="utf-8")
        written.append(path)
    return written
