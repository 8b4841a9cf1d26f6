"""`mf.compile` with signed and weighted measures (issue 12 item 4 b): weights of any sign
and mass are contracted as given, with no unit-mass shortcut; their shape is checked.
Expectations are NumPy sums written by hand.  Symbols carry the prefix `cs_`."""

import numpy as np
import pytest
import sympy as sp

import mfderive as mf
from mfderive.codegen import compile as mf_compile
from mfderive.errors import CompileError

s, x = sp.symbols("cs_s cs_x", real=True)
NU = mf.Measure("cs_nu", (s,), signed=True)
MU = mf.Measure("cs_mu", (s,))
ATOMS = np.array([-1.0, 0.5, 2.0])
C = np.array([1.5, -2.0, 0.25])                    # signed, mass −0.25


def test_signed_relu_output_and_constant_integrals():
    f = mf_compile([mf.integral(sp.Max(0, s * x), NU), mf.integral(sp.Integer(3), NU)], [NU], at=(x,))
    xs = np.array([-1.0, 0.0, 0.7])
    out = np.asarray(f(ATOMS, C, xs))
    np.testing.assert_allclose(out[:, 0], np.maximum(np.outer(xs, ATOMS), 0) @ C, rtol=0, atol=1e-14)
    np.testing.assert_allclose(out[:, 1], 3 * C.sum(), rtol=0, atol=1e-14)    # 3 ν(Θ), not 3


def test_the_linear_variation_at_the_atoms_with_chunking():
    y = NU.point("cs_y")
    V = mf.first_variation(mf.integral(s, NU) ** 2 + mf.integral(sp.Integer(1), NU), NU, at=y)
    got = mf_compile(V, [NU], at=y, points_from=NU, chunk_size=2)(ATOMS, C)
    np.testing.assert_allclose(got, 2 * ATOMS * (ATOMS @ C) + 1, rtol=0, atol=1e-14)


def test_a_signed_density_on_a_grid():
    g = mf.Grid((0.0,), (1.0,), (8,))
    m = np.linspace(-1.0, 1.0, 8)
    f = mf_compile(mf.integral(s, NU) + mf.local(NU.density(s) ** 2, NU), [NU], grids={NU: g})
    xc = (np.arange(8) + 0.5) / 8
    np.testing.assert_allclose(float(f(m)), np.sum(xc * m) / 8 + np.sum(m**2) / 8, rtol=1e-13)
    with pytest.raises(CompileError, match="probability measures only"):
        mf_compile(mf.entropy(NU), [NU], grids={NU: g})


def test_the_weights_must_have_one_entry_per_atom():
    f = mf_compile(mf.integral(s, MU), [MU])
    assert float(f(ATOMS, np.full(3, 1 / 3))) == pytest.approx(ATOMS.mean(), abs=1e-15)
    for bad in (np.ones(2) / 2, np.ones((3, 1)) / 3, np.float64(1.0)):
        with pytest.raises(CompileError, match="shape"):
            f(ATOMS, bad)
