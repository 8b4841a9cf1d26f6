"""Sampled bounds on D_mF (Hu, Ren, Šiška & Szpruch 2021): bounded and Lipschitz, or flagged."""

import numpy as np
import pytest
import sympy as sp

import mfderive as mf
from mfderive.errors import SimulationInputError
from mfderive.simulate.assumptions import lions_derivative_bounds

wb, ab, bb, xb = sp.symbols("w_bnd a_bnd b_bnd x_bnd", real=True)
mu1 = mf.Measure("mu1_bnd", (wb,))


def test_cubic_moment_grows_with_the_box():
    # D_mF = 3w²: sup over [−R, R] is 3R², exponent 2 (sampled sup ≤ 3R²)
    r = lions_derivative_bounds(mf.integral(wb**3, mu1), mu1, ([-1.0], [1.0]), scales=(1, 2, 4))
    assert not r.holds and "grows with the box" in r.reason
    assert abs(r.constants["growth exponent"] - 2) < 0.2
    assert r.constants["sup|D_mF|"] <= 3 + 1e-12


def test_abs_kink_is_not_lipschitz():
    # D_mF = sign(w): bounded by 1, a jump at 0
    r = lions_derivative_bounds(mf.integral(sp.Abs(wb), mu1), mu1, ([-1.0], [1.0]))
    assert not r.holds and "not Lipschitz" in r.reason and r.constants["sup|D_mF|"] <= 1 + 1e-12


def test_tanh_network_risk_is_bounded_and_lipschitz_on_a_box():
    mu2 = mf.Measure("mu2_bnd", (ab, bb))
    nu = mf.Data("nu_bnd", (xb,))
    F = mf.integral((mf.integral(ab * sp.tanh(bb * xb), mu2) - sp.sin(xb)) ** 2 / 2, nu)
    xs = np.linspace(-1, 1, 9)
    r = lions_derivative_bounds(F, mu2, ([-1.0, -1.0], [1.0, 1.0]), data={nu: (xs, np.full(9, 1 / 9))})
    # |D_a| = |∫tanh(bx)(f − sin x)dν| ≤ tanh(1)(1·tanh(1) + sin 1) ≈ 1.22 on the box, by hand
    assert r.holds and "not a proof" in repr(r)
    assert 0 < r.constants["sup|D_mF|"] < 1.3 and r.constants["Lip_x"] < 10


def test_bad_box():
    with pytest.raises(SimulationInputError, match="box"):
        lions_derivative_bounds(mf.integral(wb**2, mu1), mu1, ([1.0], [-1.0]))
