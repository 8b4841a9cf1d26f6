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


def test_chunking_evaluates_f_mu_on_the_data_once():
    # Regression: when the data were chunked too, every block of points re-traced the data
    # blocks and recomputed f_mu(x) (32 tanh sites and 9 scans in this jaxpr, 40-57x slower).
    # Now: the probe of the atom scan, its body, the shared pass and the point map — 4 sites.
    d = 2
    w_, b_ = sp.symbols("w b", real=True)
    a_ = sp.symbols(f"a1:{d + 1}", real=True)
    x_ = sp.symbols(f"x1:{d + 1}", real=True)
    t_ = sp.Symbol("t", real=True)
    m_, n_ = mf.Measure("mu", (w_, *a_, b_)), mf.Data("nu", (*x_, t_))
    f = mf.integral(w_ * sp.tanh(sum(ai * xi for ai, xi in zip(a_, x_)) + b_), m_)
    yy = m_.point("y")
    D = mf.lions_derivative(mf.integral((f - t_) ** 2 / 2, n_), m_, at=yy)
    args = (jnp.ones((64, d + 2)), jnp.full(64, 1 / 64), jnp.ones((40, d + 1)), jnp.full(40, 1 / 40))
    for chunk, sites in ((None, 1), (16, 4)):
        fn = mf.compile(D, [m_, n_], at=yy, points_from=m_, chunk_size=chunk, jit=False)
        assert str(jax.make_jaxpr(fn)(*args)).count("tanh") == sites
