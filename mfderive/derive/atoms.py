r"""The integral atoms functionals are built from, and their bound variables.

Two kinds of integral atom, both SymPy expressions with *bound* variables:

* :class:`MeasureIntegral` :math:`\int g(\xi)\,\mu(d\xi)` — a nonlocal
  integral of an expression against a :class:`~mfderive.Measure` or a fixed
  :class:`~mfderive.Data` measure.  Nested integrals give interaction energies
  :math:`\iint W(\xi,\zeta)\,\mu(d\zeta)\,\mu(d\xi)`.
* :class:`LocalIntegral` :math:`\int L(\xi, m(\xi), \nabla m(\xi),\dots)\,d\xi` —
  a Lebesgue integral over the variables of a measure whose integrand may contain
  the density :math:`m` of the measure and its derivatives (entropy, porous
  medium, Fisher information).

The bound variables are invisible from outside: they are not in
``free_symbols``, ``subs`` never replaces them (and renames them when the new
value would be captured: :func:`substitute`, :func:`fresh_symbols`), and
differentiation with respect to an outer symbol passes under the integral sign.

The validating constructors are :func:`~mfderive.integral`
(:mod:`mfderive.derive.integrals`) and :func:`~mfderive.local`,
:func:`~mfderive.entropy`, :func:`~mfderive.relative_entropy`
(:mod:`mfderive.derive.local_functionals`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

from ..errors import InvalidVariablesError

if TYPE_CHECKING:  # measures imports this module: the measure type is for annotations only
    from .measures import _MeasureBase

__all__ = [
    "BoundIntegral",
    "MeasureIntegral",
    "LocalIntegral",
    "integral_atoms",
    "fresh_symbols",
    "substitute",
    "check_lookalikes",
]


def fresh_symbols(like, avoid) -> tuple[sp.Symbol, ...]:
    """Symbols named like ``like`` (primed until unused) that are not in ``avoid``.

    Keeps the assumptions of each template symbol.  Used to rename bound variables
    when a substitution would capture them.
    """
    taken = {s.name for s in avoid}
    out = []
    for s in like:
        name = s.name
        while name in taken:
            name += "'"
        taken.add(name)
        out.append(sp.Symbol(name, **s.assumptions0))
    return tuple(out)


def substitute(expr, mapping) -> sp.Expr:
    """Simultaneous, capture-avoiding substitution of symbols in ``expr``.

    SymPy's ``subs(..., simultaneous=True)`` ends with an ``xreplace``, which would
    capture a bound integration variable; this goes through fresh dummies with
    ordinary ``subs`` (which renames bound variables when needed) instead.
    """
    mapping = {k: sp.sympify(v, strict=True) for k, v in dict(mapping).items() if k != v}
    if not mapping:
        return expr
    if not expr.has(BoundIntegral):
        return expr.xreplace(mapping) if all(
            isinstance(k, sp.Symbol) for k in mapping
        ) else expr.subs(mapping, simultaneous=True)
    dummies = {k: sp.Dummy(k.name, **k.assumptions0) for k in mapping}
    for k, d in dummies.items():
        expr = expr.subs(k, d)
    for k, d in dummies.items():
        expr = expr.subs(d, mapping[k])
    return expr


class BoundIntegral(sp.Expr):
    """Common machinery of integrals whose variables ``over`` are bound.

    ``args = (integrand, measure, Tuple(*over))``.
    """

    is_commutative = True

    def __new__(cls, integrand, measure, over):
        return sp.Expr.__new__(cls, integrand, measure, sp.Tuple(*over))

    @property
    def integrand(self) -> sp.Expr:
        return self.args[0]

    @property
    def measure(self) -> _MeasureBase:
        return self.args[1]

    @property
    def over(self) -> tuple[sp.Symbol, ...]:
        return tuple(self.args[2])

    @property
    def free_symbols(self):
        return self.integrand.free_symbols - set(self.over)

    def _eval_is_extended_real(self):
        return self.integrand.is_extended_real

    def _eval_derivative(self, s):
        if s in self.over:
            return sp.S.Zero
        d = self.integrand.diff(s)
        if d == 0:
            return sp.S.Zero
        return self.func(d, self.measure, self.over)

    def _eval_subs(self, old, new):
        over = self.over
        if old in over:
            return self  # a bound variable is not visible from outside
        if not self.integrand.has(old):
            return self
        new = sp.sympify(new, strict=True)
        clash = set(over) & new.free_symbols
        if clash:
            avoid = self.free_symbols | new.free_symbols | set(over) | old.free_symbols
            renamed = fresh_symbols(over, avoid)
            rn = dict(zip(over, renamed))
            integrand = self.integrand.xreplace(rn)
            over = renamed
        else:
            integrand = self.integrand
        return self.func(integrand._subs(old, new), self.measure, over)

    def rename(self, new_over) -> "BoundIntegral":
        """The same integral with its bound variables renamed to ``new_over``."""
        return self.func(
            self.integrand.xreplace(dict(zip(self.over, new_over))), self.measure, new_over
        )

    # printing: Int[g, mu(d(xi))] / Local[L, d(xi)] and their LaTeX; subclasses name the
    # measure part (``_str_measure``, ``_latex_measure``) and the head
    _head = "Int"

    def _sympystr(self, printer):
        over = ", ".join(printer._print(v) for v in self.over)
        return f"{self._head}[{printer._print(self.integrand)}, {self._str_measure(printer, over)}]"

    def _latex(self, printer):
        d = r"\,".join("d" + printer._print(v) for v in self.over)
        body = printer._print(self.integrand)
        if isinstance(self.integrand, sp.Add):
            body = rf"\left({body}\right)"
        return rf"\int {body}\,{self._latex_measure(printer, d)}"

    def __repr__(self):
        return sp.sstr(self)


class MeasureIntegral(BoundIntegral):
    r""":math:`\int g(\xi)\,\mu(d\xi)`: ``g`` integrated against a measure over ``over``.

    >>> import sympy as sp, mfderive as mf
    >>> w, x = sp.symbols("w x"); mu = mf.Measure("mu", (w,))
    >>> A = mf.integral(w * x, mu); A.integrand, A.over, A.free_symbols
    (w*x, (w,), {x})
    """

    def _str_measure(self, printer, over):
        return f"{self.measure.name}(d({over}))"

    def _latex_measure(self, printer, d):
        return f"{printer._print(self.measure)}({d})"


class LocalIntegral(BoundIntegral):
    r""":math:`\int L\,d\xi`: a Lebesgue integral over the variables of a measure.

    The integrand may contain the measure's density ``mu.density(*mu.variables)``
    and its derivatives; it is a *local* functional of the density.

    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w"); mu = mf.Measure("mu", (w,))
    >>> isinstance(mf.entropy(mu), mf.LocalIntegral), mf.entropy(mu).free_symbols
    (True, set())
    """

    _head = "Local"

    def _str_measure(self, printer, over):
        return f"d({over})"

    def _latex_measure(self, printer, d):
        return d


def _declared(s: sp.Symbol) -> str:
    given = getattr(s, "_assumptions_orig", None) or {}
    given = {k: v for k, v in given.items() if k != "commutative"}
    return ", ".join(f"{k}={v}" for k, v in sorted(given.items())) or "no assumptions"


def check_lookalikes(expr, over) -> None:
    """A free symbol named like an integration variable but with other assumptions is
    another symbol to SymPy (a constant under the integral): almost always a typo."""
    names = {v.name: v for v in over}
    for s in expr.free_symbols:
        v = names.get(s.name)
        if v is not None and s != v:
            raise InvalidVariablesError(
                f"the integrand contains a symbol {s.name!r} ({_declared(s)}), but the "
                f"integration variable {s.name!r} is another one ({_declared(v)}): SymPy "
                f"treats them as different symbols, so {s.name!r} would be a constant "
                f"under the integral. Use the measure's own variable "
                f"(mu.variables) or a point from mu.point(...)"
            )


def integral_atoms(expr) -> list[BoundIntegral]:
    """The outermost integral atoms of ``expr`` (not those nested inside others),
    in a deterministic order."""
    found: dict[BoundIntegral, None] = {}

    def walk(e):
        if isinstance(e, BoundIntegral):
            found.setdefault(e, None)
            return
        for a in e.args:
            walk(a)

    walk(expr)
    return list(found)
