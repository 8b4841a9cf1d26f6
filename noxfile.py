"""The supported-versions matrix: ``nox`` (run before a release; ``make test`` is CI's run).

Two sessions, the two ends of what ``pyproject.toml`` declares:

* ``tests-oldest`` — Python 3.11 with every lower bound as an exact pin
  (``requirements/oldest.txt``);
* ``tests-newest`` — Python 3.13 with the newest releases (no constraints).

Each installs the project with the ``transport``, ``notebooks`` and ``dev`` extras into a
fresh virtual environment and runs the whole suite (``pytest``, doctests included).  The
interpreters are found on ``PATH`` or under ``pyenv root`` (these machines have 3.11.7,
3.12.1 and 3.13.0 there).  ``nox -s tests-newest`` runs one; ``nox -l`` lists them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.sessions = ["tests-oldest", "tests-newest"]
nox.options.reuse_existing_virtualenvs = False

EXTRAS = ".[transport,notebooks,dev]"
ROOT = Path(__file__).parent


def _pyenv_interpreters() -> None:
    """Put pyenv's ``versions/*/bin`` on PATH so that nox finds ``python3.11`` and
    ``python3.13`` where pyenv installed them."""
    root = None
    if shutil.which("pyenv"):
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True)
        root = out.stdout.strip() if out.returncode == 0 else None
    root = Path(root or os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    bins = sorted(str(p) for p in (root / "versions").glob("3.*/bin")) if (root / "versions").is_dir() else []
    if bins:
        os.environ["PATH"] = os.pathsep.join([*os.environ.get("PATH", "").split(os.pathsep), *bins])


_pyenv_interpreters()


@nox.session(name="tests-oldest", python="3.11")
def tests_oldest(session: nox.Session) -> None:
    """The oldest supported stack: lower bounds pinned, Python 3.11."""
    session.install("-c", str(ROOT / "requirements" / "oldest.txt"), "-e", EXTRAS)
    session.run("python", "-c", "import jax, numpy, sympy, scipy; "
                "print('jax', jax.__version__, 'numpy', numpy.__version__, 'sympy', sympy.__version__, "
                "'scipy', scipy.__version__)")
    session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs)


@nox.session(name="tests-newest", python="3.13")
def tests_newest(session: nox.Session) -> None:
    """The newest releases on Python 3.13."""
    session.install("--upgrade", "-e", EXTRAS)
    session.run("python", "-c", "import jax, numpy, sympy, scipy; "
                "print('jax', jax.__version__, 'numpy', numpy.__version__, 'sympy', sympy.__version__, "
                "'scipy', scipy.__version__)")
    session.run("pytest", "-q", "-p", "no:cacheprovider", *session.posargs)
