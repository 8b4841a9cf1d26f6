r"""First and second variations of functionals of measures, by rules.

The first variation (flat derivative, seed 000 Def. 1) of :math:`F` at :math:`\mu` is
the function :math:`\frac{\delta F}{\delta\mu}(\mu, y)` with

.. math::
    \lim_{s\searrow 0}\frac{F((1-s)\mu+s\mu')-F(\mu)}{s}
    = \int \frac{\delta F}{\delta\mu}(\mu,y)\,(\mu'-\mu)(dy),

defined up to an additive constant.  The engine computes it from three rules and
nothing else:

1. **Chain rule.** A functional is a SymPy expression :math:`e(A_1,\dots,A_k)` of
   integral atoms; :math:`\delta e/\delta\mu = \sum_i \partial e/\partial A_i\cdot
   \delta A_i/\delta\mu`.
2. **Nonlocal integrals.** :math:`\frac{\delta}{\delta\mu}\int g(\xi;\mu)\,\mu(d\xi)(y)
   = g(y;\mu) + \int \frac{\delta g(\xi;\mu)}{\delta\mu}(y)\,\mu(d\xi)`; against any other
   measure (data, quadrature, another parameter measure) only the second term remains.
3. **Local integrals.** :math:`\frac{\delta}{\delta m}\int L(\xi,m,\nabla m,\dots)\,d\xi
   = \sum_\alpha(-D)^\alpha\,\frac{\partial L}{\partial(\partial^\alpha m)}` (the Euler
   operator), plus the chain rule through any nonlocal atoms inside :math:`L`.

A density :math:`m(y)` evaluated at a point outside a local integral has a Dirac
distribution as its variation; the engine says so (:class:`NotDifferentiableError`)
instead of returning a wrong function.

:func:`function_variation` is the analogous :math:`L^2(\rho)` gradient with respect to
a function :math:`H` that appears pointwise under integrals against :math:`\rho`, as in
the :math:`(\rho,H)` formulation of seed 002 §2.3.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef, UndefinedFunction

from ..errors import (
    InvalidOptionError,
    InvalidPointError,
    NotDifferentiableError,
    NotSympyError,
)
from .euler import euler_operator
from .integrals import (
    BoundIntegral,
    LocalIntegral,
    MeasureIntegral,
    fresh_symbols,
    integral,
    integral_atoms,
    substitute,
)
from .measures import (
    Measure,
    as_point,
    as_sympy,
    check_differentiable_measure,
    check_names,
)
from .nonsmooth import ae_clean

__all__ = ["first_variation", "second_variation", "function_variation", "working_point", "average"]


# --------------------------------------------------------------------------- points
def _all_symbols(expr) -> set[sp.Symbol]:
    """Free symbols and every bound variable of every integral in ``expr``."""
    out = set(expr.free_symbols)
    for A in expr.atoms(BoundIntegral):
        out |= set(A.over) | A.integrand.free_symbols
    return out


def average(expr, point, mu) -> sp.Expr:
    r""":math:`\int e(\xi)\,\mu(d\xi)` for an expression :math:`e` in ``point``: the point
    is renamed to fresh bound variables (e.g. :math:`\bar V = \int V\,d\mu`)."""
    xi = fresh_symbols(mu.variables, _all_symbols(expr))
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
        used |= _all_symbols(e)
    if (
        all(isinstance(c, sp.Symbol) for c in point)
        and len(set(point)) == len(point)
        and not (set(point) & used)
    ):
        return point, point
    return point, fresh_symbols(mu.point("y"), used | set().union(*(c.free_symbols for c in point)))


def _at_point(expr, symbols, point):
    if tuple(symbols) == tuple(point):
        return expr
    return substitute(expr, dict(zip(symbols, point)))


# ---------------------------------------------------------------------- chain rule
def _back(expr, back: dict):
    """Put the atoms back in place of their placeholders (``subs`` where a placeholder
    is a differentiation variable, so that SymPy writes a ``Subs`` object)."""
    if expr.has(sp.Derivative, sp.Subs):
        return expr.subs(back)
    return expr.xreplace(back)


def integral_derivatives_done(expr) -> sp.Expr:
    r"""``expr`` with every ``Derivative`` of an expression containing integrals carried
    out (under the integral sign, :meth:`BoundIntegral._eval_derivative`).

    An unevaluated :math:`\partial_t\int g(\xi,t)\,\mu(d\xi)` hides the integral from the
    chain rule (its placeholder would not depend on :math:`t`), which would lose the
    variation of the integral when :math:`t` is itself bound by an outer integral.
    """
    if not expr.has(sp.Derivative):
        return expr
    return expr.replace(
        lambda e: isinstance(e, sp.Derivative) and e.expr.has(BoundIntegral),
        lambda e: e.doit(deep=False),
    )


def _chain(expr, d_atom: Callable, check_pointwise: Callable) -> sp.Expr:
    """Σ_A ∂expr/∂A · d_atom(A) over the outermost integral atoms A of ``expr``.

    ``check_pointwise(e)`` inspects ``expr`` with its atoms replaced by placeholders
    and raises when it depends pointwise on the differentiated object.  Derivatives of
    non-smooth functions are their a.e. derivatives (:mod:`mfderive.nonsmooth`).
    """
    expr = integral_derivatives_done(expr)
    atoms = integral_atoms(expr)
    place = {A: sp.Dummy(f"A{i}", real=True) for i, A in enumerate(atoms)}
    e = expr.xreplace(place) if atoms else expr
    check_pointwise(e)
    back = {d: A for A, d in place.items()}
    total = sp.S.Zero
    for A, d in place.items():
        outer = ae_clean(e.diff(d))
        if outer == 0:
            continue
        dA = d_atom(A)
        if dA == 0:
            continue
        total += _back(outer, back) * dA
    return total


def _density_apps(expr, mu: Measure) -> set:
    name = mu.density.__name__
    return {f for f in expr.atoms(AppliedUndef) if f.func.__name__ == name}


def _mk_integral(g, A: BoundIntegral):
    """Rebuild an integral of the same kind, measure and variables with integrand g."""
    if g == 0:
        return sp.S.Zero
    if (
        isinstance(A, MeasureIntegral)
        and isinstance(A.measure, Measure)
        and not (g.free_symbols & set(A.over))
    ):
        return g  # a probability measure has mass one
    return A.func(g, A.measure, A.over)


# ------------------------------------------------------------ variation in a measure
def _variation(expr, mu: Measure, y) -> sp.Expr:
    def pointwise(e):
        apps = _density_apps(e, mu)
        if apps:
            f = sorted(apps, key=sp.default_sort_key)[0]
            raise NotDifferentiableError(
                f"the density {f} of {mu.name!r} appears outside a local functional "
                f"(in {sp.sstr(expr)}); its first variation there is a Dirac "
                f"distribution, not a function. Write density terms with mf.local "
                f"or mf.entropy."
            )

    return _chain(expr, lambda A: _atom_variation(A, mu, y), pointwise)


def _atom_variation(A: BoundIntegral, mu: Measure, y) -> sp.Expr:
    if isinstance(A, MeasureIntegral):
        out = _mk_integral(_variation(A.integrand, mu, y), A)
        if A.measure == mu:
            out += substitute(A.integrand, dict(zip(A.over, y)))
        return out
    if isinstance(A, LocalIntegral):
        return _local_variation(A, mu, y)
    raise TypeError(f"unknown integral atom {A!r}")  # pragma: no cover


def _local_variation(A: LocalIntegral, mu: Measure, y) -> sp.Expr:
    xi, L = A.over, A.integrand
    m = mu.density(*xi) if A.measure == mu else None

    def pointwise(e):
        bad = {f for f in _density_apps(e, mu) if f != m}
        if not bad:
            return
        f = sorted(bad, key=sp.default_sort_key)[0]
        if m is None:
            raise NotDifferentiableError(
                f"the local functional {sp.sstr(A)} is an integral in the density of "
                f"{A.measure.name!r}, but its integrand also contains the density {f} of "
                f"{mu.name!r} pointwise; the variation of that in {mu.name!r} is a Dirac "
                f"distribution, not a function. Write terms in the density of "
                f"{mu.name!r} as mf.local(..., {mu.name})"
            )
        raise NotDifferentiableError(
            f"the local functional {sp.sstr(A)} evaluates the density of {mu.name!r} "
            f"as {f}, not at its own integration variables {xi}; its variation is "
            f"not a function"
        )

    # nonlocal atoms inside the Lagrangian: chain rule, integrated over ξ
    nonlocal_part = _mk_integral(
        _chain(L, lambda B: _atom_variation(B, mu, y), pointwise), A
    )
    if m is None:
        return nonlocal_part
    # the Euler operator differentiates the Lagrangian in m(ξ) and its derivatives with
    # the nonlocal atoms held fixed: an integral nested in L (an inner entropy, say) is a
    # number at each ξ, and its own density is not this m(ξ)
    L = integral_derivatives_done(L)
    held = {B: sp.Dummy(f"B{i}", real=True) for i, B in enumerate(integral_atoms(L))}
    euler = euler_operator(L.xreplace(held), m).xreplace({d: B for B, d in held.items()})
    return substitute(ae_clean(euler), dict(zip(xi, y))) + nonlocal_part


def first_variation(F, mu, at, normalize: bool = False) -> sp.Expr:
    r"""The first variation :math:`\frac{\delta F}{\delta\mu}(\mu, y)` at the point ``at``.

    Parameters
    ----------
    F : SymPy expression
        A functional: any SymPy expression of :func:`~mfderive.integral`,
        :func:`~mfderive.local`, :func:`~mfderive.entropy` atoms (nested freely).
    mu : Measure
        The measure to differentiate in (``Data`` measures are never differentiated).
    at : tuple
        The point :math:`y`, one SymPy expression per variable of ``mu``
        (``mu.point("y")`` gives fresh symbols).
    normalize : bool
        If true, return the representative with :math:`\int\frac{\delta F}{\delta\mu}\,d\mu=0`
        (seed 000, Def. 1); otherwise the one the rules produce (defined up to a constant).

    Returns
    -------
    A SymPy expression in ``at`` that may still contain integrals against ``mu``.

    Raises
    ------
    NotSympyError, NotAMeasureError, InvalidPointError
        For malformed input.
    NotDifferentiableError
        Where the variation is not a function (a density evaluated at a point).

    Examples
    --------
    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w"); mu = mf.Measure("mu", (w,)); y = mu.point("y")
    >>> mf.first_variation(mf.integral(w**2, mu)**2, mu, at=y)
    2*y**2*Int[w**2, mu(d(w))]
    """
    F = as_sympy(F, "the functional F")
    mu = check_differentiable_measure(mu)
    check_names([F], [mu])
    if not isinstance(normalize, (bool, np.bool_)):
        raise InvalidOptionError(f"normalize must be True or False, got {normalize!r}")
    point, ys = working_point(at, mu, [F])
    dF = _variation(F, mu, ys)
    if normalize:
        xi = fresh_symbols(mu.variables, _all_symbols(dF) - set(ys))
        mean = substitute(dF, dict(zip(ys, xi)))
        from .integrals import integral

        dF = dF - integral(mean, mu, over=xi)
    return _at_point(dF, ys, point)


def second_variation(F, mu, at) -> sp.Expr:
    r"""The second variation :math:`\frac{\delta^2 F}{\delta\mu^2}(\mu, y, z)`.

    ``at = (y, z)``, two points of ``mu``.  It is the first variation at ``z`` of the
    first variation at ``y``; for smooth nonlocal functionals it is symmetric in
    :math:`(y,z)`, and :math:`F` is convex along linear interpolations when it is a
    positive semi-definite kernel (seed 002, Remark 2.1, footnote 8).
    """
    F = as_sympy(F, "the functional F")
    mu = check_differentiable_measure(mu)
    check_names([F], [mu])
    if isinstance(at, (sp.Basic, str, bytes)) or not hasattr(at, "__len__") or len(at) != 2:
        raise InvalidPointError(
            f"second_variation needs at=(y, z), two points of {mu.name!r}; got {at!r}"
        )
    y, z = at
    if mu.dim > 1 and not all(isinstance(p, (tuple, list, sp.Tuple)) for p in (y, z)):
        raise InvalidPointError(
            f"second_variation needs at=(y, z), two points of {mu.name!r} with "
            f"{mu.dim} coordinates each; got {at!r}"
        )
    py, ys = working_point(y, mu, [F])
    pz, zs = working_point(z, mu, [F, sp.Tuple(*ys)])
    d1 = _variation(F, mu, ys)
    d2 = _variation(d1, mu, zs)
    return _at_point(_at_point(d2, zs, pz), ys, py)


# ---------------------------------------------------- variation in a function H on ρ
def _check_function(H):
    if not isinstance(H, UndefinedFunction):
        raise NotSympyError(
            f"H must be an undefined SymPy function such as sp.Function('H'), got {H!r}"
        )
    return H


def _h_variation(expr, H, rho: Measure, y, allowed=frozenset()) -> sp.Expr:
    def pointwise(e):
        for D in e.atoms(sp.Derivative):
            if isinstance(D.expr, AppliedUndef) and D.expr.func == H:
                raise NotDifferentiableError(
                    f"{D} (a derivative of {H}) appears in {sp.sstr(expr)}; the L^2("
                    f"{rho.name}) variation in {H} of derivative terms needs an "
                    f"integration by parts against {rho.name} and is not supported"
                )
        bad = {f for f in e.atoms(AppliedUndef) if f.func == H and f not in allowed}
        if bad:
            f = sorted(bad, key=sp.default_sort_key)[0]
            raise NotDifferentiableError(
                f"{f} appears outside an integral against {rho.name!r} over its own "
                f"variable (in {sp.sstr(expr)}); its L^2({rho.name}) variation is a Dirac "
                f"distribution, not a function"
            )

    return _chain(expr, lambda A: _h_atom(A, H, rho, y), pointwise)


def _h_atom(A: BoundIntegral, H, rho: Measure, y) -> sp.Expr:
    if isinstance(A, LocalIntegral):
        return _mk_integral(_h_variation(A.integrand, H, rho, y), A)
    g = A.integrand
    if A.measure != rho:
        return _mk_integral(_h_variation(g, H, rho, y), A)
    h_here = H(*A.over)
    chain = _mk_integral(_h_variation(g, H, rho, y, allowed={h_here}), A)
    d = sp.Dummy("h", real=True)
    local_part = _back(g.xreplace({h_here: d}).diff(d), {d: h_here})
    return chain + substitute(local_part, dict(zip(A.over, y)))


def function_variation(G, H, rho, at) -> sp.Expr:
    r"""The :math:`L^2(\rho)` variation :math:`\frac{\delta G}{\delta H}(\rho, H)(y)`.

    The unique function with
    :math:`\langle \frac{\delta G}{\delta H}, \varphi\rangle_{L^2(\rho)}
    = \frac{d}{d\varepsilon}\big|_0 G(\rho, H+\varepsilon\varphi)` (seed 002, footnote 9).
    ``H`` (an undefined SymPy function of ``rho``'s variables) may appear pointwise in
    integrals against ``rho`` and inside any nested integrals.
    """
    G = as_sympy(G, "the functional G")
    H = _check_function(H)
    rho = check_differentiable_measure(rho, "rho")
    check_names([G], [rho])
    point, ys = working_point(at, rho, [G])
    return _at_point(_h_variation(G, H, rho, ys), ys, point)
