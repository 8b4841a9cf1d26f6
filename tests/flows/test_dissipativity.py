"""Dissipativity of the MFLD confinement (Hu, Ren, Šiška & Szpruch 2021), against constants
derived by hand."""

import pytest
import sympy as sp

from mfderive.errors import InvalidExpressionError
from mfderive.flows.assumptions import AssumptionReport, dissipativity

xa, ya = sp.symbols("x_assume y_assume", real=True)


def test_half_square_has_C_U_one():
    r = dissipativity(xa**2 / 2, xa)
    assert r.holds and r.proof and r.constants == {"C_U": 1, "C'": 0}
    assert "holds" in repr(r) and "proved" in repr(r)


def test_double_well_constants_by_hand():
    # U' x = 4x⁴ − 2x²; with C_U = 1: min(4x⁴ − 3x²) at x² = 3/8 is 4·9/64 − 9/8 = −9/16
    r = dissipativity(xa**4 - xa**2, xa)
    assert r.holds and r.constants["C_U"] == 1 and r.constants["C'"] == sp.Rational(-9, 16)
    # and the inequality really holds with them (sampled on a grid, exact arithmetic)
    for k in range(-40, 41):
        v = sp.Rational(k, 10)
        assert 4 * v**4 - 2 * v**2 >= v**2 - sp.Rational(9, 16)


def test_linear_part_absorbed():
    # U = x²/2 + 3x: U'x = x² + 3x ≥ x²/2 − 9/2 (minimum of x²/2 + 3x at x = −3)
    r = dissipativity(xa**2 / 2 + 3 * xa, xa)
    assert r.holds and r.constants == {"C_U": sp.Rational(1, 2), "C'": sp.Rational(-9, 2)}


@pytest.mark.parametrize("U, words", [(-xa**2, "λ_min"), (xa, "linearly"), (xa**3, "odd degree"),
                                      (-xa**4 + xa**2, "leading coefficient")])
def test_failures_say_which_part_fails(U, words):
    r = dissipativity(U, xa)
    assert not r.holds and r.proof and words in r.reason and "FAILS" in repr(r)


def test_several_variables():
    r = dissipativity((xa**2 + ya**2) / 2, (xa, ya))
    assert r.holds and r.constants == {"C_U": 1, "C'": 0}
    # (x²+y²)² − 3xy: φ − |x|² = 4r⁴ − 6xy − r², minimum −1 at x = y = ±1/2 (by hand)
    r = dissipativity((xa**2 + ya**2) ** 2 - 3 * xa * ya, (xa, ya))
    assert r.holds and not r.proof and abs(r.constants["C'"] + 1) < 1e-6
    r = dissipativity(xa**4 - ya**4, (xa, ya))
    assert not r.holds and "direction" in r.reason


def test_non_polynomial_is_sampled():
    r = dissipativity(xa**2 / 2 + sp.cos(xa), xa, samples=100)
    assert r.holds and not r.proof and 0 < r.constants["C_U"] <= 1 and "not a proof" in repr(r)
    # U = log(1 + x²): U'x = 2x²/(1+x²) → 2, so ∇U·x/|x|² → 0: no C_U > 0
    r = dissipativity(sp.log(1 + xa**2), xa, samples=100)
    assert not r.holds and "decays" in r.reason


def test_bad_input():
    with pytest.raises(InvalidExpressionError, match="free symbols"):
        dissipativity(xa**2 + ya, xa)
    assert isinstance(dissipativity(xa**2, xa), AssumptionReport)
