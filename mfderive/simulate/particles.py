r"""Particle simulators for Wasserstein flows, driven by compiled derivations.

``init_fn, step_fn, observe_fn = particle_flow(flow, data=..., values=..., dt=...)`` follows
the JAX MD convention: pure functions, the state an explicit value.  ``step_fn`` advances
the empirical measure :math:`\mu_N = \frac1N\sum_i\delta_{X_i}` by one Euler–Maruyama step
of the flow's particle system,

.. math:: X_i \leftarrow X_i + \Delta t\,b(\mu_N, X_i) + \sigma\sqrt{\Delta t}\,\xi_i,

with the drift :math:`b = -(D_\mu F + \frac{\sigma^2}{2}\nabla U)` derived by the engine
(``flow.sde()``) and compiled by :func:`mfderive.compile` (for :math:`\sigma = 0` this is
gradient descent on the particles).  Weak order 1 in ``dt`` (:data:`ORDER`).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

from ..codegen.compiler import compile as compile_expr
from ..derive.integrals import LocalIntegral
from ..errors import NotAFlowError
from ..flows.wasserstein import WassersteinFlow
from .inputs import count, inputs, points_array, prng_key, real_number, time_step

__all__ = ['ParticleState', 'init_particles', 'particle_flow']



@jax.tree_util.register_dataclass
@dataclass
class ParticleState:
    """Particles ``(N, d)``, the PRNG key, the time and the step count."""

    particles: jax.Array
    key: jax.Array
    t: jax.Array
    step: jax.Array



def init_particles(particles, key, dim=None):
    """:class:`ParticleState` from ``(N,)`` or ``(N, d)`` positions (finite, at least one
    particle; integer arrays are cast to floats) and a PRNG key (or an int seed)."""
    if dim is None:
        shape = np.shape(particles)
        dim = shape[1] if len(shape) == 2 else 1
    X = points_array(particles, dim, "the particles")
    return ParticleState(X, prng_key(key), jnp.zeros((), X.dtype), jnp.zeros((), jnp.int32))



def particle_flow(flow: WassersteinFlow, data=None, values=None, dt=1e-2, chunk_size=None,
                  snapshots=False):
    r"""``(init_fn, step_fn, observe_fn)`` for the particles of a :class:`WassersteinFlow`.

    Parameters
    ----------
    flow : WassersteinFlow (deterministic or MFLD)
    data : dict ``{Data: (points, weights)}`` for the fixed measures the energy uses
        (points ``(M, d)``, or ``(M,)`` for one variable; weights ``(M,)``, one per point)
    values : dict ``{Symbol or name: number}`` for the flow's parameters (e.g. σ, or
        ``"sigma"``); every parameter needs one
    dt : time step (a finite positive number)
    chunk_size : passed to :func:`mfderive.compile` (memory for large N×M)
    snapshots : record the particles too (``observe_fn`` then returns a dict with
        ``energy``, ``dissipation`` and ``particles``)

    ``init_fn(particles, key)`` → state (particles ``(N, d)``, N ≥ 1, finite; integers are
    cast to floats; ``key`` a PRNG key or an int seed); ``step_fn(state)`` → state;
    ``observe_fn(state)`` → ``(energy F(μ_N), mean |drift|²)``, where local terms of ``F``
    (an entropy, read as noise by ``flow.sde()``) are left out of the recorded energy: an
    empirical measure has no density.
    """
    if not isinstance(flow, WassersteinFlow):
        raise NotAFlowError(f"particle_flow needs a WassersteinFlow, got {type(flow).__name__}")
    dt = time_step(dt)
    if chunk_size is not None:
        chunk_size = count(chunk_size, "chunk_size", 1)
    mu = flow.mu
    drift, sigma = flow.sde()
    values, measures, data_args = inputs(mu, data, values, [drift, sigma, flow.functional], flow.point)
    drift = drift.subs(values)
    sigma = real_number(sigma.subs(values), f"the noise sigma = {sigma}")
    # local terms (entropy, ∫m²) have no value on particles: the recorded energy is F without them
    energy = flow.functional.subs(values).replace(lambda e: isinstance(e, LocalIntegral), lambda e: sp.S.Zero)
    drift_fn = compile_expr(drift, measures, at=flow.point, points_from=mu, chunk_size=chunk_size)
    energy_fn = compile_expr(energy, measures, chunk_size=chunk_size)

    def init_fn(particles, key):
        return init_particles(particles, key, mu.dim)

    def _weights(X):
        return jnp.full((X.shape[0],), 1.0 / X.shape[0], X.dtype)

    def step_fn(state: ParticleState) -> ParticleState:
        X = state.particles
        b = drift_fn(X, _weights(X), *data_args).astype(X.dtype)
        key, sub = jax.random.split(state.key)
        if sigma != 0.0:
            X = X + dt * b + sigma * jnp.sqrt(dt) * jax.random.normal(sub, X.shape, X.dtype)
        else:
            X = X + dt * b
        return ParticleState(X, key, state.t + dt, state.step + 1)

    def observe_fn(state: ParticleState):
        X = state.particles
        w = _weights(X)
        b = drift_fn(X, w, *data_args)
        obs = energy_fn(X, w, *data_args), jnp.mean(jnp.sum(b * b, axis=-1))
        return {"energy": obs[0], "dissipation": obs[1], "particles": X} if snapshots else obs

    return init_fn, step_fn, observe_fn
