"""C1, local functionals: the engine's Euler operator against SymPy's euler_equations."""

import pytest
import sympy as sp
from sympy.calculus.euler import euler_equations

import mfderive as mf

x1, x2 = sp.symbols("x1 x2", real=True)
tau = sp.Symbol("tau", positive=True)
U = sp.Function("U", real=True)


def _cases():
    mu1 = mf.Measure("m1", (x1,))
    mu2 = mf.Measure("m2", (x1, x2))
    m1 = mu1.density(x1)
    m2 = mu2.density(x1, x2)
    g1 = sp.Derivative(m1, x1)
    return [
        ("entropy", mu1, m1 * sp.log(m1)),
        ("porous medium", mu1, tau / 2 * m1**2),
        ("potential energy", mu1, U(x1) * m1),
        ("Fisher information", mu1, g1**2 / m1),
        ("second derivative", mu1, sp.Derivative(m1, x1, 2) ** 2 + m1**3 * g1),
        ("2-D Fisher", mu2, (sp.Derivative(m2, x1) ** 2 + sp.Derivative(m2, x2) ** 2) / m2),
        ("2-D mixed", mu2, sp.Derivative(m2, x1, x2) * m2 + sp.exp(x1 * x2) * m2**2),
    ]


@pytest.mark.parametrize("name,mu,L", _cases(), ids=[c[0] for c in _cases()])
def test_euler_operator_matches_sympy(name, mu, L):
    m = mu.density(*mu.variables)
    # SymPy sees a plain unknown function (with the positive density, Eq(tau*m, 0)
    # would evaluate to False and be dropped)
    f = sp.Function("f")(*mu.variables)
    (eq,) = euler_equations(L.subs(m, f), [f], list(mu.variables))
    got = mf.first_variation(mf.local(L, mu), mu, at=mu.variables)
    assert sp.simplify(got.subs(m, f) - eq.lhs) == 0


def test_local_with_a_nonlocal_term_inside():
    # ∫ m(ξ) (∫ W(ξ,z) μ(dz)) dξ = ∬ W dμ dμ: both writings give the same variation
    mu = mf.Measure("mu", (x1,))
    (z,) = mu.point("z")
    (y,) = mu.point("y")
    W = sp.exp(-((x1 - z) ** 2)) * (1 + x1)
    as_local = mf.local(mu.density(x1) * mf.integral(W, mu, over=(z,)), mu)
    as_nonlocal = mf.integral(mf.integral(W, mu, over=(z,)), mu)
    d_local = mf.first_variation(as_local, mu, at=(y,))
    d_nonlocal = mf.first_variation(as_nonlocal, mu, at=(y,))
    # the local writing keeps ∫ m(ξ) W(ξ,y) dξ, which is ∫ W(ξ,y) μ(dξ)
    m_to_mu = d_local.replace(
        lambda e: isinstance(e, mf.LocalIntegral),
        lambda e: mf.integral(e.integrand / mu.density(*e.over), mu, over=e.over),
    )
    assert mf.equivalent(m_to_mu, d_nonlocal)
