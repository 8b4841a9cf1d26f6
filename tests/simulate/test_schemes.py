"""The schemes driven by fields written by hand (no flow, no code generation): each scheme
is a function of callables (mfderive.simulate.lower makes them from a flow), so its order can
be measured on an equation with a known solution, and compared with the order it declares.

* Euler–Maruyama on the OU drift b(x) = −x: the particles' mean decays like e^{−t}
  (within a stated Monte-Carlo tolerance), and with σ = 0 the error at T = 1 has the
  declared weak order in dt;
* finite volumes with the hand-written OU potential ξ = x²/2 + ½ log m reproduce the
  steps of grid_flow on the same flow (the seam is the only difference);
* RK4 on θ' = −θ, h' = −h has the declared order in dt."""

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

import mfderive as mf
from mfderive.simulate import finite_volume, particles, rho_h
from mfderive.simulate.finite_volume import finite_volumes
from mfderive.simulate.lower import GridPotential
from mfderive.simulate.particles import euler_maruyama
from mfderive.simulate.rho_h import rk4


def ou_drift(X, w):
    return -X


def slope(steps, errs):
    return np.polyfit(np.log(steps), np.log(errs), 1)[0]


def test_euler_maruyama_with_a_hand_written_ou_drift_decays_like_exp_minus_t():
    X0, SIG, DT, N, STEPS = 2.0, 0.5, 1e-2, 40000, 100
    init, step, _ = euler_maruyama(ou_drift, lambda X, w: jnp.mean(X**2) / 2, SIG, dt=DT)
    st, _ = mf.run(step, init(jnp.full(N, X0), jax.random.PRNGKey(0)), STEPS)
    T = STEPS * DT
    # the chain's variance is at most σ²/2 (the OU variance), so the standard error of the
    # mean of N particles is at most σ/√(2N) = 1.8e-3; the weak error of the scheme at T,
    # X0|(1 − dt)^n − e^{−T}| ≤ X0·T·dt·e^{−T}/(1 − dt) = 7.4e-3, is added to 4 of them
    tolerance = 4 * SIG / np.sqrt(2 * N) + X0 * T * DT * np.exp(-T) / (1 - DT)
    assert abs(float(st.particles.mean()) - X0 * np.exp(-T)) < tolerance
    assert abs(float(st.t) - T) < 1e-12 and int(st.step) == STEPS


def test_euler_maruyama_has_its_declared_weak_order():
    # σ = 0: the mean is deterministic, X0 (1 − dt)^n, against X0 e^{−1} at T = 1
    dts, errs = [0.1, 0.05, 0.025, 0.0125], []
    for dt in dts:
        init, step, _ = euler_maruyama(ou_drift, lambda X, w: 0.0, 0.0, dt=dt)
        st, _ = mf.run(step, init(jnp.ones(4), 0), round(1 / dt))
        errs.append(abs(float(st.particles[0, 0]) - np.exp(-1)))
    assert abs(slope(dts, errs) - particles.ORDER) < 0.05, errs


def test_finite_volumes_with_a_hand_written_potential_are_grid_flow():
    x = sp.Symbol("x", real=True)
    mu = mf.Measure("mu", (x,))
    flow = mf.WassersteinFlow(mf.integral(x**2 / 2, mu), mu, noise=sp.Integer(1))
    g = mf.Grid(-5, 5, 100)
    V = jnp.asarray(g.centres)[:, 0] ** 2 / 2
    hand = GridPotential(
        potential=lambda m: V + 0.5 * (jnp.log(m) + 1),
        energy=lambda m: g.integrate(V * m + 0.5 * m * jnp.log(m)),
        limits=lambda m: (V, jnp.full_like(m, 0.5)),
        positive=True,
        probability=False,
    )
    dt = 0.4 * g.h[0] ** 2 / 0.5
    m0 = g.gaussian([1.0], [0.25])
    init_h, step_h, obs_h = finite_volumes(hand, g, dt=dt)
    init_f, step_f, obs_f = mf.grid_flow(flow, g, dt=dt)
    st_h, tr_h = mf.run(step_h, init_h(m0), 200, obs_h, record_every=100)
    st_f, tr_f = mf.run(step_f, init_f(m0), 200, obs_f, record_every=100)
    np.testing.assert_allclose(st_h.density, st_f.density, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tr_h["dissipation"], tr_f["dissipation"], rtol=1e-11)
    np.testing.assert_allclose(tr_h["energy"], tr_f["energy"], rtol=1e-12)
    assert finite_volume.ORDER == 2


def test_rk4_with_a_hand_written_field_has_its_declared_order():
    th0, h0 = jnp.array([1.0, -0.5]), jnp.array([2.0, 0.3])
    decay = lambda th, h: (-th, -2 * h)  # θ(t) = θ0 e^{−t}, h(t) = h0 e^{−2t}
    init, step, _ = rk4(decay, lambda th, h: jnp.sum(th**2 + h**2), jnp.array([0.5, 0.5]), 1)
    dts, errs = [0.2, 0.1, 0.05], []
    for dt in dts:
        n = round(1 / dt)
        st, _ = mf.run(step, init(th0, h0, dt=dt), n, record_every=n)
        errs.append(float(jnp.max(jnp.abs(st.theta - th0 * np.exp(-1))) + jnp.max(jnp.abs(st.h - h0 * np.exp(-2)))))
    assert abs(slope(dts, errs) - rho_h.ORDER) < 0.2, errs
