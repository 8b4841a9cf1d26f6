r"""simulate — JAX integrators, each an ``(init, step, observe)`` triple for :func:`run`.

===================  =======================================================================
module               scheme (declared order)
===================  =======================================================================
``inputs``           the input checks every simulator shares
``loop``             :func:`run`: ``lax.scan``, records, NaN and admissibility guards
``particles``        Euler–Maruyama particles for Wasserstein flows / MFLD (weak order 1 in dt)
``rho_h``            the :math:`(\rho,H)` chaos particles, RK4 (order 4 in dt)
``finite_volume``    positive finite volumes, SSP-RK3 (order 2 in h)
``jko``              entropic JKO in the log domain (order 1 in τ)
``birth_death``      WFR birth–death particles
``ascent_descent``   weighted particles for zero-sum games
===================  =======================================================================
"""

from ..errors import SimulationError, StepSizeError
from .loop import run
from .particles import ParticleState, particle_flow
from .rho_h import RhoHState, rho_h_flow, rho_h_particle_field

__all__ = [
    "ParticleState", "RhoHState", "SimulationError", "StepSizeError", "particle_flow",
    "rho_h_flow", "rho_h_particle_field", "run",
]
