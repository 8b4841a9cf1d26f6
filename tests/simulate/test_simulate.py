"""Particle simulators: OU statistics with the measured Monte-Carlo rate, gradient descent
= WGF of the empirical measure, reproducibility, the NaN guard."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import mfderive as mf
from mfderive import particle_flow, run
from mfderive.simulate.particles import MONTE_CARLO_ORDER, ORDER

u = sp.Symbol("u", real=True)
mu = mf.Measure("mu", (u,))
a, s = sp.symbols("a sigma", positive=True)
A, SIG, DT, STEPS, X0 = 1.5, 0.5, 1e-2, 100, 2.0
OU = mf.WassersteinFlow(mf.integral(a * u**2 / 2, mu), mu, noise=s)


def em_moments(steps):
    """Exact mean and variance of the Euler–Maruyama chain X ← (1 − a dt) X + σ √dt ξ."""
    m, v = X0, 0.0
    for _ in range(steps):
        m, v = (1 - A * DT) * m, (1 - A * DT) ** 2 * v + SIG**2 * DT
    return m, v


def test_ou_particles_match_moments_with_monte_carlo_rate():
    init, step, _ = particle_flow(OU, values={a: A, s: SIG}, dt=DT)
    m_ex, v_ex = em_moments(STEPS)
    Ns, errs = [500, 2000, 8000, 32000], []
    for N in Ns:
        e = []
        for seed in range(32):
            st, _ = run(step, init(jnp.full(N, X0), jax.random.PRNGKey(seed)), STEPS)
            e.append(float(st.particles.mean()) - m_ex)
        errs.append(np.sqrt(np.mean(np.square(e))))
    slope = np.polyfit(np.log(Ns), np.log(errs), 1)[0]
    # RMS error of the mean = sqrt(v/N): slope −1/2 (32 seeds: sampling spread of the slope ≈ 0.06)
    assert abs(slope - MONTE_CARLO_ORDER) < 0.15, (slope, errs)
    assert abs(errs[-1] - np.sqrt(v_ex / Ns[-1])) < 0.5 * np.sqrt(v_ex / Ns[-1])
    st, _ = run(step, init(jnp.full(40000, X0), jax.random.PRNGKey(99)), STEPS)
    var = float(st.particles.var())
    assert abs(var - v_ex) < 4 * v_ex * np.sqrt(2 / 40000)  # 4 standard errors of a variance


def test_euler_maruyama_moments_converge_to_ou_at_order_one():
    # deterministic: the scheme's variance at T = 1 against the exact OU variance
    errs = []
    for n in (50, 100, 200, 400):
        dt = 1.0 / n
        v = 0.0
        for _ in range(n):
            v = (1 - A * dt) ** 2 * v + SIG**2 * dt
        errs.append(abs(v - SIG**2 / (2 * A) * (1 - np.exp(-2 * A))))
    slope = np.polyfit(np.log([1 / 50, 1 / 100, 1 / 200, 1 / 400]), np.log(errs), 1)[0]
    assert abs(slope - ORDER) < 0.05


def test_deterministic_flow_is_gradient_descent_on_particles(nn):
    """σ = 0: one step is X_i − dt·N ∇_{X_i} F(μ_N) with F(μ_N) written by hand in jnp."""
    xs, q = jnp.linspace(-1, 1, 5), jnp.full(5, 0.2)
    init, step, observe = particle_flow(mf.WassersteinFlow(nn.F, nn.mu), data={nn.nu: (xs, q)}, dt=0.05)
    X = jax.random.normal(jax.random.PRNGKey(3), (16, 3))

    def F_N(P):
        f = jnp.mean(P[:, :1] * jnp.tanh(P[:, 1:2] * xs[None] + P[:, 2:3]), axis=0)
        return 0.5 * jnp.sum(q * (f - jnp.sin(xs)) ** 2) + 0.01 * jnp.mean(jnp.sum(P**2, 1))

    st = step(init(X, jax.random.PRNGKey(0)))
    np.testing.assert_allclose(st.particles, X - 0.05 * 16 * jax.grad(F_N)(X), rtol=1e-12, atol=1e-14)
    # the energy decreases and the recorded dissipation is the mean squared velocity
    _, tr = run(step, init(X, jax.random.PRNGKey(0)), 200, observe, record_every=20)
    assert np.all(np.diff(tr["energy"]) < 0)
    e, dis = observe(init(X, jax.random.PRNGKey(0)))
    assert abs(e - F_N(X)) < 1e-14 and abs(dis - jnp.mean(jnp.sum((16 * jax.grad(F_N)(X)) ** 2, 1))) < 1e-12


def test_same_key_same_result_and_nan_guard():
    init, step, obs = particle_flow(OU, values={a: A, s: SIG}, dt=DT)
    r1, _ = run(step, init(jnp.zeros(100), jax.random.PRNGKey(7)), 50)
    r2, _ = run(step, init(jnp.zeros(100), jax.random.PRNGKey(7)), 50, progress=True)
    assert np.array_equal(np.asarray(r1.particles), np.asarray(r2.particles))
    # snapshots on request: the recorded particles are the state at each record
    init_s, step_s, obs_s = particle_flow(OU, values={a: A, s: SIG}, dt=DT, snapshots=True)
    r3, tr = run(step_s, init_s(jnp.zeros(100), jax.random.PRNGKey(7)), 50, obs_s, record_every=25)
    assert tr["particles"].shape == (2, 100, 1) and np.array_equal(tr["particles"][-1], np.asarray(r1.particles))
    init, step, obs = particle_flow(OU, values={a: A, s: SIG}, dt=3.0)
    with pytest.raises(mf.SimulationError, match="smaller dt"):
        run(step, init(jnp.full(10, 1.0), jax.random.PRNGKey(0)), 1000, obs, record_every=10)


def test_heat_regularised_energy_runs_with_entropy_as_noise():
    """F + τ Ent (Fernández-Real & Figalli 2022, (4.2)): the particles get noise √(2τ); the recorded energy is F."""
    tau = sp.Symbol("tau", positive=True)
    flow = mf.WassersteinFlow(mf.integral(a * u**2 / 2, mu) + tau * mf.entropy(mu), mu)
    init, step, obs = particle_flow(flow, values={a: A, tau: SIG**2 / 2}, dt=DT)
    ref_init, ref_step, _ = particle_flow(OU, values={a: A, s: SIG}, dt=DT)
    st, tr = run(step, init(jnp.full(50, X0), jax.random.PRNGKey(1)), 20, obs, record_every=10)
    ref, _ = run(ref_step, ref_init(jnp.full(50, X0), jax.random.PRNGKey(1)), 20)
    np.testing.assert_allclose(st.particles, ref.particles, rtol=1e-12)
    assert abs(tr["energy"][-1] - float(jnp.mean(A * st.particles**2 / 2))) < 1e-12
