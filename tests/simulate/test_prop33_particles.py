"""C11, Prop 3.3 on particles: the chaos (ρ, H) system read on ρ = Σ p_i δ_{θ_i} is the
weighted gradient flow θ_i' = −(1/p_i) ∂G/∂θ_i, H_i' = −(1/p_i) ∂G/∂H_i, and the energy
drops by exactly the derived dissipation.

The particle ODE comes from the engine (`rho_h_particle_field`: the chaos system's velocity w
and −δG/δH evaluated on the discrete ρ and a Gauss–Legendre rule on D = [−1, 1], compiled by
mf.compile); the gradient comes from `jax.grad` of the particle energy written by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

import mfderive as mf
from mfderive.simulate.rho_h import ORDER, rho_h_particle_field

LAM = 0.1
P = [sp.Rational(1, 2), sp.Rational(3, 10), sp.Rational(1, 5)]
NODES, QW = np.polynomial.legendre.leggauss(8)

x, th = sp.symbols("x theta", real=True)
H = sp.Function("H", real=True)
rho, D = mf.Measure("rho", (th,)), mf.Data("D", (x,))
h = lambda t, xx: sp.exp(-((t - xx) ** 2))  # noqa: E731  Gaussian bump
G = mf.integral((mf.integral(H(th) * h(th, x), rho) - sp.sin(2 * x)) ** 2 / 2, D) + mf.integral(
    LAM / 2 * (H(th) ** 2 + th**2), rho
)


def derived_particle_ode():
    flow = mf.RhoHFlow(G, rho, H, "chaos")
    return rho_h_particle_field(flow, P, {D: ([float(v) for v in NODES], [float(v) for v in QW])})


def particle_energy(t, hh):
    p = jnp.array([float(v) for v in P])
    feat = jnp.exp(-((t[:, None] - NODES[None, :]) ** 2))
    fx = jnp.sum(p[:, None] * hh[:, None] * feat, axis=0)
    return 0.5 * jnp.sum(QW * (fx - jnp.sin(2 * NODES)) ** 2) + jnp.sum(p * LAM / 2 * (hh**2 + t**2))


def test_particle_ode_is_the_weighted_gradient_flow():
    ode = derived_particle_ode()
    p = np.array([float(v) for v in P])
    key = jax.random.PRNGKey(0)
    for k in jax.random.split(key, 3):
        t, hh = jax.random.normal(k, (2, len(P)))
        dt_, dh_ = ode(t, hh)
        gt, gh = jax.grad(particle_energy, argnums=(0, 1))(t, hh)
        np.testing.assert_allclose(dt_, -gt / p, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(dh_, -gh / p, rtol=1e-12, atol=1e-14)


def test_energy_drop_equals_integrated_dissipation():
    ode = derived_particle_ode()
    p = jnp.array([float(v) for v in P])

    def rhs(state):
        t, hh, _ = state
        dt_, dh_ = ode(t, hh)
        return dt_, dh_, jnp.sum(p * (dt_**2 + dh_**2))  # Prop 3.3: ∫|w|²ρ + ∫Q²ρ

    def rk4(state, _):
        dt = 1e-3
        add = lambda s, k, c: tuple(a + c * b for a, b in zip(s, k))  # noqa: E731
        k1 = rhs(state)
        k2 = rhs(add(state, k1, dt / 2))
        k3 = rhs(add(state, k2, dt / 2))
        k4 = rhs(add(state, k3, dt))
        return tuple(s + dt / 6 * (a + 2 * b + 2 * c + d) for s, a, b, c, d in zip(state, k1, k2, k3, k4)), None

    t0, h0 = jnp.array([-0.8, 0.1, 0.9]), jnp.array([0.5, -1.0, 1.5])
    (tT, hT, A), _ = jax.lax.scan(rk4, (t0, h0, jnp.array(0.0)), None, length=2000)  # T = 2
    drop = particle_energy(t0, h0) - particle_energy(tT, hT)
    assert drop > 0.01  # the energy really moves
    # RK4 with dt = 1e-3: global error O(dt^4) ~ 1e-12, far below the 1e-10 tolerance
    assert abs(float(drop - A)) < 1e-10


def test_transported_system_has_no_particle_reading():
    import pytest

    with pytest.raises(ValueError, match="gradient of H"):
        rho_h_particle_field(mf.RhoHFlow(G, rho, H, "transported"), P, {D: (list(NODES), list(QW))})


def test_rho_h_flow_records_the_energy_and_is_fourth_order():
    flow = mf.RhoHFlow(G, rho, H, "chaos")
    data = {D: ([float(v) for v in NODES], [float(v) for v in QW])}
    t0, h0 = jnp.array([-0.8, 0.1, 0.9]), jnp.array([0.5, -1.0, 1.5])
    init, step, obs = mf.rho_h_flow(flow, P, data, dt=1e-3)
    ref, tr = mf.run(step, init(t0, h0), 1000, obs, record_every=250)
    # the recorded energy is G of the engine on the particles; the hand-written energy agrees
    np.testing.assert_allclose(tr["energy"][-1], particle_energy(ref.theta, ref.h), rtol=1e-12)
    assert np.all(np.diff(tr["energy"]) < 0) and np.all(tr["dissipation"] > 0)
    errs, dts = [], [0.1, 0.05, 0.025]
    for dt in dts:  # dt lives in the state and one block of n steps: one compile for all
        n = int(round(1.0 / dt))
        st, _ = mf.run(step, init(t0, h0, dt=dt), n, record_every=n)
        errs.append(float(jnp.max(jnp.abs(st.theta - ref.theta)) + jnp.max(jnp.abs(st.h - ref.h))))
    # classical RK4: global error O(dt⁴) (the dt = 1e-3 reference is 10⁻⁸ of these errors)
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert abs(slope - ORDER) < 0.4, (slope, errs)
