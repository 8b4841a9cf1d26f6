r"""The separated and transported :math:`(\rho,H)` systems of Fernández-Real & Figalli (2022,
§3.2) on a :math:`\theta`-grid: finite volumes for :math:`\rho`, finite differences for
:math:`H`, SSP-RK3 in time.

With :math:`P = \frac{\delta G}{\delta\rho}` and :math:`Q = \frac{\delta G}{\delta H}` (the
:math:`L^2(\rho)` variation), both derived by the engine (:class:`~mfderive.RhoHFlow`),
and :math:`v = -\nabla P`:

.. math:: \text{separated (3.19):}\quad \partial_t\rho = \operatorname{div}(\rho\nabla P),
          \qquad \partial_t H = -Q,

.. math:: \text{transported (3.21)–(3.22):}\quad \partial_t\rho + \operatorname{div}(\rho v) = 0,
          \qquad \partial_t H + v\cdot\nabla H = -Q .

**Why a grid and not particles.**  In both systems the velocity :math:`v = -\nabla P`
contains :math:`\nabla H` (:math:`P` contains :math:`H(\theta)` pointwise: for (3.12),
:math:`P = H\bar{\mathcal L} + H\bar{\mathcal S} + \bar V(H, \theta)`), so particles carrying
values :math:`H_i` alone do not close.  For the *separated* system :math:`H` evolves at
every fixed :math:`\theta` of :math:`\Theta`, not along the flow of :math:`\rho`: a
particle's value obeys :math:`\frac{d}{dt}H(\theta_i) = -Q + \nabla H\cdot v`, so the ODE
:math:`\dot h_i = -Q(\theta_i)` with :math:`\dot\theta_i = v(\theta_i)` is the transported
system, not (3.19).  Carrying :math:`\nabla H` along characteristics does not close either:
:math:`\frac{d}{dt}\nabla H(\theta_i) = -(Dv)^{\mathsf T}\nabla H - \nabla Q` for the
transported system, and :math:`Dv = -D^2P` contains :math:`D^2H`, whose equation contains
:math:`D^3H`, and so on.  On a grid :math:`H` is a function on all of :math:`\Theta`
(also where :math:`\rho = 0`), which is what both systems need, and :math:`\nabla H` is a
finite difference.

**The scheme.**  On the cells :math:`C_j` (centres :math:`\xi_j`) the unknowns are the cell
averages :math:`m_j` of :math:`\rho` and the values :math:`H_j = H(\xi_j)`.  The grid
measure is the discrete measure :math:`\sum_j m_j|C|\delta_{\xi_j}` (the midpoint rule of
``mf.compile(..., grids=...)``), so the pair :math:`(\rho, H)` is the lifted measure
:math:`\sum_j m_j|C|\,\delta_{(\xi_j, H_j)}`, and :math:`P_j, Q_j` and :math:`G_h` are the
flow's expressions compiled on it (:func:`.lower.lifted_potentials`, the lifting of
:mod:`mfderive.simulate.rho_h` with the cell masses as weights).  Then

* :math:`\rho`: the positive finite volumes of :mod:`.finite_volume` (Carrillo, Chertock &
  Huang 2015) with the potential :math:`P_j` (face velocities :math:`-\Delta P/h`, minmod
  reconstruction, upwind flux, no flux through the boundary: mass conserved to rounding);
* :math:`H`: :math:`\dot H_j = -Q_j` (separated), or
  :math:`\dot H_j = -v_j\cdot(\nabla_h H)_j - Q_j` with :math:`v_j = -(\nabla_h P)_j`
  (transported), :math:`\nabla_h` the second-order differences of
  :func:`mfderive.grids.gradient` (central, one-sided at the boundary);
* SSP-RK3 in time (order 3 in :math:`\Delta t`, :data:`TIME_ORDER`).

:math:`H` needs no boundary condition for the separated system (an ODE at every cell).  For
the transported one no inflow value is imposed: where :math:`v` enters the box the one-sided
differences extrapolate :math:`H`, which is harmless while :math:`\rho` vanishes near the
boundary (information enters along the same characteristics that carry :math:`\rho`).  The
step limit :math:`\Delta t\max|v|/h \le 1` checked at ``init`` also keeps the central
advection of :math:`H` inside SSP-RK3's stability interval (:math:`\le\sqrt3`).

The accuracy is second order in :math:`h` for smooth solutions (:data:`ORDER`, measured
with :math:`\Delta t \propto h`).  Since :math:`P_j = \partial G_h/\partial m_j/|C|` and
:math:`Q_j = \partial G_h/\partial H_j/(m_j|C|)` exactly, the semi-discrete energy obeys
:math:`\frac{d}{dt}G_h = |C|\sum_j(P_j\dot m_j + m_jQ_j\dot H_j)` (recorded as
``energy_rate``), which for the separated system is exactly :math:`-D_h`, the discrete form
of Fernández-Real & Figalli's rate :math:`\int|\nabla P|^2\rho + \int Q^2\rho` (recorded as
``dissipation``): along a run the identity holds to the time integrator's order.  For the
transported system ``energy_rate`` :math:`= -D_h - |C|\sum_j m_jQ_j\,v_j\cdot(\nabla_hH)_j`,
and the extra term can make :math:`G` increase (their remark after (3.22)).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from ..derive.integrals import LocalIntegral
from ..errors import CompileError, GridError, NotAFlowError, StepSizeError
from ..flows.rho_h import RhoHFlow
from ..grids import Grid, gradient
from .finite_volume import NEGATIVE_TOLERANCE, TRANSPORT_LIMIT, _minmod_parameter, fv_rhs
from .inputs import float_array, time_step
from .lower import lifted_potentials

__all__ = ["ORDER", "TIME_ORDER", "RhoHGridState", "rho_h_grid_flow"]

#: order of accuracy in the cell size ``h`` for smooth solutions (with ``dt ∝ h``)
ORDER = 2
#: order of the SSP-RK3 step in ``dt`` (global error)
TIME_ORDER = 3
#: mass of the initial density: within ``max(MASS_TOLERANCE, size·eps)`` of 1 (the nonlocal
#: terms are derived for a probability measure; ``eps`` of the density's float type)
MASS_TOLERANCE = 1e-9


@jax.tree_util.register_dataclass
@dataclass
class RhoHGridState:
    """Cell averages ``density`` of ρ and values ``H`` at the cell centres (both of the grid's
    shape), the time, the step count, and ``positive`` (False from the first step with a
    density below ``-1e-12·max m``; :func:`mfderive.run` stops there)."""

    density: jax.Array
    H: jax.Array
    t: jax.Array
    step: jax.Array
    positive: jax.Array

    def admissible(self):
        return self.positive


def _check(flow, grid):
    if not isinstance(flow, RhoHFlow):
        raise NotAFlowError(f"rho_h_grid_flow needs a mf.RhoHFlow, got {type(flow).__name__}")
    if flow.variant not in ("separated", "transported"):
        raise NotAFlowError(
            f"rho_h_grid_flow simulates the 'separated' and 'transported' systems; the "
            f"{flow.variant!r} one has a particle reading: use mf.rho_h_flow"
        )
    if not isinstance(grid, Grid):
        raise GridError(f"grid must be a mfderive Grid, got {type(grid).__name__}")
    if flow.energy.atoms(LocalIntegral):
        raise CompileError(
            f"G has a local term (entropy, integral of the density) of {flow.rho.name!r}; "
            f"rho_h_grid_flow compiles nonlocal energies only"
        )
    if grid.dim != flow.rho.dim:
        raise GridError(f"the grid has {grid.dim} axes; {flow.rho.name!r} has {flow.rho.dim} variables")


def rho_h_grid_flow(flow: RhoHFlow, grid: Grid, data=None, dt=1e-3, theta=1.5):
    r"""``(init_fn, step_fn, observe_fn)`` of the separated (3.19) or transported
    (3.21)–(3.22) :math:`(\rho,H)` system of Fernández-Real & Figalli (2022) on ``grid``
    (see the module docstring for the scheme and why a grid).

    Parameters
    ----------
    flow : RhoHFlow, variant ``"separated"`` or ``"transported"``; :math:`G` without local
        terms of :math:`\rho` and with numbers for its parameters
    grid : Grid over :math:`\rho`'s variables (no-flux boundary on its box; :math:`H` is
        defined on all of it)
    data : ``{Data: (points, weights)}`` for the fixed measures :math:`G` integrates against
    dt : the time step (SSP-RK3); ``init_fn`` refuses one above the transport limit
        :math:`\Delta t\sum_k\max|\Delta_k P|/h_k^2 \le 1` for the initial state
        (:class:`~mfderive.simulate.StepSizeError` naming the largest stable one)
    theta : the minmod parameter in [1, 2] of the density's reconstruction

    ``init_fn(density, H)`` → :class:`RhoHGridState` (finite arrays of the grid's shape, a
    non-negative density of mass 1, else :class:`~mfderive.GridError`);
    ``observe_fn(state)`` → dict with ``energy`` :math:`G_h`, ``dissipation``
    :math:`D_h + |C|\sum_j m_jQ_j^2` (the rate :math:`\int|\nabla P|^2\rho + \int Q^2\rho`
    the identity predicts), ``energy_rate`` (the semi-discrete :math:`\frac{d}{dt}G_h`),
    ``mass``, ``min_density`` and ``cfl``.

    >>> import jax.numpy as jnp, sympy as sp, mfderive as mf
    >>> th = sp.Symbol("theta", real=True); rho = mf.Measure("rho", (th,)); H = sp.Function("H")
    >>> G = mf.integral((H(th) - sp.sin(th))**2 / 2 + th**2 / 2, rho)
    >>> g = mf.Grid(-4, 4, 40)
    >>> init, step, obs = rho_h_grid_flow(mf.RhoHFlow(G, rho, H, "separated"), g, dt=0.01)
    >>> m0 = g.gaussian([0.0], [0.5]); m0 = m0 / g.integrate(m0)
    >>> s = init(m0, jnp.sin(g.axes[0]) + g.axes[0])
    >>> o = obs(step(s)); bool(abs(o["energy_rate"] + o["dissipation"]) <= 1e-5 * o["dissipation"])
    True
    """
    _check(flow, grid)
    dt, theta = time_step(dt), _minmod_parameter(theta)
    lowered = lifted_potentials(flow, grid.size, data)
    transported = flow.variant == "transported"
    centres = jnp.asarray(grid.centres)
    dim = grid.dim

    def potentials(m, H):
        atoms = jnp.concatenate([centres.astype(H.dtype), jnp.reshape(H, (-1, 1))], axis=1)
        out = lowered.potentials(atoms, jnp.ravel(m) * grid.vol)
        return jnp.reshape(out[:, 0], grid.shape), jnp.reshape(out[:, 1], grid.shape)

    def energy(m, H):
        atoms = jnp.concatenate([centres.astype(H.dtype), jnp.reshape(H, (-1, 1))], axis=1)
        return lowered.energy(atoms, jnp.ravel(m) * grid.vol)

    def rhs(m, H):
        P, Q = potentials(m, H)
        dm, diss, umax = fv_rhs(m, P, grid, theta)
        dH = -Q
        if transported:  # dH/dt = -v·grad H - Q with v = -grad P
            dH = dH + sum(gradient(P, grid, k) * gradient(H, grid, k) for k in range(dim))
        return dm, dH, P, Q, diss, umax

    def init_fn(density, H):
        m = float_array(grid.check(density, "the initial density"), "the initial density")
        h = float_array(grid.check(H, "the initial H"), "the initial H")
        for what, a in (("density", m), ("H", h)):
            if a.shape != grid.shape:
                raise GridError(f"the initial {what} has shape {a.shape}; the grid has shape {grid.shape}")
        dtype = jnp.result_type(m, h)
        m, h = m.astype(dtype), h.astype(dtype)
        mn = float(jnp.min(m))
        if mn < 0:
            raise GridError(f"the initial density must be non-negative; its minimum is {mn:g}")
        mass = float(grid.integrate(m))
        if abs(mass - 1) > max(MASS_TOLERANCE, grid.size * float(jnp.finfo(dtype).eps)):
            raise GridError(
                f"the initial density has mass {mass:.12g}; rho is a probability measure "
                f"(the first variations are derived for one): divide it by its mass"
            )
        P, _ = potentials(m, h)
        rate = sum(float(jnp.max(jnp.abs(jnp.diff(P, axis=k)))) / hk**2 for k, hk in enumerate(grid.h))
        dt_max = TRANSPORT_LIMIT / rate if rate > 0 else float("inf")
        if dt > dt_max * (1 + 1e-9):
            raise StepSizeError(
                f"dt = {dt:g} is above the transport limit dt·sum_k max|u_k|/h_k <= "
                f"{TRANSPORT_LIMIT:g} of the explicit scheme for this initial state (u = -grad "
                f"dG/drho at the faces, h = {', '.join(f'{v:.4g}' for v in grid.h)}): the largest "
                f"stable dt is {dt_max:.6g}"
            )
        return RhoHGridState(m, h, jnp.zeros((), dtype), jnp.zeros((), jnp.int32), jnp.array(True))

    def step_fn(s: RhoHGridState) -> RhoHGridState:
        m, H = s.density, s.H
        dm, dH = rhs(m, H)[:2]
        m1, H1 = m + dt * dm, H + dt * dH
        dm, dH = rhs(m1, H1)[:2]
        m2, H2 = 0.75 * m + 0.25 * (m1 + dt * dm), 0.75 * H + 0.25 * (H1 + dt * dH)
        dm, dH = rhs(m2, H2)[:2]
        m3, H3 = m / 3 + 2 / 3 * (m2 + dt * dm), H / 3 + 2 / 3 * (H2 + dt * dH)
        positive = s.positive & (jnp.min(m3) >= -NEGATIVE_TOLERANCE * jnp.max(jnp.abs(m3)))
        return RhoHGridState(m3, H3, s.t + dt, s.step + 1, positive)

    step_fn.failure = (
        f"the density became negative (a cell below -{NEGATIVE_TOLERANCE:g}·max m): dt = {dt:g} "
        f"is above the positivity limit dt·max|u|/h <= 1/(2·dim) for the velocity the run "
        f"reached (see trace['cfl']); take a smaller dt"
    )

    def observe_fn(s: RhoHGridState):
        m, H = s.density, s.H
        dm, dH, P, Q, diss, umax = rhs(m, H)
        vol = grid.vol
        return {
            "energy": energy(m, H),
            "dissipation": diss + vol * jnp.sum(m * Q**2),
            "energy_rate": vol * (jnp.sum(P * dm) + jnp.sum(m * Q * dH)),
            "mass": grid.integrate(m),
            "min_density": jnp.min(m),
            "cfl": dt * umax / min(grid.h),
        }

    return init_fn, step_fn, jax.jit(observe_fn)  # jitted: a call outside run is one dispatch
