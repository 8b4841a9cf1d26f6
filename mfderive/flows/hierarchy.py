r"""Lemma 3.2 of Fernández-Real & Figalli (2022): the moment hierarchy of the μ-formulation
flow, and its Dirac closure.

For :math:`\Phi(\xi,x) = w\,h(\theta,x)` and :math:`\mu_t = \nu_{\theta,t}(dw)\otimes\rho_t(d\theta)`,
multiplying the Wasserstein flow :math:`\partial_t\mu = \operatorname{div}(\mu\nabla\varphi)`,
:math:`\varphi = \frac{\delta F}{\delta\mu}`, by :math:`w^i` and integrating in :math:`w`
(by parts in :math:`w`, with decay) gives

.. math:: \partial_t(\rho H_i) = \operatorname{div}_\theta\Big(\rho\int w^i\nabla_\theta\varphi\,d\nu_\theta\Big)
          - i\,\rho\int w^{i-1}\partial_w\varphi\,d\nu_\theta,
          \qquad H_i = \int w^i\,d\nu_\theta.

Where :math:`\varphi` is polynomial in :math:`w` the :math:`w`-integrals are the moments
:math:`H_j`; other terms (a general potential :math:`V(w,\theta)`) stay as integrals against
:math:`\nu_\theta` (the :math:`V^w_i, V^\theta_i` of the lemma).  The Dirac closure
:math:`\nu_\theta = \delta_{H(\theta)}` turns :math:`H_j` into :math:`H^j`, each
:math:`\nu_\theta`-integral into its integrand at :math:`w = H(\theta)`, and each
:math:`\mu`-integral :math:`\int g(w,\theta)\,d\mu` into :math:`\int g(H(\theta),\theta)\,d\rho`;
the first two equations are then the closed system (3.30).
"""

from __future__ import annotations

import sympy as sp
from sympy.core.function import UndefinedFunction

from ..derive.canonical import canonical
from ..derive.euler import grad
from ..derive.integrals import MeasureIntegral, integral, substitute
from ..derive.measures import Measure
from ..errors import InvalidVariablesError, NotAFlowError, NotSympyError
from .base import TIME
from .wasserstein import WassersteinFlow

__all__ = ["MomentHierarchy"]


class MomentHierarchy:
    r"""The hierarchy (3.27) of a μ-formulation flow, in the weight variable ``w``.

    Parameters
    ----------
    flow : WassersteinFlow of a functional of ``mu`` over ``(w, θ...)``
    w : the weight variable of ``mu`` (one of its variables)
    rho : Measure over the remaining variables (the θ-marginal)
    H : undefined function, the closure's :math:`H(\theta)`

    Examples
    --------
    >>> import sympy as sp, mfderive as mf
    >>> w, th = sp.symbols("w theta", real=True); H = sp.Function("H", real=True)
    >>> mu, rho = mf.Measure("mu", (w, th)), mf.Measure("rho", (th,))
    >>> F = mf.integral(w**2 * th**2, mu) / 2
    >>> hier = mf.MomentHierarchy(mf.WassersteinFlow(F, mu), w, rho, H)
    >>> hier.moment(2)
    H_2(y_theta)
    >>> hier.closed_functional(F)
    Int[theta**2*H(theta)**2, rho(d(theta))]/2
    """

    def __init__(self, flow: WassersteinFlow, w, rho: Measure, H):
        if not isinstance(flow, WassersteinFlow) or flow.noise != 0:
            raise NotAFlowError("MomentHierarchy needs a deterministic WassersteinFlow")
        mu = flow.mu
        if w not in mu.variables:
            raise InvalidVariablesError(f"{w} is not a variable of {mu.name!r}")
        if not isinstance(H, UndefinedFunction):
            raise NotSympyError(f"H must be an undefined SymPy function, got {H!r}")
        iw = mu.variables.index(w)
        theta = tuple(v for v in mu.variables if v != w)
        if len(rho.variables) != len(theta):
            raise InvalidVariablesError(
                f"rho must live on the variables {theta} of {mu.name!r} other than {w}"
            )
        self.flow, self.mu, self.rho, self.H, self.w = flow, mu, rho, H, w
        y = flow.point
        self.yw = y[iw]
        self.ytheta = tuple(c for i, c in enumerate(y) if i != iw)
        self.nu_theta = Measure("nu_theta", (w,))
        # the potential, with the point's w-coordinate pulled out of integrals
        phi = canonical(flow.nonlocal_(flow.potential), rename=False)
        phi = substitute(phi, {self.yw: w})
        theta = self.ytheta  # θ-coordinates of the flow's point (free of bound names)
        self.theta = theta
        self.potential = phi
        self._grad_theta = grad(phi, theta)
        self._dw = sp.diff(phi, w)
        self._rho = rho.density(*theta)

    # moments --------------------------------------------------------------------
    def moment(self, j: int) -> sp.Expr:
        r""":math:`H_j(\theta) = \int w^j\,\nu_\theta(dw)` (:math:`H_0 = 1`)."""
        return sp.S.One if j == 0 else sp.Function(f"H_{j}", real=True)(*self.theta)

    def w_integral(self, j: int, g) -> sp.Expr:
        r""":math:`\int w^j g(w,\theta)\,\nu_\theta(dw)` in terms of moments, by linearity."""
        out = sp.S.Zero
        w = self.w
        for term in sp.Add.make_args(sp.expand(g)):
            c, rest = term.as_independent(w, as_Add=False)
            k = sp.degree(rest, w) if rest.is_polynomial(w) else None
            if k is not None and rest == w**k:
                out += c * self.moment(j + k)
            else:
                out += c * MeasureIntegral(w**j * rest, self.nu_theta, (w,))
        return out

    def equation(self, i: int) -> tuple[sp.Expr, sp.Expr]:
        r"""``(lhs, rhs)`` of the i-th equation, :math:`\partial_t(\rho H_i)` = rhs, at θ."""
        r, th = self._rho, self.theta
        flux = [r * self.w_integral(i, g) for g in self._grad_theta]
        rhs = sp.Add(*[sp.Derivative(J, t) for J, t in zip(flux, th)], evaluate=False)
        if i > 0:
            rhs = rhs - i * r * self.w_integral(i - 1, self._dw)
        return r * self.moment(i), rhs

    def pde(self, i: int) -> sp.Eq:
        lhs, rhs = self.equation(i)
        return sp.Eq(sp.Derivative(lhs, TIME), rhs, evaluate=False)

    # closure --------------------------------------------------------------------
    def dirac_closure(self, expr) -> sp.Expr:
        r"""Substitute :math:`\nu_\theta = \delta_{H(\theta)}`: moments, ν-integrals and
        μ-integrals as described in the module docstring."""
        H, w, th = self.H, self.w, self.theta

        def is_moment(e):
            return isinstance(e, sp.core.function.AppliedUndef) and e.func.__name__.startswith("H_")

        def close_moment(e):
            return H(*e.args) ** int(e.func.__name__[2:])

        def is_nu(e):
            return isinstance(e, MeasureIntegral) and e.measure == self.nu_theta

        def close_nu(e):  # subs, not xreplace: ∂_θ V(w, θ) at w = H(θ) stays a partial
            return e.integrand.subs(e.over[0], H(*th))

        def is_mu(e):
            return isinstance(e, MeasureIntegral) and e.measure == self.mu

        def close_mu(e):
            over = e.over
            iw = self.mu.variables.index(w)
            ow, oth = over[iw], tuple(v for k, v in enumerate(over) if k != iw)
            g = substitute(e.integrand, {ow: H(*oth)})
            return integral(g, self.rho, over=oth)

        expr = expr.replace(is_moment, close_moment).replace(is_nu, close_nu)
        # μ-integrals may be nested: close them bottom-up until none is left
        while expr.has(self.mu) and any(is_mu(A) for A in expr.atoms(MeasureIntegral)):
            expr = expr.replace(is_mu, close_mu)
        return expr

    def closed_functional(self, F) -> sp.Expr:
        """The (ρ, H) functional G obtained from F by the Dirac closure of its μ-integrals."""
        return self.dirac_closure(F)
