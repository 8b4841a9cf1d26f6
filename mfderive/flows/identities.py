r"""Dissipation identities, derived and proved.

For a flow with field equations :math:`\partial_t u = \operatorname{div}J_u + s_u` and
energy coefficients :math:`c_u`, the engine writes

.. math:: \frac{d}{dt}E = \int R_{\rm rate}\,dy,\qquad
          R_{\rm rate} = \sum_u c_u(\operatorname{div}J_u + s_u),

integrates by parts, :math:`c\operatorname{div}J = \operatorname{div}(cJ) - \nabla c\cdot J`,
and compares with the claimed rate density :math:`R_{\rm claim}`:

.. math:: R := R_{\rm rate} - R_{\rm claim} = \operatorname{div}Q + r,\qquad
          Q = \sum_u c_uJ_u,\quad r = \sum_u(c_us_u - \nabla c_u\cdot J_u) - R_{\rm claim}.

The identity is **proved** when the remainder :math:`r` vanishes identically (or its
integral vanishes by :math:`\int d\mu = 1`, as for the Fisher–Rao part of a WFR flow);
the discarded boundary term is :math:`\oint Q\cdot n = \sum_u c_u\,(J_u\cdot n)`, zero
under the no-flux conditions :math:`J_u\cdot n = 0` of (3.11), (3.25), (4.3).

For a system of several measures (:class:`~mfderive.flows.wasserstein.WassersteinSystem`)
the sums run over all species: :math:`c_k = \frac{\delta E}{\delta m_k}` is each
species' own first variation, so :math:`R_{\rm rate} = \sum_k \frac{\delta E}{\delta m_k}
\partial_t m_k` is the chain rule for :math:`E(m_1,\dots,m_K)`; with
:math:`J_k = m_k\nabla c_k` the remainder is
:math:`r = -\sum_k m_k|\nabla c_k|^2 - R_{\rm claim}`, which vanishes for the claimed
:math:`-\sum_k m_k|\nabla\frac{\delta E}{\delta m_k}|^2`, and the boundary term has one
no-flux condition per species.

The proof is checked symbolically: :math:`R - \operatorname{div}Q - r \equiv 0` and
:math:`r \equiv 0`.  As an independent certificate, :attr:`Verification.euler` applies the
Euler operator to :math:`R` with respect to every unknown function (densities, :math:`H`,
and each nonlocal term :math:`N_k(y)`, treated as one more unknown function of :math:`y`):
:math:`R` is a total divergence exactly when all of them vanish.  When they do not (the
transported system), no flux can make the identity hold pointwise.  (For the WFR flow the
certificate fails although the identity holds: the unit mass is needed, which is not a
pointwise fact.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from ..derive.canonical import canonical
from ..derive.euler import (
    derivative_normal_form,
    div,
    euler_operator,
    grad,
    is_zero,
    reduce_expr,
    unknown_functions,
)
from ..derive.integrals import fresh_symbols, integral, substitute
from ..derive.measures import as_sympy
from ..derive.points import all_symbols
from ..errors import NotAFlowError
from .base import Flow

__all__ = ["DissipationIdentity", "Verification", "dissipation_identity"]


@dataclass
class Verification:
    """The outcome of :meth:`DissipationIdentity.verify`.

    ``euler`` (the Euler operator of the residual in every unknown function) is computed
    on first access: it is an independent certificate, not part of the proof.

    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w", real=True); mu = mf.Measure("mu", (w,))
    >>> proof = mf.dissipation_identity(mf.WassersteinFlow(mf.integral(w**2, mu) / 2, mu)).verify()
    >>> bool(proof), proof.flux, proof.is_divergence
    (True, (y**3*mu(y)/2,), True)
    """

    proved: bool
    method: str
    flux: tuple
    boundary_term: sp.Expr
    remainder: sp.Expr
    reason: str = ""
    residual: sp.Expr = sp.S.Zero
    point: tuple = ()
    _euler: dict | None = field(default=None, repr=False)

    @property
    def euler(self) -> dict:
        """``{u: E_u(R)}`` for every unknown function ``u(y)`` of the residual ``R``."""
        if self._euler is None:
            self._euler = {
                u: reduce_expr(derivative_normal_form(euler_operator(self.residual, u)))
                for u in unknown_functions(self.residual, self.point)
            }
        return self._euler

    @property
    def is_divergence(self) -> bool:
        """True when the Euler operator annihilates the residual in every unknown."""
        return all(v == 0 for v in self.euler.values())

    def __bool__(self):
        return self.proved

    def __str__(self):
        head = "PROVED" if self.proved else "NOT PROVED"
        return f"{head} ({self.method}). {self.reason}"


class DissipationIdentity:
    r"""The derived :math:`\frac{d}{dt}E` of a flow, the claimed rate, and their residual.

    Attributes (local expressions at ``flow.point``):
    ``rate`` — :math:`\sum_u c_u\,\partial_t u` with the PDE substituted;
    ``claimed`` — the claimed rate density; ``residual`` — their difference.

    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w", real=True); mu = mf.Measure("mu", (w,))
    >>> identity = mf.dissipation_identity(mf.WassersteinFlow(mf.integral(w**2, mu) / 2, mu))
    >>> identity.claimed
    -y**2*mu(y)
    >>> print(identity.verify())
    PROVED (pointwise after one integration by parts). The residual is div Q; the
    boundary term Q·n vanishes under the no-flux condition.
    """

    def __init__(self, flow: Flow, claimed=None):
        if not isinstance(flow, Flow):
            raise NotAFlowError(f"dissipation_identity needs a flow, got {type(flow).__name__}")
        self.flow = flow
        y = flow.point
        self.rate = sp.Add(*[eq.coefficient * (div(eq.flux, y) + eq.source) for eq in flow.equations])
        self.claimed = flow.claimed if claimed is None else flow.localizer.local(as_sympy(claimed, "claimed"))
        self.residual = derivative_normal_form(self.rate - self.claimed)

    def verify(self) -> Verification:
        """Prove the identity up to a total divergence; see the module docstring.

        The proof checks symbolically that ``R − div Q − r ≡ 0`` (the integration by parts)
        and that ``r ≡ 0`` (or that ∫ r = 0 by the unit mass)."""
        flow, y = self.flow, self.flow.point
        flux = tuple(
            sp.Add(*[eq.coefficient * eq.flux[i] for eq in flow.equations]) for i in range(len(y))
        )
        after = sp.Add(
            *[
                eq.coefficient * eq.source
                - sp.Add(*[a * b for a, b in zip(grad(eq.coefficient, y), eq.flux)])
                for eq in flow.equations
            ]
        )
        remainder = sp.expand(after - self.claimed)
        if not is_zero(self.residual - div(flux, y) - remainder):  # pragma: no cover
            raise AssertionError("integration by parts failed: R != div Q + r")
        normal = sp.Add(
            *[
                eq.coefficient * sp.Symbol(f"(J_{eq.field.func.__name__}·n)")
                for eq in flow.equations
                if any(J != 0 for J in eq.flux)
            ]
        )
        common = dict(flux=flux, boundary_term=normal, residual=self.residual, point=y)
        if is_zero(remainder):
            return Verification(
                True, "pointwise after one integration by parts", remainder=sp.S.Zero,
                reason="The residual is div Q; the boundary term Q·n vanishes under the "
                "no-flux condition.", **common,
            )
        mass = self._mass_integral(remainder)
        if mass is not None and is_zero(canonical(mass)):
            return Verification(
                True, "after integration by parts and the unit mass of the measure",
                remainder=flow.nonlocal_(remainder),
                reason="The remainder is m(y)·g(y) with ∫ g dμ = 0 for a probability measure "
                "(g integrates against μ to a canonical zero).", **common,
            )
        return Verification(
            False, "integration by parts leaves a remainder", remainder=flow.nonlocal_(remainder),
            reason="dE/dt = claimed rate + ∫ remainder, and the remainder is neither zero nor a "
            "mass term: its sign is not fixed, so dE/dt may exceed the claimed rate (the "
            "certificate .is_divergence tells whether any flux could absorb it).", **common,
        )

    def _mass_integral(self, remainder):
        r"""If ``remainder = Σ_j m_j(y) g_j(y)`` with ``g_j`` free of the densities, return
        :math:`\sum_j\int g_j\,d\mu_j` (which must vanish); else None."""
        flow, y = self.flow, self.flow.point
        total, rebuilt = sp.S.Zero, sp.S.Zero
        for m, mu in flow.measures.items():
            g = sp.diff(remainder, m)
            if g.has(m) or any(D.expr == m for D in g.atoms(sp.Derivative)):
                return None
            rebuilt += m * g
            g = flow.nonlocal_(g)
            xi = fresh_symbols(mu.variables, all_symbols(g))
            total += integral(substitute(g, dict(zip(y, xi))), mu, over=xi)
        if not is_zero(remainder - rebuilt):
            return None
        return total

    def _repr_latex_(self):
        f = self.flow
        return (
            r"$\displaystyle \frac{dE}{dt} = \int "
            + sp.latex(f.nonlocal_(self.rate))
            + r"\,dy,\qquad \text{claimed: } \int "
            + sp.latex(f.nonlocal_(self.claimed))
            + r"\,dy$"
        )


def dissipation_identity(flow: Flow, claimed=None) -> DissipationIdentity:
    r"""The dissipation identity of ``flow``: :math:`\frac{d}{dt}E` derived from the PDE,
    compared with the flow's claimed rate (or ``claimed``, a rate density at
    ``flow.point``).  Call ``.verify()`` for the proof.

    >>> import sympy as sp, mfderive as mf
    >>> w = sp.Symbol("w", real=True); mu = mf.Measure("mu", (w,))
    >>> flow = mf.WassersteinFlow(mf.integral(w**4, mu) / 4, mu, noise=1)
    >>> proof = mf.dissipation_identity(flow).verify()
    >>> proof.proved, proof.method
    (True, 'pointwise after one integration by parts')

    For a system of several measures, :math:`\frac{d}{dt}E = -\sum_k\int m_k|\nabla
    \frac{\delta E}{\delta m_k}|^2`, with one no-flux condition per species:

    >>> mu2 = mf.Measure("mu2", (w,)); m1, m2 = mu.density(w), mu2.density(w)
    >>> system = mf.WassersteinFlow(mf.local(m1 * m2 + m1**2 / 2, mu), [mu, mu2])
    >>> proof = mf.dissipation_identity(system).verify()
    >>> bool(proof), proof.boundary_term
    (True, (J_mu2·n)*mu(y) + (J_mu·n)*(mu(y) + mu2(y)))
    """
    return DissipationIdentity(flow, claimed)
