"""Issue 12 item 9: local functionals of several densities.

``mf.local(L, mu)`` whose Lagrangian holds the densities of several measures is
differentiable in each of them; the variation in μ_k is the Euler operator in m_k,
whichever measure the integral is attached to.  Expectations: SymPy's own
``sympy.calculus.euler.euler_equations`` on Lagrangians with two unknown functions
(including the Hénon–Heiles and high-order Lagrangians of SymPy's euler tests), and a
Gateaux finite difference of a hand-written grid energy.
"""

import numpy as np
import pytest
import sympy as sp
from sympy.calculus.euler import euler_equations

import mfderive as mf

# symbol and measure names unique to this file (the measure registry is global)
t = sp.Symbol("t_ls", real=True)
x1, x2 = sp.symbols("x1_ls x2_ls", real=True)
chi, kap, k_ = sp.symbols("chi_ls kappa_ls k_ls", positive=True)
W = sp.Function("W_ls", real=True)


def _two(variables, tag):
    return mf.Measure(f"p{tag}_ls", variables), mf.Measure(f"q{tag}_ls", variables)


def _cases():
    a1, b1 = _two((t,), "t")
    a2, b2 = _two((x1, x2), "x")
    f, g = a1.density(t), b1.density(t)
    F, G = a2.density(x1, x2), b2.density(x1, x2)
    D = sp.Derivative
    return [
        # the brief's example L = f² + g f'
        ("f^2 + g f'", a1, b1, f**2 + g * D(f, t)),
        # Hénon–Heiles (SymPy's test_euler_henonheiles)
        ("Henon-Heiles", a1, b1, (D(f, t) ** 2 + D(g, t) ** 2) / 2 - (f**2 + g**2) / 2
         - f**2 * g + g**3 / 3),
        # SymPy's test_euler_high_order: a second derivative of the second function
        ("high order", a1, b1, k_ * D(f, t) ** 2 / 2 + k_ * D(g, t) ** 2 / 2
         - kap * D(f, t) * D(g, t, 2)),
        # two species with cross-diffusion: entropies and a contact interaction
        ("cross-diffusion", a1, b1, f * sp.log(f) + g * sp.log(g) + chi * f * g),
        # a Dirichlet coupling ∫∇m1·∇m2 in two dimensions
        ("Dirichlet 2-D", a2, b2, D(F, x1) * D(G, x1) + D(F, x2) * D(G, x2)),
        # an unevaluated derivative of a product: carried out before the jet is read
        ("derivative of a product", a1, b1, D(f * g, t) ** 2 / 2 + D(f**2, t) * g),
        ("mixed 2-D", a2, b2, D(F, x1, x2) * G + sp.exp(x1 * x2) * F * G**2
         + W(x1) * D(G, x2) ** 2 / F),
    ]


CASES = _cases()


def _plain(L, mus):
    """L with the (positive) densities replaced by plain unknown functions for SymPy:
    with a positive density, Eq(tau*m, 0) would evaluate to False and be dropped."""
    plain = {mu: sp.Function(f"u{i}")(*mu.variables) for i, mu in enumerate(mus)}
    rep = {mu.density(*mu.variables): u for mu, u in plain.items()}
    return L.subs(rep), plain, rep


@pytest.mark.parametrize("name,mu1,mu2,L", CASES, ids=[c[0] for c in CASES])
def test_variation_in_each_density_is_sympys_euler_lagrange_operator(name, mu1, mu2, L):
    Lp, plain, rep = _plain(L.doit(), (mu1, mu2))  # SymPy's side: derivatives carried out
    eqs = euler_equations(Lp, [plain[mu1], plain[mu2]], list(mu1.variables))
    assert len(eqs) == 2
    expected = {mu1: eqs[0].lhs, mu2: eqs[1].lhs}
    for attached in (mu1, mu2):  # the attachment fixes only the variables of integration
        F = mf.local(L, attached)
        for mu in (mu1, mu2):
            got = mf.first_variation(F, mu, at=mu.variables).subs(rep)
            assert sp.simplify(got - expected[mu]) == 0, (name, attached, mu)


def test_variation_at_a_fresh_point_is_the_euler_operator_there():
    mu1, mu2 = _two((t,), "pt")
    m1, m2 = mu1.density(t), mu2.density(t)
    (y,) = mu2.point("y")
    F = mf.local(m1 * sp.Derivative(m2, t) ** 2 / 2 + chi * m1 * m2, mu1)
    got = mf.first_variation(F, mu2, at=(y,))
    # by hand: ∂L/∂m2 − d/dt ∂L/∂m2' = χ m1 − (m1 m2')'
    M1, M2 = mu1.density(y), mu2.density(y)
    expected = chi * M1 - sp.diff(M1 * sp.diff(M2, y), y)
    assert sp.simplify(got - expected) == 0
    assert mf.first_variation(F, mu1, at=(y,)) == sp.diff(M2, y) ** 2 / 2 + chi * M2


def test_a_nonlocal_term_inside_a_local_of_several_densities():
    # F = ∫ m1(ξ) m2(ξ) A dξ with A = ∫ z² μ2(dz): in μ2 both the Euler part m1(y)·A and
    # the chain rule through A, y² ∫ m1 m2 dξ, appear
    mu1, mu2 = _two((t,), "nl")
    m1, m2 = mu1.density(t), mu2.density(t)
    z = sp.Symbol("z_ls", real=True)
    A = mf.integral(z**2, mu2, over=(z,))
    (y,) = mu2.point("y")
    got = mf.first_variation(mf.local(m1 * m2 * A, mu1), mu2, at=(y,))
    expected = mu1.density(y) * A + y**2 * mf.local(m1 * m2, mu1)
    assert mf.equivalent(got, expected)
    # and in μ1 only the Euler part
    got1 = mf.first_variation(mf.local(m1 * m2 * A, mu1), mu1, at=(y,))
    assert mf.equivalent(got1, mu2.density(y) * A)


def test_densities_elsewhere_are_still_refused():
    mu1, mu2 = _two((t,), "bad")
    nu2 = mf.Measure("r2_ls", (x1, x2))
    m1 = mu1.density(t)
    # the second density at a shifted argument: a Dirac distribution
    shifted = mf.local(m1 * mu2.density(t + 1), mu1)
    with pytest.raises(mf.NotDifferentiableError, match="not at its own integration variables"):
        mf.first_variation(shifted, mu2, at=mu2.point("y"))
    # the density of a measure of another dimension is not a density on the domain
    other = mf.local(m1 * nu2.density(t, t), mu1)
    with pytest.raises(mf.NotDifferentiableError, match="2 variable"):
        mf.first_variation(other, nu2, at=nu2.point("y"))
    # the variation in μ2 of m1 m2² is 2 m1(y) m2(y): pointwise in m2, so no second variation
    F = mf.local(m1 * mu2.density(t) ** 2, mu1)
    with pytest.raises(mf.NotDifferentiableError, match="Dirac"):
        mf.second_variation(F, mu2, at=(mu2.point("y"), mu2.point("z")))


# ------------------------------------------------ Gateaux finite difference on a grid
_NP = {sp.sin: np.sin, sp.cos: np.cos, sp.log: np.log, sp.exp: np.exp}


def _numeric(expr, xs):
    """A SymPy expression in t (no unknown functions left) at the points ``xs``, by a
    walk over its tree with NumPy (no generated code)."""
    def ev(e):
        if e == t:
            return xs
        if e.is_number:
            return float(e)
        if isinstance(e, sp.Add):
            return sum(ev(a) for a in e.args)
        if isinstance(e, sp.Mul):
            out = 1.0
            for a in e.args:
                out = out * ev(a)
            return out
        if isinstance(e, sp.Pow):
            return np.power(ev(e.base), ev(e.exp))
        return _NP[e.func](ev(e.args[0]))
    return np.broadcast_to(ev(expr), xs.shape)


def test_gateaux_finite_difference_on_a_grid():
    r"""E(m1, m2) = ∫_0^1 m1 log m1 + m2 log m2 + χ m1 m2 + κ m1' m2' dt, written by hand
    on a grid (second-order differences, trapezoid rule); d/dε E(m1, m2 + ε η) at ε = 0
    against ∫ δE/δm2 · η dt with the engine's δE/δm2.  η = sin⁴(πt) vanishes with its
    first derivative at both ends, so no boundary term enters."""
    mu1, mu2 = _two((t,), "gd")
    m1, m2 = mu1.density(t), mu2.density(t)
    L = m1 * sp.log(m1) + m2 * sp.log(m2) + chi * m1 * m2 \
        + kap * sp.Derivative(m1, t) * sp.Derivative(m2, t)
    vals = {chi: sp.Rational(3, 2), kap: sp.Rational(1, 5)}
    e1 = 1 + sp.sin(2 * sp.pi * t) / 2
    e2 = 1 + t**2 * sp.cos(3 * t)
    eta = sp.sin(sp.pi * t) ** 4

    n = 401
    xs = np.linspace(0.0, 1.0, n)
    h = xs[1] - xs[0]
    M1, M2, H = _numeric(e1, xs), _numeric(e2, xs), _numeric(eta, xs)

    def energy(a, b):
        da, db = np.gradient(a, h, edge_order=2), np.gradient(b, h, edge_order=2)
        dens = a * np.log(a) + b * np.log(b) + 1.5 * a * b + 0.2 * da * db
        return np.trapezoid(dens, xs)

    eps = 1e-4
    fd = (energy(M1, M2 + eps * H) - energy(M1, M2 - eps * H)) / (2 * eps)

    for attached in (mu1, mu2):
        dE = mf.first_variation(mf.local(L, attached), mu2, at=(t,)).subs(vals)
        dE = dE.subs({m1: e1, m2: e2}).doit()
        pairing = np.trapezoid(_numeric(dE, xs) * H, xs)
        # error budget: the central difference in ε is O(ε²) = 1e-8 times the third
        # ε-derivative of E (of order one here); the grid terms (second-order differences,
        # trapezoid rule) cancel to O(h²) ≈ 6e-6 at worst, and far better here since
        # η vanishes to fourth order at both ends (Euler–Maclaurin).  Measured: 4e-10
        # for h = 1/200 … 1/800.  1e-6 leaves room and still fails for a wrong
        # variation by four orders of magnitude (below).
        assert abs(fd - pairing) <= 1e-6 * abs(pairing), (fd, pairing)
    # the check can fail: the variation in the other density does not match
    wrong = mf.first_variation(mf.local(L, mu1), mu1, at=(t,)).subs(vals)
    wrong = wrong.subs({m1: e1, m2: e2}).doit()
    assert abs(fd - np.trapezoid(_numeric(wrong, xs) * H, xs)) > 1e-2 * abs(fd)


def test_evaluate_a_local_functional_of_two_densities():
    """∫ m1 m2 dx with m1 = 2x, m2 = 3x² on [0, 1] is ∫ 6x³ = 3/2 (by hand); a second density
    given as atoms has none, which is refused rather than left unevaluated."""
    x = sp.Symbol("x_ev2d", real=True)
    m1, m2 = mf.Measure("m1_ev2d", (x,)), mf.Measure("m2_ev2d", (x,))
    F = mf.local(m1.density(x) * m2.density(x), m1)
    spec = {m1: mf.Density(2 * x, [(0, 1)]), m2: mf.Density(3 * x**2, [(0, 1)])}
    assert mf.evaluate(F, spec) == sp.Rational(3, 2)
    with pytest.raises(mf.InfiniteValueError, match="m2_ev2d"):
        mf.evaluate(F, {m1: mf.Density(2 * x, [(0, 1)]), m2: [(0.5,)]})
