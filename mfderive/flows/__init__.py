r"""flows — PDE systems derived from energies, and what is proved about them (SymPy).

================  ==========================================================================
module            mathematics
================  ==========================================================================
``base``          a flow: field equations :math:`\partial_t u = \operatorname{div}J_u + s_u`,
                  energy, claimed dissipation
``localize``      nonlocal terms at a point as unknown functions :math:`N_k(y)`, and back
``wasserstein``   :math:`\partial_t m = \operatorname{div}(m\nabla\frac{\delta E}{\delta m})`; MFLD;
                  coupled systems of several measures (:class:`WassersteinSystem`)
``euclidean``     :math:`\dot x = -\nabla F(x)` on :math:`\mathbb R^d`: gradient, Hessian, ODE,
                  :math:`\frac{d}{dt}F = -|\nabla F|^2`, the PL constant where SymPy decides it
``assumptions``   the MFLD assumptions: dissipativity :math:`\nabla U\cdot x \ge C_U|x|^2 + C'`
                  (symbolic for polynomial :math:`U`)
``rho_h``         the three :math:`(\rho,H)` systems (separated, transported, chaos)
``unbalanced``    Wasserstein–Fisher–Rao birth–death dynamics
``games``         two-player zero-sum games of measures
``identities``    :math:`\frac{d}{dt}E` = claimed rate, proved up to a total divergence
``gibbs``         Gibbs fixed points :math:`m \propto e^{-\frac{2}{\sigma^2}\frac{\delta F}{\delta m}-U}`
``hierarchy``     moment hierarchies (closed ODEs for polynomial energies)
``stationary``    first-order stationarity gaps
================  ==========================================================================
"""

from ..errors import NoParticleReadingError
from .base import TIME, FieldEquation, Flow, log_density_split
from .rho_h import RhoHFlow
from .unbalanced import UnbalancedFlow
from .wasserstein import WassersteinFlow, WassersteinSystem

__all__ = [
    "TIME", "FieldEquation", "Flow", "log_density_split", "WassersteinFlow", "WassersteinSystem", "RhoHFlow",
    "UnbalancedFlow", "NoParticleReadingError",
]
