r"""simulate — JAX integrators, each an ``(init, step, observe)`` triple for :func:`run`.

A flow enters through :mod:`.lower`, which turns it (with its data and parameter values)
into compiled callables; every scheme is written over such callables and can be driven by
a field written by hand.  Each scheme declares its order of convergence once, as ``ORDER``
beside it.

===================  =======================================================================
module               what it holds (declared order)
===================  =======================================================================
``inputs``           the input checks every simulator shares (values, data, dt, keys, weights)
``lower``            the one lowering seam: flow → δE/δm, its gradient, the energy, compiled
``loop``             :func:`run`: ``lax.scan``, records, NaN and admissibility guards
``particles``        Euler–Maruyama particles for Wasserstein flows / MFLD (Hu, Ren, Šiška
                     & Szpruch 2021): ``ORDER = 1`` weak in dt, ``MONTE_CARLO_ORDER = -1/2``
``rho_h``            the :math:`(\rho,H)` chaos particles (Fernández-Real & Figalli 2022),
                     RK4: ``ORDER = 4`` in dt
``rho_h_grid``       the separated and transported :math:`(\rho,H)` systems on a θ-grid
                     (finite volumes for ρ, differences for H), SSP-RK3: ``ORDER = 2`` in h
``euclidean``        gradient flows on :math:`\mathbb R^d`: explicit GD and the proximal step
                     (implicit Euler, optax L-BFGS inner solve), ``ORDER = 1`` in τ; the exact
                     flow (Dormand–Prince)
``manifolds``        the sphere constraint: checked at ``init``, retraction
                     :math:`\theta\leftarrow\theta/|\theta|` after each step: ``ORDER = 1``
``finite_volume``    positive finite volumes (Carrillo, Chertock & Huang 2015), SSP-RK3:
                     ``ORDER = 2`` in h
``jko``              entropic JKO in the log domain (Peyré 2015): ``ORDER = 1`` in τ
``birth_death``      WFR birth–death particles (Rotskoff, Jelassi, Bruna & Vanden-Eijnden 2019)
``ascent_descent``   weighted particles for zero-sum games (Domingo-Enrich et al. 2020)
``nash``             the Nikaido–Isoda gap of any zero-sum game: away-step Frank–Wolfe best
                     responses on probes (a lower bound always; an upper bound if
                     convex–concave)
``transport``        W₂ for the checks: exact (POT), 1-D quantiles, Gaussians (Bures),
                     particles↔grid (``GRID_ORDER = 1`` in h for d ≥ 2), debiased Sinkhorn
``assumptions``      sampled sup-norm and Lipschitz estimates of :math:`D_mF` on a box
``sharding``         distributed particles: ``sharding=`` of every particle simulator (the
                     particle axis split over a device mesh), :func:`particle_mesh`
===================  =======================================================================
"""

from ..errors import SimulationError, StepSizeError
from .loop import run
from .particles import ParticleState, particle_flow
from .rho_h import RhoHState, rho_h_flow, rho_h_particle_field
from .sharding import ParticleSharding, particle_mesh, particle_sharding

__all__ = [
    "ParticleSharding", "ParticleState", "RhoHState", "SimulationError", "StepSizeError",
    "particle_flow", "particle_mesh", "particle_sharding", "rho_h_flow", "rho_h_particle_field",
    "run",
]
