r"""Local calculus at a point: gradients, divergences, the Euler operator.

An expression in unknown functions of :math:`y` and their derivatives is a total
divergence exactly when the Euler operator with respect to every unknown function
annihilates it (Olver 1993, Thm 4.7); :func:`euler_operator` also gives the first
variation of a local functional :math:`\int L(\xi, m, \nabla m, \dots)\,d\xi`.
:func:`derivative_normal_form` and :func:`is_zero` decide identities symbolically.
"""

from __future__ import annotations

import sympy as sp
from sympy.core.function import AppliedUndef

from .atoms import BoundIntegral, integral_atoms

__all__ = ['grad', 'div', 'unknown_functions', 'euler_operator', 'derivative_normal_form', 'reduce_expr', 'is_zero', 'has_integrals']


_PARTIALS: dict[tuple[str, tuple[int, ...]], sp.FunctionClass] = {}
_PARTIAL_OF: dict[str, tuple[str, tuple[int, ...], dict]] = {}


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

    >>> import sympy as sp, mfderive as mf
    >>> x = sp.Symbol("x"); u = sp.Function("u")(x)
    >>> mf.euler_operator(u.diff(x)**2 / 2 + u**3 / 3, u)
    u(x)**2 - Derivative(u(x), (x, 2))

    An unevaluated derivative of a compound expression in ``u`` (``Derivative(u*v, x)``) is
    carried out first, so that only derivatives :math:`u_\alpha` of ``u`` itself remain.
    """
    L = L.replace(
        lambda e: isinstance(e, sp.Derivative) and e.expr != u and e.expr.has(u),
        lambda e: e.doit(),
    )
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
