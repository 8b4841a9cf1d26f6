r"""Integrals against measures: the atoms functionals are built from.

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
value would be captured), and differentiation with respect to an outer symbol
passes under the integral sign.

Functionals are ordinary SymPy expressions of these atoms; the constructors
:func:`integral`, :func:`local`, :func:`entropy` and :func:`relative_entropy`
validate their input and raise the documented errors of :mod:`mfderive.errors`.
"""

from __future__ import annotations

import sympy as sp

from ..errors import InvalidExpressionError, InvalidVariablesError, NotAMeasureError
from .measures import (
    Data,
    Measure,
    _MeasureBase,
    _unordered,
    as_sympy,
    check_measure,
    owners_of,
)

__all__ = [
    "BoundIntegral",
    "MeasureIntegral",
    "LocalIntegral",
    "integral",
    "local",
    "entropy",
    "relative_entropy",
    "integral_atoms",
    "fresh_symbols",
    "substitute",
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

    def _sympystr(self, printer):
        return self._str_head(printer)

    def __repr__(self):
        return sp.sstr(self)


class MeasureIntegral(BoundIntegral):
    r""":math:`\int g(\xi)\,\mu(d\xi)`: ``g`` integrated against a measure over ``over``."""

    def _str_head(self, printer):
        over = ", ".join(printer._print(v) for v in self.over)
        return f"Int[{printer._print(self.integrand)}, {self.measure.name}(d({over}))]"

    def _latex(self, printer):
        d = r"\,".join("d" + printer._print(v) for v in self.over)
        body = printer._print(self.integrand)
        if isinstance(self.integrand, sp.Add):
            body = rf"\left({body}\right)"
        return rf"\int {body}\,{printer._print(self.measure)}({d})"


class LocalIntegral(BoundIntegral):
    r""":math:`\int L\,d\xi`: a Lebesgue integral over the variables of a measure.

    The integrand may contain the measure's density ``mu.density(*mu.variables)``
    and its derivatives; it is a *local* functional of the density.
    """

    def _str_head(self, printer):
        over = ", ".join(printer._print(v) for v in self.over)
        return f"Local[{printer._print(self.integrand)}, d({over})]"

    def _latex(self, printer):
        d = r"\,".join("d" + printer._print(v) for v in self.over)
        body = printer._print(self.integrand)
        if isinstance(self.integrand, sp.Add):
            body = rf"\left({body}\right)"
        return rf"\int {body}\,{d}"


def _check_over(over, measure: _MeasureBase) -> tuple[sp.Symbol, ...]:
    if over is None:
        return measure.variables
    if isinstance(over, sp.Symbol):
        over = (over,)
    if _unordered(over) or isinstance(over, (str, bytes)):
        raise InvalidVariablesError(
            f"over= must be an ordered tuple of {measure.dim} Symbols (the i-th integrates "
            f"against the i-th variable {measure.variables} of {measure.name!r}); got "
            f"{over!r}, which has no order"
        )
    try:
        over = tuple(over)
    except TypeError:
        raise InvalidVariablesError(
            f"over= must be a Symbol or a tuple of {measure.dim} Symbols, got {over!r}"
        ) from None
    if len(over) != measure.dim:
        raise InvalidVariablesError(
            f"over= has {len(over)} symbol(s) but {measure.name!r} has {measure.dim} "
            f"variable(s) {measure.variables}"
        )
    for v in over:
        if not isinstance(v, sp.Symbol):
            raise InvalidVariablesError(f"over= must hold SymPy Symbols; {v!r} is not one")
        owners = owners_of(v)
        if owners and measure._key not in owners:
            others = ", ".join(sorted({o[1] for o in owners}))
            raise InvalidVariablesError(
                f"over= symbol {v} belongs to {others}, not to {measure.name!r}; "
                f"integrate against {measure.name!r} over its own variables or a point "
                f"from {measure.name}.point(...)"
            )
    if len(set(over)) != len(over):
        raise InvalidVariablesError(f"over= repeats a symbol: {over}")
    own = measure.variables
    for i, v in enumerate(over):
        if v in own and own.index(v) != i:
            raise InvalidVariablesError(
                f"over={over} puts the variable {v} of {measure.name!r} in position {i}, "
                f"but it is variable {own.index(v)} of {own}: over= binds by position, so "
                f"this would integrate {v} against another coordinate. List the "
                f"measure's own variables in their order, or use a point from "
                f"{measure.name}.point(...)"
            )
    return over


def _declared(s: sp.Symbol) -> str:
    given = getattr(s, "_assumptions_orig", None) or {}
    given = {k: v for k, v in given.items() if k != "commutative"}
    return ", ".join(f"{k}={v}" for k, v in sorted(given.items())) or "no assumptions"


def _check_lookalikes(expr, over) -> None:
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


def integral(expr, measure, over=None) -> sp.Expr:
    r""":math:`\int \mathrm{expr}\;d(\mathrm{measure})` over ``over`` (default: the
    measure's variables).

    Parameters
    ----------
    expr : SymPy expression (numbers are sympified)
        The integrand, a function of ``over`` and of any outer symbols.
    measure : Measure or Data
    over : Symbol or tuple of Symbols, optional
        The integration variables, one per variable of the measure; each must be one
        of the measure's variables, a coordinate of one of its points, or a symbol no
        measure owns.

    Returns
    -------
    A :class:`MeasureIntegral`.  For a probability :class:`~mfderive.Measure` an
    integrand that does not depend on ``over`` integrates to itself (mass one).

    Examples
    --------
    >>> import sympy as sp, mfderive as mf
    >>> w, x = sp.symbols("w x"); mu = mf.Measure("mu", (w,))
    >>> mf.integral(w * x, mu)
    Int[w*x, mu(d(w))]
    """
    expr = as_sympy(expr, "the integrand")
    measure = check_measure(measure)
    over = _check_over(over, measure)
    _check_lookalikes(expr, over)
    if isinstance(measure, Measure) and not (expr.free_symbols & set(over)):
        return expr
    if expr == 0:
        return sp.S.Zero
    return MeasureIntegral(expr, measure, over)


def local(L, mu) -> sp.Expr:
    r""":math:`\int L(\xi, m(\xi), \nabla m(\xi), \dots)\,d\xi` over the variables of ``mu``.

    ``L`` is built from ``mu.density(*mu.variables)`` (the density :math:`m`) and its
    derivatives, e.g. ``tau/2 * m**2`` (porous medium) or ``m*log(m)`` (entropy).
    Its first variation is the Euler–Lagrange expression
    :math:`\sum_\alpha (-D)^\alpha\,\partial L/\partial(\partial^\alpha m)`.
    """
    L = as_sympy(L, "the local integrand L")
    mu = _density_measure(mu)
    _check_lookalikes(L, mu.variables)
    return LocalIntegral(L, mu, mu.variables)


def _density_measure(mu) -> Measure:
    check_measure(mu, "the measure of a local functional")
    if isinstance(mu, Data):
        raise NotAMeasureError(
            f"local functionals act on the density of a Measure; {mu.name!r} is a fixed "
            f"Data measure"
        )
    return mu


def entropy(mu) -> sp.Expr:
    r"""The entropy :math:`H(m)=\int m\log m\,d\xi` of ``mu`` (seed 000); +∞ for a
    measure without density."""
    mu = _density_measure(mu)
    m = mu.density(*mu.variables)
    return local(m * sp.log(m), mu)


def relative_entropy(mu, g) -> sp.Expr:
    r"""The relative entropy :math:`H(m\,|\,g)=\int m\log(m/g)\,d\xi`.

    ``g`` is a positive reference density, an expression in ``mu``'s variables (for
    the Gibbs reference of seed 000, ``exp(-U)``; an unnormalised ``g`` changes the
    value by the constant :math:`\log Z` and the first variation not at all).
    """
    mu = _density_measure(mu)
    g = check_reference_density(as_sympy(g, "the reference density g"), mu)
    m = mu.density(*mu.variables)
    return local(m * (sp.log(m) - sp.log(g)), mu)


def check_reference_density(g, mu) -> sp.Expr:
    """``g`` if SymPy cannot prove it non-positive or non-real; else
    :class:`InvalidExpressionError` (``log g`` would be complex or undefined)."""
    if g.is_extended_real is False or g.is_extended_positive is False:
        raise InvalidExpressionError(
            f"the reference density g = {g} of {mu.name!r} must be positive (log g enters "
            f"the relative entropy); SymPy finds it is not"
            + ("" if g.free_symbols else " anywhere")
        )
    return g


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
