"""Property-based tests: random functionals and random garbage."""

import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

import mfderive as mf
from helpers import close, gateaux_exact, pairing

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
