"""mf.compile (particles): two independent routes agree, and bad input is refused."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sympy as sp

import mfderive as mf

w, a, b, x = sp.symbols("w a b x", real=True)
mu, nu = mf.Measure("mu", (w, a, b)), mf.Data("nu", (x,))
y = mu.point("y")
f_mu = mf.integral(w * sp.tanh(a * x + b), mu)
F = mf.integral((f_mu - sp.sin(x)) ** 2 / 2, nu) + sp.Rational(1, 100) * mf.integral(w**2 + a**2 + b**2, mu)


def _data(N=9, M=6, seed=0):
    X = jax.random.normal(jax.random.PRNGKey(seed), (N, 3))
    wts = jax.random.uniform(jax.random.PRNGKey(seed + 1), (N,))
    xs, q = jnp.linspace(-1, 1, M), jnp.full(M, 1.0 / M)
    return X, wts / wts.sum(), xs, q


def particle_energy(X, wts, xs, q):
    f = jnp.sum(wts[:, None] * X[:, :1] * jnp.tanh(X[:, 1:2] * xs[None] + X[:, 2:3]), axis=0)
    return 0.5 * jnp.sum(q * (f - jnp.sin(xs)) ** 2) + 0.01 * jnp.sum(wts * jnp.sum(X**2, 1))


@pytest.mark.parametrize("chunk", [None, 4])
def test_compiled_lions_derivative_is_weighted_particle_gradient(chunk):
    """D_μF(μ_N, ξ_i) = ∇_{ξ_i}F / w_i (weights w_i; N·∇ for uniform weights), float64, 1e-12."""
    X, wts, xs, q = _data()
    D = mf.compile(mf.lions_derivative(F, mu, at=y), [mu, nu], at=y, points_from=mu, chunk_size=chunk)
    grad = jax.grad(particle_energy)(X, wts, xs, q) / wts[:, None]
    np.testing.assert_allclose(D(X, wts, xs, q), grad, rtol=1e-12, atol=1e-13)
    E = mf.compile(F, [mu, nu], chunk_size=chunk)
    assert abs(E(X, wts, xs, q) - particle_energy(X, wts, xs, q)) < 1e-14


def test_compiled_values_agree_with_evaluate():
    X, wts, xs, q = _data(N=4, M=3)
    spec = {mu: ([tuple(map(float, r)) for r in X], [float(v) for v in wts]), nu: ([float(v) for v in xs], [float(v) for v in q])}
    expr = mf.first_variation(F, mu, at=y)
    pts = jnp.array([[0.3, -1.2, 0.5], [1.0, 0.0, -2.0]])
    got = mf.compile(expr, [mu, nu], at=y)(X, wts, xs, q, pts)
    ref = [float(mf.evaluate(expr, spec).xreplace(dict(zip(y, map(float, p))))) for p in pts]
    np.testing.assert_allclose(got, ref, rtol=1e-13)


def test_interaction_energy_pairwise_and_chunked():
    u = sp.Symbol("u", real=True)
    rho = mf.Measure("rho", (u,))
    (z,) = rho.point("z")
    E = mf.integral(mf.integral(sp.exp(-((u - z) ** 2)) + u * z**3, rho, over=(z,)), rho)
    X = jnp.linspace(-2, 2, 11)
    wts = jnp.full(11, 1 / 11)
    ref = jnp.sum(wts[:, None] * wts[None] * (jnp.exp(-((X[:, None] - X[None]) ** 2)) + X[:, None] * X[None] ** 3))
    for chunk in (None, 3):
        assert abs(mf.compile(E, [rho], chunk_size=chunk)(X, wts) - ref) < 1e-14


def test_parameters_and_errors():
    s = sp.Symbol("s", positive=True)
    f = mf.compile(s * mf.integral(w, mu), [mu], params=[s])
    X, wts, _, _ = _data()
    assert abs(f(X, wts, 2.0) - 2 * jnp.sum(wts * X[:, 0])) < 1e-14
    with pytest.raises(mf.CompileError, match="declared parameter"):
        mf.compile(s * mf.integral(w, mu), [mu])(X, wts)
    with pytest.raises(mf.CompileError, match="not among the compiled"):
        mf.compile(F, [mu])(X, wts)
    with pytest.raises(mf.CompileError, match="local functional"):
        mf.compile(mf.entropy(mu), [mu])(X, wts)
    with pytest.raises(mf.CompileError, match="undefined function"):
        mf.compile(mf.integral(sp.Function("g")(w), mu), [mu])(X, wts)
    with pytest.raises(mf.CompileError, match=r"shape \(N, 3\)"):
        mf.compile(F, [mu, nu])(X[:, :2], wts, jnp.zeros(3), jnp.ones(3) / 3)


def test_bilinear_sums_become_one_matrix_product():
    d = 6
    av, xv = sp.symbols(f"a1:{d + 1}", real=True), sp.symbols(f"x1:{d + 1}", real=True)
    m2, n2 = mf.Measure("m2", (w, *av)), mf.Data("n2", xv)
    E = mf.integral(mf.integral(w * sp.tanh(sum(i * j for i, j in zip(av, xv))), m2) ** 2, n2)
    fn = mf.compile(E, [m2, n2], jit=False)
    P, Xd = jnp.ones((5, d + 1)), jnp.ones((4, d))
    jaxpr = str(jax.make_jaxpr(fn)(P, jnp.full(5, 0.2), Xd, jnp.full(4, 0.25)))
    assert jaxpr.count("tanh") == 1 and "dot_general" in jaxpr


def _network_loss(d):
    """The MSE loss ∫(f_μ(x) − t)²/2 ν(dx dt) of a two-layer tanh network, μ over (w, a, b)."""
    w_, b_ = sp.symbols("w b", real=True)
    a_ = sp.symbols(f"a1:{d + 1}", real=True)
    x_ = sp.symbols(f"x1:{d + 1}", real=True)
    t_ = sp.Symbol("t", real=True)
    m_, n_ = mf.Measure("mu", (w_, *a_, b_)), mf.Data("nu", (*x_, t_))
    f = mf.integral(w_ * sp.tanh(sum(ai * xi for ai, xi in zip(a_, x_)) + b_), m_)
    return mf.integral((f - t_) ** 2 / 2, n_), m_, n_


def test_chunking_evaluates_f_mu_on_the_data_once():
    # Regression: when the data were chunked too, every block of points re-traced the data
    # blocks and recomputed f_mu(x) (32 tanh sites and 9 scans in this jaxpr, 40-57x slower).
    # Now: the probe of the atom scan, its body, the shared pass and the point map — 4 sites.
    d = 2
    loss, m_, n_ = _network_loss(d)
    yy = m_.point("y")
    D = mf.lions_derivative(loss, m_, at=yy)
    args = (jnp.ones((64, d + 2)), jnp.full(64, 1 / 64), jnp.ones((40, d + 1)), jnp.full(40, 1 / 40))
    for chunk, sites in ((None, 1), (16, 4)):
        fn = mf.compile(D, [m_, n_], at=yy, points_from=m_, chunk_size=chunk, jit=False)
        assert str(jax.make_jaxpr(fn)(*args)).count("tanh") == sites


def _mse_network(d):
    loss, m_, n_ = _network_loss(d)
    flow = mf.WassersteinFlow(loss, m_)
    drift, _ = flow.sde()  # -D_mu F at flow.point, as the particle simulators compile it
    return drift, m_, n_, flow.point


def _dots(jaxpr):
    """(lhs shape, rhs shape) of every dot_general in a jaxpr, nested ones included."""
    out = []
    for e in jaxpr.eqns:
        if e.primitive.name == "dot_general":
            out.append((tuple(e.invars[0].aval.shape), tuple(e.invars[1].aval.shape), e.params["dimension_numbers"]))
        for v in e.params.values():
            inner = getattr(v, "jaxpr", None)
            if inner is not None:
                out += _dots(inner if hasattr(inner, "eqns") else inner.jaxpr)
    return out


def test_sums_of_integrals_sharing_their_pair_factor_are_one_product():
    # The derived drift is y_w∫t x_k σ'(..)dν − y_w∫x_k f_μ(x) σ'(..)dν per component: by
    # linearity one integral of x_k (t − f_μ(x)) σ'(..), so the back product has d + 1
    # columns (one per a_k and b), not 2(d + 1) as before the linearity pass.  The values
    # are those of the expression as derived (evaluate, independent of the code generator).
    d = 3
    D, m_, n_, yy = _mse_network(d)
    rng = np.random.default_rng(3)
    P, Xd = rng.normal(size=(7, d + 2)), rng.normal(size=(5, d + 1))
    args = (jnp.asarray(P), jnp.full(7, 1 / 7), jnp.asarray(Xd), jnp.full(5, 1 / 5))
    fn = mf.compile(D, [m_, n_], at=yy, points_from=m_, jit=False)
    dots = _dots(jax.make_jaxpr(fn)(*args).jaxpr)
    widths = [rhs[-1] for lhs, rhs, _ in dots if lhs == (7, 5) and len(rhs) == 2]  # (points, data) @ (data, K)
    assert widths == [d + 1], widths
    ref = np.asarray(fn(*args))
    # against a hand-written NumPy drift of the same network (independent of the engine)
    w_, A_, b_ = P[:, 0], P[:, 1 : d + 1], P[:, d + 1]
    X_, t_ = Xd[:, :d], Xd[:, d]
    T = np.tanh(A_ @ X_.T + b_[:, None])  # (points, data)
    r = (np.mean(w_[:, None] * T, 0) - t_) / 5
    G = (1 - T**2) * r
    hand = np.concatenate([(T @ r)[:, None], w_[:, None] * (G @ X_), (w_ * G.sum(1))[:, None]], 1)
    assert np.max(np.abs(-ref - hand)) < 1e-13 * max(1.0, np.max(np.abs(hand)))  # rounding


def test_chunked_pair_arrays_put_the_points_first():
    # Blocks of points are the leading axis of the (points, data) pair arrays, so the drift's
    # contractions run along the last axis: contracting the leading axis of a (data, points)
    # array measured 3x slower per step on the CPU at N = 16384, M = 4096, chunk 2048.
    d = 2
    D, m_, n_, yy = _mse_network(d)
    args = (jnp.ones((64, d + 2)), jnp.full(64, 1 / 64), jnp.ones((40, d + 1)), jnp.full(40, 1 / 40))
    fn = mf.compile(D, [m_, n_], at=yy, points_from=m_, chunk_size=16, jit=False)
    dots = _dots(jax.make_jaxpr(fn)(*args).jaxpr)
    assert [lhs for lhs, _, _ in dots if lhs == (16, 40)], "no (points block, data) pair array"
    # every pair array (a block of 16 atoms or points against the 40 data) is contracted
    # along its last axis: (data, atom block) in the pass for f_mu(x), (point block, data)
    # in the drift
    pairs = [(lhs, dn[0][0]) for lhs, _, dn in dots if sorted(lhs) == [16, 40]]
    assert pairs and all(c == (1,) for _, c in pairs), pairs


def test_chunked_points_padded_strided_blocks_keep_the_original_order():
    # More points than chunk_size are evaluated in nb strided blocks (block j: rows j, nb + j,
    # 2 nb + j, ...; so that points split over devices in row blocks split every block alike),
    # padded with copies of row 0 when n is not a multiple of nb.  N = 37, chunk 8: 5 blocks
    # of 8, 3 pad rows; 37 distinct rows, so any misplaced row or a pad row in the output
    # would differ at O(1) from the hand-written NumPy drift.
    d = 2
    D, m_, n_, yy = _mse_network(d)
    rng = np.random.default_rng(11)
    N, M = 37, 13
    P, Xd = rng.normal(size=(N, d + 2)), rng.normal(size=(M, d + 1))
    args = (jnp.asarray(P), jnp.full(N, 1 / N), jnp.asarray(Xd), jnp.full(M, 1 / M))
    w_, A_, b_ = P[:, 0], P[:, 1 : d + 1], P[:, d + 1]
    X_, t_ = Xd[:, :d], Xd[:, d]
    T = np.tanh(A_ @ X_.T + b_[:, None])  # (points, data)
    r = (np.mean(w_[:, None] * T, 0) - t_) / M
    G = (1 - T**2) * r
    hand = -np.concatenate([(T @ r)[:, None], w_[:, None] * (G @ X_), (w_ * G.sum(1))[:, None]], 1)
    for chunk in (8, 36, 37, 5):  # 5 x 8 (3 pad rows), 2 x 19 (1), one block, 8 x 5 (3)
        got = np.asarray(mf.compile(D, [m_, n_], at=yy, points_from=m_, chunk_size=chunk)(*args))
        assert got.shape == (N, d + 2)
        # float64 sums of <= 37 terms of O(1): rounding, a few 1e-16 relative
        assert np.max(np.abs(got - hand)) < 1e-13 * np.max(np.abs(hand)), chunk


def test_chunked_pair_drift_at_explicit_and_own_points_in_order():
    # The Lions derivative of (1/2)∫∫ exp(-(u - z)^2) dρ dρ, ∫ -2 (y - z) exp(-(y - z)^2) dρ(z),
    # at the atoms (points_from) and at 23 explicit points, chunked with padding (the inner
    # integral over the atoms is chunked too: padded atoms have weight 0), against NumPy.
    u_ = sp.Symbol("u", real=True)
    rho = mf.Measure("rho_s", (u_,))
    (z_,) = rho.point("z")
    yr = rho.point("y")
    E = mf.integral(mf.integral(sp.exp(-((u_ - z_) ** 2)), rho, over=(z_,)), rho) / 2
    D = mf.lions_derivative(E, rho, at=yr)
    rng = np.random.default_rng(5)
    X = rng.normal(size=37)
    wts = rng.uniform(0.5, 1.5, 37)
    wts /= wts.sum()
    Y = rng.normal(size=23)

    def hand(pts):
        diff = pts[:, None] - X[None]
        return np.sum(wts[None] * -2 * diff * np.exp(-(diff**2)), 1)

    for chunk in (8, 5):
        own = np.asarray(mf.compile(D, [rho], at=yr, points_from=rho, chunk_size=chunk)(X, wts))
        at = np.asarray(mf.compile(D, [rho], at=yr, chunk_size=chunk)(X, wts, Y))
        # float64 sums of 37 terms of O(1): rounding
        np.testing.assert_allclose(own.ravel(), hand(X), rtol=0, atol=1e-14)
        np.testing.assert_allclose(at.ravel(), hand(Y), rtol=0, atol=1e-14)
