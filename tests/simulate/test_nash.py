"""The Nikaido–Isoda gap of non-bilinear games by inner Frank–Wolfe best responses (C17).

Expectations are independent of the engine: the pure-strategy gap of a bilinear game
(today's exact path), a hand-derived closed form for a quadratic game of the means, scipy's
SLSQP on a small discrete game, and the exact Euler contraction factor of the flow.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp
from scipy.optimize import minimize

import mfderive as mf
from mfderive.errors import SimulationInputError
from mfderive.simulate.ascent_descent import ascent_descent, averaged_nash_gap
from mfderive.simulate.lower import game_potentials
from mfderive.simulate.nash import nash_gap, nash_gap_of_fields

I = mf.integral
xn, yn = sp.symbols("x_nash y_nash", real=True)
aln = sp.Symbol("alpha_nash", nonnegative=True)
mx, my = mf.Measure("mux_nash", (xn,)), mf.Measure("muy_nash", (yn,))

# (a) the bilinear game of the C17 notebook on the torus
BIL = mf.ZeroSumGame(I(I(sp.cos(xn - yn) + sp.cos(2 * xn) * sp.sin(yn) / 2, my), mx), mx, my, aln)
TORUS = np.linspace(0, 2 * np.pi, 200, endpoint=False)


def test_bilinear_general_method_equals_the_exact_pure_strategy_gap():
    f = game_potentials(BIL, {aln: 0})
    X = jax.random.uniform(jax.random.PRNGKey(3), (9, 1)) * 6
    Y = jax.random.uniform(jax.random.PRNGKey(4), (7, 1)) * 6
    a, b = jnp.full(9, 1 / 9), jnp.full(7, 1 / 7)
    P = jnp.asarray(TORUS)[:, None]
    exact = float(jnp.max(f.vy_at(X, a, Y, b, P)) - jnp.min(f.vx_at(X, a, Y, b, P)))
    r = nash_gap_of_fields(f, X, a, Y, b, (P, P), iters=5)
    # linear in each own measure: the line search takes γ = 1 to the best pure strategy in one
    # step, so both bounds equal the exact gap up to rounding (1e-12 on O(1) values)
    assert exact > 0.1
    assert abs(float(r.lower) - exact) < 1e-12 and abs(float(r.upper) - exact) < 1e-12
    # a known equilibrium: uniform measures on 9 and 7 equispaced points make ∫cos(x − y')dμx,
    # ∫cos 2x dμx (n ≥ 3), ∫cos(x' − y)dμy and ∫sin y dμy vanish: every pure strategy is
    # indifferent, NI = 0
    U9 = jnp.arange(9.0)[:, None] * 2 * np.pi / 9 + 0.3
    U7 = jnp.arange(7.0)[:, None] * 2 * np.pi / 7 + 0.8
    r = nash_gap_of_fields(f, U9, a, U7, b, (P, P), iters=5)
    assert abs(float(r.lower)) < 1e-12 and abs(float(r.upper)) < 1e-12


# (b) a quadratic game of the means: L = m_x m_y + λ/2 m_x² − λ/2 m_y² + c₁ m_x − c₂ m_y
LAM, C1, C2 = 1.0, 0.5, -0.3
mxn, myn = I(xn, mx), I(yn, my)
QUAD = mf.ZeroSumGame(mxn * myn + LAM / 2 * mxn**2 - LAM / 2 * myn**2 + C1 * mxn - C2 * myn, mx, my, aln)
LINE = np.linspace(-3, 3, 61)


def closed_form_gap(m_x, m_y):
    """sup_m (m_x − c₂)m − λm²/2 = (m_x − c₂)²/(2λ), inf_m (m_y + c₁)m + λm²/2 = −(m_y + c₁)²/(2λ),
    by hand (interior best responses: |m*| ≤ 3, the probes' range)."""
    sup = LAM / 2 * m_x**2 + C1 * m_x + (m_x - C2) ** 2 / (2 * LAM)
    inf = -LAM / 2 * m_y**2 - C2 * m_y - (m_y + C1) ** 2 / (2 * LAM)
    return sup - inf


def test_quadratic_game_zero_gap_at_the_saddle_and_closed_form_elsewhere():
    assert not QUAD.bilinear
    # the saddle: ∂_{m_x}: m_y + λ m_x + c₁ = 0, ∂_{m_y}: m_x − λ m_y − c₂ = 0
    sx, sy = np.linalg.solve([[LAM, 1.0], [1.0, -LAM]], [-C1, C2])
    f = game_potentials(QUAD, {aln: 0})
    P = jnp.asarray(LINE)[:, None]
    col = lambda v: jnp.asarray(v, float)[:, None]
    uni = lambda n: jnp.full(n, 1 / n)
    r = nash_gap_of_fields(f, col([sx - 0.4, sx, sx + 0.4]), uni(3), col([sy - 1.0, sy + 1.0]), uni(2), (P, P))
    # L is quadratic in each own measure: the fitted step is the exact line search and the
    # best response's mean is reached in ≤ 2 steps; tolerance: rounding of O(1) terms
    assert abs(float(r.lower)) < 1e-12 and abs(float(r.upper)) < 1e-12
    # a perturbed pair: the gap matches the closed form, lower ≤ NI ≤ upper
    X, Y = np.array([0.7, 1.9, -0.2]), np.array([-1.1, 0.3])
    expect = closed_form_gap(X.mean(), Y.mean())
    r = nash_gap_of_fields(f, col(X), uni(3), col(Y), uni(2), (P, P))
    assert expect > 0.5
    assert float(r.lower) <= expect + 1e-12 and float(r.upper) >= expect - 1e-12
    assert float(r.upper) - float(r.lower) < 1e-10, (r.lower, r.upper)
    # weighted particles, through the public checked entry
    w = np.array([0.2, 0.5, 0.3])
    r = nash_gap(QUAD, X, Y, (LINE, LINE), wx=w)
    assert abs(float(r.lower) - closed_form_gap(w @ X, Y.mean())) < 1e-10


def test_kernel_game_best_responses_match_scipy():
    """A convex–concave game with Gaussian-kernel self-interaction on 6 probes, whose best
    responses scipy's SLSQP computes on the simplex from a loss written by hand."""
    lam = 0.8
    ell = sp.sin(xn * yn) + (xn - yn) ** 2 / 4
    xk, yk = sp.symbols("xk_nash yk_nash", real=True)
    # ∫∫k dμdμ with a PSD kernel is convex in μ: L is convex in μx, concave in μy
    ex2 = I(I(sp.exp(-(xn - xk) ** 2), mx, over=(xk,)), mx)
    ey2 = I(I(sp.exp(-(yn - yk) ** 2), my, over=(yk,)), my)
    game = mf.ZeroSumGame(I(I(ell, my), mx) + lam / 2 * ex2 - lam / 2 * ey2, mx, my, aln)
    assert not game.bilinear
    P = np.linspace(-1.5, 1.5, 6)
    X, Y = np.array([0.2, -0.9, 1.3]), np.array([0.4, 1.1])
    r = nash_gap(game, X, Y, (P, P), iters=50)

    def loss(a, Xs, b, Ys):
        return (a @ (np.sin(np.outer(Xs, Ys)) + np.subtract.outer(Xs, Ys) ** 2 / 4) @ b
                + lam / 2 * a @ np.exp(-np.subtract.outer(Xs, Xs) ** 2) @ a
                - lam / 2 * b @ np.exp(-np.subtract.outer(Ys, Ys) ** 2) @ b)

    a, b = np.full(3, 1 / 3), np.full(2, 1 / 2)
    simplex = dict(bounds=[(0, 1)] * 6, constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1}],
                   method="SLSQP", options=dict(ftol=1e-14, maxiter=500))
    sup = -minimize(lambda w: -loss(a, X, w, P), np.full(6, 1 / 6), **simplex).fun
    inf = minimize(lambda w: loss(w, P, b, Y), np.full(6, 1 / 6), **simplex).fun
    # the bounds bracket the scipy optimum (SLSQP to ftol 1e-14; slack 1e-8 for its
    # constraint tolerance); strongly concave on 6 vertices, away steps drop the inactive
    # strategies and the bracket closes to rounding (measured 2e-16 after 10 steps)
    lo, hi = float(r.lower), float(r.upper)
    assert lo <= sup - inf + 1e-8 and hi >= sup - inf - 1e-8, (lo, sup - inf, hi)
    assert hi - lo < 1e-12, (lo, hi)
    assert abs(float(r.sup_y[0]) - sup) < 1e-8 and abs(float(r.inf_x[0]) - inf) < 1e-8


def test_flow_on_the_quadratic_game_contracts_the_gap_at_the_euler_rate():
    # every particle moves with the same velocity, so the means follow explicit Euler for
    # d/dt(m_x, m_y) = (−(m_y + λ m_x + c₁), m_x − λ m_y − c₂); NI = (λ² + 1)/(2λ)|δm|² and one
    # step multiplies |δm|² by (1 − λ dt)² + dt² exactly
    dt, every = 0.05, 10
    init, step, obs = ascent_descent(QUAD, values={aln: 0}, dt=dt, probes=(LINE, LINE))
    X0 = jax.random.normal(jax.random.PRNGKey(0), (16,)) + 1.0
    Y0 = jax.random.normal(jax.random.PRNGKey(1), (12,)) - 0.5
    _, tr = mf.run(step, init(X0, Y0), 200, obs, record_every=every)
    g = np.asarray(tr["nash_gap"])
    assert np.all(np.diff(g) < 0)
    ratio = g[1:] / g[:-1]
    factor = ((1 - LAM * dt) ** 2 + dt**2) ** every
    np.testing.assert_allclose(ratio, factor, rtol=1e-7)  # FW exact here up to rounding
    np.testing.assert_allclose(tr["nash_gap_upper"], g, atol=1e-12)
    with pytest.raises(SimulationInputError, match="bilinear"):
        averaged_nash_gap(tr)


def test_birth_death_closes_a_non_bilinear_gap_faster():
    """C17.2: the torus game of the notebook plus a convex–concave self-interaction
    λ/2|∫e^{ix}dμx|² − λ/2|∫e^{iy}dμy|²; with birth–death (α = 1) the gap at the end of the
    run is below the pure-transport gap: the upper bound with birth–death below the lower bound
    without (measured at t = 25: [2.2e-4, 2.2e-4] against [1.4e-3, 1.8e-3])."""
    C, S = sp.cos, sp.sin
    lam = sp.Rational(1, 2)
    L = (I(I(C(xn - yn) + C(2 * xn) * S(yn) / 2, my), mx)
         + lam / 2 * (I(C(xn), mx) ** 2 + I(S(xn), mx) ** 2) - lam / 2 * (I(C(yn), my) ** 2 + I(S(yn), my) ** 2))
    game = mf.ZeroSumGame(L, mx, my, aln)
    assert not game.bilinear
    probes = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    X0 = jax.random.uniform(jax.random.PRNGKey(0), (24,)) * 2 * np.pi
    Y0 = jax.random.uniform(jax.random.PRNGKey(1), (24,)) * 2 * np.pi
    end = {}
    for A in (0.0, 1.0):
        init, step, obs = ascent_descent(game, values={aln: A}, dt=0.05, probes=(probes, probes),
                                         best_response_iters=60)
        _, tr = mf.run(step, init(X0, Y0), 500, obs, record_every=100)
        g = np.asarray(tr["nash_gap"])
        assert np.all(g > -1e-12) and np.all(np.asarray(tr["nash_gap_upper"]) >= g - 1e-12)
        assert g[-1] < g[0] / 2.5, g   # the gap decreases along the flow (measured 26x and 32x)
        end[A] = (g[-1], float(tr["nash_gap_upper"][-1]))
    assert end[1.0][1] < end[0.0][0] / 2, end


def test_nash_gap_input_errors():
    with pytest.raises(SimulationInputError, match="pair"):
        nash_gap(QUAD, [0.0], [0.0], LINE)
    with pytest.raises(SimulationInputError, match="iterations"):
        nash_gap(QUAD, [0.0], [0.0], (LINE, LINE), iters=0)
    with pytest.raises(SimulationInputError, match="sum to"):
        nash_gap(QUAD, [0.0, 1.0], [0.0], (LINE, LINE), wx=[0.5, 0.6])
    with pytest.raises(SimulationInputError, match="ZeroSumGame"):
        nash_gap("game", [0.0], [0.0], (LINE, LINE))
    with pytest.raises(SimulationInputError, match="probes"):
        nash_gap(QUAD, [0.0], [0.0], ([np.nan], LINE))
