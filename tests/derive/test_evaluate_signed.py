"""Signed measures in the calculus and in `mf.evaluate` (issue 12 item 4 b).

`mf.Measure(name, vars, signed=True)` is a finite signed measure: weights of any sign and
mass, no unit-mass shortcut (∫c dν = c ν(Θ)), the linear first variation.  Expectations are
exact sums written by hand.  Symbols carry the prefix `es_`.
"""

import pytest
import sympy as sp

import mfderive as mf
from mfderive.derive.measures import SignedMeasure
from mfderive.errors import EvaluationError, InvalidOptionError, MeasureNameClashError

R = sp.Rational
s1, s2, w = sp.symbols("es_s1 es_s2 es_w", real=True)
NU = mf.Measure("es_nu", (s1, s2), signed=True)
MU = mf.Measure("es_mu", (w,))


def test_a_signed_measure_is_explicit_and_distinct():
    assert isinstance(NU, SignedMeasure) and NU.signed and not MU.signed
    assert not isinstance(MU, SignedMeasure)
    assert mf.Measure("es_nu", (s1, s2)) != NU                 # same name, other kind
    with pytest.raises(InvalidOptionError):
        mf.Measure("es_bad", (s1,), signed="yes")
    with pytest.raises(MeasureNameClashError):
        mf.evaluate(mf.integral(s1, NU) + mf.integral(s1, mf.Measure("es_nu", (s1, s2))),
                    {NU: ([(1, 0)], [2])})


def test_the_integral_of_a_constant_is_the_mass_times_the_constant():
    spec = {NU: ([(1, 0), (2, 5)], [R(3), R(-1)])}            # mass 2
    assert mf.evaluate(mf.integral(sp.Integer(7), NU), spec) == 14
    assert mf.evaluate(mf.integral(7, MU), {MU: ([1, 2], [R(1, 2), R(1, 2)])}) == 7


def test_the_first_variation_is_the_linear_one_with_its_constant():
    y = NU.point("es_y")
    F = 3 * mf.integral(sp.Integer(1), NU) + mf.integral(s1 * s2, NU) ** 2
    V = mf.first_variation(F, NU, at=y)
    spec = {NU: ([(1, 1), (2, 5)], [R(3), R(-1)])}            # ∫ s1 s2 dν = 3 − 10 = −7
    # δ/δν [3ν(Θ) + (∫ s1 s2 dν)²](y) = 3 + 2 y1 y2 ∫ s1 s2 dν
    assert sp.expand(mf.evaluate(V, spec) - (3 - 14 * y[0] * y[1])) == 0
    # and it is the derivative of ε ↦ F(ν + ε δ_y) at a numeric y (exact)
    eps = sp.Symbol("es_eps")
    pt = (R(1, 2), R(-3))
    bumped = mf.evaluate(F, {NU: ([(1, 1), (2, 5), pt], [R(3), R(-1), eps])})
    gateaux = sp.diff(bumped, eps).subs(eps, 0)
    assert gateaux == mf.evaluate(V, spec).subs(dict(zip(y, pt)))


def test_signed_inputs_are_checked():
    with pytest.raises(EvaluationError, match="give its weights"):
        mf.evaluate(mf.integral(s1, NU), {NU: [(1, 0), (2, 1)]})
    with pytest.raises(EvaluationError, match="NaN"):
        mf.evaluate(mf.integral(s1, NU), {NU: ([(1, 0)], [float("nan")])})
    with pytest.raises(EvaluationError, match="2 atoms but 3 weights"):
        mf.evaluate(mf.integral(s1, NU), {NU: ([(1, 0), (2, 1)], [1, 2, 3])})
    with pytest.raises(EvaluationError, match="non-negative"):          # unsigned: still refused
        mf.evaluate(mf.integral(w, MU), {MU: ([1, 2], [2, -1])})
    with pytest.raises(EvaluationError, match="sum to"):
        mf.evaluate(mf.integral(w, MU), {MU: ([1, 2], [2, 1])})
    assert mf.evaluate(mf.integral(s1, NU), {NU: ([(1, 0), (2, 1)], [2, -1])}) == 0


def test_the_entropy_of_a_signed_measure_is_refused_and_its_square_density_is_not():
    dens = mf.Density(s1 - R(1, 2) + 0 * s2, [(0, 1), (0, 1)])    # signed, mass 0
    with pytest.raises(EvaluationError, match="probability measures only"):
        mf.evaluate(mf.entropy(NU), {NU: dens})
    with pytest.raises(EvaluationError, match="probability measures only"):
        mf.evaluate(mf.entropy(NU), {NU: ([(1, 0)], [2])})
    m = NU.density(s1, s2)
    assert mf.evaluate(mf.local(m**2, NU), {NU: dens}) == R(1, 12)   # ∫₀¹ (s − ½)² ds
