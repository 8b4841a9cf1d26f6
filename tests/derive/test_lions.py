"""C2: the Lions derivative against two independent routes.

* N ∇_{ξ_i} F(μ_N) from `jax.grad` of the particle energy, written directly in jnp
  (Fernández-Real & Figalli (2022), §2.2.1(ii): particle gradient = Lions derivative);
* Hu, Ren, Šiška & Szpruch (2021), Lemma 1: (F((Id + s b)#μ) − F(μ))/s → ∫ D_μF · b dμ, with measured order 1.
"""

import jax
import jax.numpy as jnp
import numpy as np
import sympy as sp

import mfderive as mf

LAM = 0.01


def particle_energy(xi, xs, q):
    """F(μ_N) of the test network, by hand: ½Σ_k q_k (f(x_k) − sin x_k)² + λ mean|ξ|²."""
    w, a, b = xi[:, 0], xi[:, 1], xi[:, 2]
    f = jnp.mean(w[:, None] * jnp.tanh(a[:, None] * xs[None, :] + b[:, None]), axis=0)
    return 0.5 * jnp.sum(q * (f - jnp.sin(xs)) ** 2) + LAM * jnp.mean(jnp.sum(xi**2, axis=1))


def _lions_at_particles(nn, xi, xs, q):
    D = mf.lions_derivative(nn.F, nn.mu, at=nn.y)
    spec = {nn.mu: [tuple(r) for r in xi.tolist()], nn.nu: (xs.tolist(), q.tolist())}
    Dn = sp.lambdify(nn.y, mf.evaluate(D, spec).T, "numpy")
    return np.array([np.asarray(Dn(*row), dtype=float).ravel() for row in xi])


def test_particle_gradient_is_lions_derivative(nn):
    key = jax.random.PRNGKey(0)
    xi = np.asarray(jax.random.normal(key, (7, 3)))
    xs = np.linspace(-1, 1, 5)
    q = np.full(5, 0.2)
    grad = np.asarray(jax.grad(particle_energy)(jnp.asarray(xi), jnp.asarray(xs), jnp.asarray(q)))
    lions = _lions_at_particles(nn, xi, xs, q)
    np.testing.assert_allclose(len(xi) * grad, lions, rtol=1e-12, atol=1e-13)
    # a wrong λ in the hand-written energy is detected by the same comparison
    wrong = jax.grad(lambda p: particle_energy(p, xs, q) + LAM * jnp.mean(p[:, 0] ** 2))(
        jnp.asarray(xi)
    )
    assert not np.allclose(len(xi) * np.asarray(wrong), lions, rtol=1e-6)


def test_lemma_1_pushforward_difference_quotients(nn):
    key = jax.random.PRNGKey(1)
    xi = np.asarray(jax.random.normal(key, (6, 3)))
    xs, q = np.linspace(-1, 1, 5), np.full(5, 0.2)
    b = lambda p: np.stack([np.sin(p[:, 1]), np.cos(p[:, 0]), 1 / (1 + p[:, 2] ** 2)], 1)  # noqa: E731
    E = lambda p: float(particle_energy(jnp.asarray(p), jnp.asarray(xs), jnp.asarray(q)))  # noqa: E731
    lions = _lions_at_particles(nn, xi, xs, q)
    pred = np.mean(np.sum(lions * b(xi), axis=1))
    hs = np.array([1e-2, 5e-3, 2.5e-3, 1.25e-3])
    errs = np.array([abs((E(xi + h * b(xi)) - E(xi)) / h - pred) for h in hs])
    orders = np.log2(errs[:-1] / errs[1:])
    assert np.all(np.abs(orders - 1) < 0.1), orders


def test_lions_derivative_shape_and_example_of_seed_000():
    # the example of Hu, Ren, Šiška & Szpruch (2021): V(m) = ∫ f dm ⇒ D_mV(m, y) = ∇f(y)
    u, v = sp.symbols("u v", real=True)
    mu = mf.Measure("mu", (u, v))
    y = mu.point("y")
    f = sp.sin(u) * v**2
    D = mf.lions_derivative(mf.integral(f, mu), mu, at=y)
    assert D.shape == (2, 1)
    expected = sp.Matrix([sp.cos(y[0]) * y[1] ** 2, 2 * sp.sin(y[0]) * y[1]])
    assert (D - expected).applyfunc(sp.simplify) == sp.zeros(2, 1)


def test_lions_derivative_at_a_numeric_point(nn):
    D_sym = mf.lions_derivative(nn.F, nn.mu, at=nn.y)
    pt = (sp.Rational(1, 2), 1, -2)
    D_num = mf.lions_derivative(nn.F, nn.mu, at=pt)
    assert all(mf.equivalent(a, b) for a, b in zip(D_num, D_sym.subs(dict(zip(nn.y, pt)))))
