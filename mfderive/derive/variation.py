r"""First and second variations of functionals of measures, by rules.

The first variation (flat derivative; Hu, Ren, Šiška & Szpruch 2021, Def. 1) of :math:`F`
at :math:`\mu` is the function :math:`\frac{\delta F}{\delta\mu}(\mu, y)` with

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
   operator), plus the chain rule through any nonlocal atoms inside :math:`L`.  ``L`` may
   hold the densities :math:`m_1, m_2, \dots` of several measures on the same domain; the
   variation in :math:`\mu_k` is the Euler operator in :math:`m_k`, whichever measure the
   local integral is attached to (that fixes only the variables of integration).

A density :math:`m(y)` evaluated at a point outside a local integral has a Dirac
distribution as its variation; the engine says so (:class:`NotDifferentiableError`)
instead of returning a wrong function.

The chain rule (rule 1) is :mod:`mfderive.derive.chain`; points and averages are
:mod:`mfderive.derive.points`; the analogous :math:`L^2(\rho)` variation in a function
:math:`H` is :mod:`mfderive.derive.function_variation` (re-exported here).
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import InvalidOptionError, InvalidPointError, NotDifferentiableError
from .atoms import (
    BoundIntegral,
    LocalIntegral,
    MeasureIntegral,
    fresh_symbols,
    integral_atoms,
    substitute,
)
from .chain import chain_rule, integral_derivatives_done, rebuild_integral
from .euler import euler_operator
from .function_variation import function_variation
from .integrals import integral
from .measures import Measure, as_sympy, check_differentiable_measure, check_names
from .nonsmooth import ae_clean
from .points import all_symbols, at_point, working_point

__all__ = ["first_variation", "function_variation", "measure_variation", "second_variation"]


def _density_apps(expr, mu: Measure) -> set:
    name = mu.density.__name__
    return {f for f in expr.atoms(AppliedUndef) if f.func.__name__ == name}


def measure_variation(expr, mu: Measure, y) -> sp.Expr:
    """The first variation of ``expr`` in ``mu`` at the working symbols ``y`` (unchecked)."""
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

    return chain_rule(expr, lambda A: _atom_variation(A, mu, y), pointwise)


def _atom_variation(A: BoundIntegral, mu: Measure, y) -> sp.Expr:
    if isinstance(A, MeasureIntegral):
        out = rebuild_integral(measure_variation(A.integrand, mu, y), A)
        if A.measure == mu:
            out += substitute(A.integrand, dict(zip(A.over, y)))
        return out
    if isinstance(A, LocalIntegral):
        return _local_variation(A, mu, y)
    raise TypeError(f"unknown integral atom {A!r}")  # pragma: no cover


def _local_variation(A: LocalIntegral, mu: Measure, y) -> sp.Expr:
    r"""δ/δμ of :math:`\int L\,d\xi` over the variables ξ of the measure ``A`` is attached
    to.  The attachment fixes only the domain and the variables of integration: the
    density of *any* measure μ of the same dimension evaluated at ξ, ``mu.density(*ξ)``,
    is an unknown function of ξ, and its variation is the Euler operator in it (several
    species, cross-diffusion: :math:`\int L(\xi, m_1, m_2, \nabla m_1, \nabla m_2)\,d\xi`)."""
    xi, L = A.over, A.integrand
    m = mu.density(*xi) if mu.dim == len(xi) else None

    def pointwise(e):
        bad = {f for f in _density_apps(e, mu) if f != m}
        if not bad:
            return
        f = sorted(bad, key=sp.default_sort_key)[0]
        if m is None:
            raise NotDifferentiableError(
                f"the local functional {sp.sstr(A)} is a Lebesgue integral over the "
                f"{len(xi)} variable(s) {xi} of {A.measure.name!r}, but its integrand "
                f"contains the density {f} of {mu.name!r}, which has {mu.dim} variable(s): "
                f"it is not a density on the domain of integration, and its variation in "
                f"{mu.name!r} is not a function. Write terms in the density of "
                f"{mu.name!r} as mf.local(..., {mu.name})"
            )
        raise NotDifferentiableError(
            f"the local functional {sp.sstr(A)} evaluates the density of {mu.name!r} "
            f"as {f}, not at its own integration variables {xi}; its variation is "
            f"a Dirac distribution there, not a function. Evaluate every density in "
            f"mf.local at the integration variables"
        )

    # nonlocal atoms inside the Lagrangian: chain rule, integrated over ξ
    nonlocal_part = rebuild_integral(
        chain_rule(L, lambda B: _atom_variation(B, mu, y), pointwise), A
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
        (Hu, Ren, Šiška & Szpruch 2021, Def. 1); otherwise the one the rules produce
        (defined up to a constant).

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
    dF = measure_variation(F, mu, ys)
    if normalize:
        xi = fresh_symbols(mu.variables, all_symbols(dF) - set(ys))
        mean = substitute(dF, dict(zip(ys, xi)))
        dF = dF - integral(mean, mu, over=xi)
    return at_point(dF, ys, point)


def second_variation(F, mu, at) -> sp.Expr:
    r"""The second variation :math:`\frac{\delta^2 F}{\delta\mu^2}(\mu, y, z)`.

    ``at = (y, z)``, two points of ``mu``.  It is the first variation at ``z`` of the
    first variation at ``y``; for smooth nonlocal functionals it is symmetric in
    :math:`(y,z)`, and :math:`F` is convex along linear interpolations when it is a
    positive semi-definite kernel (Fernández-Real & Figalli 2022, Remark 2.1, footnote 8).

    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w"); mu = mf.Measure("mu", (w,))
    >>> y, z = mu.point("y"), mu.point("z")
    >>> mf.second_variation(mf.integral(w, mu)**2, mu, at=(y, z))
    2*y*z
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
    d1 = measure_variation(F, mu, ys)
    d2 = measure_variation(d1, mu, zs)
    return at_point(at_point(d2, zs, pz), ys, py)
