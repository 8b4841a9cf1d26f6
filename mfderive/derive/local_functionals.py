r"""Local functionals of a density: :math:`\int L(\xi, m, \nabla m, \dots)\,d\xi`.

:func:`local` integrates a Lagrangian :math:`L` built from the density
:math:`m = \frac{d\mu}{d\xi}` of a :class:`~mfderive.Measure` and its derivatives
(porous medium :math:`\frac\tau2 m^2`, Fisher information, ...); its first variation is
the Euler–Lagrange expression
:math:`\sum_\alpha(-D)^\alpha\,\partial L/\partial(\partial^\alpha m)`.
Two are named: the entropy :math:`H(m) = \int m\log m\,d\xi` and the relative entropy
:math:`H(m\,|\,g) = \int m\log(m/g)\,d\xi` against a positive reference :math:`g`
(the Gibbs reference :math:`g = e^{-U}` of the mean-field Langevin energy
:math:`V^\sigma = F + \frac{\sigma^2}{2}H(m\,|\,g)`, Hu, Ren, Šiška & Szpruch 2021).
A Lagrangian may hold the densities of several measures on one domain (two species,
cross-diffusion); it is differentiable in each of them.
A fixed :class:`~mfderive.Data` measure has no density to vary: it is refused.
"""

from __future__ import annotations

import sympy as sp

from ..errors import InvalidExpressionError, NotAMeasureError
from .atoms import LocalIntegral, check_lookalikes
from .measures import Data, Measure, as_sympy, check_measure

__all__ = ["local", "entropy", "relative_entropy", "check_reference_density"]


def local(L, mu) -> sp.Expr:
    r""":math:`\int L(\xi, m(\xi), \nabla m(\xi), \dots)\,d\xi` over the variables of ``mu``.

    ``L`` is built from ``mu.density(*mu.variables)`` (the density :math:`m`) and its
    derivatives, e.g. ``tau/2 * m**2`` (porous medium) or ``m*log(m)`` (entropy).
    Its first variation is the Euler–Lagrange expression
    :math:`\sum_\alpha (-D)^\alpha\,\partial L/\partial(\partial^\alpha m)`.

    **Several densities.** ``L`` may also contain the densities of other measures on the
    same domain, each evaluated at ``mu``'s variables (``nu.density(*mu.variables)``) —
    multi-species and cross-diffusion energies
    :math:`\int m_1\log m_1 + m_2\log m_2 + \chi m_1m_2\,d\xi`, Dirichlet couplings
    :math:`\int\nabla m_1\cdot\nabla m_2\,d\xi`.  The measure the integral is attached
    to fixes only the variables (and domain) of integration: the functional is
    differentiable in each measure :math:`\mu_k` whose density it contains, with first
    variation the Euler operator in :math:`m_k`,
    :math:`\frac{\delta}{\delta\mu_k} = \sum_\alpha(-D)^\alpha\,
    \partial L/\partial(\partial^\alpha m_k)` (Olver 1993, §4.1), and ``mf.local(L, mu1)``,
    ``mf.local(L, mu2)`` have the same variations.  A density evaluated anywhere but at
    the integration variables, or of a measure of another dimension, is refused when it
    is differentiated (``NotDifferentiableError``).

    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w"); mu = mf.Measure("mu", (w,)); m = mu.density(w)
    >>> porous = mf.local(m**2 / 2, mu); porous
    Local[mu(w)**2/2, d(w)]
    >>> mf.first_variation(porous, mu, at=mu.point("y"))
    mu(y)
    >>> nu = mf.Measure("nu", (w,)); n = nu.density(w)
    >>> mf.first_variation(mf.local(m * n + sp.Derivative(n, w)**2 / 2, mu), nu, at=(w,))
    mu(w) - Derivative(nu(w), (w, 2))
    """
    L = as_sympy(L, "the local integrand L")
    mu = _density_measure(mu)
    check_lookalikes(L, mu.variables)
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
    r"""The entropy :math:`H(m)=\int m\log m\,d\xi` of ``mu`` (Hu, Ren, Šiška & Szpruch 2021);
    +∞ for a measure without density.

    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w"); mu = mf.Measure("mu", (w,)); y = mu.point("y")
    >>> mf.entropy(mu)
    Local[mu(w)*log(mu(w)), d(w)]
    >>> mf.first_variation(mf.entropy(mu), mu, at=y) == sp.log(mu.density(*y)) + 1
    True
    """
    mu = _density_measure(mu)
    m = mu.density(*mu.variables)
    return local(m * sp.log(m), mu)


def relative_entropy(mu, g) -> sp.Expr:
    r"""The relative entropy :math:`H(m\,|\,g)=\int m\log(m/g)\,d\xi`.

    ``g`` is a positive reference density, an expression in ``mu``'s variables (for
    the Gibbs reference ``exp(-U)`` of Hu, Ren, Šiška & Szpruch 2021; an unnormalised
    ``g`` changes the value by the constant :math:`\log Z` and the first variation not at all).

    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w", real=True); mu = mf.Measure("mu", (w,))
    >>> KL = mf.relative_entropy(mu, sp.exp(-w**2 / 2))
    >>> mf.first_variation(KL, mu, at=mu.point("y"))
    y**2/2 + log(mu(y)) + 1
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
