r"""What every flow is: field equations, an energy, a claimed dissipation.

Every flow is a list of field equations :math:`\partial_t u = \operatorname{div} J_u + s_u`
for its unknown fields :math:`u` (a density, or a density and a function :math:`H`),
together with the coefficients :math:`c_u` of its energy's time derivative,
:math:`\frac{d}{dt}E = \int \sum_u c_u\,\partial_t u\,dy`, and the dissipation rate its
structure claims.  Fluxes, sources and coefficients come from the engine's first
variations of the energy; nothing is typed per flow.  Nonlocal terms evaluated at the
point are unknown functions :math:`N_k(y)` in the field equations
(:class:`~mfderive.flows.localize.Localizer`); :meth:`Flow.pde` puts them back.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
from sympy.core.function import AppliedUndef

from ..derive.integrals import local, substitute
from .localize import Localizer

__all__ = ['TIME', 'FieldEquation', 'log_density_split', 'Flow']


TIME = sp.Symbol("t", nonnegative=True)


@dataclass(frozen=True)
class FieldEquation:
    r""":math:`\partial_t u = \operatorname{div} J + s`, and the coefficient :math:`c` of
    :math:`\partial_t u` in :math:`\frac{d}{dt}E = \int c\,\partial_t u\,dy` (all local
    expressions at the flow's point)."""

    field: AppliedUndef
    flux: tuple
    source: sp.Expr
    coefficient: sp.Expr


def log_density_split(phi, m):
    r"""``(kappa, rest)`` with :math:`\phi = \kappa\log m + \text{rest}`, ``kappa`` free of
    ``m`` and ``rest`` free of :math:`\log m` (it may still contain ``m``, e.g. a porous-medium
    term) — or ``None`` when :math:`\phi` is not linear in :math:`\log m` (:math:`m\log m`, ...).  The entropy part of a
    first variation: read as noise (SDE), as a Gibbs exponent, or as the explicit part of a
    KL proximal step."""
    L = sp.Dummy("L")
    lin = sp.expand(phi).xreplace({sp.log(m): L})
    kappa = sp.diff(lin, L)
    if kappa.has(L) or kappa.has(m):
        return None
    return kappa, sp.expand(lin - kappa * L)


def _dot(a, b):
    return sp.Add(*[ai * bi for ai, bi in zip(a, b)])


class Flow:
    """Common structure: ``equations``, ``claimed`` (the claimed rate density), ``point``,
    ``localizer``, ``measures`` (density application → measure) and ``energy``."""

    name = "flow"
    boundary_condition = "no-flux: J·n = 0 on the boundary (or decay at infinity)"

    energy: sp.Expr
    point: tuple
    localizer: Localizer
    equations: tuple
    claimed: sp.Expr
    measures: dict

    # -- display ---------------------------------------------------------------
    def _timed(self, expr):
        funcs = {eq.field.func for eq in self.equations}
        t = TIME
        return expr.replace(
            lambda e: isinstance(e, AppliedUndef) and e.func in funcs,
            lambda e: e.func(t, *e.args),
        )

    def nonlocal_(self, expr):
        """A local expression with its nonlocal terms put back."""
        return self.localizer.nonlocal_(expr)

    def pde(self) -> list[sp.Eq]:
        r"""The PDE system: ``Eq(∂_t u(t, y), div J + s)`` per field, the divergence
        unevaluated, nonlocal terms as integrals, fields as functions of ``(t, y)``."""
        out = []
        y = self.point
        for eq in self.equations:
            div = sp.Add(
                *[
                    sp.Derivative(self._timed(self.nonlocal_(Ji)), yi)
                    for Ji, yi in zip(eq.flux, y)
                    if Ji != 0
                ],
                evaluate=False,
            ) if any(Ji != 0 for Ji in eq.flux) else sp.S.Zero
            rhs = div + self._timed(self.nonlocal_(eq.source)) if eq.source != 0 else div
            out.append(sp.Eq(sp.Derivative(self._timed(eq.field), TIME), rhs, evaluate=False))
        return out

    def dissipation(self) -> sp.Expr:
        r"""The claimed rate :math:`\frac{d}{dt}E` as a functional: a local integral of the
        claimed rate density over the variables of the (first) measure (for a system, the
        measures share that domain and the integrand holds every species' density)."""
        (field, mu), *_ = self.measures.items()
        xi = mu.variables
        dens = substitute(self.nonlocal_(self.claimed), dict(zip(self.point, xi)))
        return local(dens, mu)

    def _repr_latex_(self):
        lines = [sp.latex(e) for e in self.pde()]
        return "$\\displaystyle \\begin{aligned}" + r"\\ ".join(
            ln.replace("=", "&=", 1) for ln in lines
        ) + r"\end{aligned}$"

    def __repr__(self):
        return f"{type(self).__name__}({self.name})"
