"""Independent numerical routes used by the tests (no engine code beyond `evaluate`)."""

import sympy as sp

import mfderive as mf


def mixture(atoms, weights, other, other_weights, eps):
    """The discrete measure (1-eps) mu + eps nu."""
    return (
        list(atoms) + list(other),
        [(1 - eps) * w for w in weights] + [eps * w for w in other_weights],
    )


def gateaux_exact(F, mu, spec_mu, spec_nu, fixed):
    """d/ds|_0 F((1-s) mu + s nu), computed exactly with a symbolic weight s."""
    s = sp.Symbol("s")
    mix = mixture(*spec_mu, *spec_nu, s)
    Fs = mf.evaluate(F, {mu: mix, **fixed})
    return sp.diff(Fs, s).subs(s, 0)


def integrate_against(expr, point, spec):
    """∫ expr(y) spec(dy) for a discrete spec = (atoms, weights); expr is in `point`."""
    atoms, weights = spec
    rows = [row if isinstance(row, (tuple, list)) else (row,) for row in atoms]
    return sp.Add(*[w * expr.xreplace(dict(zip(point, row))) for row, w in zip(rows, weights)])


def pairing(dF, point, spec_mu, spec_nu):
    """∫ dF(y) (nu - mu)(dy)."""
    return integrate_against(dF, point, spec_nu) - integrate_against(dF, point, spec_mu)


def close(a, b, tol):
    a, b = complex(sp.N(a, 30)), complex(sp.N(b, 30))
    return abs(a - b) <= tol * max(1.0, abs(b))

