r"""Positive finite volumes for Wasserstein gradient flows on a grid (1-D, 2-D, 3-D).

For :math:`\partial_t m = \operatorname{div}(m\nabla\xi)`, :math:`\xi = \frac{\delta E}{\delta m}`
(nonlocal, nonlinear: aggregation, confinement, entropy, porous medium), the scheme of
Carrillo, Chertock & Huang (2015) on cell averages :math:`m_j`:

* :math:`\xi_j` is the engine's first variation compiled on the grid
  (:func:`.lower.grid_potential`), so integrals are midpoint sums and
  :math:`\xi_j = \partial E_h/\partial m_j / |C|` for the discrete energy :math:`E_h`;
* face velocities :math:`u_{j+1/2} = -(\xi_{j+1}-\xi_j)/h`;
* a positivity-preserving piecewise-linear reconstruction (generalised minmod, :math:`\theta`)
  gives the face values :math:`m^E_j, m^W_{j+1}`, and the upwind flux
  :math:`F_{j+1/2} = u^+m^E_j + u^-m^W_{j+1}`, zero on the boundary faces (no flux);
* :math:`\frac{d}{dt}m_j = -\sum_k (F_{j+e_k/2} - F_{j-e_k/2})/h_k`, stepped by the
  three-stage SSP Runge–Kutta method.

Mass is conserved to rounding, :math:`m \ge 0` is kept when
:math:`\Delta t\max|u| \le h/(2d)` (a sufficient condition; recorded as ``cfl``), the
accuracy is second order in :math:`h` for smooth solutions (:data:`ORDER`), and the semi-discrete energy decays at the rate
:math:`D_h = |C|\sum_{\text{faces}} F\,u = |C|\sum u^2 m^{\text{upwind}} \ge 0` (recorded
as ``dissipation``): :math:`\frac{d}{dt}E_h = -D_h` exactly.  :func:`finite_volumes` is the
scheme for any potential ``xi(m)`` on the cells; :func:`grid_flow` lowers a flow into one.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from ..errors import GridError, NotAFlowError, StepSizeError
from ..flows.wasserstein import WassersteinFlow
from ..grids import Grid
from .inputs import float_array, real_number, time_step
from .lower import grid_potential

__all__ = ["ORDER", "GridState", "finite_volumes", "fv_rhs", "grid_flow", "stable_time_step"]

#: order of accuracy in the cell size ``h`` for smooth solutions
ORDER = 2
#: the parabolic limit ``dt·D·Σ_k 1/h_k² ≤ DIFFUSION_LIMIT`` (``dt·D/h² ≤ 0.4/dim`` on a
#: uniform grid): below the 0.5 of forward-Euler positivity for the three-point Laplacian
DIFFUSION_LIMIT = 0.4
#: the advective limit ``dt·Σ_k max|u_k|/h_k ≤ TRANSPORT_LIMIT`` of upwind fluxes (a
#: particle crosses at most one cell per step); positivity with the reconstruction is only
#: guaranteed at half of it, and is monitored during the run
TRANSPORT_LIMIT = 1.0
#: a cell below ``-NEGATIVE_TOLERANCE·max m`` is a negative density, not rounding
NEGATIVE_TOLERANCE = 1e-12


@jax.tree_util.register_dataclass
@dataclass
class GridState:
    """Cell averages of the density (the grid's shape), the time, the step count, and
    ``positive``: False from the first step whose density had a cell below
    ``-1e-12·max m`` (sticky), which :func:`mfderive.run` turns into a
    :class:`~mfderive.SimulationError`."""

    density: jax.Array
    t: jax.Array
    step: jax.Array
    positive: jax.Array

    def admissible(self):
        return self.positive


def _minmod(a, b, c):
    s = jnp.sign(a)
    same = (jnp.sign(b) == s) & (jnp.sign(c) == s)
    return jnp.where(same, s * jnp.minimum(jnp.minimum(jnp.abs(a), jnp.abs(b)), jnp.abs(c)), 0.0)


def _minmod_parameter(theta) -> float:
    """``theta`` checked: a number in [1, 2] (positivity of the reconstruction)."""
    theta = real_number(theta, "theta")
    if not 1.0 <= theta <= 2.0:
        raise GridError(f"theta must lie in [1, 2] (positivity of the reconstruction), got {theta}")
    return theta


def _axis_flux(m, xi, axis, h, theta):
    """Face fluxes along ``axis`` (boundary faces included, zero) and Σ F·u over faces."""
    mm, x = jnp.moveaxis(m, axis, 0), jnp.moveaxis(xi, axis, 0)
    dl, dr = mm[1:-1] - mm[:-2], mm[2:] - mm[1:-1]
    slope = _minmod(theta * dl, (dl + dr) / 2, theta * dr)
    zero = jnp.zeros_like(mm[:1])
    slope = jnp.concatenate([zero, slope, zero])  # first order in the two end cells
    east, west = mm + slope / 2, mm - slope / 2
    u = -(x[1:] - x[:-1]) / h
    F = jnp.maximum(u, 0) * east[:-1] + jnp.minimum(u, 0) * west[1:]
    full = jnp.concatenate([zero, F, zero])
    return jnp.moveaxis(full, 0, axis), jnp.sum(F * u), jnp.max(jnp.abs(u))


def fv_rhs(m, xi, grid: Grid, theta=1.5):
    r"""``(dm/dt, D_h, max|u|)`` of the semi-discrete scheme for cell averages ``m`` and
    potential values ``xi`` (both of the grid's shape)."""
    dm = jnp.zeros_like(m)
    diss = jnp.zeros((), m.dtype)
    umax = jnp.zeros((), m.dtype)
    for k in range(grid.dim):
        full, fu, um = _axis_flux(m, xi, k, grid.h[k], theta)
        f = jnp.moveaxis(full, k, 0)
        dm = dm - jnp.moveaxis((f[1:] - f[:-1]) / grid.h[k], 0, k)
        diss, umax = diss + fu, jnp.maximum(umax, um)
    return dm, diss * grid.vol, umax


def stable_time_step(transport, diffusivity, grid: Grid):
    r"""``(dt_max, reason)``: the largest step the explicit scheme takes on ``grid`` for the
    potential's transport part and diffusivity given at the cells (arrays of the grid's
    shape), from :math:`\Delta t\sum_k \max|u_k|/h_k \le 1` (upwind transport,
    :math:`u_k` the face velocities :math:`-\Delta_k\xi/h_k`) and
    :math:`\Delta t\,\max D\sum_k 1/h_k^2 \le 0.4` (diffusion: :math:`dt\,D/h^2 \le 0.4/\mathrm{dim}`
    on a uniform grid)."""
    rate_t = sum(
        float(jnp.max(jnp.abs(jnp.diff(transport, axis=k)))) / h**2 for k, h in enumerate(grid.h)
    ) / TRANSPORT_LIMIT
    d_max = max(float(jnp.max(diffusivity)), 0.0)
    rate_d = d_max * sum(1 / h**2 for h in grid.h) / DIFFUSION_LIMIT
    if rate_t == 0 and rate_d == 0:
        return float("inf"), "no transport or diffusion"
    if rate_t >= rate_d:
        return 1 / rate_t, f"transport: dt·sum_k max|u_k|/h_k <= {TRANSPORT_LIMIT:g}"
    return 1 / rate_d, (
        f"diffusion: dt·D·sum_k 1/h_k^2 <= {DIFFUSION_LIMIT:g}, i.e. dt·D/h^2 <= "
        f"{DIFFUSION_LIMIT:g}/dim, with max D = {d_max:.6g}"
    )


def grid_flow(flow: WassersteinFlow, grid: Grid, data=None, values=None, dt=1e-3, theta=1.5,
              snapshots=False):
    r"""``(init_fn, step_fn, observe_fn)`` of the finite-volume scheme for ``flow`` on ``grid``.

    Parameters
    ----------
    flow : WassersteinFlow — its energy :math:`E` (with entropy, :math:`\int m^2`,
        interaction and data terms) and first variation come from the engine
    grid : Grid over the flow's variables (no-flux boundary on its box)
    data : ``{Data: (points, weights)}`` for fixed measures in the energy
    values : ``{Symbol or name: number}`` for the flow's parameters
    dt : time step (SSP-RK3, explicit).  Two stability limits, checked by ``init_fn`` on
        the initial density (:class:`~mfderive.simulate.StepSizeError` naming the largest
        stable step): transport, :math:`dt\sum_k\max|u_k|/h_k \le 1` for the velocity
        :math:`u = -\nabla\xi_T` of the terms of :math:`\xi = \delta E/\delta m` free of the
        density; and diffusion, :math:`dt\,D/h^2 \le 0.4/\mathrm{dim}`
        (:math:`dt\,D\sum_k h_k^{-2} \le 0.4`) for the diffusivity
        :math:`D = m\,\partial\xi/\partial m` (entropy :math:`\kappa\log m`: :math:`D = \kappa`;
        :math:`\int m^2/2`: :math:`D = m`; fourth-order terms are not checked).
        Positivity is guaranteed when ``cfl = dt·max|u|/h ≤ 1/(2·dim)`` for the full
        velocity (recorded); it is monitored at every step, and :func:`mfderive.run` stops
        with a :class:`~mfderive.SimulationError` at the first negative density (or NaN):
        the limits are checked on the initial density only, and a density that
        concentrates can outgrow them later.
    theta : the minmod parameter in [1, 2] (1: most diffusive, 2: least)
    snapshots : also record the density at every record (``trace["density"]``)

    ``init_fn(density)`` → :class:`GridState` (finite, non-negative cell averages, positive
    when the energy has an entropy; integers are cast to floats; of mass 1 when the first
    variation has nonlocal terms, since the engine derives them for probability measures);
    ``step_fn(state)`` → state; ``observe_fn(state)`` → dict with ``energy`` :math:`E_h`,
    ``dissipation`` :math:`D_h`, ``mass``, ``min_density`` and ``cfl``.
    """
    if not isinstance(flow, WassersteinFlow):
        raise NotAFlowError(f"grid_flow needs a WassersteinFlow, got {type(flow).__name__}")
    if not isinstance(grid, Grid):
        raise GridError(f"grid must be a mfderive Grid, got {type(grid).__name__}")
    mu = flow.mu
    if grid.dim != mu.dim:
        raise GridError(f"the grid has {grid.dim} axes; {mu.name!r} has {mu.dim} variables")
    dt = time_step(dt)
    theta = _minmod_parameter(theta)
    return finite_volumes(grid_potential(flow, grid, data, values), grid, dt, theta, snapshots)


def finite_volumes(lowered, grid: Grid, dt=1e-3, theta=1.5, snapshots=False):
    r"""``(init_fn, step_fn, observe_fn)`` of the finite-volume scheme on ``grid`` for the
    callables of a :class:`~mfderive.simulate.lower.GridPotential` (or any object with its
    fields): ``potential(m)`` :math:`\xi` and ``energy(m)`` at the cell averages ``m``,
    ``limits(m)`` → ``(transport, diffusivity)`` for the step check, and the flags
    ``positive`` and ``probability`` for :func:`grid_flow`'s checks of the initial density.

    >>> import jax.numpy as jnp
    >>> from mfderive.grids import Grid
    >>> from mfderive.simulate.lower import GridPotential
    >>> g = Grid(-3, 3, 30)
    >>> V = jnp.asarray(g.centres)[:, 0] ** 2 / 2    # confinement x²/2, no diffusion
    >>> ou = GridPotential(lambda m: V, lambda m: jnp.sum(V * m) * g.vol,
    ...                    lambda m: (V, jnp.zeros_like(V)), False, False)
    >>> init, step, obs = finite_volumes(ou, g, dt=1e-2)
    >>> m = g.gaussian([1.0], [0.1]); s = step(init(m / g.integrate(m)))
    >>> round(float(obs(s)["mass"]), 12)
    1.0
    """
    dt, theta = time_step(dt), _minmod_parameter(theta)
    xi_fn, energy_fn, limits_fn = lowered.potential, lowered.energy, lowered.limits
    needs_log, nonlocal_terms = lowered.positive, lowered.probability

    def rhs(m):
        return fv_rhs(m, xi_fn(m), grid, theta)

    def check_step(m):
        dt_max, reason = stable_time_step(*limits_fn(m), grid)
        if dt > dt_max * (1 + 1e-9):
            raise StepSizeError(
                f"dt = {dt:g} is above the stability limit of the explicit scheme on this grid "
                f"(h = {', '.join(f'{h:.4g}' for h in grid.h)}) for this initial density: the "
                f"largest stable dt is {dt_max:.6g} ({reason}); take a smaller dt, e.g. "
                f"T/ceil(T/{dt_max:.6g}) for a run to time T"
            )

    def init_fn(density):
        m = float_array(grid.check(density), "the initial density")
        if m.shape != grid.shape:
            raise GridError(f"the initial density has shape {m.shape}; the grid has shape {grid.shape}")
        mn = float(jnp.min(m))
        if mn < 0 or (needs_log and mn <= 0):
            what = "positive (the energy has an entropy: log m)" if needs_log else "non-negative"
            raise GridError(f"the initial density must be {what}; its minimum is {mn:g}")
        mass = float(grid.integrate(m))
        if nonlocal_terms and abs(mass - 1) > 1e-9:
            raise GridError(
                f"the initial density has mass {mass:.12g}; the first variation's nonlocal "
                f"terms were derived for a probability measure: divide it by its mass"
            )
        check_step(m)
        return GridState(m, jnp.zeros((), m.dtype), jnp.zeros((), jnp.int32), jnp.array(True))

    def step_fn(state: GridState) -> GridState:
        m = state.density
        m1 = m + dt * rhs(m)[0]
        m2 = 0.75 * m + 0.25 * (m1 + dt * rhs(m1)[0])
        m3 = m / 3 + 2 / 3 * (m2 + dt * rhs(m2)[0])
        positive = state.positive & (jnp.min(m3) >= -NEGATIVE_TOLERANCE * jnp.max(jnp.abs(m3)))
        return GridState(m3, state.t + dt, state.step + 1, positive)

    step_fn.failure = (
        f"the density became negative (a cell below -{NEGATIVE_TOLERANCE:g}·max m): dt = {dt:g} "
        f"is above the scheme's positivity limit dt·max|u|/h <= 1/(2·dim) for the velocity the "
        f"run reached (see trace['cfl']); take a smaller dt"
    )

    def observe_fn(state: GridState):
        m = state.density
        _, diss, umax = rhs(m)
        return {
            "energy": energy_fn(m),
            "dissipation": diss,
            "mass": grid.integrate(m),
            "min_density": jnp.min(m),
            "cfl": dt * umax / min(grid.h),
            **({"density": m} if snapshots else {}),
        }

    return init_fn, step_fn, observe_fn
