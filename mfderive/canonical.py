r"""A canonical form for functionals, to compare two derivations structurally.

Two expressions that differ only by the names of bound integration variables, by
linearity of the integral (:math:`\int(cf+g)\,d\mu = c\int f\,d\mu+\int g\,d\mu` for
:math:`c` free of the integration variables) or by the unit mass of a probability
measure have the same canonical form.  Fubini (exchanging the order of nested
integrals against different measures) is *not* applied: compare such expressions
with :func:`mfderive.evaluate` on discrete measures.
"""

from __future__ import annotations

import sympy as sp

from .integrals import BoundIntegral, MeasureIntegral
from .measures import Measure, as_sympy

__all__ = ["canonical", "equivalent"]


def canonical(expr) -> sp.Expr:
    """The canonical form of ``expr`` (bound variables renamed by depth, integrals
    split by linearity with constant factors pulled out)."""
    return _canon(as_sympy(expr, "expr"), 0)


def _canon(e, depth):
    if isinstance(e, BoundIntegral):
        names = [
            sp.Symbol(f"_b{depth}_{i}", **v.assumptions0) for i, v in enumerate(e.over)
        ]
        g = e.integrand.xreplace(dict(zip(e.over, names)))
        g = sp.expand(_canon(g, depth + 1))
        out = sp.S.Zero
        for term in sp.Add.make_args(g):
            c, rest = term.as_independent(*names, as_Add=False)
            if rest == 1 and isinstance(e, MeasureIntegral) and isinstance(e.measure, Measure):
                out += c
            else:
                out += c * e.func(rest, e.measure, names)
        return out
    if not e.args:
        return e
    args = [_canon(a, depth) for a in e.args]
    return e.func(*args)


def equivalent(a, b) -> bool:
    """True when ``a - b`` has canonical form zero (after expansion, or simplify)."""
    d = sp.expand(canonical(a) - canonical(b))
    if d == 0:
        return True
    return sp.simplify(d) == 0
