"""WFR birth–death particles (Rotskoff, Jelassi, Bruna & Vanden-Eijnden 2019) and mean-field ascent–descent for zero-sum games.

Expectations written independently of the engine: the Gaussian solution of the WFR flow for
F = ∫x²/2 (its mean and variance solve an ODE derived by hand below, integrated by SciPy),
``jax.grad`` of a hand-written two-player particle loss, and the exact exponential-weights
update."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
from scipy.integrate import solve_ivp

import mfderive as mf
from mfderive.simulate.ascent_descent import averaged_nash_gap

x, y = sp.symbols("x y", real=True)
mu = mf.Measure("mu", (x,))
al = sp.Symbol("alpha", positive=True)


def wfr_gaussian(alpha, m0, v0, T):
    """∂μ = div(μ x) − α(x²/2 − E x²/2)μ keeps N(m, v): transport gives m' = −m, v' = −2v;
    the reaction multiplies by exp(−α t x²/2), raising the precision at rate α and keeping
    m/v fixed, so m' = −m(1 + αv), v' = −2v − αv²."""
    sol = solve_ivp(lambda t, z: [-z[0] * (1 + alpha * z[1]), -2 * z[1] - alpha * z[1] ** 2],
                    (0, T), [m0, v0], rtol=1e-12, atol=1e-12)
    return sol.y[:, -1]


def test_birth_death_particles_follow_the_wfr_gaussian():
    flow = mf.UnbalancedFlow(mf.integral(x**2 / 2, mu), mu, al)
    A, T, dt, N, seeds = 2.0, 1.0, 0.005, 20000, 8
    init, step, obs = mf.birth_death_flow(flow, values={al: A}, dt=dt)
    means, variances = [], []
    for seed in range(seeds):
        X0 = 1.0 + np.sqrt(0.5) * jax.random.normal(jax.random.PRNGKey(100 + seed), (N,))
        st, tr = mf.run(step, init(X0, jax.random.PRNGKey(seed)), int(T / dt), obs, record_every=50)
        assert st.particles.shape == (N, 1)  # the count is preserved
        means.append(float(st.particles.mean()))
        variances.append(float(st.particles.var()))
    assert np.all(np.diff(tr["energy"]) < 0)
    mT, vT = wfr_gaussian(A, 1.0, 0.5, T)
    m_pure, _ = wfr_gaussian(0.0, 1.0, 0.5, T)  # transport only: e^{-1} = 0.37 vs 0.26
    assert abs(m_pure - mT) > 0.1
    # Monte-Carlo error of the seed average (its spread across seeds, resampling included)
    # times 4, plus the O(dt) splitting bias (measured 1e-3 at dt = 0.02, shrinking with dt)
    se_m = np.std(means, ddof=1) / np.sqrt(seeds)
    se_v = np.std(variances, ddof=1) / np.sqrt(seeds)
    assert abs(np.mean(means) - mT) < 4 * se_m + 5e-4, (np.mean(means), mT, se_m)
    assert abs(np.mean(variances) - vT) < 4 * se_v + 5e-4, (np.mean(variances), vT, se_v)


def test_birth_death_step_only_copies_moved_particles():
    flow = mf.UnbalancedFlow(mf.integral(sp.cos(3 * x) + x**2, mu), mu, al)
    init, step, _ = mf.birth_death_flow(flow, values={al: 50.0}, dt=0.05)
    X = jax.random.normal(jax.random.PRNGKey(0), (200,))
    new = np.asarray(step(init(X, jax.random.PRNGKey(1))).particles[:, 0])
    moved = np.asarray(X - 0.05 * (-3 * jnp.sin(3 * X) + 2 * X))  # X − dt ∇V, V = cos 3x + x²
    # every particle is one of the moved ones; at this rate many were born or died
    assert np.all(np.min(np.abs(new[:, None] - moved[None, :]), axis=1) < 1e-12)
    assert len(np.unique(new)) < 190


mx, my = mf.Measure("mux", (x,)), mf.Measure("muy", (y,))
ELL = sp.cos(x - y) + sp.cos(2 * x) * sp.sin(y) / 2
GAME = mf.ZeroSumGame(mf.integral(mf.integral(ELL, my), mx), mx, my, al)


def hand_loss(X, a, Y, b):
    return jnp.sum(a[:, None] * b[None, :] * (jnp.cos(X[:, None] - Y[None, :]) + jnp.cos(2 * X[:, None]) * jnp.sin(Y[None, :]) / 2))


def test_game_pde_has_the_measure_inside_the_divergence():
    (ex, ey) = GAME.pde()
    m = mx.density(mf.flows.TIME, *GAME.px)
    div = ex.rhs.atoms(sp.Derivative)
    assert any(d.expr.has(m) for d in div)  # div(μ_x ∇V_x), not div(∇V_x) as in Bruna's MSML 2021 slides
    assert GAME.bilinear


def test_ascent_descent_step_is_the_particle_gradient_and_exponential_weights():
    A, dt = 0.7, 0.01
    init, step, _ = mf.ascent_descent(GAME, values={al: A}, dt=dt)
    X = jax.random.uniform(jax.random.PRNGKey(0), (7,)) * 6
    Y = jax.random.uniform(jax.random.PRNGKey(1), (5,)) * 6
    s0 = init(X, Y)
    s1 = step(s0)
    a, b = s0.wx, s0.wy
    gX, ga, gY, gb = jax.grad(hand_loss, argnums=(0, 1, 2, 3))(X, a, Y, b)
    # particle velocities: −(1/a_i)∂L/∂X_i (descent), +(1/b_j)∂L/∂Y_j (ascent)
    np.testing.assert_allclose(s1.x[:, 0], X - dt * gX / a, atol=1e-13)
    np.testing.assert_allclose(s1.y[:, 0], Y + dt * gY / b, atol=1e-13)
    # ∂L/∂a_i = V_x(X_i): exponential weights a_i e^{−α dt (V_i − V̄)}, normalised
    wa = a * np.exp(-A * dt * (ga - np.sum(a * ga)))
    wb = b * np.exp(A * dt * (gb - np.sum(b * gb)))
    np.testing.assert_allclose(s1.wx, wa / wa.sum(), atol=1e-14)
    np.testing.assert_allclose(s1.wy, wb / wb.sum(), atol=1e-14)


def test_time_averaged_strategies_approach_a_mixed_nash_equilibrium():
    probes = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    X0 = jax.random.uniform(jax.random.PRNGKey(0), (32,)) * 2 * np.pi
    Y0 = jax.random.uniform(jax.random.PRNGKey(1), (32,)) * 2 * np.pi
    gaps, last = {}, {}
    for A in (0.0, 1.0):
        init, step, obs = mf.ascent_descent(GAME, values={al: A}, dt=0.02, probes=(probes, probes))
        _, tr = mf.run(step, init(X0, Y0), 10000, obs, record_every=20)
        assert np.all(tr["nash_gap"] > -1e-12)  # NI ≥ 0 by definition
        gaps[A], last[A] = averaged_nash_gap(tr), tr["nash_gap"]
    # pure ascent–descent: the last iterate keeps cycling (gap > 0.1 to the end) while the
    # time average closes in, by 8x from t = 20 to t = 200 (measured 0.066 → 0.008)
    assert last[0.0][-250:].min() > 0.1
    assert gaps[0.0][49] > 0.03 and gaps[0.0][-1] < gaps[0.0][49] / 5, gaps[0.0][[49, -1]]
    # with birth–death (α = 1) the average is 3x closer at t = 20 (measured 0.021 vs 0.066)
    assert gaps[1.0][49] < gaps[0.0][49] / 2, (gaps[1.0][49], gaps[0.0][49])


def test_game_errors():
    with pytest.raises(mf.MfDeriveError, match="two different"):
        mf.ZeroSumGame(mf.integral(mf.integral(ELL, my), mx), mx, mx)
    with pytest.raises(ValueError, match="alpha"):
        mf.ascent_descent(GAME, dt=0.1)  # alpha left symbolic
