r"""Euler–Maruyama particles for Wasserstein gradient flows and mean-field Langevin dynamics.

``init_fn, step_fn, observe_fn = particle_flow(flow, data=..., values=..., dt=...)`` follows
the JAX MD convention: pure functions, the state an explicit value.  ``step_fn`` advances
the empirical measure :math:`\mu_N = \frac1N\sum_i\delta_{X_i}` by one Euler–Maruyama step
of the flow's particle system (Hu, Ren, Šiška & Szpruch 2021; Mei, Montanari & Nguyen 2018),

.. math:: X_i \leftarrow X_i + \Delta t\,b(\mu_N, X_i) + \sigma\sqrt{\Delta t}\,\xi_i,

with the drift :math:`b = -(D_\mu F + \frac{\sigma^2}{2}\nabla U)` derived by the engine
(``flow.sde()``) and lowered by :func:`.lower.particle_drift` (for :math:`\sigma = 0` this is
gradient descent on the particles).  The scheme itself, :func:`euler_maruyama`, takes any
drift ``b(X, w)``.  Weak order 1 in ``dt`` (:data:`ORDER`); statistics of :math:`N`
particles carry a Monte-Carlo error of order :math:`N^{-1/2}` (:data:`MONTE_CARLO_ORDER`).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import NotAFlowError
from ..flows.wasserstein import WassersteinFlow
from .inputs import count, points_array, prng_key, real_number, time_step
from .lower import particle_drift

__all__ = [
    'MONTE_CARLO_ORDER',
    'ORDER',
    'ParticleState',
    'euler_maruyama',
    'init_particles',
    'particle_flow',
]

#: weak order of the Euler–Maruyama step in ``dt`` (strong order ½; 1 for additive noise)
ORDER = 1
#: the statistical error of an average over ``N`` particles is of order ``N**MONTE_CARLO_ORDER``
MONTE_CARLO_ORDER = -0.5



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
    return euler_maruyama(*particle_drift(flow, data, values, chunk_size), dt=dt, dim=flow.mu.dim,
                          snapshots=snapshots)


def euler_maruyama(drift, energy, sigma, dt=1e-2, dim=None, snapshots=False):
    r"""``(init_fn, step_fn, observe_fn)`` of the Euler–Maruyama scheme for the drift
    ``drift(X, w)`` (``(N, d)`` at the particles ``X`` with weights ``w``) and the noise
    ``sigma`` (a number; 0 is gradient descent).  ``energy(X, w)`` is recorded by
    ``observe_fn``, with the mean squared drift; ``dim`` fixes the particles' dimension
    (inferred from the first ``init_fn`` call when None).

    >>> import jax.numpy as jnp
    >>> init, step, _ = euler_maruyama(lambda X, w: -X, lambda X, w: 0.0, sigma=0.0, dt=0.5)
    >>> step(init(jnp.ones(3), 0)).particles.ravel().tolist()
    [0.5, 0.5, 0.5]
    """
    dt = time_step(dt)
    sigma = real_number(sigma, "the noise sigma")

    def init_fn(particles, key):
        return init_particles(particles, key, dim)

    def _weights(X):
        return jnp.full((X.shape[0],), 1.0 / X.shape[0], X.dtype)

    def step_fn(state: ParticleState) -> ParticleState:
        X = state.particles
        b = jnp.asarray(drift(X, _weights(X))).astype(X.dtype)
        key, sub = jax.random.split(state.key)
        if sigma != 0.0:
            X = X + dt * b + sigma * jnp.sqrt(dt) * jax.random.normal(sub, X.shape, X.dtype)
        else:
            X = X + dt * b
        return ParticleState(X, key, state.t + dt, state.step + 1)

    def observe_fn(state: ParticleState):
        X = state.particles
        w = _weights(X)
        b = drift(X, w)
        obs = jnp.asarray(energy(X, w)), jnp.mean(jnp.sum(b * b, axis=-1))
        return {"energy": obs[0], "dissipation": obs[1], "particles": X} if snapshots else obs

    return init_fn, step_fn, observe_fn
