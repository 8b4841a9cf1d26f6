"""C12, Fernández-Real & Figalli (2022), (4.5) and (4.8): the energy gap to a stationary state, derived."""

import pytest
import sympy as sp

import mfderive as mf
from helpers import close

R = sp.Rational
w, th, x = sp.symbols("w theta x", real=True)
tau = sp.Symbol("tau", positive=True)
mu, ms, D = mf.Measure("mu", (w, th)), mf.Measure("mu_star", (w, th)), mf.Data("D", (x,))
F = mf.integral((mf.integral(w * sp.tanh(th * x), mu) - sp.sin(x)) ** 2 / 2, D) + mf.integral((w**2 + th**2) / 2, mu)
m, mstar = mu.density(w, th), ms.density(w, th)


def test_4_5_kernel_and_kl_terms():
    gap = mf.stationary_gap(F + tau * mf.entropy(mu), mu, ms)
    # K(ξ, ξ̄) = ½ ∫ Φ(ξ,x) Φ(ξ̄,x) dx of (3.4), written by hand; the gap is ∬ K d(μ−μ*)²
    dm = gap.difference
    y, z = dm.point("y"), dm.point("z")
    K = mf.integral(y[0] * sp.tanh(y[1] * x) * z[0] * sp.tanh(z[1] * x), D) / 2
    assert mf.equivalent(gap.quadratic, mf.integral(mf.integral(K, dm, over=z), dm, over=y))
    # τ KL(μ‖μ*) = τ ∫ m log(m/m*) (the ∫(m* − m) term vanished by the unit masses)
    kl = tau * mf.local(m * sp.log(m) - m * sp.log(mstar), mu)
    assert mf.equivalent(sp.expand_log(gap.local, force=True), kl)
    assert not mf.equivalent(sp.expand_log(gap.local, force=True), kl + tau * mf.local(mstar - m, mu))


def test_4_8_porous_medium_and_the_F_tau_erratum():
    Ftau = F + tau / 2 * mf.local(m**2, mu)
    gap = mf.stationary_gap(Ftau, mu, ms)
    assert mf.equivalent(gap.local, tau / 2 * mf.local((m - mstar) ** 2, mu))
    # (4.8) as printed has F(μ*) on the right; the derived identity has F_τ(μ*):
    # they differ by τ/2 ∫ μ*², which is not zero
    lhs = gap.identity.lhs
    printed = F + tau / 2 * mf.local(m**2, mu) - mf.stationary.on_measure(F, mu, ms)
    assert not mf.equivalent(lhs, printed)
    assert mf.equivalent(printed - lhs, tau / 2 * mf.local(mstar**2, ms))


def test_bregman_gap_is_exact_on_discrete_measures():
    """F(μ) − F(μ*) − ∫δF/δμ(μ*)(μ−μ*) = ½∬δ²F d(μ−μ*)² for any μ, μ* (no stationarity):
    both sides exactly on discrete measures (μ − μ* gets the negative weights)."""
    gap = mf.stationary_gap(F, mu, ms)
    A = [(R(1), R(1, 2)), (R(-1, 2), R(2))]
    B = [(R(1, 3), R(-1)), (R(2), R(0)), (R(-1), R(1))]
    wa, wb = [R(1, 3), R(2, 3)], [R(1, 2), R(1, 4), R(1, 4)]
    data = ([R(-1), R(0), R(1, 2)], [R(1, 3)] * 3)
    y = ms.point("y")
    dF_star = mf.evaluate(mf.first_variation(mf.stationary.on_measure(F, mu, ms), ms, at=y), {ms: (B, wb), D: data})
    pair = sum(q * dF_star.xreplace(dict(zip(y, p))) for p, q in zip(A, wa)) - sum(
        q * dF_star.xreplace(dict(zip(y, p))) for p, q in zip(B, wb)
    )
    lhs = mf.evaluate(F, {mu: (A, wa), D: data}) - mf.evaluate(F, {mu: (B, wb), D: data}) - pair
    rhs = mf.evaluate(gap.quadratic, {gap.difference: (A + B, wa + [-q for q in wb]), D: data})
    assert close(lhs, rhs, 1e-25)


def test_non_quadratic_functional_is_refused():
    with pytest.raises(mf.MfDeriveError, match="not quadratic"):
        mf.stationary_gap(sp.exp(mf.integral(w, mu)), mu, ms)
