"""C3: second variation — symmetric, and the NN-risk kernel is positive semi-definite,
so the risk is convex along linear interpolation (Fernández-Real & Figalli (2022), Remark 2.1,
footnote 8)."""

import numpy as np
import pytest
import sympy as sp

import mfderive as mf
from helpers import close, integrate_against, mixture

R = sp.Rational


def _swap(expr, y, z):
    d = {**dict(zip(y, z)), **dict(zip(z, y))}
    return expr.xreplace(d)


def test_second_variation_is_symmetric(nn):
    d2 = mf.second_variation(nn.F, nn.mu, at=(nn.y, nn.z))
    assert mf.equivalent(d2, _swap(d2, nn.y, nn.z))
    # the NN risk's second variation is ∫Φ(y,x)Φ(z,x)ν(dx) = 2K(y,z) of Fernández-Real & Figalli (2022), (3.4)
    expected = mf.integral(nn.phi(nn.y, nn.x) * nn.phi(nn.z, nn.x), nn.nu)
    assert mf.equivalent(d2, expected)


def test_nonsymmetric_interaction_has_symmetrised_kernel():
    u = sp.Symbol("u", real=True)
    rho = mf.Measure("rho", (u,))
    (y,), (z,), (v,) = rho.point("y"), rho.point("z"), rho.point("v")
    W = sp.Function("W")
    E = mf.integral(mf.integral(W(u, v), rho, over=(v,)), rho)
    d2 = mf.second_variation(E, rho, at=((y,), (z,)))
    assert mf.equivalent(d2, W(y, z) + W(z, y))


def test_convexity_along_interpolation_matches_second_variation(nn):
    """d²/dα² F((1−α)μ₀ + αμ₁) = ∬ δ²F (μ₁−μ₀)(μ₁−μ₀) ≥ 0, computed two ways exactly."""
    alpha = sp.Symbol("alpha")
    spec0, spec1 = (nn.atoms, nn.weights), (nn.other, nn.other_weights)
    fixed = {nn.nu: nn.data}
    Fa = mf.evaluate(nn.F, {nn.mu: mixture(*spec0, *spec1, alpha), **fixed})
    lhs = sp.diff(Fa, alpha, 2)
    assert lhs.free_symbols == set()  # quadratic in μ: the second derivative is constant
    d2 = mf.evaluate(mf.second_variation(nn.F, nn.mu, at=(nn.y, nn.z)), fixed)

    def against(expr, point):
        return integrate_against(expr, point, spec1) - integrate_against(expr, point, spec0)

    rhs = against(against(d2, nn.z), nn.y)
    assert close(lhs, rhs, 1e-25)
    assert sp.N(lhs) >= 0


def test_nn_kernel_gram_matrix_is_psd(nn):
    d2 = mf.evaluate(mf.second_variation(nn.F, nn.mu, at=(nn.y, nn.z)), {nn.nu: nn.data})
    k = sp.lambdify((*nn.y, *nn.z), d2, "numpy")
    pts = np.random.default_rng(0).normal(size=(12, 3))
    G = np.array([[k(*p, *q) for q in pts] for p in pts])
    eig = np.linalg.eigvalsh((G + G.T) / 2)
    # rank ≤ 5 (five data points): the rest are zero up to rounding
    assert eig.min() > -1e-12 * eig.max()
    assert np.sum(eig > 1e-10 * eig.max()) <= 5


def test_a_non_convex_functional_has_an_indefinite_kernel():
    # −(∫u dμ)² is concave: the Gram matrix of its second variation has a negative eigenvalue
    u = sp.Symbol("u", real=True)
    rho = mf.Measure("rho", (u,))
    (y,), (z,) = rho.point("y"), rho.point("z")
    d2 = mf.second_variation(-mf.integral(u, rho) ** 2, rho, at=((y,), (z,)))
    assert mf.equivalent(d2, -2 * y * z)


def test_entropy_has_no_second_variation_function():
    u = sp.Symbol("u", real=True)
    rho = mf.Measure("rho", (u,))
    with pytest.raises(mf.NotDifferentiableError, match="Dirac"):
        mf.second_variation(mf.entropy(rho), rho, at=(rho.point("y"), rho.point("z")))
