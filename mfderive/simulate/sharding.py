r"""Distributed particles: the particle axis of a simulator's state split over devices.

Every particle simulator (:func:`mfderive.particle_flow`, :func:`mfderive.birth_death_flow`,
:func:`mfderive.ascent_descent`, :func:`mfderive.rho_h_flow`) takes ``sharding=``:

* ``None`` (default): one device, as before;
* ``True``: all of ``jax.devices()`` (every process's devices under ``jax.distributed``);
* a :class:`jax.sharding.Mesh`: the particle axis split over all of its axes;
* a :class:`jax.sharding.NamedSharding` whose spec splits the first axis only
  (``P("p")`` or ``P(("a", "b"))``; trailing entries ``None``);
* a :class:`ParticleSharding` (from :func:`particle_sharding`).

``init_fn`` places the particle arrays of the state (positions, weights, ``(ρ,H)`` values)
with ``jax.device_put`` so that device :math:`k` of :math:`D` holds the rows
:math:`kN/D,\dots,(k+1)N/D - 1`; the scalars (time, step count, PRNG key) are replicated.
``step_fn`` constrains its input and output arrays to that layout
(``jax.lax.with_sharding_constraint``), so the state keeps it through :func:`mfderive.run`.
The step is then partitioned by XLA's SPMD partitioner (GSPMD): an integral over the
particles, :math:`\sum_i w_i\,g(X_i, x_m)`, becomes per-device partial sums and one
all-reduce of the :math:`M` values :math:`f_\mu(x_m)`; a pairwise (interaction) term
gathers the :math:`N\times d` positions, never an :math:`N\times N` or :math:`N\times M`
temporary; each device holds :math:`N/D` rows of every per-particle temporary.  The
arithmetic is that of one device up to the order of the floating-point sums (the PRNG is
partitionable: the same key gives the same noise on any layout).

**Divisibility.**  :math:`N` must be a multiple of the number of shards :math:`D`;
otherwise ``init_fn`` raises :class:`~mfderive.SimulationInputError` naming both.  Padding
with zero-weight particles was rejected: it would change the simulated system (the default
weights :math:`1/N`, the lift mass :math:`1/N` of a signed measure, the uniform choice of
a partner in birth–death, the noise drawn for each row), so the sharded run would no
longer be the unsharded one; ``jax.device_put`` itself refuses an uneven split.

Example (on one CPU, four host devices: set ``XLA_FLAGS`` before JAX starts)::

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python script.py

    init, step, observe = mf.particle_flow(flow, data=..., values=..., sharding=True)
    state = init(X0, key)                  # X0: (N, d), N a multiple of 4
    state, trace = mf.run(step, state, 100, observe)
    state.particles.sharding               # NamedSharding(mesh, P('particles'))
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..errors import SimulationInputError

__all__ = [
    "PARTICLE_AXIS", "ParticleSharding", "constrain_rows", "particle_mesh", "particle_sharding",
    "place_state",
]

#: the name of the mesh axis that :func:`particle_mesh` builds
PARTICLE_AXIS = "particles"


def particle_mesh(devices=None, axis_name: str = PARTICLE_AXIS) -> Mesh:
    """A 1-D :class:`jax.sharding.Mesh` named ``axis_name`` over ``devices`` (default
    ``jax.devices()``: every device of every process).

    >>> particle_mesh().axis_names
    ('particles',)
    """
    devs = jax.devices() if devices is None else list(devices)
    if not devs:
        raise SimulationInputError("particle_mesh needs at least one device")
    return Mesh(np.asarray(devs, dtype=object), (axis_name,))


@dataclass(frozen=True)
class ParticleSharding:
    """The layout of a particle state: the rows of every particle array split over the
    mesh axes ``axes`` (row blocks in device order), everything else replicated.

    >>> s = particle_sharding(True)
    >>> s.shards == len(jax.devices()), s.spec == PartitionSpec("particles")
    (True, True)
    """

    mesh: Mesh
    axes: tuple

    @property
    def shards(self) -> int:
        """The number of row blocks :math:`D` (the product of the split axes' sizes)."""
        return math.prod(self.mesh.shape[a] for a in self.axes)

    @property
    def spec(self) -> PartitionSpec:
        """``P(axis)`` (or ``P((a, b))``): rows split, trailing axes replicated."""
        if not self.axes:
            return PartitionSpec()
        return PartitionSpec(self.axes[0] if len(self.axes) == 1 else self.axes)

    @property
    def rows(self) -> NamedSharding:
        """The :class:`~jax.sharding.NamedSharding` of a particle array (any rank ≥ 1)."""
        return NamedSharding(self.mesh, self.spec)

    @property
    def replicated(self) -> NamedSharding:
        """A copy on every device of the mesh (how the scalars of a state are placed)."""
        return NamedSharding(self.mesh, PartitionSpec())

    def check(self, n: int, what: str = "particles") -> None:
        """Raise :class:`~mfderive.SimulationInputError` unless ``n`` rows split evenly."""
        if n % self.shards:
            lo = n // self.shards * self.shards
            raise SimulationInputError(
                f"{n} {what} do not split evenly over the {self.shards} devices of sharding=: "
                f"use a multiple of {self.shards} (e.g. {lo or self.shards} or "
                f"{lo + self.shards}), or fewer devices (a smaller mesh)"
            )

    def place(self, x, what: str = "particles"):
        """``x`` (rows first) laid out by rows (``jax.device_put``), after :meth:`check`."""
        self.check(x.shape[0], what)
        return jax.device_put(x, self.rows)

    def place_scalar(self, x):
        """``x`` replicated over the mesh."""
        return jax.device_put(x, self.replicated)

    def constrain(self, x):
        """``x`` held to the row layout inside a traced step
        (``jax.lax.with_sharding_constraint``)."""
        return jax.lax.with_sharding_constraint(x, self.rows)


def particle_sharding(sharding) -> ParticleSharding | None:
    """The :class:`ParticleSharding` of a simulator's ``sharding=`` argument (see the module
    docstring for what it may be), or None for ``None``/``False``.  Anything else raises
    :class:`~mfderive.SimulationInputError`.

    >>> mesh = particle_mesh()
    >>> particle_sharding(mesh).axes, particle_sharding(NamedSharding(mesh, PartitionSpec("particles"))).axes
    (('particles',), ('particles',))
    >>> particle_sharding("all")
    Traceback (most recent call last):
    ...
    mfderive.errors.SimulationInputError: sharding= must be None, True (all devices), a jax.sharding.Mesh or a jax.sharding.NamedSharding splitting the particle axis, got str
    """
    if sharding is None or sharding is False:
        return None
    if sharding is True:
        return ParticleSharding(particle_mesh(), (PARTICLE_AXIS,))
    if isinstance(sharding, ParticleSharding):
        return sharding
    if isinstance(sharding, Mesh):
        return ParticleSharding(sharding, tuple(sharding.axis_names))
    if isinstance(sharding, NamedSharding):
        spec = tuple(sharding.spec)
        if any(p is not None for p in spec[1:]):
            raise SimulationInputError(
                f"sharding= must split the particle (first) axis only; {sharding.spec} splits a "
                f"later axis too: use PartitionSpec({spec[0]!r})"
            )
        first = spec[0] if spec else None
        axes = () if first is None else (tuple(first) if isinstance(first, tuple) else (first,))
        return ParticleSharding(sharding.mesh, axes)
    raise SimulationInputError(
        f"sharding= must be None, True (all devices), a jax.sharding.Mesh or a "
        f"jax.sharding.NamedSharding splitting the particle axis, got {type(sharding).__name__}"
    )


# -- what the simulators call (each a no-op for ``layout=None``) ------------------------------
def constrain_rows(layout: ParticleSharding | None, *xs):
    """``xs`` held to the row layout inside a step (a tuple; None entries pass through)."""
    if layout is None:
        return xs
    return tuple(None if x is None else layout.constrain(x) for x in xs)


def place_state(layout: ParticleSharding | None, state, rows: dict):
    """``state`` (a dataclass) with the fields named in ``rows`` (``{field: what}``, ``what``
    naming them in the divisibility error) laid out by rows and every other array field
    replicated; unchanged without a layout."""
    if layout is None:
        return state
    changes = {}
    for f in dataclasses.fields(state):
        v = getattr(state, f.name)
        if v is not None:
            changes[f.name] = layout.place(v, rows[f.name]) if f.name in rows else layout.place_scalar(v)
    return dataclasses.replace(state, **changes)
