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

from .atoms import BoundIntegral, MeasureIntegral, integral_atoms
from .measures import Measure, as_sympy

__all__ = ["canonical", "equivalent"]


def canonical(expr, rename: bool = True, split_sums: bool = True) -> sp.Expr:
    """The canonical form of ``expr``: integrals split by linearity with constant factors
    pulled out, and bound variables renamed ``_b{h}_{i}`` where ``h`` is the atom's own
    height (1 + the height of the deepest integral inside it).  The height does not depend
    on where the atom sits, so equal atoms get equal names wherever they appear.

    With ``rename=False`` only the linearity step is applied (for display: factors
    such as a point coordinate are pulled out of integrals, names are kept); with
    ``split_sums=False`` an integrand is not expanded into several integrals, only its
    constant factors are pulled out (for code generation: one contraction per integral).

    >>> import sympy as sp, mfderive as mf
    >>> w, v = sp.symbols("w v"); mu = mf.Measure("mu", (w,))
    >>> mf.canonical(mf.integral(2 * w, mu)) == mf.canonical(2 * mf.integral(v, mu, over=v))
    True
    """
    return _canon(as_sympy(expr, "expr"), rename, split_sums)


def _height(e) -> int:
    """0 for an expression without integrals; else 1 + the height of the deepest
    integrand among its integrals."""
    return max((1 + _height(A.integrand) for A in integral_atoms(e)), default=0)


def _canon(e, rename=True, split_sums=True):
    if isinstance(e, BoundIntegral):
        g = _canon(e.integrand, rename, split_sums)
        terms = sp.Add.make_args(sp.expand(g)) if split_sums else (g,)
        out = sp.S.Zero
        for term in terms:
            c, rest = term.as_independent(*e.over, as_Add=False)
            if rest == 1 and isinstance(e, MeasureIntegral) and isinstance(e.measure, Measure):
                out += c
                continue
            if not rename:
                out += c * e.func(rest, e.measure, e.over)
                continue
            h = _height(rest) + 1
            names = [sp.Symbol(f"_b_h{h}_{i}", **v.assumptions0) for i, v in enumerate(e.over)]
            out += c * e.func(rest.xreplace(dict(zip(e.over, names))), e.measure, names)
        return out
    if not e.args:
        return e
    return e.func(*[_canon(a, rename, split_sums) for a in e.args])


def equivalent(a, b) -> bool:
    """True when ``a - b`` has canonical form zero (after expansion, or simplify).

    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w"); mu = mf.Measure("mu", (w,))
    >>> mf.equivalent(mf.integral(2 * w + 1, mu), 2 * mf.integral(w, mu) + 1)
    True
    """
    d = sp.expand(canonical(a) - canonical(b))
    if d == 0:
        return True
    return sp.simplify(d) == 0
