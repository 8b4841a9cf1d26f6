"""Independent numerical routes used by the tests (no engine code beyond `evaluate`)."""

import itertools

import mpmath
import sympy as sp

import mfderive as mf

INTEGRALS = (mf.MeasureIntegral, mf.LocalIntegral)  # the integral atoms, public names


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


def _mp(q):
    """A rational (SymPy or int) as an mpmath number at the current precision."""
    q = sp.Rational(q)
    return mpmath.mpmathify(q.p) / q.q


def high_precision(expr, points=(), at=((),), dps=40):
    """Values of a SymPy expression with ``dps`` digits (mpmath), at each row of ``at``
    (values of the symbols ``points``); one value when ``points`` is empty.

    One ``lambdify`` with common subexpressions, no adaptive ``evalf``: much faster than
    ``sp.N`` on the large trees that evaluating nested integrals produces.
    """
    f = sp.lambdify(points, expr, "mpmath", cse=True)
    with mpmath.workdps(dps):
        values = [mpmath.mpc(f(*[_mp(c) for c in row])) for row in at]
    return values[0] if not points else values


def derivative_high_precision(expr, s, order):
    """d^n/ds^n expr at s = 0 for an exact SymPy expression in s, to about 40 digits.

    mpmath's ``diff`` at 60 digits: central differences with step 2^-(prec+10), evaluated
    at (prec+20)(n+1) bits, so neither truncation nor cancellation reaches the 40th digit.
    Symbolic ``sp.diff`` is exact too but takes seconds to minutes on nested functionals;
    the two agree to 40 digits (test_high_precision_gateaux_agrees_with_symbolic).
    """
    f = sp.lambdify(s, expr, "mpmath", cse=True)
    with mpmath.workdps(60):
        return mpmath.mpc(mpmath.diff(f, 0, order))


def gateaux_high_precision(F, mu, spec_mu, spec_nu, fixed, order):
    """d^n/ds^n|_0 F((1-s) mu + s nu), n = ``order``: F((1−s)μ+sν) exactly as a SymPy
    function of s (rational atoms), differentiated by :func:`derivative_high_precision`."""
    s = sp.Symbol("s")
    Fs = mf.evaluate(F, {mu: mixture(*spec_mu, *spec_nu, s), **fixed})
    return derivative_high_precision(Fs, s, order)


def close_mp(a, b, tol):
    """|a − b| ≤ tol · max(1, |b|) for mpmath numbers."""
    return abs(a - b) <= tol * max(1, abs(b))


def sum_high_precision(expr, points, rows, weights, dps=40):
    """Σ_k weights[k] · expr(rows[k]) at ``dps`` digits, ``rows[k]`` the values of ``points``.

    One ``lambdify`` (with common subexpressions) and one mpmath call per row, instead of
    building and ``evalf``-ing the sum symbolically (minutes on nested kernels).
    """
    f = sp.lambdify(points, expr, "mpmath", cse=True)
    with mpmath.workdps(dps):
        total = mpmath.mpc(0)
        for row, w in zip(rows, weights):
            total += _mp(w) * mpmath.mpmathify(f(*[_mp(c) for c in row]))
        return total


def pairing_high_precision(expr, points, spec_mu, spec_nu, dps=40):
    """∫…∫ expr(y_1, …, y_k) (nu − mu)(dy_1) … (nu − mu)(dy_k) at ``dps`` digits, for k
    one-variable points and rational atoms and weights; ``expr`` has no integrals left."""
    signed = list(zip(spec_nu[0], spec_nu[1])) + [(a, -w) for a, w in zip(*spec_mu)]
    combos = list(itertools.product(signed, repeat=len(points)))
    rows = [[a for a, _ in c] for c in combos]
    weights = [sp.Mul(*[w for _, w in c]) for c in combos]
    return sum_high_precision(expr, points, rows, weights, dps)


def _density_apps(expr, measure):
    """The applications m(...) of the density function of ``measure`` (any arguments)."""
    return {
        f for f in expr.atoms(sp.core.function.AppliedUndef)
        if f.func.__name__ == measure.name
    }


def quadrature_evaluate(expr, table):
    """Evaluate integrals against measures given on a quadrature rule, innermost first.

    ``table = {measure: (nodes, weights, density)}`` for 1-D measures.  With a density
    expression m (in the measure's variable), ∫ g dμ becomes Σ_i w_i m(x_i) g(x_i) and a
    local ∫ L(ξ, m(ξ)) dξ becomes Σ_i w_i L(x_i, m(x_i)); with ``density=None`` the measure
    is the discrete Σ_i w_i δ_{x_i}.  Applications m(a) of the density function at other
    arguments (the point y of a variation, log m(y)) become the density expression at a.

    This is the functional with the reference measure λ = Σ_i w_i δ_{x_i} in place of
    Lebesgue measure.  For a local integrand depending on m pointwise (entropy, ∫m²,
    relative entropy: no derivatives of m) the first-variation rules hold verbatim for
    any reference measure, so the Gateaux derivative of this quadrature functional is an
    exact check of the engine's variation (rational nodes, weights and densities).
    Measures with a density must have distinct names (their density functions are
    matched by name, as SymPy functions are).
    """
    densities = {M: spec[2] for M, spec in table.items() if spec[2] is not None}

    def at_density(g, M):
        (var,) = M.variables
        rep = {f: densities[M].xreplace({var: f.args[0]}) for f in _density_apps(g, M)}
        return g.xreplace(rep)

    def walk(e):
        if isinstance(e, INTEGRALS):
            g = walk(e.integrand)
            M = e.measure
            if M not in table:
                return e.func(g, M, e.over)
            nodes, weights, m = table[M]
            (xi,) = e.over
            if isinstance(e, mf.LocalIntegral):
                g = at_density(g, M)
                m = None
            terms = []
            for n, w in zip(nodes, weights):
                mass = w if m is None else w * m.xreplace({M.variables[0]: n})
                terms.append(mass * g.xreplace({xi: n}))
            return sp.Add(*terms)
        if not e.args or isinstance(e, sp.Symbol):
            return e
        return e.func(*[walk(a) for a in e.args])

    out = walk(expr)
    for M in densities:
        out = at_density(out, M)
    return out


def density_gateaux(F, mu, m0, m1, dps=20):
    """d/ds|_0 F(m0 + s (m1 − m0)) for a functional of one 1-D measure with a density on
    the real line, without the engine: every integral against ``mu`` (and every local one)
    becomes a Lebesgue integral of the density, SymPy differentiates in s under the
    integral sign (dominated convergence: Gaussian densities, integrands of polynomial
    growth), and each integral is computed by mpmath's tanh-sinh quadrature at ``dps``
    digits, innermost first.  An inner integral must not depend on an outer variable (a
    number by the time the outer one is computed)."""
    s = sp.Symbol("s")
    (var,) = mu.variables
    ms = m0 + s * (m1 - m0)

    def at(xi):
        return ms.xreplace({var: xi})

    def convert(e):
        if isinstance(e, INTEGRALS):
            assert e.measure == mu, e
            g = convert(e.integrand)
            (xi,) = e.over
            if isinstance(e, mf.LocalIntegral):
                g = g.xreplace({f: at(f.args[0]) for f in _density_apps(g, mu)})
            else:
                g = g * at(xi)
            return sp.Integral(g, (xi, -sp.oo, sp.oo))
        if not e.args or isinstance(e, sp.Symbol):
            return e
        return e.func(*[convert(a) for a in e.args])

    d = sp.diff(convert(F), s).xreplace({s: 0})
    return quad_integrals(sp.expand_log(d, force=True), dps)


def quad_integrals(expr, dps=20):
    """The value of ``expr`` with every 1-D ``sp.Integral`` over the real line computed by
    mpmath's quadrature at ``dps`` digits (innermost first; equal integrals once)."""
    done = {}

    def walk(e):
        if isinstance(e, sp.Integral):
            if e not in done:
                g = walk(e.function)
                ((xi, lo, hi),) = e.limits
                assert (lo, hi) == (-sp.oo, sp.oo) and g.free_symbols <= {xi}, e
                f = sp.lambdify(xi, g, "mpmath")
                with mpmath.workdps(dps + 5):
                    value = mpmath.quad(f, [-mpmath.inf, 0, mpmath.inf])
                done[e] = sp.Float(mpmath.re(value), dps + 5)
            return done[e]
        if not e.args:
            return e
        return e.func(*[walk(a) for a in e.args])

    return high_precision(walk(expr), dps=dps)
