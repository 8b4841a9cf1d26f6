r"""Birth–death particles for the Wasserstein–Fisher–Rao flow (Rotskoff, Jelassi, Bruna & Vanden-Eijnden 2019).

For :math:`\partial_t\mu = \operatorname{div}(\mu\nabla V) - \alpha(V-\bar V)\mu`,
:math:`V = \frac{\delta F}{\delta\mu}` (derived by the engine, :class:`~mfderive.UnbalancedFlow`),
the particles :math:`X_1,\dots,X_N` of :math:`\mu_N = \frac1N\sum_i\delta_{X_i}` move and
are born or die:

1. transport: :math:`X_i \leftarrow X_i - \Delta t\,\nabla V(\mu_N, X_i)`;
2. with :math:`\beta_i = \alpha(V(\mu_N, X_i) - \bar V)` and probability
   :math:`1 - e^{-|\beta_i|\Delta t}`: if :math:`\beta_i > 0` particle :math:`i` dies and is
   replaced by a copy of a uniformly chosen particle; if :math:`\beta_i < 0` it is
   duplicated onto a uniformly chosen particle, which dies.

Each event removes one particle and adds one, so the count :math:`N` is preserved and the
empirical measure stays a probability measure; in expectation the weights follow
:math:`\dot w_i = -\beta_i w_i` to first order in :math:`\Delta t`.  :func:`birth_death` is the
scheme for any field ``(V, ∇V)(X, w)``; :func:`birth_death_flow` lowers a flow into one
(:func:`.lower.particle_potential`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..errors import NotAFlowError
from ..flows.unbalanced import UnbalancedFlow
from .inputs import count, real_number, time_step
from .lower import particle_potential
from .particles import ParticleState, init_particles
from .sharding import constrain_rows, particle_sharding, place_state

__all__ = ["birth_death", "birth_death_flow"]


def birth_death_flow(flow: UnbalancedFlow, data=None, values=None, dt=1e-2, chunk_size=None,
                     snapshots=False, sharding=None):
    r"""``(init_fn, step_fn, observe_fn)`` for birth–death particles of an
    :class:`~mfderive.UnbalancedFlow` (same conventions as :func:`mfderive.particle_flow`).

    ``values`` (by Symbol or name) must give every parameter, α included (a number ≥ 0);
    ``init_fn(particles, key)`` checks the particles and key as in ``particle_flow``.
    ``observe_fn(state)`` → dict with ``energy`` :math:`F(\mu_N)`, ``dissipation``
    :math:`\frac1N\sum_i(|\nabla V_i|^2 + \alpha(V_i-\bar V)^2)` (the claimed rate) and
    ``birth_death_rate`` :math:`\frac1N\sum_i|\beta_i|` (and ``particles`` with
    ``snapshots=True``).  ``sharding=`` splits the particles over devices as in
    ``particle_flow`` (:mod:`.sharding`); a birth or death copies a row from any device,
    so each step also gathers the :math:`N\times d` moved positions.
    """
    if not isinstance(flow, UnbalancedFlow):
        raise NotAFlowError(f"birth_death_flow needs an UnbalancedFlow, got {type(flow).__name__}")
    dt = time_step(dt)
    if chunk_size is not None:
        chunk_size = count(chunk_size, "chunk_size", 1)
    layout = particle_sharding(sharding)
    field, energy, alpha = particle_potential(flow, data, values, chunk_size)
    return birth_death(field, energy, alpha, dt, flow.mu.dim, snapshots, layout)


def birth_death(field_fn, energy_fn, alpha, dt=1e-2, dim=None, snapshots=False, sharding=None):
    r"""``(init_fn, step_fn, observe_fn)`` of the birth–death particles for the field
    ``field_fn(X, w)`` ``(N, 1 + d)`` (the columns :math:`V, \nabla V` at the particles)
    and the rate ``alpha`` ≥ 0; ``energy_fn(X, w)`` is recorded (see :func:`birth_death_flow`,
    also for ``sharding``).

    >>> import jax.numpy as jnp
    >>> V = lambda X, w: jnp.concatenate([X**2 / 2, X], axis=1)   # V = x²/2, ∇V = x
    >>> init, step, obs = birth_death(V, lambda X, w: jnp.mean(X**2 / 2), alpha=1.0, dt=0.1)
    >>> step(init(jnp.zeros(4), 0)).particles.ravel().tolist()
    [0.0, 0.0, 0.0, 0.0]
    """
    dt, alpha = time_step(dt), real_number(alpha, "alpha")
    layout = particle_sharding(sharding)

    def init_fn(particles, key):
        return place_state(layout, init_particles(particles, key, dim), {"particles": "particles"})

    def _fields(X):
        w = jnp.full((X.shape[0],), 1.0 / X.shape[0], X.dtype)
        out = field_fn(X, w)
        v, g = out[:, 0], out[:, 1:]
        return w, v, g, alpha * (v - jnp.mean(v))

    def step_fn(state: ParticleState) -> ParticleState:
        (X,) = constrain_rows(layout, state.particles)
        n = X.shape[0]
        _, _, g, beta = _fields(X)
        key, k_event, k_src, k_dst = jax.random.split(state.key, 4)
        moved = X - dt * g.astype(X.dtype)
        event = jax.random.uniform(k_event, (n,), X.dtype) < -jnp.expm1(-jnp.abs(beta) * dt)
        src = jax.random.randint(k_src, (n,), 0, n)
        dst = jax.random.randint(k_dst, (n,), 0, n)
        # clones (β < 0) overwrite a uniformly chosen particle; deaths (β > 0) take a copy
        clone = event & (beta < 0)
        target = jnp.where(clone, dst, n)  # index n: dropped
        new = moved.at[target].set(moved, mode="drop")
        death = event & (beta > 0)
        new = jnp.where(death[:, None], moved[src], new)
        (new,) = constrain_rows(layout, new)
        return ParticleState(new, key, state.t + dt, state.step + 1)

    def observe_fn(state: ParticleState):
        X = state.particles
        w, v, g, beta = _fields(X)
        return {
            "energy": jnp.asarray(energy_fn(X, w)),
            "dissipation": jnp.mean(jnp.sum(g * g, -1) + alpha * (v - jnp.mean(v)) ** 2),
            "birth_death_rate": jnp.mean(jnp.abs(beta)),
            **({"particles": X} if snapshots else {}),
        }

    return init_fn, step_fn, jax.jit(observe_fn)  # jitted: a call outside run is one dispatch
