r"""Points of a measure: where a variation is taken, and averages over them.

A first variation :math:`\frac{\delta F}{\delta\mu}(\mu, y)` is a function of a point
:math:`y` of the measure's space.  :func:`working_point` validates the point asked for
and picks symbols to differentiate at that clash with no symbol of the functional, free
or bound (a point given as numbers or expressions is substituted at the end, by
:func:`at_point`, capture-avoiding); :func:`average` integrates an expression in the
point back against the measure, :math:`\bar V = \int V(y)\,\mu(dy)`.
"""

from __future__ import annotations

import sympy as sp

from .atoms import BoundIntegral, fresh_symbols, substitute
from .integrals import integral
from .measures import as_point

__all__ = ["all_symbols", "at_point", "average", "working_point"]


def all_symbols(expr) -> set[sp.Symbol]:
    """Free symbols and every bound variable of every integral in ``expr``."""
    out = set(expr.free_symbols)
    for A in expr.atoms(BoundIntegral):
        out |= set(A.over) | A.integrand.free_symbols
    return out


def average(expr, point, mu) -> sp.Expr:
    r""":math:`\int e(\xi)\,\mu(d\xi)` for an expression :math:`e` in ``point``: the point
    is renamed to fresh bound variables (e.g. :math:`\bar V = \int V\,d\mu`).

    >>> import sympy as sp, mfderive as mf
    >>> from mfderive.derive.points import average
    >>> w = sp.Symbol("w"); mu = mf.Measure("mu", (w,)); y = mu.point("y")
    >>> average(y[0]**2, y, mu)
    Int[w**2, mu(d(w))]
    """
    xi = fresh_symbols(mu.variables, all_symbols(expr))
    return integral(substitute(expr, dict(zip(point, xi))), mu, over=xi)


def working_point(at, mu, exprs) -> tuple[tuple[sp.Expr, ...], tuple[sp.Symbol, ...]]:
    """Validate ``at`` and choose symbols to differentiate at.

    Returns ``(point, symbols)``: the validated point and a tuple of distinct symbols
    that occur nowhere in ``exprs`` (free or bound).  When ``at`` already is such a
    tuple the two are the same; otherwise the caller works at ``symbols`` and
    substitutes ``point`` at the end (capture-avoiding).
    """
    point = as_point(at, mu, "at")
    used = set()
    for e in exprs:
        used |= all_symbols(e)
    if (
        all(isinstance(c, sp.Symbol) for c in point)
        and len(set(point)) == len(point)
        and not (set(point) & used)
    ):
        return point, point
    return point, fresh_symbols(mu.point("y"), used | set().union(*(c.free_symbols for c in point)))


def at_point(expr, symbols, point):
    """``expr``, computed at the working ``symbols``, at the validated ``point``."""
    if tuple(symbols) == tuple(point):
        return expr
    return substitute(expr, dict(zip(symbols, point)))
