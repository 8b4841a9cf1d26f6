"""Issue 10, derive and compile side: every reproducer of a silently wrong number, of an
unsafe string, or of a malformed input is a regression test here.

Expected values are written independently of the engine: NumPy on the same atoms, an
exact Gateaux derivative on discrete measures (tests/helpers.py), a Gaussian integral
done by hand, or SciPy quadrature.
"""

import os

import numpy as np
import pytest
import sympy as sp
from scipy.integrate import quad

import mfderive as mf
from helpers import close, gateaux_exact, pairing

R = sp.Rational
u, x, t = sp.symbols("u x t_safety", real=True)  # t: a name no other test gives a measure
rho = mf.Measure("rho", (u,))
(z,) = rho.point("z")
(y,) = rho.point("y")
SPEC_MU = ([R(-1), R(1, 2), R(3, 2)], [R(1, 3), R(1, 3), R(1, 3)])
SPEC_NU = ([R(1, 4), R(-2)], [R(1, 2), R(1, 2)])
PAYLOAD = "__import__('os').system('touch {}')"


# ---------------------------------------------------------------- A. wrong numbers
class TestMeasuresAreObjectsNotNames:
    A = np.array([0.1, 0.2, 0.3])
    B = np.array([1.0, 2.0, 3.0])
    W = np.full(3, 1 / 3)

    def test_measure_and_data_with_one_name_compile_apart(self):
        m1, m2 = mf.Measure("m", (u,)), mf.Data("m", (x,))
        F = mf.integral(sp.sin(u), m1) + mf.integral(sp.cos(x), m2)
        got = mf.compile(F, [m1, m2])(self.A, self.W, self.B, self.W)
        expected = np.mean(np.sin(self.A)) + np.mean(np.cos(self.B))  # -0.0906
        assert abs(expected - (-0.0906)) < 1e-4
        assert got == pytest.approx(expected, rel=1e-14)  # float64 round-off only
        assert mf.evaluate(F, {m1: (list(self.A), list(self.W)), m2: (list(self.B), list(self.W))}) \
            == pytest.approx(expected, rel=1e-14)

    def test_two_measures_with_one_name_and_other_variables_compile_apart(self):
        a, b = mf.Measure("m", (u,)), mf.Measure("m", (x,))
        F = mf.integral(sp.sin(u), a) * mf.integral(x**2, b)
        got = mf.compile(F, [a, b])(self.A, self.W, self.B, self.W)
        assert got == pytest.approx(np.mean(np.sin(self.A)) * np.mean(self.B**2), rel=1e-14)

    def test_a_measure_named_points_is_not_the_points_argument(self):
        p = mf.Measure("points", (u,))
        F = mf.integral(sp.sin(u - z), p)
        pts = np.array([0.5, -1.0])
        got = mf.compile(F, [p], at=(z,))(self.A, self.W, pts)
        expected = [np.mean(np.sin(self.A - q)) for q in pts]
        np.testing.assert_allclose(got, expected, rtol=1e-14)

    def test_symbolic_side_rejects_two_measures_with_one_name(self):
        other = mf.Measure("rho", (x,))
        F = mf.integral(x**2, other) ** 2 + mf.integral(u, rho)
        with pytest.raises(mf.MeasureNameClashError, match="both named 'rho'"):
            mf.first_variation(F, rho, at=(z,))
        with pytest.raises(mf.MeasureNameClashError):
            mf.first_variation(mf.integral(x**2, other) ** 2, rho, at=(z,))
        with pytest.raises(mf.MeasureNameClashError):
            mf.lions_derivative(F, rho, at=(z,))

    def test_a_game_between_two_players_with_one_name_is_refused(self):
        xs, ys = sp.symbols("xs ys", real=True)
        px, py = mf.Measure("m", (xs,)), mf.Measure("m", (ys,))
        loss = mf.integral(mf.integral(sp.cos(xs - ys), py), px)
        with pytest.raises(mf.MeasureNameClashError):
            mf.ZeroSumGame(loss, px, py)


def test_local_integral_inside_a_local_integral():
    # F(rho) = ∫ m(u) H(rho) du with H the entropy; δF/δρ(z) = H(ρ) + log m(z) + 1 (mass 1).
    # Gateaux derivative at N(0,1) toward N(1,1/4): ∫ log m(z) (ν-μ)(dz) = -(1.25-1)/2 = -1/8.
    F = mf.local(rho.density(u) * mf.entropy(rho), rho)
    dF = mf.first_variation(F, rho, at=(z,))

    def gauss(m, v):
        return sp.Lambda(u, sp.exp(-((u - m) ** 2) / (2 * v)) / sp.sqrt(2 * sp.pi * v))

    g0, g1 = gauss(0, 1), gauss(1, R(1, 4))
    e = sp.expand_log(dF.replace(rho.density, g0), force=True)
    e = e.replace(
        lambda q: isinstance(q, mf.LocalIntegral),
        lambda q: sp.Integral(q.integrand, (q.over[0], -sp.oo, sp.oo)),
    ).doit()
    f = sp.lambdify([z], e * (g1(z) - g0(z)))
    got, err = quad(f, -12, 12, points=[0, 1])
    assert abs(got - (-0.125)) < 1e-9  # quad's error estimate is ~1e-11


def test_derivative_of_an_integral_in_an_outer_bound_variable():
    F = mf.integral(sp.Derivative(mf.integral(sp.cos(u * t), rho), t), rho, over=(t,))
    d1 = mf.first_variation(F, rho, at=(y,))
    d2 = mf.first_variation(F.doit(), rho, at=(y,))
    assert mf.equivalent(d1, d2)
    g = gateaux_exact(F.doit(), rho, SPEC_MU, SPEC_NU, {})
    got = pairing(mf.evaluate(d1, {rho: SPEC_MU}), (y,), SPEC_MU, SPEC_NU)
    assert close(got, g, 1e-20)  # exact arithmetic, printed to 30 digits


class TestReLU:
    nu = mf.Data("nu", (x,))
    F = mf.integral(mf.integral(sp.Max(0, u) * x, rho) ** 2, nu)
    atoms, weights = np.array([-1.0, 0.0, 2.0]), np.full(3, 1 / 3)
    data, dw = np.array([1.0, 2.0]), np.array([0.5, 0.5])
    # D_rho F(y) = 2 ∫ x f(x) x' nu(dx) * H(y) with f(x) = x * mean(relu(atoms)) = 2x/3:
    # 2 * (2/3) * E[x^2] = (4/3) * 2.5 = 10/3 times the step H(y)
    slope = 10 / 3

    def test_compiles_with_sympy_value_at_zero(self):
        L = mf.lions_derivative(self.F, rho, at=(z,))
        fn = mf.compile(L, [rho, self.nu], at=(z,), points_from=rho)
        got = np.asarray(fn(self.atoms, self.weights, self.data, self.dw))[:, 0]
        np.testing.assert_allclose(got, [0.0, self.slope / 2, self.slope], rtol=1e-14)

    def test_relu_convention_sigma_prime_zero_is_zero(self):
        L = mf.relu_convention(mf.lions_derivative(self.F, rho, at=(z,)))
        assert L[0].has(sp.Heaviside(z, 0))
        fn = mf.compile(L, [rho, self.nu], at=(z,), points_from=rho)
        got = np.asarray(fn(self.atoms, self.weights, self.data, self.dw))[:, 0]
        np.testing.assert_allclose(got, [0.0, 0.0, self.slope], rtol=1e-14)

    def test_particle_gradient_matches_jax_grad(self):
        import jax
        import jax.numpy as jnp

        flow = mf.WassersteinFlow(self.F, rho)
        init, step, observe = mf.particle_flow(flow, data={self.nu: (self.data, self.dw)}, dt=0.1)
        X = np.array([-1.0, 0.5, 2.0])
        s1 = step(init(X, jax.random.PRNGKey(0)))

        def energy(X):  # hand-written particle energy, N ∇_{X_i} F(μ_N) = D_μF(X_i)
            f = self.data * jnp.mean(jnp.maximum(X, 0.0))
            return jnp.sum(self.dw * f**2)

        expected = X - 0.1 * len(X) * jax.grad(energy)(X)
        np.testing.assert_allclose(np.asarray(s1.particles)[:, 0], expected, rtol=1e-13)

    def test_kink_at_a_numeric_point_raises(self):
        with pytest.raises(mf.NotDifferentiableError, match="kink"):
            mf.lions_derivative(self.F, rho, at=(0,))
        assert mf.lions_derivative(self.F, rho, at=(1,))[0] != 0


# ------------------------------------------------------------ B7. non-smooth functionals
KINKED = [
    ("Abs", sp.Abs(u), 0),
    ("Max", sp.Max(0, u), 0),
    ("Min", sp.Min(u, 1), 1),
    ("Piecewise", sp.Piecewise((u, u < 1), (2 * u - 1 + (u - 1) ** 2, True)), 1),
    ("sign", sp.sign(u) * u**2, 0),
    ("Heaviside", sp.Heaviside(u - 1), 1),
    ("floor", sp.floor(u), 2),
    ("Mod", sp.Mod(u, 3), 3),
]


@pytest.mark.parametrize("name,g,kink", KINKED, ids=[k[0] for k in KINKED])
def test_lions_derivative_on_a_kink_raises(name, g, kink):
    F = mf.integral(g, rho) ** 2
    with pytest.raises(mf.NotDifferentiableError, match="kink"):
        mf.lions_derivative(F, rho, at=(kink,))


@pytest.mark.parametrize("name,g,kink", KINKED, ids=[k[0] for k in KINKED])
def test_symbolic_point_gives_the_ae_derivative_without_distributions_or_dummies(name, g, kink):
    F = mf.integral(g, rho) ** 2
    (D,) = mf.lions_derivative(F, rho, at=(z,))
    assert not D.has(sp.DiracDelta, sp.Subs)
    assert not D.atoms(sp.Dummy)
    # away from the kink it is the classical derivative: a central difference of g
    p = R(kink) + R(3, 7)
    h = R(1, 10**8)
    fd = (g.subs(u, p + h) - g.subs(u, p - h)) / (2 * h)
    factor = 2 * mf.integral(g, rho)
    assert close((D / factor).subs(z, p), fd, 1e-12)  # central difference, O(h^2) ~ 1e-16


def test_functions_of_integrals_at_kinks_return_ae_derivatives():
    for f, expected in [
        (sp.floor, 0), (sp.sign, 0), (sp.Heaviside, 0), (lambda a: sp.Mod(a, 3), z),
    ]:
        d = mf.first_variation(f(mf.integral(u, rho)), rho, at=(z,))
        assert not d.atoms(sp.Dummy) and not d.has(sp.DiracDelta, sp.Subs)
        assert d == expected


# ---------------------------------------------------------------- B. bad input
v = sp.Symbol("v_b8", real=True)
u2 = mf.Measure("mu_b8", (u, v))
p2 = u2.point("p")
PATHOLOGICAL = [
    # B6: reference densities that are not positive
    ("g <= 0", lambda: mf.relative_entropy(rho, -1), mf.InvalidExpressionError, "positive"),
    ("g = 0", lambda: mf.relative_entropy(rho, 0), mf.InvalidExpressionError, "positive"),
    ("g NaN", lambda: mf.relative_entropy(rho, sp.nan), mf.InvalidExpressionError, "nan"),
    ("g oo", lambda: mf.relative_entropy(rho, sp.oo), mf.InvalidExpressionError, "oo"),
    ("g complex", lambda: mf.relative_entropy(rho, 1 + sp.I), mf.InvalidExpressionError, "positive"),
    ("g = -exp", lambda: mf.relative_entropy(rho, -sp.exp(u)), mf.InvalidExpressionError, "positive"),
    ("U = -log(-1)", lambda: mf.WassersteinFlow(mf.integral(u**2, rho), rho, noise=1,
                                                confinement=-sp.log(-1)),
     mf.InvalidExpressionError, "not real"),
    ("noise < 0", lambda: mf.WassersteinFlow(mf.integral(u**2, rho), rho, noise=-1),
     mf.InvalidExpressionError, "sigma"),
    # B8: unordered or permuted variables
    ("over permuted", lambda: mf.integral(u - v, u2, over=(v, u)), mf.InvalidVariablesError, "position"),
    ("over set", lambda: mf.integral(u - v, u2, over={v, u}), mf.InvalidVariablesError, "order"),
    ("at set", lambda: mf.first_variation(mf.integral(u - v, u2) ** 2, u2, at=set(p2)),
     mf.InvalidPointError, "order"),
    ("at frozenset", lambda: mf.first_variation(mf.integral(u - v, u2) ** 2, u2, at=frozenset(p2)),
     mf.InvalidPointError, "order"),
    ("at dict", lambda: mf.first_variation(mf.integral(u - v, u2) ** 2, u2, at=dict(zip(p2, p2))),
     mf.InvalidPointError, "order"),
    ("variables set", lambda: mf.Measure("q", {u, v}), mf.InvalidVariablesError, "ordered"),
    # B9
    ("F = nan", lambda: mf.first_variation(sp.nan, rho, at=(z,)), mf.InvalidExpressionError, "nan"),
    ("F = oo", lambda: mf.first_variation(sp.oo, rho, at=(z,)), mf.InvalidExpressionError, "oo"),
    ("F = zoo", lambda: mf.first_variation(sp.zoo, rho, at=(z,)), mf.InvalidExpressionError, "zoo"),
    ("integral(nan)", lambda: mf.integral(sp.nan, rho), mf.InvalidExpressionError, "nan"),
    ("integral(u*oo)", lambda: mf.integral(u * sp.oo, rho), mf.InvalidExpressionError, "oo"),
    ("complex point", lambda: mf.first_variation(mf.integral(u**2, rho) ** 2, rho, at=(sp.I,)),
     mf.InvalidPointError, "real"),
    ("infinite point", lambda: mf.first_variation(mf.integral(u**2, rho) ** 2, rho, at=(sp.oo,)),
     mf.InvalidPointError, "finite"),
    ("nan point", lambda: mf.lions_derivative(mf.integral(u**2, rho), rho, at=(float("nan"),)),
     mf.InvalidPointError, "finite"),
    ("measure as a number", lambda: mf.integral(sp.exp(rho), rho), mf.InvalidExpressionError, "as a number"),
    ("measure in a nested integrand", lambda: mf.integral(mf.integral(sp.exp(rho), rho) * u, rho),
     mf.InvalidExpressionError, "as a number"),
    ("normalize='no'", lambda: mf.first_variation(mf.integral(u**2, rho) ** 2, rho, at=(z,), normalize="no"),
     mf.InvalidOptionError, "True or False"),
    ("look-alike symbol", lambda: mf.integral(sp.Symbol("u") ** 2, rho), mf.InvalidVariablesError,
     "another one"),
    ("look-alike in local", lambda: mf.local(sp.Symbol("u") * rho.density(u), rho),
     mf.InvalidVariablesError, "another one"),
    ("variant", lambda: mf.RhoHFlow(mf.integral(u, rho), rho, sp.Function("H"), "other"),
     mf.InvalidOptionError, "variant"),
    ("not a flow", lambda: mf.dissipation_identity(42), mf.NotAFlowError, "flow"),
]


@pytest.mark.parametrize("name,call,err,match", PATHOLOGICAL, ids=[p[0] for p in PATHOLOGICAL])
def test_bad_input_raises_a_named_error(name, call, err, match):
    with pytest.raises(err, match=match) as info:
        call()
    assert isinstance(info.value, mf.MfDeriveError)


def test_deep_expressions_raise_a_clear_error_not_recursion():
    e = u
    for _ in range(150):
        e = sp.sin(e)
    with pytest.raises(mf.InvalidExpressionError, match="deep"):
        mf.integral(e, rho)
    with pytest.raises(mf.InvalidExpressionError, match="deep"):
        mf.first_variation(mf.integral(u, rho) * e.subs(u, z), rho, at=(y,))


def test_error_names_the_density_of_the_differentiated_measure():
    """A density that is not an unknown function of the integration variables (here a 2-D
    measure's density on the diagonal of a 1-D integral) cannot be differentiated; the
    error names that measure.  (A second density at the integration variables can: local
    functionals of several densities, tests/derive/test_local_several.py.)"""
    s, r = sp.Symbol("s_b13", real=True), sp.Symbol("r_b13", real=True)
    mu, nu = mf.Measure("mu_b13", (s,)), mf.Measure("nu_b13", (s, r))
    F = mf.local(mu.density(s) * nu.density(s, s), mu)
    with pytest.raises(mf.NotDifferentiableError) as info:
        mf.first_variation(F, nu, at=nu.point("q"))
    msg = str(info.value)
    assert "not at its own integration variables" not in msg
    assert "nu_b13" in msg and "mf.local" in msg


# ------------------------------------------------------------- C. strings are never run
@pytest.mark.parametrize(
    "entry",
    ["compile", "claimed", "first_variation", "integral", "relative_entropy"],
)
def test_user_strings_are_never_evaluated(entry, tmp_path):
    target = tmp_path / "pwned"
    payload = PAYLOAD.format(target)
    flow = mf.WassersteinFlow(mf.integral(u**2, rho), rho)
    calls = {
        "compile": lambda: mf.compile(payload, [rho]),
        "claimed": lambda: mf.dissipation_identity(flow, claimed=payload),
        "first_variation": lambda: mf.first_variation(payload, rho, at=(z,)),
        "integral": lambda: mf.integral(payload, rho),
        "relative_entropy": lambda: mf.relative_entropy(rho, payload),
    }
    with pytest.raises(mf.UnsafeInputError, match="never parses strings"):
        calls[entry]()
    assert not target.exists()


def test_no_lax_sympify_in_the_package():
    """Every sympify in the package is strict (a string would run eval)."""
    root = os.path.join(os.path.dirname(mf.__file__))
    offenders = []
    for dirpath, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".py"):
                continue
            path = os.path.join(dirpath, f)
            for n, line in enumerate(open(path, encoding="utf-8"), 1):
                code = line.split("#")[0]
                if "sympify(" in code and "strict=True" not in code and "def " not in code:
                    offenders.append(f"{path}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
