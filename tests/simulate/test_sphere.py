"""Particles of a measure on S^1 x R (a ReLU network, direction theta and magnitude r):
the retracted Euler scheme of mf.particle_flow against expectations written here by hand
(jax.grad of the particle energy, projected with (I - theta theta^T); scipy's DOP853 on
the hand-written Riemannian field), and the S^{d-1} x R against the Euclidean
parameterisation (claim C13.4)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp

import mfderive as mf
from mfderive.derive.domains import Reals, Sphere
from mfderive.errors import SimulationInputError
from mfderive.simulate.lower import particle_constraint, particle_drift
from mfderive.simulate.manifolds import ORDER as RETRACTED_ORDER
from mfderive.simulate.particles import ORDER, euler_maruyama, particle_flow

# symbol names unique to this file (the measure registry is global)
T1, T2, R = sp.symbols("sph_t1 sph_t2 sph_r", real=True)
U, B = sp.symbols("sph_u sph_b", real=True)
W1, W2, A = sp.symbols("sph_w1 sph_w2 sph_a", real=True)

MU = mf.Measure("sph_mu", (T1, T2, R), domain=Sphere(2) * Reals(1))
NU = mf.Data("sph_nu", (U, B))
MU_E = mf.Measure("sph_mu_e", (W1, W2, A))

M = 16
XS = np.column_stack([np.linspace(-1.0, 1.0, M), np.ones(M)])  # inputs (u, 1): bias in theta
QS = np.full(M, 1.0 / M)
YS = np.abs(XS[:, 0]) - 0.3  # the target |u| - 0.3 = relu(u) + relu(-u) - 0.3
LAM = 0.05


def _target(u):
    return sp.Abs(u) - sp.Rational(3, 10)


def _flow(lam=LAM):
    f = mf.integral(R * sp.Max(0, T1 * U + T2 * B), MU)
    F = mf.integral((f - _target(U)) ** 2 / 2, NU) + lam * mf.integral(R**2, MU)
    return mf.WassersteinFlow(F, MU)


FLOW = _flow()
DATA = {NU: (jnp.asarray(XS), jnp.asarray(QS))}


@functools.lru_cache(maxsize=None)
def _lowered():
    """The flow's compiled drift, energy and noise (compiled once for the file)."""
    return particle_drift(FLOW, DATA)


def _energy(Z, lam=LAM):
    """F(mu_N) with mu_N = (1/N) sum_i delta_{Z_i}, written by hand."""
    th, r = Z[:, :2], Z[:, 2]
    f = jnp.mean(r[:, None] * jnp.maximum(0.0, th @ jnp.asarray(XS).T), axis=0)
    return jnp.sum(jnp.asarray(QS) * (f - jnp.asarray(YS)) ** 2) / 2 + lam * jnp.mean(r**2)


def _riemannian_field(Z, lam=LAM):
    """-N (I - theta theta^T / |theta|^2) grad_theta, -N grad_r of the particle energy."""
    g = Z.shape[0] * jax.grad(_energy)(Z, lam)
    th = Z[:, :2]
    gt = g[:, :2] - th * (jnp.sum(th * g[:, :2], axis=1) / jnp.sum(th * th, axis=1))[:, None]
    return -jnp.column_stack([gt, g[:, 2]])


def _particles(n, seed):
    rng = np.random.default_rng(seed)
    th = rng.normal(size=(n, 2))
    th /= np.linalg.norm(th, axis=1, keepdims=True)
    return np.column_stack([th, 0.5 * rng.normal(size=n)])


def test_drift_is_projected_jax_grad_of_particle_energy():
    drift, energy, sigma = _lowered()
    Z = jnp.asarray(_particles(12, 0))
    w = jnp.full(12, 1 / 12)
    assert sigma == 0.0
    np.testing.assert_allclose(float(energy(Z, w)), float(_energy(Z)), rtol=1e-13)
    got, want = np.asarray(drift(Z, w)), np.asarray(_riemannian_field(Z))
    # same float64 sums in another order: agreement to ~1e-15 relative, 1e-12 allowed
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    # tangent: theta . b_theta = 0, and the plain Euclidean gradient is not
    assert np.max(np.abs(np.sum(np.asarray(Z[:, :2]) * got[:, :2], axis=1))) < 1e-14
    eu = -12 * np.asarray(jax.grad(_energy)(Z))
    assert np.max(np.abs(np.sum(np.asarray(Z[:, :2]) * eu[:, :2], axis=1))) > 1e-3


def test_particles_stay_on_the_sphere_and_energy_decreases():
    init, step, observe = particle_flow(FLOW, data=DATA, dt=0.05, snapshots=True)
    Z0 = _particles(12, 1)
    state, trace = mf.run(step, init(Z0, 0), 400, observe, record_every=1)
    P = np.asarray(trace["particles"])
    dev = np.abs(np.linalg.norm(P[:, :, :2], axis=2) - 1)
    # each step renormalises in float64: |theta| = 1 within a few eps (2.2e-16), no growth
    assert dev.max() < 1e-14
    E = np.asarray(trace["energy"])
    # gradient descent with a second-order retraction at a small step: E decreases at
    # every step (up to float rounding, 1e-15 of E ~ 0.05), and by a good fraction overall
    assert np.all(np.diff(E) <= 1e-15)
    assert E[-1] < 0.5 * E[0]
    # without the retraction the same Euler steps leave the sphere at order dt^2 per step
    Z = jax.lax.fori_loop(0, 400, lambda _, z: z + 0.05 * _riemannian_field(z), jnp.asarray(Z0))
    assert np.max(np.abs(np.linalg.norm(np.asarray(Z[:, :2]), axis=1) - 1)) > 1e-4


def test_init_rejects_particles_off_the_sphere():
    init, _, _ = particle_flow(FLOW, data=DATA, dt=0.05)
    Z = _particles(5, 2)
    init(Z, 0)  # on the sphere: accepted
    bad = Z.copy()
    bad[3, :2] *= 1 + 1e-9
    with pytest.raises(SimulationInputError, match="off the sphere"):
        init(bad, 0)
    bad = Z.copy()
    bad[0, :2] = 0.0
    with pytest.raises(SimulationInputError, match="particle 0"):
        init(bad, 0)


def test_projected_euler_is_order_one():
    """Global error at T of the retracted Euler scheme against scipy's DOP853 (rtol 1e-12)
    on the hand-written Riemannian field; the fitted log-log slope is the order."""
    T, n = 0.6, 8
    Z0 = _particles(n, 3)
    field = jax.jit(_riemannian_field)

    def rhs(_, z):
        return np.asarray(field(jnp.asarray(z.reshape(n, 3)))).ravel()

    ref = solve_ivp(rhs, (0, T), Z0.ravel(), method="DOP853", rtol=1e-12, atol=1e-12).y[:, -1]
    ref = ref.reshape(n, 3)
    # the exact flow stays on the sphere: a check of the reference itself
    assert np.max(np.abs(np.linalg.norm(ref[:, :2], axis=1) - 1)) < 1e-9
    dts, errs = [0.04, 0.02, 0.01, 0.005], []
    constraint = particle_constraint(FLOW)
    for dt in dts:  # the scheme of particle_flow, on the drift compiled once
        init, step, _ = euler_maruyama(*_lowered(), dt=dt, constraint=constraint)
        state, _ = mf.run(step, init(Z0, 0), int(round(T / dt)))
        errs.append(np.max(np.abs(np.asarray(state.particles) - ref)))
    slope = np.polyfit(np.log(dts), np.log(errs), 1)[0]
    assert RETRACTED_ORDER == ORDER == 1
    # order 1 +- 0.2: the constant in dt^1 varies a little at these coarse steps
    print(f"retracted Euler: dt {dts}, errors {errs}, slope {slope:.3f}")
    assert abs(slope - RETRACTED_ORDER) < 0.2, (slope, errs)
    assert errs[-1] < 1e-2


def test_sphere_and_euclidean_parameterisations_differ():
    """C13.4: one network function, two parameterisations (w, a) in R^2 x R and
    (theta, r) = (w/|w|, |w| a) in S^1 x R; same output, different gradient fields, different
    trajectories, both decreasing the risk."""
    f_e = mf.integral(A * sp.Max(0, W1 * U + W2 * B), MU_E)
    risk_e = mf.integral((f_e - _target(U)) ** 2 / 2, NU)
    flow_e = mf.WassersteinFlow(risk_e, MU_E)
    flow_s = _flow(lam=0)
    rng = np.random.default_rng(4)
    n = 10
    W, a = rng.normal(size=(n, 2)), 0.5 * rng.normal(size=n)
    nw = np.linalg.norm(W, axis=1)
    Ze = np.column_stack([W, a])
    Zs = np.column_stack([W / nw[:, None], nw * a])
    ones = jnp.full(n, 1 / n)
    de, ee, _ = particle_drift(flow_e, DATA)
    ds, es, _ = particle_drift(flow_s, DATA)
    # same network, same risk at the start
    assert abs(float(ee(jnp.asarray(Ze), ones)) - float(es(jnp.asarray(Zs), ones))) < 1e-14

    def outputs(th, r):
        return np.mean(r[:, None] * np.maximum(0, th @ XS.T), axis=0)

    # the Euclidean velocity (w', a') seen in the (theta, r) chart against the sphere velocity
    be, bs = np.asarray(de(jnp.asarray(Ze), ones)), np.asarray(ds(jnp.asarray(Zs), ones))
    th = Zs[:, :2]
    wdot, adot = be[:, :2], be[:, 2]
    thdot = (wdot - th * np.sum(th * wdot, axis=1, keepdims=True)) / nw[:, None]
    rdot = adot * nw + a * np.sum(th * wdot, axis=1)
    chart = np.column_stack([thdot, rdot])
    gap = np.max(np.abs(chart - bs)) / np.max(np.abs(bs))
    assert gap > 0.1, gap  # different gradients (not a rounding difference)

    dt, steps = 0.02, 300
    ie, se, oe = particle_flow(flow_e, data=DATA, dt=dt, snapshots=True)
    is_, ss, os_ = particle_flow(flow_s, data=DATA, dt=dt, snapshots=True)
    _, te = mf.run(se, ie(Ze, 0), steps, oe, record_every=steps // 3)
    _, ts = mf.run(ss, is_(Zs, 0), steps, os_, record_every=steps // 3)
    Ee, Es = np.asarray(te["energy"]), np.asarray(ts["energy"])
    assert np.all(np.diff(Ee) < 0) and np.all(np.diff(Es) < 0)  # both decrease the risk
    Pe, Ps = np.asarray(te["particles"][-1]), np.asarray(ts["particles"][-1])
    fe = outputs(Pe[:, :2], Pe[:, 2])
    fs = outputs(Ps[:, :2], Ps[:, 2])
    # the two trained networks differ by much more than the O(dt) of either scheme
    print(f"C13.4: velocity gap {gap:.3f}, risks {Ee[-1]:.4g} (R^2 x R) {Es[-1]:.4g} (S^1 x R), "
          f"max output gap {np.max(np.abs(fe - fs)):.3g}")
    assert np.max(np.abs(fe - fs)) > 1e-2, np.max(np.abs(fe - fs))
