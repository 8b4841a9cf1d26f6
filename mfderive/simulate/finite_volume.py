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
  three-stage SSP Runge–Kutta method (default) or by the ``s``-stage Runge–Kutta–Legendre
  super-time-stepping method RKL2 (Meyer, Balsara & Aslam 2014; ``method="rkl2"``), whose
  stable step for diffusion grows like :math:`s^2` (:data:`TIME_ORDER`: 3 and 2).

Mass is conserved to rounding, :math:`m \ge 0` is kept when
:math:`\Delta t\max|u| \le h/(2d)` (a sufficient condition; recorded as ``cfl``), the
accuracy is second order in :math:`h` for smooth solutions (:data:`ORDER`), and the semi-discrete energy decays at the rate
:math:`D_h = |C|\sum_{\text{faces}} F\,u = |C|\sum u^2 m^{\text{upwind}} \ge 0` (recorded
as ``dissipation``): :math:`\frac{d}{dt}E_h = -D_h` exactly.  RKL2 conserves mass too (its
stages are affine combinations with coefficients summing to 1 of flux-form updates) but
does not guarantee positivity (some coefficients are negative); the run monitors it either
way.  Each axis of the stencil is strided slices of the arrays (no transposes), fused
by XLA into one loop per axis.  :func:`finite_volumes` is the
scheme for any potential ``xi(m)`` on the cells; :func:`grid_flow` lowers a flow into one.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import GridError, InvalidOptionError, NotAFlowError, StepSizeError
from ..flows.wasserstein import WassersteinFlow
from ..grids import Grid
from .inputs import count, float_array, real_number, time_step
from .lower import grid_potential

__all__ = [
    "ORDER",
    "TIME_ORDER",
    "GridState",
    "diffusion_limit",
    "finite_volumes",
    "fv_rhs",
    "grid_flow",
    "rkl2_coefficients",
    "stable_time_step",
]

#: order of accuracy in the cell size ``h`` for smooth solutions
ORDER = 2
#: order of accuracy in the time step of each time integrator (``method=``)
TIME_ORDER = {"ssprk3": 3, "rkl2": 2}
#: the fraction of RKL2's real stability interval :math:`[-(s^2+s-2)/2, 0]` used by its
#: diffusion limit: with 0.75, the stability polynomial stays bounded by 1 on the spectrum
#: of the upwind advection–diffusion operator up to an advective CFL number 1 (the
#: transport limit) for every ``s >= 3`` (computed: the worst case, ``s = 3``, allows 0.757;
#: ``s = 2`` is refused)
RKL2_SAFETY = 0.75
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


def _minmod_parameter(theta) -> float:
    """``theta`` checked: a number in [1, 2] (positivity of the reconstruction)."""
    theta = real_number(theta, "theta")
    if not 1.0 <= theta <= 2.0:
        raise GridError(f"theta must lie in [1, 2] (positivity of the reconstruction), got {theta}")
    return theta


def _take(a, start, stop, axis):
    """``a[start:stop]`` along ``axis`` (``stop <= 0`` counts from the end): a strided slice,
    never a transpose, so that XLA fuses the whole stencil into one loop."""
    n = a.shape[axis]
    return jax.lax.slice_in_dim(a, start, n + stop if stop <= 0 else stop, axis=axis)


def _pad(a, axis, lo, hi):
    widths = [(0, 0)] * a.ndim
    widths[axis] = (lo, hi)
    return jnp.pad(a, widths)


def _axis_flux(m, xi, axis, h, theta):
    r"""The interior face fluxes along ``axis`` (``n - 1`` of them), Σ F·u and max|u| over them.

    The slope is the generalised minmod of :math:`\theta\Delta_-, \frac12(\Delta_- +
    \Delta_+), \theta\Delta_+` (zero unless both differences have one sign; zero in the
    two end cells: first order there)."""
    dl = _take(m, 1, -1, axis) - _take(m, 0, -2, axis)
    dr = _take(m, 2, 0, axis) - _take(m, 1, -1, axis)
    same = ((dl > 0) & (dr > 0)) | ((dl < 0) & (dr < 0))
    mag = jnp.minimum(jnp.minimum(theta * jnp.abs(dl), jnp.abs(dl + dr) / 2), theta * jnp.abs(dr))
    half = _pad(jnp.where(same, jnp.sign(dl) * mag, 0.0) / 2, axis, 1, 1)
    east = _take(m, 0, -1, axis) + _take(half, 0, -1, axis)  # m^E_j on face j+1/2
    west = _take(m, 1, 0, axis) - _take(half, 1, 0, axis)  # m^W_{j+1}
    u = -(_take(xi, 1, 0, axis) - _take(xi, 0, -1, axis)) / h
    F = jnp.maximum(u, 0) * east + jnp.minimum(u, 0) * west
    return F, jnp.sum(F * u), jnp.max(jnp.abs(u))


def fv_rhs(m, xi, grid: Grid, theta=1.5):
    r"""``(dm/dt, D_h, max|u|)`` of the semi-discrete scheme for cell averages ``m`` and
    potential values ``xi`` (both of the grid's shape).  Each axis is a strided stencil (no
    transposes), which XLA fuses into one loop per axis."""
    dm = jnp.zeros_like(m)
    diss = jnp.zeros((), m.dtype)
    umax = jnp.zeros((), m.dtype)
    for k in range(grid.dim):
        F, fu, um = _axis_flux(m, xi, k, grid.h[k], theta)
        full = _pad(F, k, 1, 1)  # zero flux through the boundary faces
        dm = dm - (_take(full, 1, 0, k) - _take(full, 0, -1, k)) / grid.h[k]
        diss, umax = diss + fu, jnp.maximum(umax, um)
    return dm, diss * grid.vol, umax


def rkl2_coefficients(stages: int):
    r"""``(mu, nu, mu_t, gamma_t)``, arrays indexed by the stage :math:`j = 0..s`, of the
    :math:`s`-stage Runge–Kutta–Legendre method RKL2 (Meyer, Balsara & Aslam 2014, eq. 17):
    :math:`w_1 = 4/(s^2+s-2)`, :math:`b_0 = b_1 = b_2 = 1/3`,
    :math:`b_j = (j^2+j-2)/(2j(j+1))`, :math:`a_j = 1 - b_j`, :math:`\tilde\mu_1 = b_1w_1`,
    and for :math:`j \ge 2`: :math:`\mu_j = \frac{2j-1}{j}\frac{b_j}{b_{j-1}}`,
    :math:`\nu_j = -\frac{j-1}{j}\frac{b_j}{b_{j-2}}`, :math:`\tilde\mu_j = \mu_jw_1`,
    :math:`\tilde\gamma_j = -a_{j-1}\tilde\mu_j`.  The stages

    .. math:: Y_1 = Y_0 + \tilde\mu_1\Delta t\,L(Y_0),\quad
       Y_j = \mu_jY_{j-1} + \nu_jY_{j-2} + (1-\mu_j-\nu_j)Y_0 + \tilde\mu_j\Delta t\,L(Y_{j-1})
       + \tilde\gamma_j\Delta t\,L(Y_0)

    give :math:`Y_s`, second order in :math:`\Delta t`, with a stability polynomial bounded
    by 1 on :math:`[-(s^2+s-2)/2, 0]` (forward Euler: :math:`[-2, 0]`).

    >>> mu, nu, mu_t, gamma_t = rkl2_coefficients(3)
    >>> round(float(mu_t[1]), 12), float(mu[2] + nu[2])
    (0.133333333333, 1.0)
    """
    s = int(stages)
    w1 = 4 / (s * s + s - 2)
    b = np.array([1 / 3, 1 / 3, 1 / 3] + [(j * j + j - 2) / (2 * j * (j + 1)) for j in range(3, s + 1)])
    a = 1 - b
    mu, nu, mu_t, gamma_t = (np.zeros(s + 1) for _ in range(4))
    mu_t[1] = b[1] * w1
    for j in range(2, s + 1):
        mu[j] = (2 * j - 1) / j * b[j] / b[j - 1]
        nu[j] = -(j - 1) / j * b[j] / b[j - 2]
        mu_t[j] = mu[j] * w1
        gamma_t[j] = -a[j - 1] * mu_t[j]
    return mu, nu, mu_t, gamma_t


def _method(method, stages):
    """``(method, stages)`` checked: ``"ssprk3"`` (no stages) or ``"rkl2"`` with an integer
    number of stages ``>= 3`` (with 2, the margin of :data:`RKL2_SAFETY` does not cover the
    advective CFL number 1)."""
    if method not in TIME_ORDER:
        raise InvalidOptionError(f"method must be one of {sorted(TIME_ORDER)}, got {method!r}")
    if method == "ssprk3":
        if stages is not None:
            raise InvalidOptionError("stages= is for method='rkl2' (SSP-RK3 has 3 stages)")
        return method, None
    if stages is None:
        raise InvalidOptionError(
            "method='rkl2' needs stages=s (an integer >= 3): the step may be up to "
            f"{RKL2_SAFETY:g}·(s²+s-2)/4 times the forward-Euler diffusion limit"
        )
    return method, count(stages, "stages", 3)


def diffusion_limit(method="ssprk3", stages=None) -> float:
    r"""The bound on :math:`\Delta t\,D\sum_k h_k^{-2}` of ``method``: ``DIFFUSION_LIMIT``
    for SSP-RK3; :math:`0.75\,(s^2+s-2)/8` for ``s``-stage RKL2 (``RKL2_SAFETY`` of
    the end :math:`-(s^2+s-2)/2` of its real stability interval, on which the three-point
    Laplacian's eigenvalue :math:`-4D\Delta t/h^2` must lie).

    >>> diffusion_limit(), diffusion_limit("rkl2", 4), diffusion_limit("rkl2", 10)
    (0.4, 1.6875, 10.125)
    """
    method, stages = _method(method, stages)
    if method == "ssprk3":
        return DIFFUSION_LIMIT
    return RKL2_SAFETY * (stages * stages + stages - 2) / 8


def rkl2_stages(rate_d, dt) -> int:
    r"""The fewest RKL2 stages whose diffusion limit allows ``dt`` for the rate
    :math:`D\sum_k h_k^{-2}` ``rate_d``."""
    s = 3
    while diffusion_limit("rkl2", s) < dt * rate_d * (1 - 1e-9):
        s += 1
    return s


def stable_time_step(transport, diffusivity, grid: Grid, method="ssprk3", stages=None):
    r"""``(dt_max, reason)``: the largest step the explicit scheme takes on ``grid`` for the
    potential's transport part and diffusivity given at the cells (arrays of the grid's
    shape), from :math:`\Delta t\sum_k \max|u_k|/h_k \le 1` (upwind transport,
    :math:`u_k` the face velocities :math:`-\Delta_k\xi/h_k`) and
    :math:`\Delta t\,\max D\sum_k 1/h_k^2 \le` :func:`diffusion_limit` (SSP-RK3: 0.4, i.e.
    :math:`dt\,D/h^2 \le 0.4/\mathrm{dim}` on a uniform grid; ``s``-stage RKL2:
    :math:`0.75(s^2+s-2)/8`)."""
    limit = diffusion_limit(method, stages)
    rate_t = sum(
        float(jnp.max(jnp.abs(jnp.diff(transport, axis=k)))) / h**2 for k, h in enumerate(grid.h)
    ) / TRANSPORT_LIMIT
    d_max = max(float(jnp.max(diffusivity)), 0.0)
    rate_d = d_max * sum(1 / h**2 for h in grid.h) / limit
    if rate_t == 0 and rate_d == 0:
        return float("inf"), "no transport or diffusion"
    if rate_t >= rate_d:
        return 1 / rate_t, f"transport: dt·sum_k max|u_k|/h_k <= {TRANSPORT_LIMIT:g}"
    return 1 / rate_d, (
        f"diffusion: dt·D·sum_k 1/h_k^2 <= {limit:g}, i.e. dt·D/h^2 <= "
        f"{limit:g}/dim, with max D = {d_max:.6g}"
    )


def grid_flow(flow: WassersteinFlow, grid: Grid, data=None, values=None, dt=1e-3, theta=1.5,
              snapshots=False, method="ssprk3", stages=None):
    r"""``(init_fn, step_fn, observe_fn)`` of the finite-volume scheme for ``flow`` on ``grid``.

    Parameters
    ----------
    flow : WassersteinFlow — its energy :math:`E` (with entropy, :math:`\int m^2`,
        interaction and data terms) and first variation come from the engine; an
        interaction :math:`\int W(x - y)\,m(dy)` is summed by FFT (:mod:`mfderive.codegen.convolution`)
    grid : Grid over the flow's variables (no-flux boundary on its box)
    data : ``{Data: (points, weights)}`` for fixed measures in the energy
    values : ``{Symbol or name: number}`` for the flow's parameters
    dt : time step (explicit).  Two stability limits, checked by ``init_fn`` on
        the initial density (:class:`~mfderive.simulate.StepSizeError` naming the largest
        stable step): transport, :math:`dt\sum_k\max|u_k|/h_k \le 1` for the velocity
        :math:`u = -\nabla\xi_T` of the terms of :math:`\xi = \delta E/\delta m` free of the
        density; and diffusion, :math:`dt\,D\sum_k h_k^{-2} \le` :func:`diffusion_limit`
        (SSP-RK3: 0.4, i.e. :math:`dt\,D/h^2 \le 0.4/\mathrm{dim}`; RKL2 with ``s``
        stages: :math:`0.75(s^2+s-2)/8`) for the diffusivity
        :math:`D = m\,\partial\xi/\partial m` (entropy :math:`\kappa\log m`: :math:`D = \kappa`;
        :math:`\int m^2/2`: :math:`D = m`; fourth-order terms are not checked).
        With SSP-RK3, positivity is guaranteed when ``cfl = dt·max|u|/h ≤ 1/(2·dim)`` for the full
        velocity (recorded); with either method it is monitored at every step, and :func:`mfderive.run` stops
        with a :class:`~mfderive.SimulationError` at the first negative density (or NaN):
        the limits are checked on the initial density only, and a density that
        concentrates can outgrow them later.
    theta : the minmod parameter in [1, 2] (1: most diffusive, 2: least)
    snapshots : also record the density at every record (``trace["density"]``)
    method : ``"ssprk3"`` (default: three-stage SSP Runge–Kutta, third order in time,
        positivity under the CFL condition above) or ``"rkl2"``: the ``stages``-stage
        Runge–Kutta–Legendre super-time-stepping method (second order in time,
        :func:`rkl2_coefficients`), whose diffusion limit grows like ``stages²``
        (``stages`` right-hand sides per step instead of 3): for diffusion-dominated
        flows it takes far fewer right-hand sides to a given time.  Its stages are not
        convex combinations of Euler steps, so positivity is not guaranteed, only monitored.
        Mass is conserved to rounding by both.
    stages : the number of RKL2 stages (an integer >= 3; ``method="rkl2"`` only)

    ``init_fn(density)`` → :class:`GridState` (finite, non-negative cell averages, positive
    when the energy has an entropy; integers are cast to floats; of mass 1 when the first
    variation has nonlocal terms, since the engine derives them for probability measures);
    ``step_fn(state)`` → state; ``observe_fn(state)`` → dict with ``energy`` :math:`E_h`,
    ``dissipation`` :math:`D_h`, ``mass``, ``min_density`` and ``cfl``.

    >>> import sympy as sp, mfderive as mf
    >>> x = sp.Symbol("x", real=True); mu = mf.Measure("mu", (x,))
    >>> ou = mf.WassersteinFlow(mf.integral(x**2 / 2, mu), mu, noise=sp.Integer(1))
    >>> g = mf.Grid(-5, 5, 200)
    >>> init, step, obs = mf.grid_flow(ou, g, dt=0.01, method="rkl2", stages=7)
    >>> st, tr = mf.run(step, init(g.gaussian([1.0], [0.25])), 100, obs, record_every=100)
    >>> exact = g.gaussian([np.exp(-1)], [0.25 * np.exp(-2) + 0.5 * (1 - np.exp(-2))])
    >>> bool(g.integrate(np.abs(np.asarray(st.density) - exact)) < 5e-4)  # O(h²) = 2.5e-3·0.1
    True
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
    _method(method, stages)
    return finite_volumes(grid_potential(flow, grid, data, values), grid, dt, theta, snapshots,
                          method, stages)


def finite_volumes(lowered, grid: Grid, dt=1e-3, theta=1.5, snapshots=False, method="ssprk3",
                   stages=None):
    r"""``(init_fn, step_fn, observe_fn)`` of the finite-volume scheme on ``grid`` for the
    callables of a :class:`~mfderive.simulate.lower.GridPotential` (or any object with its
    fields): ``potential(m)`` :math:`\xi` and ``energy(m)`` at the cell averages ``m``,
    ``limits(m)`` → ``(transport, diffusivity)`` for the step check, and the flags
    ``positive`` and ``probability`` for :func:`grid_flow`'s checks of the initial density;
    ``method`` and ``stages`` as in :func:`grid_flow`.

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
    method, stages = _method(method, stages)
    xi_fn, energy_fn, limits_fn = lowered.potential, lowered.energy, lowered.limits
    needs_log, nonlocal_terms = lowered.positive, lowered.probability

    def rhs(m):
        # the barrier materialises xi: otherwise XLA fuses its log into every stencil use
        # (each cell's log m evaluated for both faces of both neighbours)
        m, xi = jax.lax.optimization_barrier((m, xi_fn(m)))
        return fv_rhs(m, xi, grid, theta)

    def check_step(m):
        transport, diffusivity = limits_fn(m)
        dt_max, reason = stable_time_step(transport, diffusivity, grid, method, stages)
        if dt > dt_max * (1 + 1e-9):
            hint = ""
            if method == "rkl2" and reason.startswith("diffusion"):
                rate_d = max(float(jnp.max(diffusivity)), 0.0) * sum(1 / h**2 for h in grid.h)
                hint = f", or take stages={rkl2_stages(rate_d, dt)} (the fewest RKL2 stages for this dt)"
            raise StepSizeError(
                f"dt = {dt:g} is above the stability limit of the explicit scheme "
                f"({method}{f', {stages} stages' if method == 'rkl2' else ''}) on this grid "
                f"(h = {', '.join(f'{h:.4g}' for h in grid.h)}) for this initial density: the "
                f"largest stable dt is {dt_max:.6g} ({reason}); take a smaller dt, e.g. "
                f"T/ceil(T/{dt_max:.6g}) for a run to time T{hint}"
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

    def ssprk3(m):
        m1 = m + dt * rhs(m)[0]
        m2 = 0.75 * m + 0.25 * (m1 + dt * rhs(m1)[0])
        return m / 3 + 2 / 3 * (m2 + dt * rhs(m2)[0])

    mu, nu, mu_t, gamma_t = rkl2_coefficients(stages) if method == "rkl2" else (None,) * 4

    def rkl2(m):
        # stages 2..s in a scan over their coefficients (one copy of the right-hand side in
        # the program, however many stages)
        dtl0 = dt * rhs(m)[0]
        y1 = m + mu_t[1] * dtl0
        coeffs = jnp.asarray(np.stack([mu, nu, 1 - mu - nu, mu_t * dt, gamma_t], axis=1)[2:], m.dtype)

        def stage(carry, c):
            prev, prev2 = carry
            y = c[0] * prev + c[1] * prev2 + c[2] * m + c[3] * rhs(prev)[0] + c[4] * dtl0
            return (jax.lax.optimization_barrier(y), prev), None

        (ys, _), _ = jax.lax.scan(stage, (y1, m), coeffs)
        return ys

    advance = ssprk3 if method == "ssprk3" else rkl2

    def step_fn(state: GridState) -> GridState:
        m = advance(state.density)
        positive = state.positive & (jnp.min(m) >= -NEGATIVE_TOLERANCE * jnp.max(jnp.abs(m)))
        return GridState(m, state.t + dt, state.step + 1, positive)

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

    return init_fn, step_fn, jax.jit(observe_fn)  # jitted: a call outside run is one dispatch
