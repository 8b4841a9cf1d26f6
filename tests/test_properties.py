"""Property-based tests (issue 10, item E16): random functionals against exact routes.

Hypothesis draws functionals built from smooth integrands (polynomials, sin, cos, exp, tanh,
log(2+·²)) in the variables of two parameter measures ρ (over u) and π (over v) and a data
measure ν (over x): single integrals, interaction kernels ∬W(u,z)ρ(dz)ρ(du), nonlinear
nested integrals, data integrals ∫G(f_ρ(x), x)ν(dx) with f_ρ(x) = ∫φ(u,x)ρ(du), couplings
∬K(u,v)π(dv)ρ(du), and sums, products and smooth functions of these.  The checks:

1. first variation: ∫ δF/δμ (ν−μ) = d/ds F((1−s)μ+sν) at 0, exactly (SymPy, rational atoms);
2. second variation: ∬ δ²F/δμ² (ν−μ)⊗(ν−μ) = d²/ds² F((1−s)μ+sν) at 0, exactly;
3. `mf.compile` of F, δF/δμ and δ²F/δμ² on float64 arrays = `mf.evaluate` (1e-10 relative);
4. Lions derivative = ∇_y δF/δμ (exact), and the compiled Lions derivative at the particles
   = ∇_{ξ_i}F(μ_N)/w_i by `jax.grad` of the compiled energy (N∇ for uniform weights);
5. local terms (entropy, ∫m², relative entropy to a Gaussian, local integrals with nonlocal
   or local integrals inside) on a rational quadrature rule (exact), and on `mf.Density`
   Gaussians against differentiation under the integral sign (SymPy);
6. reused names: two different measures with one name in one functional (or a measure
   named ``points``) give the right number or an `mf.MfDeriveError` naming the name.

The profile "ci" of conftest.py makes every run derandomized; `max_examples` per test keeps
the file within its time budget (measured with ``pytest --durations``).
"""

import jax
import jax.numpy as jnp
import numpy as np

import sympy as sp
from helpers import (
    close,
    close_mp,
    density_gateaux,
    derivative_high_precision,
    gateaux_exact,
    gateaux_high_precision,
    high_precision,
    mixture,
    pairing,
    pairing_high_precision,
    quad_integrals,
    quadrature_evaluate,
    sum_high_precision,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import mfderive as mf

R = sp.Rational
u = sp.Symbol("u", real=True)
rho = mf.Measure("rho", (u,))
(z,) = rho.point("z")
(y,) = rho.point("y")
SPEC_MU = ([R(-1), R(1, 2), R(3, 2)], [R(1, 3), R(1, 3), R(1, 3)])
SPEC_NU = ([R(1, 4), R(-2)], [R(1, 2), R(1, 2)])

LEAVES = [
    mf.integral(sp.sin(u), rho),
    mf.integral(u**2, rho),
    mf.integral(sp.exp(-u), rho),
    mf.integral(mf.integral(sp.cos(u * z) + u * z**2, rho, over=(z,)), rho),
    mf.integral(sp.tanh(u + mf.integral(z**3, rho, over=(z,))), rho),
    sp.Integer(2),
]
UNARY = [sp.exp, sp.sin, lambda e: e**2, lambda e: sp.log(2 + e**2), lambda e: sp.atan(e)]


def functionals():
    leaf = st.sampled_from(LEAVES)

    def extend(children):
        return st.one_of(
            st.tuples(children, children).map(lambda p: p[0] + p[1]),
            st.tuples(children, children).map(lambda p: p[0] * p[1]),
            st.tuples(st.sampled_from(UNARY), children).map(lambda p: p[0](p[1])),
            st.tuples(children).map(lambda p: mf.integral(u * p[0], rho)),
        )

    return st.recursive(leaf, extend, max_leaves=4)


@given(functionals())
def test_random_compositions_agree_with_exact_gateaux(F):
    dF = mf.first_variation(F, rho, at=(y,))
    g = gateaux_exact(F, rho, SPEC_MU, SPEC_NU, {})
    got = pairing(mf.evaluate(dF, {rho: SPEC_MU}), (y,), SPEC_MU, SPEC_NU)
    assert close(got, g, 1e-20)


GARBAGE = st.one_of(
    st.none(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=4),
    st.tuples(st.integers(), st.text(max_size=2)),
    st.just(rho),
    st.just(sp.Symbol("q")),
    st.just(sp.Matrix([1, 2])),
)


@given(GARBAGE, GARBAGE, GARBAGE)
def test_garbage_raises_only_documented_errors(g1, g2, g3):
    calls = [
        lambda: mf.first_variation(g1, rho, at=(y,)),
        lambda: mf.first_variation(LEAVES[0], g2, at=(y,)),
        lambda: mf.first_variation(LEAVES[0], rho, at=g3),
        lambda: mf.lions_derivative(LEAVES[1], rho, at=g3),
        lambda: mf.second_variation(LEAVES[1], rho, at=(g2, g3)),
        lambda: mf.integral(g1, rho),
        lambda: mf.integral(u, g2),
        lambda: mf.integral(u, rho, over=g3),
        lambda: mf.evaluate(LEAVES[3], {rho: g1}),
        lambda: mf.evaluate(LEAVES[3], {rho: (g2, g3)}),
        lambda: mf.evaluate(g1, {rho: SPEC_MU}),
        lambda: mf.Measure("m", g1),
        lambda: mf.relative_entropy(rho, g2),
    ]
    for call in calls:
        try:
            call()
        except mf.MfDeriveError:
            pass


# =====================================================================================
# A world of two parameter measures and one data measure
# =====================================================================================
# mfderive records which measures own a symbol, process-wide, and refuses integral(...,
# over=(v,)) against a measure that does not own v once any measure does: the symbols this
# module introduces have names no other test uses (x is already the data variable of the
# conftest network)
x = sp.Symbol("x", real=True)
v = sp.Symbol("v_pi", real=True)
pi = mf.Measure("pi", (v,))
nu = mf.Data("nu", (x,))
(s_pi,) = pi.point("s_pi")
(t_pi,) = pi.point("t_pi")


class World:
    """Measures, their exact discrete states (rational atoms) and points to differentiate at.

    ``state[M]`` is μ, ``toward[M]`` the ν of the direction ν − μ; data weights need not sum
    to one.  The weights of ρ are uniform: its particle gradient is D_ρF / N.
    """

    def __init__(self, rho_, pi_, nu_, points):
        self.rho, self.pi, self.nu = rho_, pi_, nu_
        self.measures = [rho_, pi_, nu_]
        self.state = {
            rho_: ([R(-1), R(1, 2), R(3, 2)], [R(1, 3)] * 3),
            pi_: ([R(0), R(2, 3)], [R(1, 4), R(3, 4)]),
            nu_: ([R(-1), R(0), R(1, 2), R(1)], [R(1, 4), R(1, 4), R(1, 4), R(1, 2)]),
        }
        self.toward = {
            rho_: ([R(1, 4), R(-2)], [R(1, 2), R(1, 2)]),
            pi_: ([R(-1, 2), R(1)], [R(2, 3), R(1, 3)]),
        }
        self.points = points  # {measure: (y, z)} two distinct 1-D points per parameter measure

    def fixed(self, M):
        """The states of the measures other than M."""
        return {K: s for K, s in self.state.items() if K != M}

    def arrays(self):
        """float64 atoms and weights per measure, in ``self.measures`` order (for compile)."""
        out = []
        for M in self.measures:
            atoms, weights = self.state[M]
            out += [np.array([float(a) for a in atoms]), np.array([float(w) for w in weights])]
        return out


WORLD = World(rho, pi, nu, {rho: (y, z), pi: (s_pi, t_pi)})

# ------------------------------------------------------------------ smooth integrands
COEF = st.sampled_from([R(1), R(-1), R(1, 2), R(2), R(-1, 3)])
SLOPE = st.sampled_from([0, 1, -1, R(1, 2), 2])
SHIFT = st.sampled_from([0, R(1, 3), -1])
OUTER = [
    lambda e: e,
    sp.sin,
    sp.cos,
    sp.exp,
    sp.tanh,
    lambda e: sp.log(2 + e**2),
    lambda e: e**2,
    lambda e: e**3,
]
# smooth functions applied to whole functionals: bounded growth, so that float64 code and
# exact evaluation stay comparable to 1e-10 relative
FUNCTIONS = [sp.sin, sp.tanh, lambda e: e**2, lambda e: sp.log(2 + e**2), lambda e: sp.exp(-e**2 / 4)]


@st.composite
def smooth(draw, variables, max_terms=2):
    """Σ_k c_k f_k(a_k·vars + b_k) [× g_k(a'_k·vars)], every variable present in the first
    term; never 0 (a zero kernel makes Derivative(0, z), tested on its own below)."""
    terms = []
    for k in range(draw(st.integers(1, max_terms))):
        slopes = [draw(SLOPE) for _ in variables]
        if k == 0:
            slopes = [s if s != 0 else 1 for s in slopes]
        lin = sum(s * w for s, w in zip(slopes, variables)) + draw(SHIFT)
        term = draw(COEF) * draw(st.sampled_from(OUTER))(lin)
        if draw(st.booleans()):
            lin2 = sum(draw(SLOPE) * w for w in variables)
            term *= draw(st.sampled_from(OUTER[:6]))(lin2)
        terms.append(term)
    total = sp.Add(*terms)
    return total if total != 0 else terms[0]  # terms may cancel; the first is never 0


# ------------------------------------------------------------------ functional pieces
def pieces(world):
    """Strategies for the building blocks of a functional of ``world``'s measures."""
    rho_, pi_, nu_ = world.rho, world.pi, world.nu
    (uu,), (vv,), (xx,) = rho_.variables, pi_.variables, nu_.variables
    (zz,) = rho_.point("z")
    (tt,) = pi_.point("t_pi")
    w = sp.Dummy("w", real=True)

    def potential(M, var):
        return smooth((var,)).map(lambda g: mf.integral(g, M))

    def interaction(M, var, other):
        return smooth((var, other)).map(
            lambda W: mf.integral(mf.integral(W, M, over=(other,)), M)
        )

    def nested(M, var, other):
        # ∫ h(ξ, ∫ W(ξ, ζ) μ(dζ)) μ(dξ): a nonlinear function of an inner integral
        return st.tuples(smooth((var, other)), smooth((var, w))).map(
            lambda p: mf.integral(p[1].subs(w, mf.integral(p[0], M, over=(other,))), M)
        )

    def data(M, var):
        # ∫ G(f_μ(x), x) ν(dx) with f_μ(x) = ∫ φ(ξ, x) μ(dξ)
        return st.tuples(smooth((var, xx)), smooth((w, xx))).map(
            lambda p: mf.integral(p[1].subs(w, mf.integral(p[0], M)), nu_)
        )

    coupling = smooth((uu, vv)).map(lambda K: mf.integral(mf.integral(K, pi_), rho_))
    return [
        potential(rho_, uu),
        potential(pi_, vv),
        interaction(rho_, uu, zz),
        interaction(pi_, vv, tt),
        nested(rho_, uu, zz),
        data(rho_, uu),
        data(pi_, vv),
        coupling,
    ]


def compose(leaf, max_leaves=3):
    """Sums, products and smooth functions of the leaves."""

    def extend(children):
        return st.one_of(
            st.tuples(children, children).map(lambda p: p[0] + p[1]),
            st.tuples(children, children).map(lambda p: p[0] * p[1]),
            st.tuples(st.sampled_from(FUNCTIONS), children).map(lambda p: p[0](p[1])),
        )

    return st.recursive(leaf, extend, max_leaves=max_leaves)


def world_functionals(world, max_leaves=3):
    return compose(st.one_of(*pieces(world)), max_leaves)


def targets(world):
    return st.sampled_from([world.rho, world.pi])


# ------------------------------------------------------------------ the exact checks
def check_first_variation(F, M, world):
    """∫ δF/δμ(μ, y)(ν−μ)(dy) equals the exact Gateaux derivative d/ds F((1−s)μ+sν) at 0
    (SymPy's sp.diff of the exact F(s)); both exact numbers compared at 40 digits, 1e-20."""
    y_, _ = world.points[M]
    dF = mf.first_variation(F, M, at=(y_,))
    exact = high_precision(gateaux_exact(F, M, world.state[M], world.toward[M], world.fixed(M)))
    got = pairing_high_precision(mf.evaluate(dF, world.state), (y_,), world.state[M], world.toward[M])
    assert close_mp(got, exact, 1e-20), (F, M, got, exact)


def check_second_variation(F, M, world):
    """∬ δ²F/δμ²(μ, y, z)(ν−μ)(dy)(ν−μ)(dz) equals d²/ds² F((1−s)μ+sν) at 0.

    Both sides are exact SymPy numbers up to the last step (40- and 60-digit mpmath), so
    1e-20 relative separates a right kernel from a wrong one by ~20 orders of magnitude.
    """
    y_, z_ = world.points[M]
    d2F = mf.second_variation(F, M, at=((y_,), (z_,)))
    exact = gateaux_high_precision(F, M, world.state[M], world.toward[M], world.fixed(M), 2)
    got = pairing_high_precision(mf.evaluate(d2F, world.state), (y_, z_), world.state[M], world.toward[M])
    assert close_mp(got, exact, 1e-20), (F, M, got, exact)


def test_high_precision_gateaux_agrees_with_symbolic():
    """The 60-digit mpmath derivative of the exact F(s) against SymPy's exact sp.diff."""
    (zz,) = rho.point("z")
    F = mf.integral(sp.sin(mf.integral(sp.exp(u * zz) * sp.cos(u), rho, over=(zz,)) + u), rho) ** 2
    F = F * mf.integral(mf.integral(sp.tanh(u + v), pi), rho)
    s = sp.Symbol("s")
    for M in (rho, pi):
        Fs = mf.evaluate(F, {M: mixture(*WORLD.state[M], *WORLD.toward[M], s), **WORLD.fixed(M)})
        for n in (1, 2):
            exact = high_precision(sp.diff(Fs, s, n).xreplace({s: 0}), dps=50)
            hp = gateaux_high_precision(F, M, WORLD.state[M], WORLD.toward[M], WORLD.fixed(M), n)
            assert close_mp(hp, exact, 1e-40)


@settings(max_examples=30)
@given(world_functionals(WORLD), targets(WORLD))
def test_first_variation_is_the_exact_gateaux_derivative(F, M):
    check_first_variation(F, M, WORLD)


@settings(max_examples=20)
@given(world_functionals(WORLD, max_leaves=2), targets(WORLD))
def test_second_variation_is_the_exact_second_gateaux_derivative(F, M):
    check_second_variation(F, M, WORLD)


# ------------------------------------------------------------------ compiled code
# Rational points at which compiled variations are compared with `evaluate`
POINTS = [R(-3, 2), R(0), R(1, 3), R(5, 4)]


def assert_compiled_matches(exprs, world, at, points, chunk_size=None):
    """``mf.compile(exprs, measures, at=at, chunk_size=...)`` on float64 arrays of the
    rational atoms equals ``mf.evaluate`` at each of the rational ``points``.

    """
    fn = mf.compile(exprs, world.measures, at=at, chunk_size=chunk_size)
    got = np.asarray(fn(*world.arrays(), np.array([[float(c) for c in p] for p in points])))
    for k, expr in enumerate(exprs):
        refs = high_precision(mf.evaluate(expr, world.state), at, points)
        for g, ref in zip(got[:, k], refs):
            assert_float_close(g, ref, expr)


def assert_float_close(got, ref, what):
    """A float64 result against a 40-digit reference: 1e-10 relative (to max(1, |ref|)).

    The compiled value differs from the exact one by float64 rounding of the inputs and of
    a few hundred operations on values of order ≤ 1e3, i.e. ~1e-13; 1e-10 leaves room
    without hiding a wrong term (those change the value at order one).
    """
    ref = complex(ref)
    assert abs(ref.imag) < 1e-20, (what, ref)
    assert abs(got - ref.real) <= 1e-10 * max(1, abs(ref.real)), (what, got, ref)


# chunk_size=2 is below the 3 atoms of ρ and the 3 points: the lax.scan / lax.map paths
CHUNKS = st.sampled_from([None, 2])


@settings(max_examples=15)
@given(world_functionals(WORLD), targets(WORLD), CHUNKS)
def test_compiled_functional_and_variations_match_evaluate(F, M, chunk):
    """F (constant in the point), δF/δμ(y) and δ²F/δμ²(y, z) compiled into one function."""
    y_, z_ = WORLD.points[M]
    dF = mf.first_variation(F, M, at=(y_,))
    d2F = mf.second_variation(F, M, at=((y_,), (z_,)))
    pts = [(POINTS[0], POINTS[2]), (POINTS[3], POINTS[1]), (POINTS[1], POINTS[1])]
    assert_compiled_matches([F, dF, d2F], WORLD, (y_, z_), pts, chunk)


# ------------------------------------------------------------------ Lions derivative
@settings(max_examples=8)
@given(world_functionals(WORLD), targets(WORLD), CHUNKS)
def test_lions_derivative_is_gradient_of_first_variation_and_particle_gradient(F, M, chunk):
    y_, _ = WORLD.points[M]
    D = mf.lions_derivative(F, M, at=(y_,))
    grad = sp.diff(mf.first_variation(F, M, at=(y_,)), y_)
    assert D.shape == (1, 1)
    # both sides exact on rational atoms, at rational points (40 digits, 1e-20)
    at = [(p,) for p in POINTS[:2]]
    lhs, rhs = (high_precision(mf.evaluate(e, WORLD.state), (y_,), at) for e in (D[0], grad))
    assert all(close_mp(a, b, 1e-20) for a, b in zip(lhs, rhs))
    # compiled: D_μF(μ_N, ξ_i) = ∇_{ξ_i} F(μ_N) / w_i (= N ∇_{ξ_i} F for uniform weights);
    # both float64 from the same inputs, so 1e-10 relative (as for compile vs evaluate)
    k = WORLD.measures.index(M)
    args = [jnp.asarray(a) for a in WORLD.arrays()]
    energy = mf.compile(F, WORLD.measures, chunk_size=chunk)
    lions = mf.compile(D, WORLD.measures, at=(y_,), points_from=M, chunk_size=chunk)
    particle = jax.grad(lambda X: energy(*args[: 2 * k], X, *args[2 * k + 1 :]))(args[2 * k])
    expected = np.asarray(particle) / np.asarray(args[2 * k + 1])
    got = np.asarray(lions(*args))[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


# =====================================================================================
# Derivatives of inner integrals in an outer bound variable (issue 10 item 3)
# =====================================================================================
@settings(max_examples=10)
@given(smooth((u, z)), smooth((u, z)))
def test_derivative_in_an_outer_bound_variable(W, g):
    """F = ∫ ∂_z[∫ W(u, z) ρ(du)] g(2z) ρ(dz): the variation must see the dependence of the
    inner integral on ρ through the unevaluated derivative.  Reference: the exact Gateaux
    derivative of F.doit() (the derivative taken under the integral sign, same functional);
    and δF/δρ must equal δ(F.doit())/δρ at rational points (40 digits, 1e-20)."""
    F = mf.integral(sp.Derivative(mf.integral(W, rho), z) * g.subs(u, 2 * z), rho, over=(z,))
    dF, dF_doit = (mf.first_variation(G, rho, at=(y,)) for G in (F, F.doit()))
    exact = gateaux_exact(F.doit(), rho, WORLD.state[rho], WORLD.toward[rho], WORLD.fixed(rho))
    got = pairing_high_precision(mf.evaluate(dF, WORLD.state), (y,), WORLD.state[rho], WORLD.toward[rho])
    assert close_mp(got, high_precision(exact), 1e-20)
    values = [high_precision(mf.evaluate(d, WORLD.state), (y,), [(p,) for p in POINTS]) for d in (dF, dF_doit)]
    assert all(close_mp(a, b, 1e-20) for a, b in zip(*values))


# built at import, so that a construction error is loud instead of an expected failure
T_OUTER = sp.Symbol("t_outer", real=True)
F_OUTER = mf.integral(sp.Derivative(mf.integral(u + T_OUTER, rho), T_OUTER), rho, over=(T_OUTER,))


def test_evaluate_a_derivative_in_an_outer_bound_variable():
    """∫ ∂_t[∫ (u + t) ρ(du)] ρ(dt) = 1 for every ρ (issue 10 item 3: evaluate used to
    substitute the atoms for t inside the derivative, a derivative with respect to -1)."""
    assert mf.evaluate(F_OUTER, {rho: ([R(-1), R(1, 2)], [R(1, 2), R(1, 2)])}) == 1
    z0 = mf.integral(3 * T_OUTER * sp.Derivative(sp.S.Zero, T_OUTER), rho, over=(T_OUTER,))
    assert mf.evaluate(z0, {rho: ([R(-1), R(1, 2)], [R(1, 2), R(1, 2)])}) == 0


# =====================================================================================
# Local terms: entropy, ∫m², relative entropy to a Gaussian, local integrals with
# nonlocal and local integrals inside — on a rational quadrature rule (exact)
# =====================================================================================
NODES = [R(1, 8), R(3, 8), R(5, 8), R(7, 8)]  # midpoint rule on [0, 1]
NODE_WEIGHTS = [R(1, 4)] * 4
M0 = R(2, 3) * (1 + u)  # both densities have quadrature mass exactly one
M1 = R(64, 127) * (1 + 3 * u**2)


def local_pieces(world):
    """Local functionals of ``world.rho`` (pointwise in its density m)."""
    rho_ = world.rho
    (uu,), (zz,) = rho_.variables, rho_.point("z")
    m = rho_.density(uu)
    a = st.sampled_from([R(0), R(1, 2), R(-1)])
    return [
        st.just(mf.entropy(rho_)),
        COEF.map(lambda c: mf.local(c * m**2, rho_)),
        a.map(lambda c: mf.relative_entropy(rho_, sp.exp(-((uu - c) ** 2) / 2))),
        smooth((uu,)).map(lambda g: mf.local(m * g, rho_)),  # a potential, written locally
        smooth((uu, zz)).map(lambda W: mf.local(m * mf.integral(W, rho_, over=(zz,)), rho_)),
        smooth((uu,)).map(lambda g: mf.local(m * sp.log(m) * mf.integral(g, rho_), rho_)),
        st.just(mf.local(m * mf.entropy(rho_), rho_)),  # a local integral in a local one
        smooth((uu,)).map(lambda g: mf.local(m**2 * g, rho_) * mf.entropy(rho_)),
    ]


def local_functionals(world, max_leaves=3):
    leaves = local_pieces(world) + pieces(world)
    return compose(st.one_of(*leaves), max_leaves).filter(lambda F: F.has(mf.LocalIntegral))


def quadrature_table(world, density):
    """ρ on the quadrature rule with the given density; π and ν discrete (their states)."""
    table = {K: (*world.state[K], None) for K in (world.pi, world.nu)}
    table[world.rho] = (NODES, NODE_WEIGHTS, density)
    return table


def check_local_first_variation(F, M, world):
    """The first variation paired with the direction equals the exact Gateaux derivative of
    the quadrature functional (see helpers.quadrature_evaluate), to 1e-20 of 40 digits."""
    s = sp.Symbol("s")
    if M == world.rho:
        state = quadrature_table(world, M0)
        moved = quadrature_table(world, M0 + s * (M1 - M0))
    else:
        state = quadrature_table(world, M0)
        moved = {**state, M: (*mixture(*world.state[M], *world.toward[M], s), None)}
    exact = derivative_high_precision(quadrature_evaluate(F, moved), s, 1)
    y_, _ = world.points[M]
    dF = quadrature_evaluate(mf.first_variation(F, M, at=(y_,)), state)
    if M == world.rho:  # ∫ δF/δm (m1 − m0) dλ on the quadrature rule
        h = [w * (M1 - M0).subs(u, n) for n, w in zip(NODES, NODE_WEIGHTS)]
        got = sum_high_precision(dF, (y_,), [(n,) for n in NODES], h)
    else:
        got = pairing_high_precision(dF, (y_,), world.state[M], world.toward[M])
    assert close_mp(got, exact, 1e-20), (F, M, got, exact)


@settings(max_examples=25)
@given(local_functionals(WORLD), targets(WORLD))
def test_local_and_mixed_functionals_on_a_quadrature_rule(F, M):
    check_local_first_variation(F, M, WORLD)


def test_local_in_local_on_a_quadrature_rule():
    """Issue 10 item 2: ∫ m (∫ m log m) dξ = mass · entropy, δ = H(m) + log m(y) + 1."""
    m = rho.density(u)
    check_local_first_variation(mf.local(m * mf.entropy(rho), rho), rho, WORLD)


# ------------------------------------------------------------------ on mf.Density measures
def gaussian(w, mean, var):
    return sp.exp(-((w - mean) ** 2) / (2 * var)) / sp.sqrt(2 * sp.pi * var)


G0, G1 = gaussian(u, 0, 1), gaussian(u, 1, R(1, 4))  # N(0,1) toward N(1,1/4), issue 10 item 2
DENSITY_G0 = mf.Density(G0)
_m = rho.density(u)
DENSITY_TERMS = [
    mf.entropy(rho),
    mf.local(_m**2, rho),
    mf.relative_entropy(rho, gaussian(u, 0, 2)),
    mf.integral(u**3 - u, rho),
    mf.integral(sp.cos(u), rho),
    mf.local(_m * mf.entropy(rho), rho),
]


@settings(max_examples=5)
@given(st.lists(st.tuples(COEF, st.sampled_from(DENSITY_TERMS)), min_size=2, max_size=2), st.sampled_from(FUNCTIONS))
def test_local_functionals_on_gaussian_densities(terms, f):
    """F = c1 A + f(c2 B) with A, B local or nonlocal, ρ = N(0,1) as an `mf.Density`:
    ∫ δF/δρ(y) (G1 − G0)(dy), with δF/δρ evaluated by `mf.evaluate` on the Density, against
    differentiation under the integral sign (helpers.density_gateaux).  Both sides end in
    mpmath quadratures at 20 digits of Gaussian-decaying integrands (tanh-sinh converges
    to working precision on these): 1e-15 relative."""
    (c1, A), (c2, B) = terms
    F = c1 * A + f(c2 * B)
    exact = density_gateaux(F, rho, G0, G1)
    dF = mf.evaluate(mf.first_variation(F, rho, at=(y,)), {rho: DENSITY_G0})
    dF = dF.replace(lambda e: isinstance(e, sp.core.function.AppliedUndef) and e.func == rho.density,
                    lambda e: G0.subs(u, e.args[0]))
    got = quad_integrals(sp.Integral(sp.expand_log(dF * (G1 - G0).subs(u, y), force=True), (y, -sp.oo, sp.oo)))
    assert close_mp(got, exact, 1e-15), (F, got, exact)


# =====================================================================================
# Reused names (issue 10 item 1): the right number, or an MfDeriveError naming the name
# =====================================================================================
def _world(rho_, pi_, nu_):
    return World(rho_, pi_, nu_, {rho_: (y, z), pi_: (s_pi, t_pi)})


CLASH_WORLDS = [
    _world(mf.Measure("m", (u,)), mf.Measure("pi", (v,)), mf.Data("m", (x,))),  # Measure + Data
    _world(mf.Measure("m", (u,)), mf.Measure("m", (v,)), mf.Data("nu", (x,))),  # two Measures
    _world(mf.Measure("m", (u,)), mf.Measure("m", (v,)), mf.Data("m", (x,))),  # all three
    _world(mf.Measure("points", (u,)), mf.Measure("pi", (v,)), mf.Data("nu", (x,))),
    _world(mf.Measure("rho", (u,)), mf.Measure("points", (v,)), mf.Data("points", (x,))),
]
# the same worlds with unique names: the reference for every number
REFERENCE = _world(mf.Measure("ref_rho", (u,)), mf.Measure("ref_pi", (v,)), mf.Data("ref_nu", (x,)))


def _renamer(world):
    table = dict(zip(world.measures, REFERENCE.measures))
    return lambda e: e.xreplace(table), table


def _reused(world):
    names = [M.name for M in world.measures]
    return {n for n in names if names.count(n) > 1 or n == "points"}


def _named_error(call, world):
    """``call()``, or None when it raises an MfDeriveError whose message names a reused name
    (any other error, or an MfDeriveError that does not say which name, fails the test)."""
    try:
        return call()
    except mf.MfDeriveError as err:
        assert any(repr(n) in str(err) or n in str(err).split() for n in _reused(world)), err
        return None


CLASH_CASES = st.one_of(
    *[st.tuples(st.just(w), world_functionals(w, max_leaves=2), targets(w)) for w in CLASH_WORLDS]
)


@settings(max_examples=10)
@given(CLASH_CASES)
def test_reused_names_give_the_right_number_or_a_named_error(case):
    """First variation (exact Gateaux), compiled F, δF/δμ, δ²F/δμ² and compiled Lions
    derivative at the particles, all against the same computation with unique names."""
    world, F, M = case
    ren, table = _renamer(world)
    y_, z_ = world.points[M]
    dF = _named_error(lambda: mf.first_variation(F, M, at=(y_,)), world)
    d2F = _named_error(lambda: mf.second_variation(F, M, at=((y_,), (z_,))), world)
    if dF is not None:
        Mr = table[M]
        exact = gateaux_exact(ren(F), Mr, REFERENCE.state[Mr], REFERENCE.toward[Mr], REFERENCE.fixed(Mr))
        got = pairing_high_precision(mf.evaluate(ren(dF), REFERENCE.state), (y_,), REFERENCE.state[Mr], REFERENCE.toward[Mr])
        assert close_mp(got, high_precision(exact), 1e-20), (F, M, got, exact)
    if dF is None or d2F is None:
        return
    # compiled with the original (reused) names, compared with `evaluate` under unique names
    exprs = [F, dF, d2F]
    pts = [(POINTS[0], POINTS[2]), (POINTS[3], POINTS[1])]
    fn = _named_error(lambda: mf.compile(exprs, world.measures, at=(y_, z_)), world)
    out = None if fn is None else _named_error(
        lambda: np.asarray(fn(*world.arrays(), np.array([[float(c) for c in p] for p in pts]))), world
    )
    if out is not None:
        for k, expr in enumerate(exprs):
            refs = high_precision(mf.evaluate(ren(expr), REFERENCE.state), (y_, z_), pts)
            for g, ref in zip(out[:, k], refs):
                assert_float_close(g, ref, expr)
    # the compiled Lions derivative at the particles of M (points_from=M)
    D = mf.lions_derivative(F, M, at=(y_,))
    lions = _named_error(lambda: mf.compile(D, world.measures, at=(y_,), points_from=M), world)
    got = None if lions is None else _named_error(lambda: np.asarray(lions(*world.arrays()))[:, 0], world)
    if got is not None:
        Dr = mf.evaluate(ren(D[0]), REFERENCE.state)
        atoms = REFERENCE.state[table[M]][0]
        for g, ref in zip(got, high_precision(Dr, (y_,), [(a,) for a in atoms])):
            assert_float_close(g, ref, D)


# a Data measure named like the Measure that has a density, two Measures with one name, and
# a Measure and a Data named "points"; ρ (over u) carries the local terms in each
LOCAL_CLASH_WORLDS = [
    _world(mf.Measure("rho", (u,)), mf.Measure("pi", (v,)), mf.Data("rho", (x,))),
    _world(mf.Measure("rho", (u,)), mf.Measure("rho", (v,)), mf.Data("nu", (x,))),
    _world(mf.Measure("points", (u,)), mf.Measure("pi", (v,)), mf.Data("points", (x,))),
]


@settings(max_examples=10)
@given(st.one_of(*[st.tuples(st.just(w), local_functionals(w), targets(w)) for w in LOCAL_CLASH_WORLDS]))
def test_reused_names_with_local_terms(case):
    """The density of a Measure is the SymPy function named like it: a reused name must not
    make the calculus confuse it with another measure (quadrature check as above), or it
    must raise an MfDeriveError naming the name."""
    world, F, M = case
    _named_error(lambda: check_local_first_variation(F, M, world), world)


# =====================================================================================
# ReLU networks (issue 10 item 4): Heaviside in the compiled Lions derivative
# =====================================================================================
wn, an, bn = sp.symbols("w a b", real=True)
theta = mf.Measure("theta", (wn, an, bn))
Y_THETA = theta.point("y")
DATA_X = np.array([-1.0, -0.25, 0.5, 1.0])
DATA_Q = np.full(4, 0.25)
MAGNITUDE = st.tuples(st.sampled_from([-1, 1]), st.floats(0.25, 2.0)).map(lambda p: p[0] * p[1])


def relu_risk(target):
    """½∫(∫ w max(0, a x + b) θ(dw da db) − target(x))² ν(dx) + ∫(w²+a²+b²)/100 dθ."""
    f = mf.integral(wn * sp.Max(0, an * x + bn), theta)
    return mf.integral((f - target) ** 2 / 2, nu) + mf.integral((wn**2 + an**2 + bn**2) / 100, theta)


@settings(max_examples=5)
@given(smooth((x,)), st.lists(st.tuples(MAGNITUDE, MAGNITUDE, MAGNITUDE), min_size=3, max_size=3))
def test_relu_network_lions_derivative_is_the_particle_gradient(target, particles):
    """Compiled D_θF(θ_N, ξ_i) = N ∇_{ξ_i}F(θ_N) by `jax.grad` of the compiled energy, away
    from the kinks (a x_k + b ≠ 0 for every particle and datum, so both sides are the
    classical derivative).  float64 on both sides: 1e-10 relative."""
    X = np.array(particles)
    assume(np.abs(X[:, 1:2] * DATA_X[None] + X[:, 2:3]).min() > 1e-6)
    F = relu_risk(target)
    W = np.full(len(X), 1 / len(X))
    D = mf.lions_derivative(F, theta, at=Y_THETA)
    lions = mf.compile(D, [theta, nu], at=Y_THETA, points_from=theta)(X, W, DATA_X, DATA_Q)
    energy = mf.compile(F, [theta, nu])
    grad = jax.grad(lambda P: energy(P, W, DATA_X, DATA_Q))(jnp.asarray(X))
    np.testing.assert_allclose(np.asarray(lions), len(X) * np.asarray(grad), rtol=1e-10, atol=1e-10)
