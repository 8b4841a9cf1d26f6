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

**Weights.**  The particles of a probability measure may carry weights :math:`p_i \ge 0`,
:math:`\sum p_i = 1` (default :math:`1/N`); a Wasserstein flow transports them and keeps
the weights.  A **signed** measure :math:`\mu_N = \sum_i c_i\delta_{X_i}`
(``mf.Measure(..., signed=True)``; :math:`c_i\in\mathbb R`) has its weights as state:
:func:`lifted_gradient_flow` moves both.  It is the Wasserstein gradient flow of the
*lift* (Chizat & Bach 2018, the "partially 1-homogeneous" case): write each particle as
:math:`(X_i, \alpha_i)` of mass :math:`m` in :math:`\Theta\times\mathbb R`, with
:math:`c_i = m\,\alpha_i`, so that :math:`\mu_N = h(\tilde\mu)`, :math:`\tilde\mu =
m\sum_i\delta_{(X_i,\alpha_i)}`, :math:`h(\tilde\mu) = \int\alpha\,\delta_X\,
\tilde\mu(dX\,d\alpha)`.  The first variation of :math:`F\circ h` at :math:`(X,\alpha)` is
:math:`\alpha V(X)` with :math:`V = \delta F/\delta\mu(\mu_N, \cdot)` (the linear
variation of the signed measure, no constant to fix), and its Wasserstein velocity
:math:`-\nabla_{(X,\alpha)}(\alpha V)` gives

.. math:: \dot\alpha_i = -V(X_i),\qquad \dot X_i = -\alpha_i\nabla V(X_i),
   \qquad\text{i.e.}\qquad \dot c_i = -m\,V(X_i),\quad \dot X_i = -\frac{c_i}{m}\nabla V(X_i),

the gradient flow of the particle loss :math:`L(X, \alpha) = \frac1m F(m\sum_i\alpha_i
\delta_{X_i})`, dissipating :math:`\frac{d}{dt}F = -\sum_i\big(m V(X_i)^2 +
\frac{c_i^2}{m}|\nabla V(X_i)|^2\big)`.  The default :math:`m = 1/N` (the lift a
probability measure) is the mean-field scale: the trajectories are those of the atoms
parameterisation :math:`\int a\,\sigma(w\cdot x)\,\tilde\mu(dw\,da)` with uniform
weights :math:`1/N`; :math:`m = 1` is plain gradient descent on
:math:`L(X, c) = F(\sum_i c_i\delta_{X_i})`, the network loss of the ReLU research
notes' classical set-up (:math:`f(x) = \sum_i \alpha_i\max(0, w_i\cdot x)`).
Explicit Euler, order 1 (:data:`ORDER`).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from types import SimpleNamespace

import sympy as sp

from ..derive.integrals import LocalIntegral
from ..derive.nonsmooth import relu_convention
from ..errors import InvalidExpressionError, NotAFlowError, SimulationInputError
from ..flows.wasserstein import WassersteinFlow
from .inputs import count, particle_weights, points_array, prng_key, real_number, time_step
from .lower import particle_constraint, particle_drift, particle_potential
from .sharding import constrain_rows, particle_sharding, place_state

__all__ = [
    'MONTE_CARLO_ORDER',
    'ORDER',
    'ParticleState',
    'euler_maruyama',
    'init_particles',
    'lifted_gradient_flow',
    'particle_flow',
]

#: weak order of the Euler–Maruyama step in ``dt`` (strong order ½; 1 for additive noise)
ORDER = 1
#: the statistical error of an average over ``N`` particles is of order ``N**MONTE_CARLO_ORDER``
MONTE_CARLO_ORDER = -0.5
#: the row arrays of a ParticleState (split over devices with ``sharding=``), as errors name them
_ROWS = {"particles": "particles", "weights": "particle weights"}



@jax.tree_util.register_dataclass
@dataclass
class ParticleState:
    """Particles ``(N, d)``, the PRNG key, the time, the step count and the particles'
    weights ``(N,)`` (``None`` where a scheme does not use them)."""

    particles: jax.Array
    key: jax.Array
    t: jax.Array
    step: jax.Array
    weights: jax.Array | None = None



def init_particles(particles, key, dim=None, weights=None, signed=None, name="mu"):
    """:class:`ParticleState` from ``(N,)`` or ``(N, d)`` positions (finite, at least one
    particle; integer arrays are cast to floats) and a PRNG key (or an int seed).

    ``signed=None`` leaves the weights out (``None``); ``False`` checks ``weights`` as
    those of the probability measure ``name`` (default :math:`1/N`), ``True`` as those of
    a signed measure (required, any sign): see :func:`.inputs.particle_weights`."""
    if dim is None:
        shape = np.shape(particles)
        dim = shape[1] if len(shape) == 2 else 1
    X = points_array(particles, dim, "the particles")
    key = prng_key(key)
    w = None
    if signed is not None:
        w = particle_weights(weights, X.shape[0], name, signed, X.dtype)
    elif weights is not None:
        raise SimulationInputError("this scheme does not use particle weights")
    return ParticleState(X, key, jnp.zeros((), X.dtype), jnp.zeros((), jnp.int32), w)



def particle_flow(flow: WassersteinFlow, data=None, values=None, dt=1e-2, chunk_size=None,
                  snapshots=False, lift_mass=None, relu_convention=None, sharding=None):
    r"""``(init_fn, step_fn, observe_fn)`` for the particles of a :class:`WassersteinFlow`.

    For a probability measure :math:`\mu_N = \sum_i p_i\delta_{X_i}` the particles follow
    the flow's SDE and keep their weights; for a signed measure
    (``mf.Measure(..., signed=True)``), :math:`\mu_N = \sum_i c_i\delta_{X_i}`, the
    weights are state and move too, by the lifted gradient flow of
    :func:`lifted_gradient_flow` (see the module docstring).  On a measure over a product
    with sphere factors (``Measure(..., domain=Sphere(k) * Reals(1))``) the drift is the
    Riemannian gradient, each step is followed by the retraction
    :math:`\theta\leftarrow\theta/|\theta|` (:mod:`.manifolds`, order 1 in ``dt``), and
    ``init_fn`` rejects particles off the sphere (:class:`~mfderive.SimulationInputError`,
    tolerance 64 machine epsilons on :math:`|\theta|`).

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
        ``energy``, ``dissipation``, ``particles`` and ``weights``)
    lift_mass : for a signed measure, the mass :math:`m` of each particle of the lift
        (default :math:`1/N`, the mean-field scale; 1 is gradient descent on
        :math:`F(\sum_i c_i\delta_{X_i})` in :math:`(X, c)`)
    relu_convention : the value of ``Heaviside(g)`` at :math:`g = 0` in the drift, i.e.
        :math:`\sigma'(0)` for :math:`\sigma = \max(0,\cdot)`: ``None`` keeps what the
        derived expression carries (SymPy's 1/2), ``0`` is the ReLU literature's
        :math:`\sigma'(0) = 0` (Boursier, Pillaud-Vivien & Flammarion 2022; applied with
        :func:`mfderive.relu_convention`)
    sharding : split the particles over devices: ``True`` (all of ``jax.devices()``), a
        :class:`jax.sharding.Mesh` or a :class:`jax.sharding.NamedSharding` of the particle
        axis; ``init_fn`` places the state and ``step_fn`` keeps its layout
        (:mod:`.sharding`; N must be a multiple of the number of devices)

    ``init_fn(particles, key, weights=None)`` → state (particles ``(N, d)``, N ≥ 1,
    finite; integers are cast to floats; ``key`` a PRNG key or an int seed; ``weights``
    ``(N,)`` finite: for a probability measure :math:`p_i \ge 0` of sum one, default
    :math:`1/N`; for a signed measure required, any sign); ``step_fn(state)`` → state;
    ``observe_fn(state)`` → ``(energy F(μ_N), dissipation)``: the dissipation is
    :math:`\sum_i p_i|b_i|^2` (the mean squared drift for weights :math:`1/N`), and for a
    signed measure :math:`-\frac{d}{dt}F` of the lifted flow.  Local terms of ``F`` (an
    entropy, read as noise by ``flow.sde()``) are left out of the recorded energy: an
    empirical measure has no density.  A signed measure has no entropy and no noise: those
    raise :class:`~mfderive.errors.InvalidExpressionError`.

    >>> import jax.numpy as jnp, sympy as sp, mfderive as mf
    >>> w, x = sp.symbols("w x", real=True)
    >>> nu = mf.Measure("nu_pf", (w,), signed=True); data = mf.Data("d_pf", (x,))
    >>> F = mf.integral((mf.integral(sp.Max(0, w * x), nu) - x) ** 2 / 2, data)
    >>> init, step, observe = particle_flow(mf.WassersteinFlow(F, nu),
    ...     data={data: (jnp.array([1.0, 2.0]), jnp.array([0.5, 0.5]))}, dt=0.1)
    >>> s = step(init(jnp.array([1.0, -1.0]), 0, weights=jnp.array([0.5, -0.5])))
    >>> [round(float(v), 4) for v in s.weights], float(observe(s)[0]) < 0.3125
    ([0.5625, -0.5], True)
    """
    if not isinstance(flow, WassersteinFlow):
        raise NotAFlowError(f"particle_flow needs a WassersteinFlow, got {type(flow).__name__}")
    dt = time_step(dt)
    if chunk_size is not None:
        chunk_size = count(chunk_size, "chunk_size", 1)
    layout = particle_sharding(sharding)
    mu = flow.mu
    convention = _convention(relu_convention)
    if getattr(mu, "signed", False):
        _check_signed_flow(flow)
        adapter = SimpleNamespace(mu=mu, point=flow.point, potential=flow.potential,
                                  nonlocal_=lambda e: convention(flow.nonlocal_(e)),
                                  energy=flow.functional, alpha=sp.S.Zero)
        field, energy, _ = particle_potential(adapter, data, values, chunk_size)
        return lifted_gradient_flow(field, energy, dt=dt, dim=mu.dim, lift_mass=lift_mass,
                                    snapshots=snapshots, name=mu.name, sharding=layout)
    if lift_mass is not None:
        raise SimulationInputError(
            f"lift_mass is for signed measures; {mu.name!r} is a probability measure, whose "
            f"weights the Wasserstein flow keeps"
        )
    constraint = particle_constraint(flow)
    if relu_convention is not None:  # the drift with Heaviside(g, value)
        drift, noise = flow.sde()
        flow = SimpleNamespace(mu=mu, point=flow.point, functional=flow.functional,
                               sde=lambda: (convention(drift), noise))
    return euler_maruyama(*particle_drift(flow, data, values, chunk_size), dt=dt, dim=mu.dim,
                          snapshots=snapshots, name=mu.name, constraint=constraint,
                          sharding=layout)


def _convention(value):
    """The rewriting of ``Heaviside(g)`` to ``Heaviside(g, value)`` (identity for None)."""
    if value is None:
        return lambda e: e
    v = value if isinstance(value, sp.Basic) else sp.nsimplify(real_number(value, "relu_convention"))
    real_number(v, "relu_convention")
    return lambda e: relu_convention(e, v)


def _check_signed_flow(flow):
    """A signed measure has no entropy (nor relative entropy, nor Brownian noise)."""
    local = flow.functional.atoms(LocalIntegral)
    if flow.noise != 0 or local:
        what = "noise (an entropy term)" if flow.noise != 0 else f"the local term {sp.sstr(next(iter(local)))}"
        raise InvalidExpressionError(
            f"the flow of the signed measure {flow.mu.name!r} has {what}: the entropy, the "
            f"relative entropy and Langevin noise are defined for probability measures only, "
            f"and a particle measure has no density"
        )


def euler_maruyama(drift, energy, sigma, dt=1e-2, dim=None, snapshots=False, name="mu",
                   constraint=None, sharding=None):
    r"""``(init_fn, step_fn, observe_fn)`` of the Euler–Maruyama scheme for the drift
    ``drift(X, w)`` (``(N, d)`` at the particles ``X`` with weights ``w``) and the noise
    ``sigma`` (a number; 0 is gradient descent).  ``energy(X, w)`` is recorded by
    ``observe_fn``, with the weighted mean squared drift :math:`\sum_i w_i|b_i|^2`;
    ``dim`` fixes the particles' dimension (inferred from the first ``init_fn`` call when
    None).  ``init_fn(particles, key, weights=None)``: the weights of the probability
    measure ``name`` (non-negative, sum one; default :math:`1/N`), kept by the steps.
    ``constraint``: for particles on a product with sphere factors, a
    :class:`~mfderive.simulate.manifolds.SphereConstraint` (from
    :func:`.lower.particle_constraint`): ``init_fn`` rejects particles off the sphere and
    each step is followed by the retraction :math:`\theta\leftarrow\theta/|\theta|`.
    ``sharding``: the particles split over devices (see :func:`particle_flow`).

    >>> import jax.numpy as jnp
    >>> init, step, _ = euler_maruyama(lambda X, w: -X, lambda X, w: 0.0, sigma=0.0, dt=0.5)
    >>> step(init(jnp.ones(3), 0)).particles.ravel().tolist()
    [0.5, 0.5, 0.5]
    """
    dt = time_step(dt)
    sigma = real_number(sigma, "the noise sigma")
    layout = particle_sharding(sharding)

    def init_fn(particles, key, weights=None):
        state = init_particles(particles, key, dim, weights, signed=False, name=name)
        if constraint is not None:
            constraint.check(state.particles, f"the particles of {name!r}")
        return place_state(layout, state, _ROWS)

    def _weights(state):
        X = state.particles
        if state.weights is None:
            return jnp.full((X.shape[0],), 1.0 / X.shape[0], X.dtype)
        return state.weights

    def step_fn(state: ParticleState) -> ParticleState:
        X, w = constrain_rows(layout, state.particles, _weights(state))
        b = jnp.asarray(drift(X, w)).astype(X.dtype)
        key, sub = jax.random.split(state.key)
        if sigma != 0.0:
            X = X + dt * b + sigma * jnp.sqrt(dt) * jax.random.normal(sub, X.shape, X.dtype)
        else:
            X = X + dt * b
        if constraint is not None:  # back to the sphere: theta <- theta / |theta|
            X = constraint.retract(X)
        X, w = constrain_rows(layout, X, state.weights)
        return ParticleState(X, key, state.t + dt, state.step + 1, w)

    def observe_fn(state: ParticleState):
        X, w = state.particles, _weights(state)
        b = drift(X, w)
        obs = jnp.asarray(energy(X, w)), jnp.sum(w * jnp.sum(b * b, axis=-1))
        if snapshots:
            return {"energy": obs[0], "dissipation": obs[1], "particles": X, "weights": w}
        return obs

    return init_fn, step_fn, jax.jit(observe_fn)  # jitted: a call outside run is one dispatch



def lifted_gradient_flow(field, energy, dt=1e-2, dim=None, lift_mass=None, snapshots=False,
                         name="mu", sharding=None):
    r"""``(init_fn, step_fn, observe_fn)`` of the lifted gradient flow of a signed particle
    measure :math:`\mu_N = \sum_i c_i\delta_{X_i}` (weights as state; see the module
    docstring, after Chizat & Bach 2018): explicit Euler steps of

    .. math:: \dot c_i = -m\,V(X_i), \qquad \dot X_i = -\frac{c_i}{m}\nabla V(X_i),

    where ``field(X, c)`` returns the columns :math:`V, \nabla V` ``(N, 1 + d)`` of
    :math:`V = \delta F/\delta\mu(\mu_N, \cdot)` at the particles and :math:`m` is
    ``lift_mass`` (default :math:`1/N`).  ``init_fn(particles, key, weights)`` (weights
    required: finite reals, one per particle); ``observe_fn`` → ``(energy(X, c),``
    :math:`\sum_i m V_i^2 + \frac{c_i^2}{m}|\nabla V_i|^2` ``)``, the second being
    :math:`-\frac{d}{dt}F` along the flow.  ``sharding``: the particles and their weights
    split over devices (see :func:`particle_flow`).

    :math:`F(\mu) = \frac12(\int w\,d\mu)^2` with :math:`m = 1`: :math:`V(y) = y\int
    w\,d\mu`, so from :math:`\mu = \delta_1`, one step of 0.1 gives
    :math:`c = 1 - 0.1`, :math:`X = 1 - 0.1`:

    >>> import jax.numpy as jnp
    >>> field = lambda X, c: jnp.concatenate([X * jnp.sum(c * X[:, 0]), jnp.broadcast_to(jnp.sum(c * X[:, 0]), X.shape)], 1)
    >>> init, step, _ = lifted_gradient_flow(field, lambda X, c: jnp.sum(c * X[:, 0]) ** 2 / 2, dt=0.1, lift_mass=1)
    >>> s = step(init(jnp.array([1.0]), 0, weights=jnp.array([1.0])))
    >>> [round(float(s.weights[0]), 6), round(float(s.particles[0, 0]), 6)]
    [0.9, 0.9]
    """
    dt = time_step(dt)
    if lift_mass is not None:
        lift_mass = real_number(lift_mass, "lift_mass")
        if not lift_mass > 0:
            raise SimulationInputError(f"lift_mass must be positive, got {lift_mass:g}")
    layout = particle_sharding(sharding)

    def init_fn(particles, key, weights=None):
        return place_state(layout, init_particles(particles, key, dim, weights, signed=True, name=name), _ROWS)

    def _parts(state):
        X, c = constrain_rows(layout, state.particles, state.weights)
        m = (1.0 / X.shape[0]) if lift_mass is None else lift_mass
        f = jnp.asarray(field(X, c)).astype(X.dtype)
        return X, c, m, f[:, 0], f[:, 1:]

    def step_fn(state: ParticleState) -> ParticleState:
        X, c, m, V, gV = _parts(state)
        X_new, c_new = constrain_rows(layout, X - dt * (c / m)[:, None] * gV, c - dt * m * V)
        return ParticleState(X_new, state.key, state.t + dt, state.step + 1, c_new)

    def observe_fn(state: ParticleState):
        X, c, m, V, gV = _parts(state)
        diss = jnp.sum(m * V**2) + jnp.sum(c**2 / m * jnp.sum(gV * gV, axis=-1))
        E = jnp.asarray(energy(X, c))
        if snapshots:
            return {"energy": E, "dissipation": diss, "particles": X, "weights": c}
        return E, diss

    return init_fn, step_fn, jax.jit(observe_fn)  # jitted: a call outside run is one dispatch
