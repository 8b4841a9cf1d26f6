"""Issue 10, B5 and C14 (Density bounds): bad input to `evaluate` and `Density` raises a
named MfDeriveError; legal input still gives the exact value; strings are never run."""

import re
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import mfderive as mf

R = sp.Rational
u, x = sp.symbols("u x", real=True)
a, b = sp.symbols("a b", real=True)
w = sp.Symbol("w")  # no assumptions
p = sp.Symbol("p", positive=True)
zc = sp.Symbol("zc", complex=True)
q = sp.Symbol("q", negative=True)
rho = mf.Measure("rho", (u,))
nu = mf.Data("nu", (x,))
mu2 = mf.Measure("mu2", (a, b))
mw = mf.Measure("mw", (w,))
mp = mf.Measure("mp", (p,))
mc = mf.Measure("mc", (zc,))

F = mf.integral(u**2, rho)
G = mf.integral(x**2, nu)
F2 = mf.integral(a * b, mu2)
NAN, INF = float("nan"), float("inf")


def ev(expr, measure, spec):
    return lambda: mf.evaluate(expr, {measure: spec})


def dens(expr, measure, *args):
    return lambda: mf.evaluate(mf.integral(measure.variables[0], measure), {measure: mf.Density(expr, *args)})


BAD = [
    # --- weights of a probability Measure: finite, real, >= 0, sum one
    ("negative weight", ev(F, rho, ([0, 1, 2], [1.5, -0.5, 0])), mf.EvaluationError, "weight 1 of 'rho'"),
    ("negative exact weight", ev(F, rho, ([0, 1], [R(3, 2), R(-1, 2)])), mf.EvaluationError, "< 0"),
    ("negative symbolic weight", ev(F, rho, ([0, 1], [1 - q, q])), mf.EvaluationError, "weight 1 of 'rho'"),
    ("complex weight", ev(F, rho, ([0, 1], [0.5 + 0.1j, 0.5 - 0.1j])), mf.EvaluationError, "not real"),
    ("complex SymPy weight", ev(F, rho, ([0, 1], [R(1, 2) + sp.I, R(1, 2) - sp.I])), mf.EvaluationError, "not real"),
    ("NaN weight", ev(F, rho, ([0, 1], [NAN, 1.0])), mf.EvaluationError, "weight 0 of 'rho' is nan"),
    ("infinite weight", ev(F, rho, ([0, 1], [INF, 0.0])), mf.EvaluationError, "not finite"),
    ("2-D weights", ev(F, rho, ([0, 1], np.array([[0.5, 0.5]]))), mf.EvaluationError, "shape (1, 2)"),
    ("nested-list weights", ev(F, rho, ([0, 1], [[0.5], [0.5]])), mf.EvaluationError, "shape (2, 1)"),
    ("set of weights", ev(F, rho, ([0], {1.0})), mf.EvaluationError, "ordered"),
    ("dict of weights", ev(F, rho, ([0], {0: 1.0})), mf.EvaluationError, "ordered"),
    ("bool weight", ev(F, rho, ([0], [True])), mf.EvaluationError, "weight 0 of 'rho'"),
    ("unnormalised floats", ev(F, rho, ([0, 1], [0.5, 0.6])), mf.EvaluationError, "sum to"),
    # 1e-10 is far above the float64 rounding of a two-term sum (2.2e-16): a real error
    ("floats off by 1e-10", ev(F, rho, ([0, 1], [0.5, 0.5 + 1e-10])), mf.EvaluationError, "sum to"),
    ("rationals off by 1e-20", ev(F, rho, ([0, 1], [R(1, 2), R(1, 2) + R(1, 10**20)])), mf.EvaluationError, "sum to"),
    ("symbolic weights of mass 1+s", ev(F, rho, ([0, 1], [R(1, 2), R(1, 2) + w])), mf.EvaluationError, "sum to"),
    # --- atoms: finite, real for a real variable, in the variable's declared domain
    ("NaN atom", ev(F, rho, [NAN, 0.0]), mf.EvaluationError, "atom 0 of 'rho' is nan"),
    ("infinite atom", ev(F, rho, [0.0, INF]), mf.EvaluationError, "atom 1 of 'rho' is oo"),
    ("SymPy oo atom", ev(F, rho, [-sp.oo]), mf.EvaluationError, "not finite"),
    ("zoo atom", ev(F, rho, [sp.zoo]), mf.EvaluationError, "not finite"),
    ("complex atom of a real variable", ev(F, rho, [1 + 2j]), mf.EvaluationError, "u is declared real"),
    ("complex NumPy atoms", ev(F, rho, np.array([1 + 1j, 0])), mf.EvaluationError, "atom 0 of 'rho'"),
    ("I atom of an undeclared variable", ev(mf.integral(w, mw), mw, [sp.I]), mf.EvaluationError, "complex=True"),
    ("imaginary symbolic atom", ev(F, rho, [sp.Symbol("t", imaginary=True)]), mf.EvaluationError, "not real"),
    ("atom outside a positive variable", ev(mf.integral(p, mp), mp, [-1]), mf.EvaluationError, "declared positive"),
    ("set of atoms", ev(F, rho, {0.1, 0.2}), mf.EvaluationError, "ordered"),
    ("frozenset of atoms", ev(F, rho, (frozenset({0.1, 0.2}), [0.5, 0.5])), mf.EvaluationError, "ordered"),
    ("dict of atoms", ev(F, rho, {0.1: 0.5, 0.2: 0.5}), mf.EvaluationError, "ordered"),
    ("an atom that is a set", ev(F2, mu2, [{1, 2}]), mf.EvaluationError, "atom 0 of 'mu2'"),
    ("string atom", ev(F, rho, ["1"]), mf.EvaluationError, "number"),
    ("string atoms", ev(F, rho, "12"), mf.EvaluationError, "ordered"),
    ("bool atom", ev(F, rho, [True]), mf.EvaluationError, "number"),
    # --- a Data measure: any mass and sign, but finite real weights and atoms
    ("NaN data weight", ev(G, nu, ([0, 1], [NAN, 1.0])), mf.EvaluationError, "weight 0 of 'nu'"),
    ("NaN data weights (NumPy)", ev(G, nu, (np.zeros(2), np.full(2, np.nan))), mf.EvaluationError, "'nu' is nan"),
    ("infinite data weight", ev(G, nu, ([0, 1], [1.0, -INF])), mf.EvaluationError, "not finite"),
    ("complex data weight", ev(G, nu, ([0, 1], [1j, 1.0])), mf.EvaluationError, "not real"),
    ("2-D data weights", ev(G, nu, ([0, 1], np.ones((2, 2)))), mf.EvaluationError, "shape (2, 2)"),
    ("NaN data atom", ev(G, nu, (np.array([0.0, np.nan]), [1.0, 1.0])), mf.EvaluationError, "atom 1 of 'nu'"),
    # --- Density: bounds (checked at construction)
    ("reversed bounds", lambda: mf.Density(R(1, 2), [(2, 0)]), mf.EvaluationError, "lower bound must be below"),
    ("empty interval", lambda: mf.Density(1, [(0, 0)]), mf.EvaluationError, "lower bound must be below"),
    ("string bounds", lambda: mf.Density(1, [("0", "1")]), mf.EvaluationError, "lower bound"),
    ("bounds as one string", lambda: mf.Density(1, "(0, 1)"), mf.EvaluationError, "(low, high) pairs"),
    ("symbolic bound", lambda: mf.Density(1, [(0, p)]), mf.EvaluationError, "upper bound"),
    ("NaN bound", lambda: mf.Density(1, [(NAN, 1)]), mf.EvaluationError, "lower bound"),
    ("complex bound", lambda: mf.Density(1, [(0, 1j)]), mf.EvaluationError, "real number"),
    ("zoo bound", lambda: mf.Density(1, [(sp.zoo, 1)]), mf.EvaluationError, "real number"),
    ("upper bound -oo", lambda: mf.Density(1, [(0, -sp.oo)]), mf.EvaluationError, "below"),
    ("bounds as a set", lambda: mf.Density(1, {(0, 1)}), mf.EvaluationError, "(low, high) pairs"),
    ("bound pair as a set", lambda: mf.Density(1, [{0, 1}]), mf.EvaluationError, "entry 0"),
    ("bound triple", lambda: mf.Density(1, [(0, 1, 2)]), mf.EvaluationError, "3 values"),
    ("bounds of the wrong dimension", dens(1, rho, [(0, 1), (0, 1)]), mf.EvaluationError, "2 entries"),
    # --- Density: the density itself
    ("string density", lambda: mf.Density("exp(-u**2)"), mf.NotSympyError, "density"),
    ("NaN density", lambda: mf.Density(sp.nan), mf.MfDeriveError, "nan"),
    ("negative constant density", lambda: mf.Density(-1, [(0, 1)]), mf.EvaluationError, "negative"),
    ("negative density (proved)", dens(-sp.exp(-(u**2)) / sp.sqrt(sp.pi), rho), mf.EvaluationError, "negative"),
    ("negative density (sampled)", dens(2 * u, rho, [(-1, 1)]), mf.EvaluationError, "negative"),
    ("negative density inside (sampled)", dens(6 * (u - R(1, 2)) ** 2 - R(1, 10), rho, [(0, 1)]), mf.EvaluationError, "negative"),
    ("negative data density", dens(x, nu, [(-1, 1)]), mf.EvaluationError, "negative"),
    ("unnormalised density", dens(sp.exp(-(u**2)), rho), mf.EvaluationError, "integrates to sqrt(pi)"),
    ("unnormalised uniform", dens(1, rho, [(0, 2)]), mf.EvaluationError, "integrates to 2"),
    ("unnormalised float density", dens(0.5 + 1e-9, rho, [(0, 2)]), mf.EvaluationError, "not 1"),
    ("unnormalised with a parameter", dens(sp.exp(-p * u**2), rho), mf.EvaluationError, "not 1"),
]


@pytest.mark.parametrize("description,call,error,message", BAD, ids=[row[0] for row in BAD])
def test_bad_input_raises_a_named_error(description, call, error, message):
    with pytest.raises(error) as info:
        call()
    assert isinstance(info.value, mf.MfDeriveError)
    assert message in str(info.value), str(info.value)


def payloads(target: Path):
    return [
        f"__import__('os').system('touch {target}')",
        f"__import__('pathlib').Path({str(target)!r}).touch() or 0",
    ]


@pytest.mark.parametrize("where", ["lower bound", "upper bound", "atom", "weight", "data weight"])
def test_strings_are_never_executed(tmp_path, where):
    """C14: a string bound used to reach sympify (eval) through sympy.integrate."""
    target = tmp_path / "pwned"
    for payload in payloads(target):
        calls = {
            "lower bound": lambda: mf.evaluate(F, {rho: mf.Density(1, [(payload, 1)])}),
            "upper bound": lambda: mf.evaluate(F, {rho: mf.Density(1, [(0, payload)])}),
            "atom": lambda: mf.evaluate(F, {rho: [payload]}),
            "weight": lambda: mf.evaluate(F, {rho: ([0], [payload])}),
            "data weight": lambda: mf.evaluate(G, {nu: ([0], np.array([payload]))}),
        }
        with pytest.raises(mf.EvaluationError):
            calls[where]()
        assert not target.exists()


def test_every_sympify_in_evaluate_is_strict():
    here = Path(mf.evaluate.__code__.co_filename).parent  # evaluate, discrete, densities
    src = "".join((here / f).read_text() for f in ("evaluate.py", "discrete.py", "densities.py"))
    calls = re.findall(r"sympify\(([^)]*)\)", src)
    assert calls and all("strict=True" in c for c in calls), calls


# --- legal input: the value is unchanged -------------------------------------------------
# Float results are compared with NumPy's sum to 4 ulp of the sum of |terms|: SymPy and NumPy
# add the same float64 products, possibly in another order (at most one rounding per term).


def _close_to_numpy(value, terms):
    terms = np.asarray(terms, dtype=float)
    return abs(float(value) - terms.sum()) <= 4 * np.finfo(float).eps * np.abs(terms).sum()


def test_float_atoms_and_weights_give_the_numpy_value():
    atoms, weights = np.array([0.1, -0.2, 0.7]), np.array([0.2, 0.3, 0.5])
    val = mf.evaluate(mf.integral(sp.sin(u), rho), {rho: (atoms, weights)})
    assert _close_to_numpy(val, weights * np.sin(atoms))


def test_many_uniform_float_weights_sum_to_one_within_rounding():
    atoms = np.linspace(-1, 1, 1000)
    val = mf.evaluate(F, {rho: (atoms, np.full(1000, 1 / 1000))})
    assert _close_to_numpy(val, atoms**2 / 1000)


def test_float32_weights_are_judged_at_float32_precision():
    atoms = np.array([0.0, 1.0, 2.0])
    val = mf.evaluate(F, {rho: (atoms, np.full(3, 1 / 3, dtype=np.float32))})
    assert abs(float(val) - 5 / 3) < 1e-6  # float32 weights: 3 * 2^-24 relative each


def test_exact_weights_give_the_exact_value():
    assert mf.evaluate(F, {rho: ([0, 1, 2], [R(1, 4), R(1, 4), R(1, 2)])}) == R(9, 4)
    assert mf.evaluate(F2, {mu2: ([(1, 2), (R(1, 2), -4)], [R(1, 3), R(2, 3)])}) == R(-2, 3)
    assert mf.evaluate(F, {rho: [1, 2]}) == R(5, 2)  # uniform weights


def test_symbolic_mixture_weights_are_accepted():
    s = sp.Symbol("s")
    val = mf.evaluate(F, {rho: ([0, 1, 2], [(1 - s) / 2, (1 - s) / 2, s])})
    assert sp.expand(val - (R(1, 2) + 7 * s / 2)) == 0


def test_data_weights_of_any_mass_and_sign():
    # Simpson's rule on [-1, 1]: mass 2, exact for x^2
    assert mf.evaluate(G, {nu: ([-1, 0, 1], [R(1, 3), R(4, 3), R(1, 3)])}) == R(2, 3)
    # a signed measure (like StationaryGap.difference): delta_2 - delta_1
    assert mf.evaluate(G, {nu: ([1, 2], [-1, 1])}) == 3
    atoms, weights = np.array([0.5, 1.5]), np.array([2.0, -0.25])
    assert _close_to_numpy(mf.evaluate(G, {nu: (atoms, weights)}), weights * atoms**2)


def test_complex_atoms_of_a_complex_variable():
    assert mf.evaluate(mf.integral(zc**2, mc), {mc: [sp.I]}) == -1
    assert complex(mf.evaluate(mf.integral(zc**2, mc), {mc: [1j]})) == -1


def test_symbolic_atoms_are_accepted():
    t = sp.Symbol("t")
    assert mf.evaluate(F, {rho: [t]}) == t**2


def test_densities_give_exact_values():
    gauss = sp.exp(-(u**2) / 2) / sp.sqrt(2 * sp.pi)
    assert mf.evaluate(F, {rho: mf.Density(gauss)}) == 1
    assert mf.evaluate(F, {rho: mf.Density(gauss, [(-sp.oo, sp.oo)])}) == 1
    assert mf.evaluate(F, {rho: mf.Density(gauss, [(-INF, INF)])}) == 1
    assert mf.evaluate(F, {rho: mf.Density(R(1, 2), [(0, 2)])}) == R(4, 3)
    assert mf.evaluate(F, {rho: mf.Density(R(1, 2), [(np.float64(0), np.int64(2))])}) == R(4, 3)
    # sign not decided by SymPy's assumptions: sampled, and non-negative (zero at the ends)
    assert mf.evaluate(F, {rho: mf.Density(R(3, 4) * (1 - u**2), [(-1, 1)])}) == R(1, 5)
    # a Data density need not have mass one
    assert mf.evaluate(G, {nu: mf.Density(1, [(-1, 1)])}) == R(2, 3)


def test_float_density_within_its_stated_tolerance():
    val = mf.evaluate(F, {rho: mf.Density(0.5, [(0, 2)])})
    assert abs(float(val) - 4 / 3) < 1e-14


def test_gaussian_with_parameters_and_its_entropy():
    m = sp.Symbol("m", real=True)
    gauss = sp.exp(-((u - m) ** 2) / (2 * p)) / sp.sqrt(2 * sp.pi * p)
    spec = {rho: mf.Density(gauss)}
    assert sp.simplify(mf.evaluate(F, spec) - (m**2 + p)) == 0
    assert sp.simplify(mf.evaluate(mf.entropy(rho), spec) + sp.log(2 * sp.pi * sp.E * p) / 2) == 0
