"""C1: the engine's first variations against textbook formulas written by hand.

Structural comparisons use `mf.equivalent` (bound variables renamed, linearity);
where the textbook formula integrates in another order (Fubini), both sides are
evaluated exactly on discrete measures and compared symbolically.
"""

import sympy as sp

import mfderive as mf
from helpers import close, gateaux_exact, pairing

R = sp.Rational
u, v = sp.symbols("u v", real=True)
rho = mf.Measure("rho", (u,))
(y,) = rho.point("y")
W = sp.Function("W")
f = sp.Function("f")


def test_potential_energy_variation_is_the_potential():
    # the mean-field networks notes, §4 ex. 1: δ/δμ ∫ f dμ = f
    assert mf.equivalent(mf.first_variation(mf.integral(f(u), rho), rho, at=(y,)), f(y))


def test_symmetric_interaction_gives_twice_the_convolution():
    # the mean-field networks notes, §4 ex. 2: W symmetric ⇒ δ/δμ ∬W dμdμ = 2∫W(y,z)μ(dz)
    (z,) = rho.point("z")
    Ws = sp.exp(-((u - z) ** 2))
    E = mf.integral(mf.integral(Ws, rho, over=(z,)), rho)
    expected = 2 * mf.integral(sp.exp(-((y - u) ** 2)), rho)
    assert mf.equivalent(mf.first_variation(E, rho, at=(y,)), expected)


def test_nonsymmetric_interaction_gives_both_orders():
    # ∬W(ξ,z)μ(dz)μ(dξ) ⇒ ∫(W(y,z) + W(z,y)) μ(dz), not 2∫W(y,z)
    (z,) = rho.point("z")
    E = mf.integral(mf.integral(W(u, z), rho, over=(z,)), rho)
    dE = mf.first_variation(E, rho, at=(y,))
    assert mf.equivalent(dE, mf.integral(W(y, u) + W(u, y), rho))
    assert not mf.equivalent(dE, 2 * mf.integral(W(y, u), rho))


def test_entropy_and_relative_entropy():
    m = rho.density(y)
    U = sp.Function("U", real=True)
    assert mf.equivalent(mf.first_variation(mf.entropy(rho), rho, at=(y,)), sp.log(m) + 1)
    dKL = mf.first_variation(mf.relative_entropy(rho, sp.exp(-U(u))), rho, at=(y,))
    assert sp.simplify(dKL - (sp.log(m) + U(y) + 1)) == 0


def test_porous_medium():
    tau = sp.Symbol("tau", positive=True)
    m = rho.density(u)
    d = mf.first_variation(mf.local(tau / 2 * m**2, rho), rho, at=(y,))
    assert sp.simplify(d - tau * rho.density(y)) == 0


def test_mfld_energy_of_seed_000(nn):
    # V^σ = F + σ²/2 H(m|g), g = e^{-U}: δV = δF + σ²/2 (log m + U + 1)
    sigma = sp.Symbol("sigma", positive=True)
    U = (nn.w**2 + nn.a**2 + nn.b**2) / 2
    V = nn.F + sigma**2 / 2 * mf.relative_entropy(nn.mu, sp.exp(-U))
    y = nn.y
    dF = mf.first_variation(nn.F, nn.mu, at=y)
    expected = dF + sigma**2 / 2 * (
        sp.log(nn.mu.density(*y)) + (y[0] ** 2 + y[1] ** 2 + y[2] ** 2) / 2 + 1
    )
    assert mf.equivalent(mf.first_variation(V, nn.mu, at=y), expected)


def test_nn_risk_sign_in_the_notes_is_a_slip(nn):
    """The mean-field networks notes (§4b) write δL/δμ = ⟨f* − f_μ, φ(·;y)⟩ for
    L = ½E(f* − f_μ)².

    d/dε ½(f* − f_{μ+εN})² = −(f* − f_μ)·∫φ dN, so the variation is
    ⟨f_μ − f*, φ⟩: the notes drop the minus sign of the inner derivative (their own
    §7 then uses ⟨f − f*, φ⟩).  The Gateaux derivative decides.
    """
    fstar = sp.sin(nn.x)
    L = mf.integral((fstar - nn.f_mu) ** 2 / 2, nn.nu)
    dL = mf.first_variation(L, nn.mu, at=nn.y)
    correct = mf.integral((nn.f_mu - fstar) * nn.phi(nn.y, nn.x), nn.nu)
    seed = mf.integral((fstar - nn.f_mu) * nn.phi(nn.y, nn.x), nn.nu)
    assert mf.equivalent(dL, correct)
    assert not mf.equivalent(dL, seed)
    spec_mu, spec_nu = (nn.atoms, nn.weights), (nn.other, nn.other_weights)
    fixed = {nn.nu: nn.data}
    g = gateaux_exact(L, nn.mu, spec_mu, spec_nu, fixed)
    for expr, ok in ((correct, True), (seed, False)):
        val = pairing(mf.evaluate(expr, {nn.mu: spec_mu, **fixed}), nn.y, spec_mu, spec_nu)
        assert close(val, g, 1e-25) is ok


def test_general_convex_loss(nn):
    # ∫ ℓ(f_μ(x), t(x)) ν(dx) with the logistic loss ℓ(p, t) = log(1 + e^{−p t})
    t = sp.cos(3 * nn.x)
    F = mf.integral(sp.log(1 + sp.exp(-nn.f_mu * t)), nn.nu)
    # ∂ℓ/∂p by hand: −t e^{−pt}/(1+e^{−pt})
    dl = -t * sp.exp(-nn.f_mu * t) / (1 + sp.exp(-nn.f_mu * t))
    expected = mf.integral(dl * nn.phi(nn.y, nn.x), nn.nu)
    assert mf.equivalent(mf.first_variation(F, nn.mu, at=nn.y), expected)


def test_seed_002_eq_3_5():
    """(3.5): δF/δμ = 2∫K(·,ξ̄)dμ + S + V with K, S of (3.4), for general h, f, V."""
    w, th, x = sp.symbols("w theta x", real=True)
    h, fx, Vf = sp.Function("h"), sp.Function("f"), sp.Function("V")
    mu, D = mf.Measure("mu", (w, th)), mf.Data("D", (x,))
    y = mu.point("y")
    z = mu.point("zeta")
    Phi = lambda p, x: p[0] * h(p[1], x)  # noqa: E731
    F = mf.integral((mf.integral(Phi((w, th), x), mu) - fx(x)) ** 2 / 2, D) + mf.integral(
        Vf(w, th), mu
    )
    K = lambda p, q: mf.integral(Phi(p, x) * Phi(q, x), D) / 2  # noqa: E731
    S = lambda p: -mf.integral(Phi(p, x) * fx(x), D)  # noqa: E731
    expected = 2 * mf.integral(K(y, z), mu, over=z) + S(y) + Vf(*y)
    got = mf.first_variation(F, mu, at=y)
    # the two integrate in opposite orders: compare exactly on discrete measures,
    # with h, f, V left undefined (the values h(1/2, -1), ... stay symbols)
    spec = {
        mu: ([(R(1, 2), R(1)), (R(-2), R(1, 3))], [R(1, 4), R(3, 4)]),
        D: ([R(-1), R(0), R(1)], [R(1, 3), R(2, 3), R(1)]),
    }
    diff = mf.evaluate(got, spec) - mf.evaluate(expected, spec)
    assert sp.expand(diff) == 0
    # and a wrong factor (K instead of 2K) is detected
    wrong = mf.integral(K(y, z), mu, over=z) + S(y) + Vf(*y)
    assert sp.expand(mf.evaluate(got, spec) - mf.evaluate(wrong, spec)) != 0


def test_rho_H_functional_variations():
    """Fernández-Real & Figalli (2022), §3.2: δG/δρ = 2H∫K̄Hρ + S̄H + V̄(H,θ), δG/δH = 2∫K̄Hρ + S̄ + λH."""
    th, x = sp.symbols("theta x", real=True)
    lam = sp.Symbol("lambda", positive=True)
    H, h, fx = sp.Function("H"), sp.Function("h"), sp.Function("f")
    rho, D = mf.Measure("rho", (th,)), mf.Data("D", (x,))
    (y,) = rho.point("y")
    (tb,) = rho.point("thetabar")
    Vbar = lambda Hv, t: lam / 2 * (Hv**2 + t**2)  # noqa: E731
    G = mf.integral((mf.integral(H(th) * h(th, x), rho) - fx(x)) ** 2 / 2, D) + mf.integral(
        Vbar(H(th), th), rho
    )
    Kbar = lambda p, q: mf.integral(h(p, x) * h(q, x), D) / 2  # noqa: E731
    Sbar = lambda p: -mf.integral(h(p, x) * fx(x), D)  # noqa: E731
    L = 2 * mf.integral(Kbar(y, tb) * H(tb), rho, over=(tb,))
    exp_rho = H(y) * L + Sbar(y) * H(y) + Vbar(H(y), y)
    exp_H = L + Sbar(y) + lam * H(y)
    spec = {
        rho: ([R(1, 2), R(-1), R(2)], [R(1, 2), R(1, 4), R(1, 4)]),
        D: ([R(-1), R(1, 2)], [R(1), R(1)]),
    }
    for got, exp in (
        (mf.first_variation(G, rho, at=(y,)), exp_rho),
        (mf.function_variation(G, H, rho, at=(y,)), exp_H),
    ):
        assert sp.expand(mf.evaluate(got - exp, spec)) == 0


def test_function_variation_matches_gateaux_in_H():
    """⟨δG/δH, φ⟩_{L²(ρ)} = d/dε G(ρ, H + εφ), exactly, for a concrete H and φ."""
    th, x = sp.symbols("theta x", real=True)
    H = sp.Function("H")
    rho, D = mf.Measure("rho", (th,)), mf.Data("D", (x,))
    (y,) = rho.point("y")
    G = mf.integral(sp.exp(mf.integral(H(th) * sp.cos(th * x), rho)), D) + mf.integral(
        H(th) ** 4 * th, rho
    )
    eps, t = sp.symbols("epsilon t")
    Hc = sp.Lambda(t, sp.sin(t) + 2)
    phi = sp.Lambda(t, t**2 - 1)
    spec = {rho: ([R(1, 2), R(-1, 3)], [R(1, 3), R(2, 3)]), D: ([R(0), R(1)], [R(1, 2)] * 2)}
    lhs = mf.evaluate(mf.integral(mf.function_variation(G, H, rho, at=(y,)).subs(y, th) * phi(th), rho), spec)
    lhs = lhs.replace(H, Hc)
    Geps = mf.evaluate(G.replace(H, sp.Lambda(t, Hc(t) + eps * phi(t))), spec)
    rhs = sp.diff(Geps, eps).subs(eps, 0)
    assert close(lhs, rhs, 1e-25)


def test_normalized_variation_has_zero_mean(nn):
    d = mf.first_variation(nn.F, nn.mu, at=nn.y, normalize=True)
    spec = {nn.mu: (nn.atoms, nn.weights), nn.nu: nn.data}
    from helpers import integrate_against

    mean = integrate_against(mf.evaluate(d, spec), nn.y, (nn.atoms, nn.weights))
    assert abs(sp.N(mean, 30)) < 1e-25
    # and it differs from the raw one by a constant only
    raw = mf.first_variation(nn.F, nn.mu, at=nn.y)
    assert not (mf.evaluate(raw - d, spec).free_symbols)


def test_point_may_be_any_expression_without_capture():
    (z,) = rho.point("z")
    E = mf.integral(mf.integral(W(u, z), rho, over=(z,)), rho)
    # at the measure's own variable u: bound variables are renamed, not captured
    d = mf.first_variation(E, rho, at=(u,))
    assert mf.equivalent(d, mf.integral(W(u, v) + W(v, u), rho, over=(v,)))
    d_half = mf.first_variation(E, rho, at=(R(1, 2),))
    assert mf.equivalent(d_half, mf.integral(W(R(1, 2), v) + W(v, R(1, 2)), rho, over=(v,)))
