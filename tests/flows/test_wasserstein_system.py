"""Issue 12 item 9: coupled Wasserstein gradient flows of several measures.

``mf.WassersteinSystem(F, (mu1, mu2))`` (also ``mf.WassersteinFlow(F, [mu1, mu2])``) gives
one continuity equation per measure, ∂ₜm_k = div(m_k ∇δE/δm_k), and the dissipation
identity dE/dt = −Σ_k ∫ m_k |∇δE/δm_k|² proved for the system.  Expectations written
independently: hand-derived PDEs (cross-diffusion, Dirichlet coupling, a nonlocal
interaction), a Gaussian exact solution whose moments follow hand-written ODEs, and
dE/dt computed from the Lagrangian along the PDE with SymPy's ``euler_equations``
deciding what is a total divergence.
"""

import pytest
import sympy as sp
from sympy.calculus.euler import euler_equations
from sympy.core.function import AppliedUndef

import mfderive as mf
from mfderive.derive.euler import is_zero
from mfderive.flows.base import TIME
from mfderive.flows.wasserstein import WassersteinSystem

# names unique to this file (the measure registry is global)
x, z = sp.symbols("x_ws z_ws", real=True)
x1, x2 = sp.symbols("x1_ws x2_ws", real=True)
chi, sigma, a, b, c = sp.symbols("chi_ws sigma_ws a_ws b_ws c_ws", positive=True)
mu1, mu2 = mf.Measure("s1_ws", (x,)), mf.Measure("s2_ws", (x,))
m1, m2 = mu1.density(x), mu2.density(x)
nu1, nu2 = mf.Measure("d1_ws", (x1, x2)), mf.Measure("d2_ws", (x1, x2))
D = sp.Derivative


def cross_diffusion():
    return mf.local(m1 * sp.log(m1) + m2 * sp.log(m2) + chi * m1 * m2, mu1)


def _rhs(flow):
    """The right-hand sides of the PDE, divergence carried out, fields m_k(t, y)."""
    return [sp.expand(eq.rhs.doit()) for eq in flow.pde()]


def _fields(flow):
    (y,) = flow.point
    return y, mu1.density(TIME, y), mu2.density(TIME, y)


# ----------------------------------------------------------------- the PDE system
def test_cross_diffusion_pde_by_hand():
    flow = WassersteinSystem(cross_diffusion(), (mu1, mu2))
    y, M1, M2 = _fields(flow)
    # δE/δm1 = log m1 + 1 + χ m2: ∂ₜm1 = ∂(m1 ∂(log m1 + χ m2)) = ∂²m1 + χ ∂(m1 ∂m2)
    hand = [sp.diff(M1, y, 2) + chi * sp.diff(M1 * sp.diff(M2, y), y),
            sp.diff(M2, y, 2) + chi * sp.diff(M2 * sp.diff(M1, y), y)]
    for got, want in zip(_rhs(flow), hand):
        assert sp.simplify(got - want) == 0
    # the check can fail: without the cross term
    assert sp.simplify(_rhs(flow)[0] - sp.diff(M1, y, 2)) != 0


def test_noise_and_confinement_per_measure():
    flow = WassersteinSystem(cross_diffusion(), [mu1, mu2], noise=[sigma, 0],
                             confinement=[x**2 / 2, None])
    y, M1, M2 = _fields(flow)
    # species 1 gains σ²/2 (∂²m1 + ∂(y m1)) (Gibbs reference e^{-y²/2}); species 2 nothing
    hand1 = (1 + sigma**2 / 2) * sp.diff(M1, y, 2) + sigma**2 / 2 * sp.diff(y * M1, y) \
        + chi * sp.diff(M1 * sp.diff(M2, y), y)
    hand2 = sp.diff(M2, y, 2) + chi * sp.diff(M2 * sp.diff(M1, y), y)
    got = _rhs(flow)
    assert sp.simplify(got[0] - hand1) == 0 and sp.simplify(got[1] - hand2) == 0
    assert flow.noise == (sigma, 0)


def test_dirichlet_coupling_in_two_dimensions_by_hand():
    n1, n2 = nu1.density(x1, x2), nu2.density(x1, x2)
    E = mf.local(D(n1, x1) * D(n2, x1) + D(n1, x2) * D(n2, x2), nu2)
    flow = mf.WassersteinFlow(E, [nu1, nu2])
    assert isinstance(flow, WassersteinSystem)
    y = flow.point
    N1, N2 = nu1.density(TIME, *y), nu2.density(TIME, *y)
    lap = lambda f: sum(sp.diff(f, v, 2) for v in y)  # noqa: E731
    # δE/δm1 = −Δm2: ∂ₜm1 = div(m1 ∇(−Δm2)), and symmetrically
    hand = [sum(sp.diff(N1 * sp.diff(-lap(N2), v), v) for v in y),
            sum(sp.diff(N2 * sp.diff(-lap(N1), v), v) for v in y)]
    for got, want in zip(_rhs(flow), hand):
        assert sp.simplify(got - sp.expand(want)) == 0


def test_nonlocal_interaction_between_species_by_hand():
    W = sp.exp(-(x - z) ** 2)
    E = mf.integral(mf.integral(W, mu2, over=(z,)), mu1) + mf.integral(a * x**2 / 2, mu1)
    flow = WassersteinSystem(E, (mu1, mu2))
    (y,) = flow.point
    # δE/δm1(y) = a y²/2 + ∫W(y,z) μ2(dz), δE/δm2(y) = ∫W(x,y) μ1(dx)
    v1 = -(a * y + mf.integral(sp.diff(W.subs(x, y), y), mu2, over=(z,)))
    v2 = -mf.integral(sp.diff(W.subs(z, y), y), mu1, over=(x,))
    assert mf.equivalent(flow.velocity(mu1)[0], v1)
    assert mf.equivalent(flow.velocity(mu2)[0], v2)
    # particles: no entropy, so σ = 0 and the drift is the velocity
    drift, s = flow.sde(mu2)
    assert s == 0 and mf.equivalent(drift[0], v2)


def test_a_list_of_one_measure_is_the_one_measure_flow():
    F = mf.integral(x**4 / 4, mu1) + mf.entropy(mu1)
    one, listed = mf.WassersteinFlow(F, mu1), mf.WassersteinFlow(F, [mu1])
    assert type(listed) is mf.WassersteinFlow
    assert one.pde() == listed.pde() and one.claimed == listed.claimed


def test_uncoupled_species_give_the_one_measure_flows():
    F1, F2 = mf.integral(x**4 / 4, mu1), mf.integral(a * x**2 / 2, mu2)
    system = WassersteinSystem(F1 + F2, (mu1, mu2), noise=sigma)
    singles = [mf.WassersteinFlow(F1, mu1, noise=sigma), mf.WassersteinFlow(F2, mu2, noise=sigma)]
    assert system.pde() == [s.pde()[0] for s in singles]
    assert sp.expand(system.claimed - sum(s.claimed for s in singles)) == 0


# ------------------------------------------------------------- a Gaussian solution
def _gaussian(yy, mean, var):
    return sp.exp(-((yy - mean) ** 2) / (2 * var)) / sp.sqrt(2 * sp.pi * var)


def test_gaussian_solution_of_the_coupled_ou_system():
    r"""E = ∫a x²/2 dμ1 + ∫b x²/2 dμ2 + c∬(x−z)²/2 μ1μ2 + σ²/2 (H(μ1) + H(μ2)).
    Gaussians N(M_k, v_k) solve the system when (by hand)
    M1' = −aM1 − c(M1 − M2), M2' = −bM2 − c(M2 − M1),
    v1' = −2(a + c)v1 + σ², v2' = −2(b + c)v2 + σ²."""
    E = mf.integral(a * x**2 / 2, mu1) + mf.integral(b * x**2 / 2, mu2) \
        + c * mf.integral(mf.integral((x - z) ** 2 / 2, mu2, over=(z,)), mu1)
    flow = WassersteinSystem(E, (mu1, mu2), noise=sigma)
    t = TIME
    M1, M2, v1, v2 = [sp.Function(n, real=True)(t) for n in ("M1_ws", "M2_ws", "v1_ws", "v2_ws")]
    odes = {
        sp.Derivative(M1, t): -a * M1 - c * (M1 - M2),
        sp.Derivative(M2, t): -b * M2 - c * (M2 - M1),
        sp.Derivative(v1, t): -2 * (a + c) * v1 + sigma**2,
        sp.Derivative(v2, t): -2 * (b + c) * v2 + sigma**2,
    }
    sols = {mu1.name: (M1, v1), mu2.name: (M2, v2)}

    def moments(e):
        """Polynomial integrals against the Gaussians: E[(M + √v Z)^n] with
        E[Z^2j] = (2j − 1)!!, E[Z^odd] = 0."""
        def one(A):
            mean, var = sols[A.measure.name]
            (w,) = A.over
            poly = sp.Poly(sp.expand(A.integrand), w)
            Z = sp.Dummy("Z")
            out = sp.S.Zero
            for (n,), coeff in poly.terms():
                shifted = sp.Poly(sp.expand((mean + sp.sqrt(var) * Z) ** n), Z)
                out += coeff * sum(cj * (sp.factorial2(j - 1) if j % 2 == 0 else 0)
                                   for (j,), cj in shifted.terms())
            return out
        return e.replace(lambda q: isinstance(q, mf.MeasureIntegral), one)

    def densities(e):
        return e.replace(
            lambda q: isinstance(q, AppliedUndef) and q.func.__name__ in sols,
            lambda q: _gaussian(q.args[1], *sols[q.func.__name__]),
        )

    for eq in flow.pde():
        residual = densities(moments(eq.lhs - eq.rhs)).doit().subs(odes)
        g = densities(eq.lhs.expr)
        assert sp.simplify(residual / g) == 0
    # the check can fail: the uncoupled variance ODE does not solve it
    eq = flow.pde()[0]
    wrong = {**odes, sp.Derivative(v1, t): -2 * a * v1 + sigma**2}
    residual = densities(moments(eq.lhs - eq.rhs)).doit().subs(wrong)
    assert sp.simplify(residual / densities(eq.lhs.expr)) != 0


# ------------------------------------------------------------- the dissipation identity
@pytest.mark.parametrize("case", ["cross-diffusion", "Dirichlet + porous", "nonlocal + noise"])
def test_dissipation_identity_is_proved_for_the_system(case):
    energies = {
        "cross-diffusion": (cross_diffusion(), 0),
        "Dirichlet + porous": (mf.local(D(m1, x) * D(m2, x) + m1**2 / 2 + chi * m2**2, mu2), 0),
        "nonlocal + noise": (mf.integral(mf.integral(sp.exp(-(x - z) ** 2), mu2, over=(z,)), mu1)
                             + mf.integral(x**4, mu2), sigma),
    }
    E, noise = energies[case]
    flow = WassersteinSystem(E, (mu1, mu2), noise=noise)
    proof = mf.dissipation_identity(flow).verify()
    assert proof.proved and proof.method == "pointwise after one integration by parts"
    assert proof.is_divergence
    # one boundary term per species
    assert len(proof.boundary_term.args) == 2
    # the claimed rate is −Σ_k m_k |∇δE/δm_k|² (one term per species), not one species alone
    one_species = -flow.equations[0].field * sp.diff(flow.equations[0].coefficient, flow.point[0]) ** 2
    assert not mf.dissipation_identity(flow, claimed=one_species).verify().proved


def test_rate_from_the_lagrangian_is_the_claimed_dissipation_up_to_a_divergence():
    r"""Independently of the engine's identity: for E = ∫L(m1, m2, m1', m2') dy,
    dE/dt = ∫ Σ_k ∂L/∂m_k ∂ₜm_k + ∂L/∂m_k' ∂_y∂ₜm_k dy along the derived PDE, minus the
    hand-written −Σ_k m_k (∂_y φ_k)², φ1 = log m1 + 1 + χ m2 + κ(−m2''), is a total
    divergence: SymPy's euler_equations of it vanish in both unknowns."""
    kap = sp.Symbol("kappa_ws", positive=True)
    E = mf.local(m1 * sp.log(m1) + m2 * sp.log(m2) + chi * m1 * m2 + kap * D(m1, x) * D(m2, x), mu1)
    flow = WassersteinSystem(E, (mu1, mu2))
    y, M1, M2 = _fields(flow)
    dt = dict(zip((M1, M2), _rhs(flow)))
    J = [sp.Dummy("j") for _ in range(4)]
    Lj = J[0] * sp.log(J[0]) + J[1] * sp.log(J[1]) + chi * J[0] * J[1] + kap * J[2] * J[3]
    jets = [M1, M2, sp.diff(M1, y), sp.diff(M2, y)]
    rate = sum(sp.diff(Lj, j).subs(dict(zip(J, jets))) * (dt[f] if k < 2 else sp.diff(dt[f], y))
               for k, (j, f) in enumerate(zip(J, (M1, M2, M1, M2))))
    phi1 = sp.log(M1) + 1 + chi * M2 - kap * sp.diff(M2, y, 2)
    phi2 = sp.log(M2) + 1 + chi * M1 - kap * sp.diff(M1, y, 2)
    claimed = -M1 * sp.diff(phi1, y) ** 2 - M2 * sp.diff(phi2, y) ** 2
    f1, f2 = sp.Function("f1")(y), sp.Function("f2")(y)
    plain = lambda e: e.subs({M1: f1, M2: f2})  # noqa: E731
    for eq in euler_equations(plain(rate - claimed), [f1, f2], y):
        assert sp.expand(eq.lhs) == 0  # expand is enough (and sound) to see the zero
    # the check can fail: dropping the second species' dissipation leaves a non-divergence
    wrong = plain(rate + M2 * sp.diff(phi2, y) ** 2)
    assert any(sp.simplify(eq.lhs) != 0 for eq in euler_equations(wrong, [f1, f2], y))
    # and the engine's claimed rate is the hand-written one
    assert is_zero(flow.claimed - claimed.subs({M1: mu1.density(y), M2: mu2.density(y)}).doit())


def test_dissipation_functional_names_both_species():
    flow = WassersteinSystem(cross_diffusion(), (mu1, mu2))
    R = flow.dissipation()
    assert isinstance(R, mf.LocalIntegral)
    names = {f.func.__name__ for f in R.integrand.atoms(AppliedUndef)}
    assert names == {mu1.name, mu2.name}


# ------------------------------------------------------------------------- errors
def test_bad_systems_raise_documented_errors():
    F = cross_diffusion()
    with pytest.raises(mf.NotAMeasureError, match="distinct"):
        WassersteinSystem(F, (mu1, mu1))
    with pytest.raises(mf.NotAMeasureError, match="single measure"):
        WassersteinSystem(F, mu1)
    with pytest.raises(mf.NotAMeasureError, match="Data"):
        WassersteinSystem(F, (mu1, mf.Data("dd_ws", (x,))))
    with pytest.raises(mf.InvalidVariablesError, match="same number of variables"):
        WassersteinSystem(F, (mu1, nu1))
    with pytest.raises(mf.InvalidOptionError, match="one per measure"):
        WassersteinSystem(F, (mu1, mu2), noise=[sigma, sigma, sigma])
    with pytest.raises(mf.InvalidExpressionError, match="sigma"):
        WassersteinSystem(F, (mu1, mu2), noise=[sigma, -1])
    other = mf.Measure("s3_ws", (z,))
    with pytest.raises(mf.InvalidOptionError, match="one per measure"):
        WassersteinSystem(F, (mu1, other), confinement=x**2)
    flow = WassersteinSystem(F, (mu1, mu2))
    with pytest.raises(mf.NotAMeasureError, match="not one of the measures"):
        flow.velocity(other)
    # a cross-diffusion drift has no reading with independent particles
    with pytest.raises(mf.NoParticleReadingError, match="cross-diffusion"):
        flow.sde(mu1)


def test_one_measure_simulators_refuse_a_system():
    flow = WassersteinSystem(mf.integral(x**2, mu1) + mf.integral(x**2, mu2), (mu1, mu2))
    with pytest.raises(mf.NotAFlowError, match="WassersteinFlow"):
        mf.particle_flow(flow, dt=0.1)
