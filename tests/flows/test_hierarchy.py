"""C11, Lemma 3.2 of Fernández-Real & Figalli (2022): the moment hierarchy (3.27) and its Dirac closure (3.30)."""

import sympy as sp

import mfderive as mf
from mfderive.derive.euler import div, is_zero

w, th, x = sp.symbols("w theta x", real=True)
h, f, V = [sp.Function(n, real=True) for n in "hfV"]
H = sp.Function("H", real=True)
mu, D = mf.Measure("mu", (w, th)), mf.Data("D", (x,))
rho = mf.Measure("rho", (th,))
F = mf.integral((mf.integral(w * h(th, x), mu) - f(x)) ** 2 / 2, D) + mf.integral(V(w, th), mu)


def _hierarchy():
    return mf.MomentHierarchy(mf.WassersteinFlow(F, mu), w, rho, H)


def test_hierarchy_matches_3_27_written_by_hand():
    hier = _hierarchy()
    (t,) = hier.theta
    r = rho.density(t)
    # N = L̄ + S̄ at θ = t: ∫ h(t,x)(f_μ(x) − f(x)) dx with f_μ = ∫ w h dμ, by hand
    N = mf.integral(h(t, x) * (mf.integral(w * h(th, x), mu) - f(x)), D)
    nu = hier.nu_theta
    for i in range(3):
        Hi = lambda j: hier.moment(j)  # noqa: E731
        Vth = mf.MeasureIntegral(w**i * sp.Derivative(V(w, t), t), nu, (w,))
        rhs = sp.diff(r * Hi(i + 1) * sp.diff(N, t) + r * Vth, t)
        if i > 0:
            Vw = mf.MeasureIntegral(w ** (i - 1) * sp.Derivative(V(w, t), w), nu, (w,))
            rhs -= i * (r * Hi(i - 1) * N + r * Vw)
        lhs, got = hier.equation(i)
        assert lhs == r * Hi(i)
        assert is_zero(got.doit() - rhs)


def test_dirac_closure_is_the_chaos_system():
    hier = _hierarchy()
    (t,) = hier.theta
    G = hier.closed_functional(F)
    assert G == mf.integral((mf.integral(H(th) * h(th, x), rho) - f(x)) ** 2 / 2, D) + mf.integral(V(H(th), th), rho)
    chaos = mf.RhoHFlow(G, rho, H, "chaos")
    (yc,) = chaos.point
    eq_r, eq_H = chaos.equations
    d_rho = chaos.nonlocal_(div(eq_r.flux, (yc,)))
    d_rhoH = H(yc) * d_rho + rho.density(yc) * chaos.nonlocal_(eq_H.source)
    closed = [hier.dirac_closure(hier.equation(i)[1]).doit().subs(t, yc) for i in (0, 1)]
    assert is_zero(closed[0] - d_rho)
    assert is_zero(closed[1] - d_rhoH)
    # closing after differentiating would be wrong (∂_θ V(w,θ) at w = H(θ) is a partial)
    wrong = hier.dirac_closure(hier.equation(0)[1].doit()).subs(t, yc)
    assert not is_zero(wrong - d_rho)
