r"""Evaluate integrals against discrete measures: numbers for checks.

``evaluate(expr, {mu: (atoms, weights), nu: (points, weights)})`` replaces every
integral against a listed measure by its weighted sum
:math:`\int g\,d\mu = \sum_i w_i\,g(\xi_i)`, innermost first, and returns a SymPy
expression in the remaining free symbols (a number when none remain).  With SymPy
rationals as atoms and weights the result is exact; atoms and weights may also be
symbolic (a weight :math:`\varepsilon` gives the Gateaux derivative exactly).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from .errors import EvaluationError, InfiniteValueError
from .integrals import BoundIntegral, LocalIntegral, substitute
from .measures import Data, Measure, as_sympy, check_measure

__all__ = ["evaluate", "discrete_measure", "Density"]


class Density:
    r"""A measure given by a density: ``Density(expr, bounds)``.

    ``expr`` is a SymPy expression in the measure's variables (in order); ``bounds`` a
    list of ``(low, high)`` per variable (default the whole line).  In
    :func:`evaluate`, :math:`\int g\,d\mu = \int g\,\mathrm{expr}\,d\xi` by
    ``sympy.integrate`` and local functionals get the density substituted, so the
    entropy of a Gaussian is finite and exact.
    """

    def __init__(self, expr, bounds=None):
        self.expr = as_sympy(expr, "the density")
        self.bounds = bounds

    def limits(self, measure, over):
        bounds = self.bounds or [(-sp.oo, sp.oo)] * measure.dim
        if len(bounds) != measure.dim:
            raise EvaluationError(
                f"Density bounds have {len(bounds)} entries but {measure.name!r} has "
                f"{measure.dim} variable(s)"
            )
        return [(v, lo, hi) for v, (lo, hi) in zip(over, bounds)]

    def at(self, measure, point):
        return self.expr.xreplace(dict(zip(measure.variables, point)))


def _number(v, what: str) -> sp.Expr:
    if isinstance(v, (bool, np.bool_)) or isinstance(v, (str, bytes)):
        raise EvaluationError(f"{what} must be a number or SymPy expression, got {v!r}")
    if isinstance(v, np.generic):
        v = v.item()
    try:
        out = sp.sympify(v, strict=True)
    except (sp.SympifyError, TypeError):
        raise EvaluationError(f"{what} must be a number or SymPy expression, got {v!r}") from None
    if not isinstance(out, sp.Expr):
        raise EvaluationError(f"{what} must be a number or SymPy expression, got {v!r}")
    return out


def discrete_measure(spec, measure) -> tuple[tuple[tuple[sp.Expr, ...], ...], tuple[sp.Expr, ...]]:
    """Validate ``(atoms, weights)`` (or bare ``atoms``, uniform weights) for ``measure``.

    ``atoms`` has shape ``(N, d)`` with ``d = measure.dim`` (shape ``(N,)`` is accepted
    when ``d = 1``); ``weights`` has length ``N``.  Weights of a probability
    :class:`Measure` must sum to one; those of a :class:`Data` measure need not.
    """
    name = measure.name
    if isinstance(spec, tuple) and len(spec) == 2 and not _is_row(spec):
        atoms, weights = spec
    else:
        atoms, weights = spec, None
    try:
        rows = list(atoms)
    except TypeError:
        raise EvaluationError(
            f"the atoms of {name!r} must be a sequence of points, got {atoms!r}"
        ) from None
    if not rows:
        raise EvaluationError(f"{name!r} was given no atoms")
    parsed = []
    for i, r in enumerate(rows):
        if measure.dim == 1 and not _iterable(r):
            r = (r,)
        if not _iterable(r):
            raise EvaluationError(
                f"atom {i} of {name!r} must have {measure.dim} coordinates, got {r!r}"
            )
        r = tuple(r)
        if len(r) != measure.dim:
            raise EvaluationError(
                f"atom {i} of {name!r} has {len(r)} coordinate(s), but {name!r} has "
                f"{measure.dim} variable(s) {measure.variables}"
            )
        parsed.append(tuple(_number(c, f"coordinate of atom {i} of {name!r}") for c in r))
    n = len(parsed)
    if weights is None:
        w = (sp.Rational(1, n),) * n
    else:
        try:
            wl = list(np.asarray(weights, dtype=object).reshape(-1)) if not isinstance(
                weights, (str, bytes)
            ) else None
        except (TypeError, ValueError):
            wl = None
        if wl is None:
            raise EvaluationError(f"the weights of {name!r} must be a sequence, got {weights!r}")
        if len(wl) != n:
            raise EvaluationError(
                f"{name!r} has {n} atoms but {len(wl)} weights"
            )
        w = tuple(_number(v, f"weight of {name!r}") for v in wl)
    if isinstance(measure, Measure):
        total = sp.Add(*w)
        if total.is_number:
            ok = abs(complex(total.evalf(30)) - 1) < 1e-9
        else:
            ok = sp.simplify(total - 1) == 0
        if not ok:
            raise EvaluationError(
                f"{name!r} is a probability measure but its weights sum to {total}; "
                f"normalise them (or declare a fixed measure with mf.Data)"
            )
    return tuple(parsed), w


def _iterable(v) -> bool:
    if isinstance(v, (str, bytes, sp.Basic)) and not isinstance(v, sp.Tuple):
        return False
    if isinstance(v, np.ndarray):
        return v.ndim > 0
    try:
        iter(v)
    except TypeError:
        return False
    return True


def _is_row(spec) -> bool:
    """A 2-tuple of numbers for a 2-variable measure is one atom, not (atoms, weights)."""
    return all(not _iterable(c) for c in spec)


def evaluate(expr, measures: Mapping) -> sp.Expr:
    r"""Replace every integral against the given discrete measures by its value.

    Parameters
    ----------
    expr : SymPy expression or Matrix
        A functional, a first variation, a Lions derivative (entry by entry), ...
    measures : dict
        ``{measure: (atoms, weights)}`` or ``{measure: atoms}`` (uniform weights)
        for each :class:`~mfderive.Measure` or :class:`~mfderive.Data` to evaluate, or
        ``{measure: Density(expr, bounds)}`` for a measure with a density.

    Returns
    -------
    SymPy expression
        Integrals against measures not listed stay symbolic.

    Raises
    ------
    InfiniteValueError
        A local functional (entropy, ∫m²) of a measure given by atoms: it has no
        density, and these functionals are +∞ there.
    EvaluationError
        Malformed atoms or weights.

    Examples
    --------
    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w"); mu = mf.Measure("mu", (w,))
    >>> mf.evaluate(mf.integral(w**2, mu), {mu: ([1, 3], [sp.Rational(1, 4), sp.Rational(3, 4)])})
    7
    """
    if isinstance(expr, sp.MatrixBase):  # a Lions derivative: entry by entry
        return expr.applyfunc(lambda e: evaluate(e, measures))
    expr = as_sympy(expr, "the expression to evaluate")
    if not isinstance(measures, Mapping):
        raise EvaluationError(
            f"measures must be a dict {{measure: (atoms, weights)}}, got {type(measures).__name__}"
        )
    table = {}
    for M, spec in measures.items():
        check_measure(M, "a key of the measures dict")
        table[M] = spec if isinstance(spec, Density) else discrete_measure(spec, M)
    return _eval(expr, table)


def _integrate(expr, limits):
    return sp.integrate(expr, *limits, conds="none")


def _eval(e, table):
    if isinstance(e, BoundIntegral):
        g = _eval(e.integrand, table)
        M = e.measure
        if M not in table:
            return e if g == e.integrand else e.func(g, M, e.over)
        spec = table[M]
        if isinstance(spec, Density):
            limits = spec.limits(M, e.over)
            if isinstance(e, LocalIntegral):
                g = g.replace(
                    lambda f: isinstance(f, AppliedUndef) and f.func.__name__ == M.name,
                    lambda f: spec.at(M, f.args),
                ).doit()
                return _integrate(g, limits)
            return _integrate(g * spec.at(M, e.over), limits)
        if isinstance(e, LocalIntegral):
            if any(f.func.__name__ == M.name for f in g.atoms(AppliedUndef)):
                raise InfiniteValueError(
                    f"{sp.sstr(e)} is a local functional of the density of {M.name!r}, "
                    f"which was given as a discrete measure (atoms); a discrete measure "
                    f"has no density, and the entropy, relative entropy and "
                    f"integrals of m^p (p>1) are +infinity there"
                )
            raise EvaluationError(
                f"{sp.sstr(e)} is a Lebesgue integral over the variables of {M.name!r}; "
                f"it cannot be evaluated from the atoms of {M.name!r}"
            )
        atoms, weights = table[M]
        nested = g.has(BoundIntegral)
        terms = []
        for row, w in zip(atoms, weights):
            rep = dict(zip(e.over, row))
            terms.append(w * (substitute(g, rep) if nested else g.xreplace(rep)))
        return sp.Add(*terms)
    if not e.args or isinstance(e, (sp.Symbol, Measure, Data)):
        return e
    args = [_eval(a, table) for a in e.args]
    if all(a is b for a, b in zip(args, e.args)):
        return e
    return e.func(*args)
