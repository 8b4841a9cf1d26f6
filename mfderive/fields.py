r"""Local calculus at a point: nonlocal terms become unknown functions.

A flow's PDE and its dissipation are pointwise expressions at a point :math:`y` in the
densities (:math:`m(y)`, :math:`\rho(y)`), the function :math:`H(y)`, their derivatives,
and nonlocal terms such as :math:`\int W(y,z)\,\mu(dz)` evaluated at :math:`y`.
:class:`Localizer` replaces each nonlocal term that depends on :math:`y` by an unknown
function :math:`N_k(y)` (and back), so that the identities become statements about
differential polynomials in unknown functions of :math:`y`, to which the Euler operator
applies: an expression is a total divergence exactly when the Euler operator with respect
to every unknown function annihilates it.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.function import AppliedUndef

from .integrals import BoundIntegral, integral_atoms

__all__ = [
    "Localizer",
    "grad",
    "div",
    "euler_operator",
    "unknown_functions",
    "is_zero",
    "reduce_expr",
    "derivative_normal_form",
]


class Localizer:
    """Replace the nonlocal terms of expressions at the point ``y`` by ``N_k(y)``.

    One localizer is shared by all expressions of a flow, so that the same nonlocal
    term always becomes the same unknown function.
    """

    def __init__(self, y, prefix: str = "N"):
        self.y = tuple(y)
        self.prefix = prefix
        self.terms: dict[AppliedUndef, sp.Expr] = {}  # N_k(y) -> integral atom
        self._index: dict[sp.Expr, AppliedUndef] = {}

    def local(self, expr) -> sp.Expr:
        """``expr`` with every integral atom that depends on ``y`` replaced by ``N_k(y)``.

        Factors free of an integral's variables (``H(y)``, a coordinate of ``y``) are first
        pulled out by linearity, so that each ``N_k`` is as small as possible and equal
        nonlocal terms of different expressions get the same name."""
        from .canonical import canonical

        expr = canonical(expr, rename=False)
        rep = {}
        ys = set(self.y)
        for A in integral_atoms(expr):
            if not (A.free_symbols & ys):
                continue
            if A not in self._index:
                N = sp.Function(f"{self.prefix}{len(self._index) + 1}", real=True)(*self.y)
                self._index[A] = N
                self.terms[N] = A
            rep[A] = self._index[A]
        return expr.xreplace(rep) if rep else expr

    def nonlocal_(self, expr) -> sp.Expr:
        """Put the integral atoms back (derivatives of ``N_k`` become integrals of the
        differentiated integrand)."""
        if not self.terms:
            return expr

        def is_nd(e):
            return isinstance(e, sp.Derivative) and e.expr in self.terms

        expr = expr.replace(is_nd, lambda D: self.terms[D.expr].diff(*D.variables))
        return expr.xreplace(self.terms)


def grad(f, y) -> list[sp.Expr]:
    """The gradient of ``f`` in the variables ``y``."""
    return [sp.diff(f, v) for v in y]


def div(J, y) -> sp.Expr:
    """The divergence of the vector field ``J`` in the variables ``y``."""
    return sp.Add(*[sp.diff(Ji, v) for Ji, v in zip(J, y)])


def unknown_functions(expr, y) -> list[AppliedUndef]:
    """Applications ``u(y)`` of undefined functions to exactly the point ``y``."""
    y = tuple(y)
    found = {f for f in expr.atoms(AppliedUndef) if tuple(f.args) == y}
    return sorted(found, key=sp.default_sort_key)


def euler_operator(L, u) -> sp.Expr:
    r"""The Euler operator :math:`\sum_\alpha(-D)^\alpha\,\partial L/\partial u_\alpha` of ``L``
    with respect to the unknown function application ``u`` (e.g. ``m(x, y)``).

    Each derivative :math:`u_\alpha` is replaced by an independent jet symbol before the
    partial derivatives are taken, then put back; :math:`D^\alpha` is the total derivative.
    """
    derivs = sorted(
        {D for D in L.atoms(sp.Derivative) if D.expr == u}, key=sp.default_sort_key
    )
    jet = {D: sp.Dummy(f"j{i}") for i, D in enumerate(derivs)}
    jet[u] = sp.Dummy("j")
    back = {d: k for k, d in jet.items()}
    Ls = L.xreplace(jet)  # top-down: whole Derivative nodes first
    out = Ls.diff(jet[u]).xreplace(back)
    for D in derivs:
        term = Ls.diff(jet[D]).xreplace(back)
        if term != 0:
            out += (-1) ** D.derivative_count * sp.diff(term, *D.variables)
    return out


_PARTIALS: dict[tuple[str, tuple[int, ...]], sp.FunctionClass] = {}
_PARTIAL_OF: dict[str, tuple[str, tuple[int, ...], dict]] = {}


def _partial(f, counts: tuple[int, ...]) -> sp.FunctionClass:
    """The undefined function standing for the partial derivative of order ``counts``
    (one entry per argument slot) of the undefined function ``f``."""
    name = f.__name__
    if name in _PARTIAL_OF:  # a partial of a partial: add the orders
        base, prev, assumptions = _PARTIAL_OF[name]
        counts = tuple(a + b for a, b in zip(prev, counts))
    else:
        base, assumptions = name, {k: v for k, v in f._kwargs.items()} if hasattr(f, "_kwargs") else {}
    key = (base, counts)
    if key not in _PARTIALS:
        new = sp.Function(f"{base}_{{({','.join(map(str, counts))})}}", **assumptions)
        _PARTIALS[key] = new
        _PARTIAL_OF[new.__name__] = (base, counts, assumptions)
    return _PARTIALS[key]


def _slot_counts(app, variables) -> tuple[int, ...] | None:
    """Orders per argument slot when every differentiation variable is exactly one slot
    of ``app`` and occurs in no other slot; else None."""
    args = list(app.args)
    counts = [0] * len(args)
    for v, n in variables:
        slots = [k for k, a in enumerate(args) if a == v]
        if len(slots) != 1 or any(a.has(v) for k, a in enumerate(args) if k != slots[0]):
            return None
        counts[slots[0]] += n
    return tuple(counts)


def derivative_normal_form(expr) -> sp.Expr:
    r"""Write every derivative of an undefined function evaluated at arguments other than
    ``point`` as a new undefined function of the same arguments: for example
    :math:`\partial_1 V(H(y), y)` becomes ``V_{(1,0)}(H(y), y)``, whether SymPy wrote it as a
    ``Derivative`` with respect to ``H(y)`` or as a ``Subs`` from the chain rule.  Equal
    quantities then have equal forms.  Derivatives of functions applied to plain symbols
    (``Derivative(H(y), y)``, ``Derivative(h(theta, x), theta)``) are already canonical and
    are kept (the Euler operator needs those of the unknown functions)."""

    def target(e):
        if isinstance(e, sp.Subs):
            return True
        return (
            isinstance(e, sp.Derivative)
            and isinstance(e.expr, AppliedUndef)
            and not all(isinstance(a, sp.Symbol) for a in e.expr.args)
        )

    def rewrite(e):
        if isinstance(e, sp.Subs):
            if not (isinstance(e.expr, sp.Derivative) and isinstance(e.expr.expr, AppliedUndef)):
                return e.doit()
            D, app = e.expr, e.expr.expr
            counts = _slot_counts(app, D.variable_count)
            if counts is None:
                return e.doit()
            args = [a.xreplace(dict(zip(e.variables, e.point))) for a in app.args]
            return _partial(app.func, counts)(*args)
        counts = _slot_counts(e.expr, e.variable_count)
        if counts is None:
            return e.doit()
        return _partial(e.expr.func, counts)(*e.expr.args)

    for _ in range(50):
        new = expr.replace(target, rewrite)
        if new == expr:
            return new
        expr = new
    return expr  # pragma: no cover


def reduce_expr(expr, max_ops: int = 300) -> sp.Expr:
    """A reduced form of ``expr`` that is 0 when ``expr`` is provably zero.

    Integral atoms are put in canonical form and treated as opaque symbols while the
    expression is expanded (an expression that vanishes for arbitrary values of them
    vanishes); ``simplify`` runs only on small leftovers, then the atoms are put back.
    """
    if expr == 0:
        return sp.S.Zero
    from .canonical import canonical

    e = canonical(derivative_normal_form(expr))
    atoms = integral_atoms(e)
    place = {A: sp.Dummy(f"I{i}") for i, A in enumerate(atoms)}
    e = sp.expand(e.xreplace(place)) if atoms else sp.expand(e)
    if e != 0 and sp.count_ops(e) <= max_ops:
        e = sp.simplify(e)
    return e.xreplace({d: A for A, d in place.items()}) if atoms else e


def is_zero(expr, max_ops: int = 300) -> bool:
    """Decide ``expr == 0`` symbolically (sound; may answer False for an unproven zero)."""
    return reduce_expr(expr, max_ops) == 0


def has_integrals(expr) -> bool:
    return expr.has(BoundIntegral)
