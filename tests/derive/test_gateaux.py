"""C1: the first variation against Gateaux derivatives on discrete measures.

Three independent routes, none of which uses the engine's differentiation:
* exact: F((1-s)μ + sν) evaluated with a symbolic weight s, differentiated by SymPy;
* finite differences in floating point, with the measured order (2 for central);
* the integral formula of Hu, Ren, Šiška & Szpruch (2021), V(m') − V(m) = ∫₀¹∫ δV/δm(m^λ, y)(m' − m)(dy) dλ by
  Gauss–Legendre quadrature in λ.
"""

import numpy as np
import pytest
import sympy as sp

import mfderive as mf
from helpers import close, gateaux_exact, integrate_against, mixture, pairing

R = sp.Rational
u = sp.Symbol("u", real=True)
rho = mf.Measure("rho", (u,))
(z,) = rho.point("z")
(y,) = rho.point("y")
SPEC_MU = ([R(-1), R(1, 3), R(2)], [R(1, 4), R(1, 4), R(1, 2)])
SPEC_NU = ([R(1, 2), R(-3, 2)], [R(2, 3), R(1, 3)])


def _functionals():
    A = mf.integral(sp.sin(u), rho)
    B = mf.integral(u**2, rho)
    E = mf.integral(mf.integral(sp.exp(u * z) + u**3 * z, rho, over=(z,)), rho)
    return {
        "potential": B,
        "nonsymmetric interaction": E,
        "product of moments": A * B**2,
        "function of a moment": sp.exp(A) + sp.log(1 + B),
        "nested nonlinear": mf.integral(sp.tanh(u * mf.integral(sp.cos(u - z), rho, over=(z,))), rho),
        "three-body": mf.integral(mf.integral(mf.integral(u * z * sp.Symbol("q"), rho), rho, over=(z,)) ** 2, rho).subs(sp.Symbol("q"), 1) + E * A,
    }


@pytest.mark.parametrize("name", list(_functionals()))
def test_exact_gateaux_derivative(name):
    F = _functionals()[name]
    dF = mf.first_variation(F, rho, at=(y,))
    g = gateaux_exact(F, rho, SPEC_MU, SPEC_NU, {})
    got = pairing(mf.evaluate(dF, {rho: SPEC_MU}), (y,), SPEC_MU, SPEC_NU)
    assert close(got, g, 1e-25)


def test_a_wrong_variation_is_caught():
    # dropping the second term of the interaction rule must fail the same check
    E = _functionals()["nonsymmetric interaction"]
    wrong = mf.integral(sp.exp(y * z) + y**3 * z, rho, over=(z,))
    g = gateaux_exact(E, rho, SPEC_MU, SPEC_NU, {})
    got = pairing(mf.evaluate(wrong, {rho: SPEC_MU}), (y,), SPEC_MU, SPEC_NU)
    assert not close(got, g, 1e-6)


def _fd_orders(F, dF, fixed, mu, point, spec_mu, spec_nu, scheme):
    s = sp.Symbol("s")
    Fs = sp.lambdify(s, mf.evaluate(F, {mu: mixture(*spec_mu, *spec_nu, s), **fixed}))
    pred = float(sp.N(pairing(mf.evaluate(dF, {mu: spec_mu, **fixed}), point, spec_mu, spec_nu), 20))
    hs = (1e-1, 5e-2, 2.5e-2, 1.25e-2)
    if scheme == "forward":
        errs = [abs((Fs(h) - Fs(0)) / h - pred) for h in hs]
    else:
        errs = [abs((Fs(h) - Fs(-h)) / (2 * h) - pred) for h in hs]
    return np.log2(np.array(errs[:-1]) / np.array(errs[1:])), errs


def test_nn_risk_exact_and_finite_difference_order(nn):
    spec_mu, spec_nu = (nn.atoms, nn.weights), (nn.other, nn.other_weights)
    fixed = {nn.nu: nn.data}
    dF = mf.first_variation(nn.F, nn.mu, at=nn.y)
    pred = pairing(mf.evaluate(dF, {nn.mu: spec_mu, **fixed}), nn.y, spec_mu, spec_nu)
    assert close(pred, gateaux_exact(nn.F, nn.mu, spec_mu, spec_nu, fixed), 1e-25)
    # forward differences: error = F''(0) h / 2 + O(h²), measured order 1
    orders, _ = _fd_orders(nn.F, dF, fixed, nn.mu, nn.y, spec_mu, spec_nu, "forward")
    assert np.all(np.abs(orders - 1) < 0.1), orders
    # F is quadratic in μ, so the central difference is exact up to rounding
    _, errs = _fd_orders(nn.F, dF, fixed, nn.mu, nn.y, spec_mu, spec_nu, "central")
    assert max(errs) < 1e-12, errs


def test_central_difference_order_two_on_a_nonquadratic_functional():
    F = _functionals()["nested nonlinear"]
    dF = mf.first_variation(F, rho, at=(y,))
    orders, _ = _fd_orders(F, dF, {}, rho, (y,), SPEC_MU, SPEC_NU, "central")
    assert np.all(np.abs(orders - 2) < 0.1), orders


def test_integral_formula_of_seed_000(nn):
    """V(m') − V(m) = ∫₀¹ ∫ δV/δm(m^λ, y)(m' − m)(dy) dλ, λ by 20-point Gauss–Legendre
    (the λ-integrand is smooth, so the rule is exact to rounding)."""
    lam = sp.Symbol("lambda")
    A = mf.integral(sp.sin(u), rho)
    F = sp.exp(A) * mf.integral(mf.integral(sp.cos(u + 2 * z), rho, over=(z,)), rho) + A**3
    dF = mf.first_variation(F, rho, at=(y,))
    m_lam = mixture(*SPEC_MU, *SPEC_NU, lam)
    integrand = sp.lambdify(lam, pairing(mf.evaluate(dF, {rho: m_lam}), (y,), SPEC_MU, SPEC_NU))
    nodes, weights = np.polynomial.legendre.leggauss(20)
    lhs = sum(wt / 2 * integrand((x + 1) / 2) for x, wt in zip(nodes, weights))
    rhs = float(sp.N(mf.evaluate(F, {rho: SPEC_NU}) - mf.evaluate(F, {rho: SPEC_MU}), 20))
    assert abs(lhs - rhs) < 1e-13 * max(1, abs(rhs))


def test_integral_formula_nn_risk(nn):
    lam = sp.Symbol("lambda")
    spec_mu, spec_nu = (nn.atoms, nn.weights), (nn.other, nn.other_weights)
    fixed = {nn.nu: nn.data}
    dF = mf.first_variation(nn.F, nn.mu, at=nn.y)
    m_lam = mixture(*spec_mu, *spec_nu, lam)
    integrand = pairing(mf.evaluate(dF, {nn.mu: m_lam, **fixed}), nn.y, spec_mu, spec_nu)
    # F is quadratic in μ, so the λ-integrand is affine: the midpoint rule is exact
    lhs = integrand.subs(lam, R(1, 2))
    rhs = mf.evaluate(nn.F, {nn.mu: spec_nu, **fixed}) - mf.evaluate(nn.F, {nn.mu: spec_mu, **fixed})
    assert close(lhs, rhs, 1e-25)
    assert sp.diff(integrand, lam, 2).equals(0)


def test_integrate_against_helper_is_plain_weighted_sum():
    assert integrate_against(y**2, (y,), ([R(1), R(3)], [R(1, 2), R(1, 2)])) == 5
