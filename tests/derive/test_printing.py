"""Atoms print as integrals (LaTeX for notebooks and the book) and behave as SymPy."""

import sympy as sp

import mfderive as mf

w, a, x = sp.symbols("w a x", real=True)
mu = mf.Measure("mu", (w, a))
nu = mf.Data("nu", (x,))


def test_latex_of_integrals():
    f = mf.integral(w * sp.tanh(a * x), mu)
    F = mf.integral((f - sp.sin(x)) ** 2, nu)
    tex = sp.latex(F)
    assert r"\mu(dw\,da)" in tex and r"\nu(dx)" in tex and tex.count(r"\int") == 2
    assert F._repr_latex_().startswith("$")
    assert sp.latex(mf.entropy(mu)).endswith(r"\,dw\,da")


def test_bound_variables_are_not_free():
    f = mf.integral(w * sp.tanh(a * x), mu)
    assert f.free_symbols == {x}
    assert f.subs(w, 5) == f  # bound: untouched
    assert f.diff(x) == mf.integral(w * a * (1 - sp.tanh(a * x) ** 2), mu)
    assert f.diff(w) == 0


def test_probability_measure_has_unit_mass_but_data_need_not():
    assert mf.integral(x**2, mu) == x**2
    assert isinstance(mf.integral(sp.Integer(1), nu), mf.MeasureIntegral)


def test_substitution_renames_to_avoid_capture():
    v = sp.Symbol("v", real=True)
    f = mf.integral(w * v, mu)
    g = f.subs(v, w)  # the outer w must not become the bound w
    assert g.free_symbols == {w}
    assert mf.evaluate(g, {mu: [(2, 0)]}) == 2 * w


def test_measures_compare_by_value_and_points_are_fresh():
    assert mf.Measure("mu", (w, a)) == mu
    assert mf.Measure("mu", (a, w)) != mu
    assert mu.point("y") == mu.point("y")
    assert [s.name for s in mu.point("y")] == ["y_w", "y_a"]
    assert mu.point("y")[0].is_real
