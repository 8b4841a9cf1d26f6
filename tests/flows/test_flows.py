"""Flows built by the engine: PDEs, particle readings, exact solutions (C4–C6, C12)."""

import pytest
import sympy as sp
from sympy.core.function import AppliedUndef

import mfderive as mf
from mfderive.derive.euler import is_zero

u = sp.Symbol("u", real=True)
a, sigma, v, v0 = sp.symbols("a sigma v v0", positive=True)
M, M0, t = sp.symbols("M M0 t", real=True)
mu = mf.Measure("mu", (u,))


def gaussian(x, mean, var):
    return sp.exp(-((x - mean) ** 2) / (2 * var)) / sp.sqrt(2 * sp.pi * var)


def ou_flow():
    # F = ∫ a u²/2 dμ with noise σ: dX = −aX dt + σ dW (Ornstein–Uhlenbeck)
    return mf.WassersteinFlow(mf.integral(a * u**2 / 2, mu), mu, noise=sigma)


def _substitute_density(expr, density):
    return expr.replace(
        lambda e: isinstance(e, AppliedUndef) and e.func.__name__ == "mu", lambda e: density(*e.args)
    ).doit()


@pytest.mark.parametrize("v_inf,ok", [(sigma**2 / (2 * a), True), (sigma**2 / a, False)])
def test_ou_gaussian_solves_the_derived_pde(v_inf, ok):
    """m(t) = N(M0 e^{-at}, v∞ + (v0 − v∞) e^{-2at}) with v∞ = σ²/(2a) (Itô) solves the PDE;
    the wrong stationary variance σ²/a does not."""
    (eq,) = ou_flow().pde()
    mean = M0 * sp.exp(-a * t)
    var = v_inf + (v0 - v_inf) * sp.exp(-2 * a * t)
    sol = lambda tt, yy: gaussian(yy, mean.subs(t, tt), var.subs(t, tt))  # noqa: E731
    residual = _substitute_density(eq.lhs - eq.rhs, sol)
    assert is_zero(sp.simplify(residual / sol(t, eq.lhs.args[0].args[1]))) is ok


def test_theorem_2_rate_in_closed_form_for_gaussians():
    """Along the OU flow, d/dt V^σ(m_t) = −∫|D_mF + σ²/2 ∂ log m|² m (Hu, Ren, Šiška & Szpruch (2021), Theorem 2):
    both sides in closed form for m = N(M, v), with M' = −aM, v' = −2a(v − σ²/(2a))."""
    flow = ou_flow()
    dens = mf.Density(gaussian(u, M, v))
    E = sp.simplify(mf.evaluate(flow.energy, {mu: dens}))
    dEdt = sp.diff(E, M) * (-a * M) + sp.diff(E, v) * (-2 * a * v + sigma**2)
    rate = sp.simplify(mf.evaluate(flow.dissipation(), {mu: dens}))
    assert sp.simplify(dEdt - rate) == 0
    # Theorem 2 as printed, written by hand: −∫ |a u + σ²/2 m'/m|² m du
    m = mu.density(u)
    thm2 = -mf.local((a * u + sigma**2 / 2 * sp.diff(m, u) / m) ** 2 * m, mu)
    assert sp.simplify(mf.evaluate(thm2, {mu: dens}) - rate) == 0
    assert sp.simplify(rate.subs({M: 0, v: sigma**2 / (2 * a)})) == 0  # Gibbs: no dissipation


def test_pde_is_in_divergence_form_with_nonlocal_terms(nn):
    (eq,) = mf.WassersteinFlow(nn.F, nn.mu).pde()
    assert isinstance(eq.lhs, sp.Derivative) and eq.lhs.variables == (mf.flows.TIME,)
    assert all(isinstance(term, sp.Derivative) for term in sp.Add.make_args(eq.rhs))
    assert eq.rhs.has(mf.MeasureIntegral)
    assert "\\int" in sp.latex(eq.rhs)


def test_velocity_is_minus_lions_derivative_and_noise_terms(nn):
    U = (nn.w**2 + nn.a**2 + nn.b**2) / 2
    flow = mf.WassersteinFlow(nn.F, nn.mu, noise=sigma, confinement=U)
    y = flow.point
    m = nn.mu.density(*y)
    D = mf.lions_derivative(nn.F, nn.mu, at=y)
    expected = [
        -(D[i] + sigma**2 / 2 * sp.diff(m, y[i]) / m + sigma**2 / 2 * sp.diff(U.subs(dict(zip(nn.mu.variables, y))), y[i]))
        for i in range(3)
    ]
    assert all(mf.equivalent(vi, ei) for vi, ei in zip(flow.velocity(), expected))
    drift, s = flow.sde()
    assert s == sigma
    assert all(mf.equivalent(drift[i], -(D[i] + sigma**2 / 2 * y[i])) for i in range(3))


def test_heat_regularised_flow_reads_entropy_as_noise(nn):
    # (4.2): F + τ Ent has the same particles as noise σ = √(2τ)
    tau = sp.Symbol("tau", positive=True)
    drift, s = mf.WassersteinFlow(nn.F + tau * mf.entropy(nn.mu), nn.mu).sde()
    assert sp.simplify(s - sp.sqrt(2 * tau)) == 0


def test_porous_medium_flow_has_pde_but_no_sde():
    tau = sp.Symbol("tau", positive=True)
    F = mf.integral(u**2 / 2, mu) + mf.local(tau / 2 * mu.density(u) ** 2, mu)
    flow = mf.WassersteinFlow(F, mu)
    (eq,) = flow.pde()
    (y,) = flow.point
    mt = mu.density(mf.flows.TIME, y)
    # (4.7): ∂_t m = div(m ∇V) + τ div(m ∇m)
    expected = sp.diff(mt * y, y) + tau * sp.diff(mt * sp.diff(mt, y), y)
    assert sp.simplify(eq.rhs.doit() - expected) == 0
    with pytest.raises(mf.NoParticleReadingError, match="porous|nonlinear"):
        flow.sde()


def test_unbalanced_flow_source_and_mass(nn):
    alpha = sp.Symbol("alpha", positive=True)
    flow = mf.UnbalancedFlow(nn.F, nn.mu, alpha)
    (eq,) = flow.pde()
    assert eq.rhs.has(alpha)
    assert mf.dissipation_identity(flow.mass_flow()).verify().proved


def test_flow_errors():
    with pytest.raises(mf.NotAMeasureError):
        mf.WassersteinFlow(mf.integral(u, mu), mf.Data("nu", (u,)))
    with pytest.raises(mf.NotSympyError):
        mf.WassersteinFlow("F", mu)
    with pytest.raises(ValueError, match="variant"):
        mf.RhoHFlow(mf.integral(u, mu), mu, sp.Function("H"), "other")
