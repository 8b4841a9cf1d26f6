"""C7, Prop. 6 of Hu, Ren, Šiška & Szpruch (2021): the first-order condition, the Gibbs map, a Gaussian fixed point."""

import numpy as np
import pytest
import sympy as sp

import mfderive as mf
from mfderive.derive.euler import is_zero

u = sp.Symbol("u", real=True)
mu = mf.Measure("mu", (u,))
M1, M2 = mf.integral(u, mu), mf.integral(u**2, mu)


def test_gibbs_map_has_the_form_of_prop_6(nn):
    sigma = sp.Symbol("sigma", positive=True)
    U = (nn.w**2 + nn.a**2 + nn.b**2) / 2
    g = mf.gibbs(mf.WassersteinFlow(nn.F, nn.mu, noise=sigma, confinement=U))
    y = g.point
    dF = mf.first_variation(nn.F, nn.mu, at=y)
    # Prop 6: m* ∝ exp(−(2/σ²) δF/δm(m*, y)) g(y), g = e^{−U}
    expected = -2 / sigma**2 * dF - U.subs(dict(zip(nn.mu.variables, y)))
    assert is_zero(sp.expand(g.exponent - expected))
    assert isinstance(g.normaliser, mf.LocalIntegral)
    # solving the condition for log m gives back the condition
    assert is_zero(g.condition.lhs.subs(g.log_density.lhs, g.log_density.rhs) - g.constant)


def test_gibbs_needs_noise(nn):
    with pytest.raises(mf.MfDeriveError, match="noise"):
        mf.gibbs(mf.WassersteinFlow(nn.F, nn.mu))


def test_gaussian_fixed_point_and_moment_ode():
    """F = Φ(∫u) + Ψ(∫u²), Φ(p) = (p−1)²/2, Ψ(q) = q²/4, U = u²/2, σ = 1.

    Independent route: the particle SDE is linear, dX = −(Φ'(M1) + (2Ψ'(M2) + σ²/2) X) dt + σ dW,
    so by Itô's formula (written here by hand) the moments solve
    M1' = −Φ'(M1) − c M1,  M2' = −2Φ'(M1) M1 − 2c M2 + σ²,  c = 2Ψ'(M2) + σ²/2.
    Its long-time limit must be the engine's fixed point."""
    sigma = 1
    flow = mf.WassersteinFlow((M1 - 1) ** 2 / 2 + M2**2 / 4, mu, noise=sigma, confinement=u**2 / 2)
    fp = mf.gibbs(flow).gaussian()
    (sol,) = fp.solve(guess=(0.5, 0.5))
    M, S = float(sol[fp.mean]), float(sol[fp.variance])

    def rhs(m):
        m1, m2 = m
        c = 2 * (m2 / 2) + sigma**2 / 2
        return np.array([-(m1 - 1) - c * m1, -2 * (m1 - 1) * m1 - 2 * c * m2 + sigma**2])

    m, dt = np.array([0.0, 1.0]), 1e-3
    for _ in range(40000):  # RK4 to t = 40
        k1 = rhs(m)
        k2 = rhs(m + dt / 2 * k1)
        k3 = rhs(m + dt / 2 * k2)
        k4 = rhs(m + dt * k3)
        m = m + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    assert abs(m[0] - M) < 1e-10 and abs(m[1] - (M**2 + S)) < 1e-10
    # the equations themselves: S = 1/(2 M2 + 1) with M2 = M² + S under the Gaussian
    assert fp.moments[M2] == fp.mean**2 + fp.variance


def test_gaussian_fixed_point_rejects_non_moment_dependence():
    z = mu.point("z")[0]
    F = mf.integral(mf.integral(sp.cos(u - z), mu, over=(z,)), mu)
    g = mf.gibbs(mf.WassersteinFlow(F, mu, noise=1, confinement=u**2 / 2))
    with pytest.raises(mf.MfDeriveError, match="not a moment|not quadratic"):
        g.gaussian()
