r"""Gibbs fixed points of the mean-field Langevin dynamics (Hu, Ren, Šiška & Szpruch 2021,
Prop. 6).

For :math:`V^\sigma = F + \frac{\sigma^2}{2}H(m\,|\,g)` with :math:`g = e^{-U}`, a minimiser
satisfies the first-order condition

.. math:: \frac{\delta V^\sigma}{\delta m}(m^*, y) = \frac{\delta F}{\delta m}(m^*, y)
          + \frac{\sigma^2}{2}\big(\log m^*(y) + U(y) + 1\big) = C,

which the engine solves for :math:`m^*(y)`:
:math:`m^* = Z^{-1}\exp\!\big(-\tfrac{2}{\sigma^2}\tfrac{\delta F}{\delta m}(m^*,y)\big)\,g(y)`.
The right side, as a function of the current :math:`m`, is the Gibbs map used for
fixed-point iteration.  When :math:`\frac{\delta F}{\delta m}` is a quadratic polynomial
in :math:`y` whose coefficients are moments of :math:`m` (e.g.
:math:`F = \Phi(\int x\,dm) + \Psi(\int x^2 dm)` with quadratic :math:`U`), the fixed point
is Gaussian and :meth:`GibbsFixedPoint.gaussian` writes and solves its self-consistency
equations.
"""

from __future__ import annotations

import sympy as sp

from ..derive.integrals import MeasureIntegral, integral_atoms, local, substitute
from ..errors import MfDeriveError
from .base import log_density_split
from .wasserstein import WassersteinFlow

__all__ = ["GibbsFixedPoint", "GaussianFixedPoint", "gibbs"]


class GibbsFixedPoint:
    r"""The first-order condition of an MFLD flow and its solution.

    Attributes
    ----------
    condition : ``Eq(δV/δm(y), C)``
    exponent : the exponent of the (unnormalised) fixed-point density at ``point``
    density : ``exp(exponent) / Z`` with ``Z`` the local integral of ``exp(exponent)``

    Examples
    --------
    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w", real=True); mu = mf.Measure("mu", (w,))
    >>> fp = mf.gibbs(mf.WassersteinFlow(mf.integral(w**2, mu) / 2, mu, noise=1))
    >>> fp.density
    exp(-y**2)/Local[exp(-w**2), d(w)]
    """

    def __init__(self, flow: WassersteinFlow):
        if not isinstance(flow, WassersteinFlow) or flow.noise == 0:
            raise MfDeriveError(
                "a Gibbs fixed point needs a WassersteinFlow with noise sigma != 0"
            )
        self.flow = flow
        y, mu = flow.point, flow.mu
        self.point = y
        self.constant = sp.Symbol("C", real=True)
        phi = flow.nonlocal_(flow.potential)  # δV^σ/δm(y)
        self.condition = sp.Eq(phi, self.constant)
        m = mu.density(*y)
        split = log_density_split(phi, m)
        if split is None or split[1].has(m) or split[0].free_symbols & set(y):
            raise MfDeriveError(
                f"the first-order condition {sp.sstr(self.condition)} is not linear in "
                f"log m(y) with a constant coefficient; no Gibbs form"
            )
        kappa, rest = split
        # log m = (C - rest)/kappa; drop additive constants (they go into Z)
        exponent = sp.Add(
            *[t for t in sp.Add.make_args(sp.expand(-rest / kappa)) if t.free_symbols & set(y)]
        )
        self.kappa = kappa
        self.exponent = exponent
        self.log_density = sp.Eq(sp.log(m), (self.constant - rest) / kappa)
        xi = mu.variables
        self.normaliser = local(substitute(sp.exp(exponent), dict(zip(y, xi))), mu)
        self.density = sp.exp(exponent) / self.normaliser

    def gibbs_map(self, at=None) -> sp.Expr:
        r"""The Gibbs map :math:`m \mapsto Z^{-1}\exp(-\frac{2}{\sigma^2}\frac{\delta F}{\delta m}(m,\cdot))g`
        at ``at`` (default the flow's point); its integrals are against the current ``m``."""
        if at is None:
            return self.density
        return substitute(self.density, dict(zip(self.point, at)))

    def gaussian(self) -> "GaussianFixedPoint":
        """The Gaussian fixed point, when the exponent is quadratic in a 1-D point."""
        return GaussianFixedPoint(self)


class GaussianFixedPoint:
    r"""Self-consistency equations of a Gaussian fixed point (1-D).

    The exponent is :math:`A y^2 + B y + c` with :math:`A, B` depending on the measure
    only through integrals :math:`\int g_k\,dm`.  The fixed point is
    :math:`N(M, S)` with :math:`S = -1/(2A)`, :math:`M = -B/(2A)`, where each integral is
    replaced by its value under :math:`N(M, S)`: two equations for :math:`(M, S)`.

    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w", real=True); mu = mf.Measure("mu", (w,))
    >>> flow = mf.WassersteinFlow(mf.integral(w**2, mu) / 2, mu, noise=1)
    >>> mf.gibbs(flow).gaussian().equations
    [Eq(S, 1/2), Eq(M, 0)]
    """

    def __init__(self, fp: GibbsFixedPoint):
        (y,) = fp.point if len(fp.point) == 1 else (None,)
        if y is None:
            raise MfDeriveError("the Gaussian fixed point is implemented for one variable")
        mu = fp.flow.mu
        e = fp.exponent
        atoms = [A for A in integral_atoms(e)]
        for A in atoms:
            if not isinstance(A, MeasureIntegral) or A.measure != mu or A.free_symbols & {y}:
                raise MfDeriveError(
                    f"the exponent depends on the measure through {sp.sstr(A)}, which is "
                    f"not a moment of {mu.name!r}; the fixed point need not be Gaussian"
                )
        place = {A: sp.Dummy(f"a{i}") for i, A in enumerate(atoms)}
        poly = sp.Poly(sp.expand(e.xreplace(place)), y)
        if poly.degree() != 2:
            raise MfDeriveError(f"the exponent {sp.sstr(e)} is not quadratic in {y}")
        A2, B1 = poly.coeff_monomial(y**2), poly.coeff_monomial(y)
        self.mean, self.variance = sp.symbols("M S", real=True)
        M, S = self.mean, self.variance
        t = sp.Symbol("t", real=True)
        gauss = sp.exp(-((t - M) ** 2) / (2 * S)) / sp.sqrt(2 * sp.pi * S)
        values = {}
        for A, d in place.items():
            g = sp.expand(A.integrand.xreplace({A.over[0]: t}))
            if g.is_polynomial(t):
                values[d] = sp.expand(_gaussian_expectation(sp.Poly(g, t), M, S))
            else:
                values[d] = sp.simplify(
                    sp.integrate(g * gauss, (t, -sp.oo, sp.oo), conds="none")
                )
        back = {d: A for A, d in place.items()}
        self.coefficients = (A2.xreplace(back), B1.xreplace(back))
        A2v, B1v = A2.xreplace(values), B1.xreplace(values)
        self.equations = [sp.Eq(S, sp.simplify(-1 / (2 * A2v))), sp.Eq(M, sp.simplify(-B1v / (2 * A2v)))]
        self.moments = {A: values[d] for A, d in place.items()}

    def solve(self, guess=None):
        """Solve the equations for ``(M, S)``: exactly with ``sp.solve``, or numerically
        from ``guess = (M0, S0)``.  Returns a list of ``{M: ..., S: ...}`` with S > 0."""
        M, S = self.mean, self.variance
        eqs = [e.lhs - e.rhs for e in self.equations]
        if guess is not None:
            sol = sp.nsolve(eqs, (M, S), guess, prec=30)
            return [{M: sol[0], S: sol[1]}]
        out = []
        for s in sp.solve(eqs, (M, S), dict=True):
            if s[S].is_real is not False and (not s[S].is_number or s[S] > 0):
                out.append(s)
        return out


def _gaussian_expectation(poly: sp.Poly, M, S) -> sp.Expr:
    """E[p(X)] for X ~ N(M, S), from E[X^k] = M E[X^{k-1}] + (k-1) S E[X^{k-2}]."""
    moments = [sp.S.One, M]
    for k in range(2, poly.degree() + 1):
        moments.append(M * moments[k - 1] + (k - 1) * S * moments[k - 2])
    return sp.Add(*[c * moments[k] for (k,), c in poly.terms()])


def gibbs(flow: WassersteinFlow) -> GibbsFixedPoint:
    """The Gibbs fixed point (Hu, Ren, Šiška & Szpruch 2021, Prop. 6) of a mean-field
    Langevin flow.

    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w", real=True); mu = mf.Measure("mu", (w,))
    >>> fp = mf.gibbs(mf.WassersteinFlow(mf.integral(w**2, mu) / 2, mu, noise=1))
    >>> fp.exponent
    -y**2
    >>> fp.gaussian().solve()
    [{M: 0, S: 1/2}]
    """
    return GibbsFixedPoint(flow)
