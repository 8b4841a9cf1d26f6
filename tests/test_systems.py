"""The twelve source systems end to end through the public API only (issue 12, "done when"):
derive (a functional of ``mf.Measure``/``mf.Data``) → flow (``mf.WassersteinFlow``,
``mf.RhoHFlow``, ``mf.UnbalancedFlow``, ``mf.ZeroSumGame``) → simulator (``mf.particle_flow``,
``mf.grid_flow``, ...) → ``mf.run`` → the recorded observables.

One test per system, small sizes. Each asserts something that can fail and is independent of
the engine where cheap: the first recorded energy against the functional written by hand in
NumPy on the initial particles / cells, the energy decreasing along the run, mass conserved on
grids (to rounding), the Nash gap ≥ 0. Every symbol carries the prefix ``sy<k>_`` (the measure
registry is global)."""

import numpy as np
import pytest
import sympy as sp

import mfderive as mf

RNG = np.random.default_rng(12)


def energy0(observed):
    """The energy of one ``observe`` result: the particle simulators return a tuple
    (energy, dissipation), the others a dict."""
    return float(observed["energy"] if isinstance(observed, dict) else observed[0])


def decreasing(e, slack=0.0):
    e = np.asarray(e)
    return bool(np.all(np.isfinite(e)) and np.all(np.diff(e) <= slack))


# -- (1) MFLD of a two-layer tanh network with data, noise σ > 0 -----------------------------
def test_01_mfld_two_layer_tanh_network():
    w, a, b, x = sp.symbols("sy1_w sy1_a sy1_b sy1_x", real=True)
    sig = sp.Symbol("sy1_sigma", positive=True)
    mu, nu = mf.Measure("sy1_mu", (w, a, b)), mf.Data("sy1_nu", (x,))
    lam = sp.Rational(1, 100)
    f = mf.integral(w * sp.tanh(a * x + b), mu)
    F = mf.integral((f - sp.sin(2 * x)) ** 2 / 2, nu) + lam * mf.integral(w**2 + a**2 + b**2, mu)
    xs, q = np.linspace(-1, 1, 8), np.full(8, 1 / 8)
    init, step, obs = mf.particle_flow(mf.WassersteinFlow(F, mu, noise=sig), data={nu: (xs, q)},
                                       values={sig: 0.05}, dt=0.05)
    P = RNG.normal(size=(64, 3))
    st, tr = mf.run(step, init(P, 0), 40, obs, record_every=1)
    fN = np.mean(P[:, :1] * np.tanh(P[:, 1:2] * xs[None] + P[:, 2:3]), axis=0)
    hand = 0.5 * np.sum(q * (fN - np.sin(2 * xs)) ** 2) + 0.01 * np.mean(np.sum(P**2, 1))
    assert energy0(obs(init(P, 0))) == pytest.approx(hand, rel=1e-12)
    # the network output itself through mf.compile (particles, weights, evaluation points)
    f_h = mf.compile(f, [mu], at=(x,))
    np.testing.assert_allclose(np.asarray(f_h(P, np.full(64, 1 / 64), xs)), fN, rtol=0, atol=1e-13)
    e = np.asarray(tr["energy"])
    # σ = 0.05: the noise adds ~σ²/2·dt per step to E (1e-4 over the run); the descent is O(0.1)
    assert np.all(np.isfinite(e)) and e[-1] < 0.7 * hand, (hand, e[-1])


# -- (2) noisy GD / Langevin of a potential ---------------------------------------------------
def test_02_langevin_of_a_potential():
    u = sp.Symbol("sy2_u", real=True)
    sig = sp.Symbol("sy2_sigma", positive=True)
    mu = mf.Measure("sy2_mu", (u,))
    V = (u**2 - 1) ** 2 / 4 + u / 5
    init, step, obs = mf.particle_flow(mf.WassersteinFlow(mf.integral(V, mu), mu, noise=sig),
                                       values={sig: 0.3}, dt=0.01)
    X0 = 2.5 + 0.1 * RNG.normal(size=500)
    st, tr = mf.run(step, init(X0, 1), 60, obs, record_every=10)
    hand = np.mean((X0**2 - 1) ** 2 / 4 + X0 / 5)
    assert energy0(obs(init(X0, 1))) == pytest.approx(hand, rel=1e-12)
    # the drift from x = 2.5 is −(x³ − x + 1/5) ≈ −13: E drops from ~9 to ~0.2; noise is O(σ²)
    assert decreasing(tr["energy"]) and tr["energy"][-1] < hand / 5


# -- (3) Wasserstein gradient flow in μ, σ = 0 (particles) ------------------------------------
def test_03_wasserstein_gradient_flow_particles():
    u = sp.Symbol("sy3_u", real=True)
    mu = mf.Measure("sy3_mu", (u,))
    (z,) = mu.point("sy3_z")
    F = mf.integral(u**2 / 2, mu) + mf.integral(mf.integral(sp.exp(-((u - z) ** 2)), mu, over=(z,)), mu) / 2
    init, step, obs = mf.particle_flow(mf.WassersteinFlow(F, mu), dt=0.02)
    X0 = RNG.normal(size=40) + 1.0
    st, tr = mf.run(step, init(X0, 0), 50, obs, record_every=1)
    hand = np.mean(X0**2 / 2) + np.mean(np.exp(-((X0[:, None] - X0[None]) ** 2))) / 2
    assert energy0(obs(init(X0, 0))) == pytest.approx(hand, rel=1e-12)
    # deterministic gradient descent at a small step: strictly decreasing
    assert decreasing(tr["energy"]) and tr["energy"][-1] < tr["energy"][0] - 1e-2


# -- (4)/(5) (ρ, H) on a θ-grid ---------------------------------------------------------------
def _rho_h_grid(variant, k):
    th = sp.Symbol(f"sy{k}_theta", real=True)
    H = sp.Function(f"sy{k}H", real=True)
    rho = mf.Measure(f"sy{k}_rho", (th,))
    G = mf.integral((H(th) - sp.sin(th)) ** 2 / 2 + th**2 / 2, rho)
    g = mf.Grid(-4, 4, 64)
    init, step, obs = mf.rho_h_grid_flow(mf.RhoHFlow(G, rho, H, variant), g, dt=0.005)
    xs = np.asarray(g.axes[0])
    m0 = np.exp(-(xs**2) / 2)
    m0 = m0 / float(g.integrate(m0))
    H0 = np.sin(xs) + 0.5 * xs
    st, tr = mf.run(step, init(m0, H0), 40, obs, record_every=1)
    # G on the cells by the midpoint rule, written here: Σ m_j |C| (½(H_j − sin ξ_j)² + ξ_j²/2)
    hand = float(np.sum(m0 * g.vol * ((H0 - np.sin(xs)) ** 2 / 2 + xs**2 / 2)))
    first = obs(init(m0, H0))
    assert float(first["energy"]) == pytest.approx(hand, rel=1e-12)
    # finite-volume fluxes telescope: mass conserved to rounding (a few ulps per step)
    np.testing.assert_allclose(tr["mass"], 1.0, atol=1e-12)
    return tr


def test_04_rho_h_separated_grid():
    tr = _rho_h_grid("separated", 4)
    assert decreasing(tr["energy"]) and tr["energy"][-1] < tr["energy"][0] - 1e-2


def test_05_rho_h_transported_grid():
    tr = _rho_h_grid("transported", 5)
    # (3.21)–(3.22) is not a gradient flow (C10.2): only finite here
    assert np.all(np.isfinite(tr["energy"])) and np.all(np.isfinite(tr["dissipation"]))


# -- (6) (ρ, H) chaos particles ---------------------------------------------------------------
def test_06_rho_h_chaos_particles():
    a, b, x = sp.symbols("sy6_a sy6_b sy6_x", real=True)
    H = sp.Function("sy6H", real=True)
    rho, D = mf.Measure("sy6_rho", (a, b)), mf.Data("sy6_D", (x,))
    G = mf.integral((mf.integral(H(a, b) * sp.tanh(a * x + b), rho) - sp.cos(x)) ** 2 / 2, D) \
        + mf.integral((H(a, b) ** 2 + a**2 + b**2) / 10, rho)
    xs, qs = np.array([-1.0, -0.3, 0.2, 0.9]), np.full(4, 0.25)
    n = 128
    p = np.full(n, 1.0 / n)
    init, step, obs = mf.rho_h_flow(mf.RhoHFlow(G, rho, H, "chaos"), p, {D: (xs, qs)}, dt=0.02)
    th0, h0 = 0.8 * RNG.normal(size=(n, 2)), RNG.normal(size=n)
    st, tr = mf.run(step, init(th0, h0), 30, obs, record_every=1)
    f = np.sum((p * h0)[:, None] * np.tanh(th0[:, :1] * xs[None] + th0[:, 1:]), axis=0)
    hand = 0.5 * np.sum(qs * (f - np.cos(xs)) ** 2) + np.sum(p * (h0**2 + np.sum(th0**2, 1)) / 10)
    assert float(obs(init(th0, h0))["energy"]) == pytest.approx(hand, rel=1e-12)
    assert decreasing(tr["energy"]) and np.all(np.asarray(tr["dissipation"]) >= 0)


# -- (7)/(8) regularised flows on a grid --------------------------------------------------------
def _grid_run(F, mu, g, dt, steps, values=None):
    init, step, obs = mf.grid_flow(mf.WassersteinFlow(F, mu), g, values=values, dt=dt)
    xs = np.asarray(g.axes[0])
    m0 = np.exp(-((xs - 1.0) ** 2) / 0.5)
    m0 = m0 / float(g.integrate(m0))
    st, tr = mf.run(step, init(m0), steps, obs, record_every=1)
    np.testing.assert_allclose(tr["mass"], 1.0, atol=1e-12)  # conservative fluxes
    assert np.all(np.asarray(tr["min_density"]) >= 0)
    return xs, m0, obs(init(m0)), tr


def test_07_heat_regularised_grid():
    u = sp.Symbol("sy7_u", real=True)
    tau = sp.Symbol("sy7_tau", positive=True)
    mu = mf.Measure("sy7_mu", (u,))
    F = mf.integral(u**2 / 2, mu) + tau * mf.entropy(mu)
    g = mf.Grid(-4, 4, 80)
    # parabolic limit dt·τ/h² = 1e-3·0.25/0.01 = 0.025 ≤ 1/2
    xs, m0, first, tr = _grid_run(F, mu, g, 1e-3, 50, values={tau: 0.25})
    hand = float(np.sum(g.vol * m0 * (xs**2 / 2 + 0.25 * np.log(m0))))  # midpoint rule of F + τ∫m log m
    assert float(first["energy"]) == pytest.approx(hand, rel=1e-10)
    assert decreasing(tr["energy"]) and tr["energy"][-1] < hand


def test_08_porous_medium_regularised_grid():
    u = sp.Symbol("sy8_u", real=True)
    mu = mf.Measure("sy8_mu", (u,))
    tau = sp.Rational(1, 2)
    F = mf.integral(u**2 / 2, mu) + tau / 2 * mf.local(mu.density(u) ** 2, mu)
    g = mf.Grid(-4, 4, 80)
    xs, m0, first, tr = _grid_run(F, mu, g, 1e-3, 50)
    hand = float(np.sum(g.vol * (m0 * xs**2 / 2 + 0.25 * m0**2)))
    assert float(first["energy"]) == pytest.approx(hand, rel=1e-10)
    assert decreasing(tr["energy"]) and tr["energy"][-1] < hand


# -- (9) WFR birth–death ----------------------------------------------------------------------
def test_09_wfr_birth_death():
    u = sp.Symbol("sy9_u", real=True)
    al = sp.Symbol("sy9_alpha", positive=True)
    mu = mf.Measure("sy9_mu", (u,))
    V = sp.cos(3 * u) / 2 + u**2 / 2
    init, step, obs = mf.birth_death_flow(mf.UnbalancedFlow(mf.integral(V, mu), mu, al),
                                          values={al: 2.0}, dt=0.01)
    X0 = 1.5 + 0.5 * RNG.normal(size=400)
    st, tr = mf.run(step, init(X0, 3), 50, obs, record_every=10)
    assert float(obs(init(X0, 3))["energy"]) == pytest.approx(np.mean(np.cos(3 * X0) / 2 + X0**2 / 2), rel=1e-12)
    assert st.particles.shape == (400, 1)  # the count is kept
    # the decrease (~0.5) dwarfs the resampling noise (std of a mean of 400, ~0.02)
    assert decreasing(tr["energy"], slack=0.02) and tr["energy"][-1] < tr["energy"][0] - 0.2


# -- (10) a two-player zero-sum game ----------------------------------------------------------
def test_10_zero_sum_game_ascent_descent():
    x, y = sp.symbols("sy10_x sy10_y", real=True)
    al = sp.Symbol("sy10_alpha", positive=True)
    mx, my = mf.Measure("sy10_mux", (x,)), mf.Measure("sy10_muy", (y,))
    game = mf.ZeroSumGame(mf.integral(mf.integral(sp.cos(x - y), my), mx), mx, my, al)
    probes = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    init, step, obs = mf.ascent_descent(game, values={al: 1.0}, dt=0.02, probes=(probes, probes))
    X0, Y0 = RNG.uniform(0, 2 * np.pi, 16), RNG.uniform(0, 2 * np.pi, 16)
    st, tr = mf.run(step, init(X0, Y0), 40, obs, record_every=4)
    v0 = float(obs(init(X0, Y0))["value"])
    assert v0 == pytest.approx(np.mean(np.cos(X0[:, None] - Y0[None])), rel=1e-12, abs=1e-14)
    gap = np.asarray(tr["nash_gap"])
    assert np.all(np.isfinite(gap)) and np.all(gap >= -1e-12)  # NI ≥ 0 by definition
    np.testing.assert_allclose(np.asarray(st.wx).sum(), 1.0, atol=1e-12)


# -- (11) entropic JKO --------------------------------------------------------------------------
def test_11_entropic_jko():
    u = sp.Symbol("sy11_u", real=True)
    mu = mf.Measure("sy11_mu", (u,))
    g = mf.Grid(-4, 4, 80)
    flow = mf.WassersteinFlow(mf.integral(u**2 / 2, mu), mu, noise=sp.Integer(1))
    init, step, obs = mf.entropic_jko(flow, g, tau=0.1, epsilon=1e-2, iterations=500)
    xs = np.asarray(g.axes[0])
    m0 = np.exp(-((xs - 1.0) ** 2) / 0.5)
    m0 = m0 / float(g.integrate(m0))
    st, tr = mf.run(step, init(m0), 10, obs, record_every=1)
    assert decreasing(tr["energy"])  # a minimising movement decreases E at every step
    np.testing.assert_allclose(tr["mass"], 1.0, atol=1e-9)
    assert np.max(tr["marginal_error"]) < 1e-3


# -- (12) the ReLU network in its four parameterisations, σ'(0) = 0 -----------------------------
def test_12_relu_network_four_parameterisations():
    x1, x2 = sp.symbols("sy12_x1 sy12_x2", real=True)
    w1, w2, a = sp.symbols("sy12_w1 sy12_w2 sy12_a", real=True)
    s1, s2 = sp.symbols("sy12_s1 sy12_s2", real=True)
    p1, p2, n1, n2 = sp.symbols("sy12_p1 sy12_p2 sy12_n1 sy12_n2", real=True)
    t1, t2, r = sp.symbols("sy12_t1 sy12_t2 sy12_r", real=True)
    nu = mf.Data("sy12_nu", (x1, x2))
    relu = lambda e: sp.Max(0, e)  # noqa: E731
    target = relu(x1) - relu(x2) / 2
    M = 12
    X = RNG.normal(size=(M, 2))
    q = np.full(M, 1 / M)
    tX = np.maximum(X[:, 0], 0) - np.maximum(X[:, 1], 0) / 2

    def fit(inner, mu):
        return mf.integral((mf.integral(inner, mu) - target) ** 2 / 2, nu)

    mu_a = mf.Measure("sy12_mu_a", (w1, w2, a))
    nu_s = mf.Measure("sy12_nu_s", (s1, s2), signed=True)
    mu_c = mf.Measure("sy12_mu_c", (p1, p2, n1, n2))
    mu_d = mf.Measure("sy12_mu_d", (t1, t2, r), domain=mf.Sphere(2) * mf.Reals(1))
    N = 16
    W = RNG.normal(size=(N, 2))
    c = RNG.normal(size=N) / N
    A = N * c
    TH = W / np.linalg.norm(W, axis=1, keepdims=True)
    R_ = np.linalg.norm(W, axis=1) * A
    cp, cm = np.maximum(A, 0), np.maximum(-A, 0)
    PN = np.concatenate([cp[:, None] * W, cm[:, None] * W], 1)
    relu_np = lambda v: np.maximum(v, 0)  # noqa: E731
    # all four start from one network f(x) = Σ c_i relu(w_i·x): one initial loss, by hand
    f0 = relu_np(X @ W.T) @ c
    hand = 0.5 * np.sum(q * (f0 - tX) ** 2)
    cases = {
        "atoms": (fit(a * relu(w1 * x1 + w2 * x2), mu_a), mu_a, np.column_stack([W, A]), {}),
        "signed": (fit(relu(s1 * x1 + s2 * x2), nu_s), nu_s, W, {"weights": c}),
        "split": (fit(relu(p1 * x1 + p2 * x2) - relu(n1 * x1 + n2 * x2), mu_c), mu_c, PN, {}),
        "sphere": (fit(r * relu(t1 * x1 + t2 * x2), mu_d), mu_d, np.column_stack([TH, R_]), {}),
    }
    for name, (F, mu, P0, kw) in cases.items():
        init, step, obs = mf.particle_flow(mf.WassersteinFlow(F, mu), data={nu: (X, q)}, dt=0.02,
                                           relu_convention=0)
        assert energy0(obs(init(P0, 0, **kw))) == pytest.approx(hand, rel=1e-10), name
        st, tr = mf.run(step, init(P0, 0, **kw), 30, obs, record_every=1)
        assert decreasing(tr["energy"], slack=1e-15) and tr["energy"][-1] < hand, name
        if name == "sphere":  # the retraction keeps |θ| = 1
            assert np.max(np.abs(np.linalg.norm(np.asarray(st.particles)[:, :2], axis=1) - 1)) < 1e-13
