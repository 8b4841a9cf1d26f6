r"""The energy gap to a stationary state: Fernández-Real & Figalli (2022), (4.5) and (4.8),
derived.

For any two measures the Bregman gap of :math:`F` is

.. math:: D_F(\mu, \mu^*) = F(\mu) - F(\mu^*)
          - \int \frac{\delta F}{\delta\mu}(\mu^*, y)\,(\mu-\mu^*)(dy).

The engine computes it in closed form when the nonlocal part of :math:`F` is quadratic
(its third variation vanishes — checked, not assumed):
:math:`\frac12\iint\frac{\delta^2F}{\delta\mu^2}\,d(\mu-\mu^*)^{\otimes 2}`, plus, for each local
term :math:`\int L(m)\,d\xi`, the pointwise Bregman divergence
:math:`\int[L(m) - L(m^*) - L'(m^*)(m-m^*)]\,d\xi` (simplified with the unit masses
:math:`\int m = \int m^* = 1`).  At a stationary state with full support,
:math:`\frac{\delta F}{\delta\mu}(\mu^*)\equiv\lambda` and the linear term vanishes, so

.. math:: F(\mu) - F(\mu^*) = D_F(\mu, \mu^*):

with the network risk's kernel :math:`K` and the entropy this is (4.5),
:math:`\iint K\,d(\mu-\mu^*)^{\otimes2} + \tau\,\mathrm{KL}(\mu\,\|\,\mu^*)`; with
:math:`\frac\tau2\int m^2` it is (4.8), :math:`\ldots + \frac\tau2\int(m-m^*)^2`.
"""

from __future__ import annotations

import sympy as sp

from ..derive.euler import is_zero
from ..derive.integrals import LocalIntegral, integral, integral_atoms, local
from ..derive.measures import Data, Measure, as_sympy, check_differentiable_measure
from ..derive.variation import first_variation, second_variation
from ..errors import MfDeriveError, NotAMeasureError

__all__ = ["StationaryGap", "stationary_gap", "on_measure"]


def on_measure(F, mu: Measure, other: Measure) -> sp.Expr:
    """``F`` with the measure ``mu`` (its integrals and its density) replaced by ``other``."""
    out = F.xreplace({mu: other})
    return out.replace(
        lambda e: isinstance(e, sp.core.function.AppliedUndef) and e.func.__name__ == mu.name,
        lambda e: other.density(*e.args),
    )


class StationaryGap:
    r"""The derived identity :math:`F(\mu) - F(\mu^*) = D_F(\mu,\mu^*)` at a stationary
    :math:`\mu^*` (see the module docstring).

    Attributes
    ----------
    difference : Data
        The signed measure :math:`\mu - \mu^*` (mass zero), a fixed measure.
    quadratic : the nonlocal part :math:`\frac12\iint\delta^2F\,d(\mu-\mu^*)^{\otimes2}`
    local : the local part (KL, :math:`L^2`, ...)
    gap : ``quadratic + local``
    condition : ``Eq(δF/δμ(μ*, y), λ)`` — stationarity with full support
    identity : ``Eq(F(μ) - F(μ*), gap)``

    Examples
    --------
    >>> import sympy as sp, mfderive as mf
    >>> x = sp.Symbol("x", real=True)
    >>> mu, mu_star = mf.Measure("mu", (x,)), mf.Measure("mu_star", (x,))
    >>> gap = mf.StationaryGap(mf.integral(x, mu)**2 / 2, mu, mu_star)
    >>> gap.condition
    Eq(y*Int[x, mu_star(d(x))], lambda)
    """

    def __init__(self, F, mu, mu_star):
        F = as_sympy(F, "the functional F")
        mu = check_differentiable_measure(mu)
        mu_star = check_differentiable_measure(mu_star, "mu_star")
        if mu_star.dim != mu.dim or mu_star == mu:
            raise NotAMeasureError(
                f"mu_star must be another Measure with {mu.dim} variable(s), got {mu_star!r}"
            )
        self.F, self.mu, self.mu_star = F, mu, mu_star
        local_atoms = [A for A in integral_atoms(F) if isinstance(A, LocalIntegral)]
        place = {A: sp.Dummy(f"L{i}") for i, A in enumerate(local_atoms)}
        Fp = F.xreplace(place)
        coeffs = {A: sp.diff(Fp, d) for A, d in place.items()}
        nonlocal_part = sp.expand(Fp - sp.Add(*[c * d for (A, c), d in zip(coeffs.items(), place.values())]))
        if any(c.has(*place.values()) or integral_atoms(c) for c in coeffs.values()) or nonlocal_part.has(*place.values()):
            raise MfDeriveError("local terms must enter F linearly with constant coefficients")
        self.difference = D = Data(f"{mu.name}_minus_{mu_star.name}", mu.variables)
        y, z, u = D.point("y"), D.point("z"), mu.point("u")
        d2 = second_variation(nonlocal_part, mu, at=(y, z))
        if not is_zero(first_variation(d2, mu, at=u)):
            raise MfDeriveError(
                "the nonlocal part of F is not quadratic in the measure (its third variation "
                "does not vanish); the gap is not the second-variation form"
            )
        self.quadratic = integral(integral(d2, D, over=z), D, over=y) / 2
        m, ms = mu.density(*mu.variables), mu_star.density(*mu.variables)
        loc = sp.S.Zero
        for A, c in coeffs.items():
            L = A.integrand
            Ls = L.xreplace({m: ms})
            s = sp.Dummy("s", positive=True)
            dL = sp.diff(L.xreplace({m: s}), s).xreplace({s: ms})
            breg = sp.expand(sp.expand_log(L - Ls - dL * (m - ms), force=True))
            # unit masses: the terms ±c·m and ±c·m* (constant c) integrate to ±c
            mass = sp.S.Zero
            rest = sp.S.Zero
            for t in sp.Add.make_args(breg):
                k_m, k_s = sp.diff(t, m), sp.diff(t, ms)
                if t == k_m * m and not k_m.has(m, ms) and not (k_m.free_symbols & set(mu.variables)):
                    mass += k_m
                elif t == k_s * ms and not k_s.has(m, ms) and not (k_s.free_symbols & set(mu.variables)):
                    mass += k_s
                else:
                    rest += t
            loc += c * (local(sp.factor(rest), mu) + mass)
        self.local = loc
        self.gap = self.quadratic + self.local
        self.multiplier = sp.Symbol("lambda", real=True)
        self.condition = sp.Eq(first_variation(on_measure(F, mu, mu_star), mu_star, at=y), self.multiplier)
        self.identity = sp.Eq(F - on_measure(F, mu, mu_star), self.gap, evaluate=False)

    def _repr_latex_(self):
        return f"${sp.latex(self.identity)}$"


def stationary_gap(F, mu, mu_star) -> StationaryGap:
    r"""The identity :math:`F(\mu) - F(\mu^*) = D_F(\mu,\mu^*)` at a stationary ``mu_star``.

    >>> import sympy as sp, mfderive as mf
    >>> x = sp.Symbol("x", real=True); tau = sp.Symbol("tau", positive=True)
    >>> mu, mu_star = mf.Measure("mu", (x,)), mf.Measure("mu_star", (x,))
    >>> m, m_star = mu.density(x), mu_star.density(x)
    >>> F = mf.integral(x, mu)**2 / 2 + tau / 2 * mf.local(m**2, mu)
    >>> gap = mf.stationary_gap(F, mu, mu_star)
    >>> gap.quadratic
    Int[Int[y*z, mu_minus_mu_star(d(z))], mu_minus_mu_star(d(y))]/2
    >>> mf.equivalent(gap.local, tau / 2 * mf.local((m - m_star)**2, mu))
    True
    """
    return StationaryGap(F, mu, mu_star)
