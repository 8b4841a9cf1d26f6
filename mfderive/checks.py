r"""Predicted-versus-measured checks, recorded for one report over the whole suite.

A notebook calls :func:`check` (or :func:`check_order`) for every symbolic
prediction it tests numerically.  Each call returns a :class:`Check` and appends it,
as one JSON line, to the file named by the environment variable
``MFDERIVE_CHECKS`` (set by :mod:`mfderive.publish`); :func:`require_all` at the end
of a notebook raises :class:`CheckFailed` if any check of that notebook failed, so
that papermill marks the run failed.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass

import numpy as np

from .errors import InvalidOptionError

__all__ = ["Check", "CheckFailed", "check", "check_order", "require_all", "read_log", "table"]

_SESSION: list["Check"] = []


class CheckFailed(AssertionError):
    """One or more recorded checks failed."""


@dataclass(frozen=True)
class Check:
    """One numerical check of a symbolic prediction.

    ``passed`` is ``|predicted − measured| ≤ tolerance`` (``expect="equal"``) or its
    negation (``expect="differ"``, used to show that an erratum's printed formula
    fails the same test the corrected one passes).
    """

    name: str
    claim: str
    predicted: float
    measured: float
    tolerance: float
    passed: bool
    expect: str = "equal"
    source: str = ""

    @property
    def error(self) -> float:
        return abs(self.predicted - self.measured)


def _record(c: Check) -> Check:
    _SESSION.append(c)
    path = os.environ.get("MFDERIVE_CHECKS")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(asdict(c)) + "\n")
    return c


def check(name, claim, predicted, measured, tolerance, *, expect="equal", source="") -> Check:
    """Record that ``measured`` agrees with ``predicted`` within ``tolerance`` (an
    absolute tolerance; state its justification next to the call)."""
    if expect not in ("equal", "differ"):
        raise InvalidOptionError(f"expect must be 'equal' or 'differ', got {expect!r}")
    p, m, tol = float(predicted), float(measured), float(tolerance)
    close = math.isfinite(p) and math.isfinite(m) and abs(p - m) <= tol
    return _record(Check(name, claim, p, m, tol, close if expect == "equal" else not close, expect, source))


def check_order(name, claim, steps, errors, expected, tolerance, source="") -> Check:
    """Record the observed convergence order, the least-squares slope of
    ``log(error)`` against ``log(step)``, against the ``expected`` order."""
    steps, errors = np.asarray(steps, float), np.asarray(errors, float)
    if steps.shape != errors.shape or steps.size < 2:
        raise InvalidOptionError("check_order needs at least two (step, error) pairs of equal length")
    slope = np.polyfit(np.log(steps), np.log(errors), 1)[0]
    return check(name, claim, expected, slope, tolerance, source=source)


def require_all() -> list[Check]:
    """Print this session's checks and raise :class:`CheckFailed` if any failed."""
    print(table(_SESSION))
    failed = [c for c in _SESSION if not c.passed]
    if failed:
        raise CheckFailed("failed checks: " + ", ".join(c.name for c in failed))
    return list(_SESSION)


def read_log(path) -> list[Check]:
    """The checks recorded in a JSON-lines log."""
    out = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            out = [Check(**json.loads(line)) for line in fh if line.strip()]
    return out


def table(checks) -> str:
    """A plain-text table, one row per check."""
    rows = [("verdict", "claim", "check", "predicted", "measured", "tolerance")]
    for c in checks:
        verdict = "PASS" if c.passed else "FAIL"
        if c.expect == "differ":
            verdict += " (differs)"
        rows.append((verdict, c.claim, c.name, f"{c.predicted:.6g}", f"{c.measured:.6g}", f"{c.tolerance:.1e}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(wd) for cell, wd in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * wd for wd in widths))
    n_fail = sum(not c.passed for c in checks)
    lines.append(f"{len(checks)} checks, {n_fail} failed")
    return "\n".join(lines)
