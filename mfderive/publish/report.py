r"""``python -m mfderive.publish.report``: derive the C1–C3 examples and print them.

Every line is computed by the engine from the functional's definition; the report
also times the first variation and Lions derivative of the network risk (three
parameters per neuron, five data points), which the core issue asks to take
under one second.
"""

from __future__ import annotations

import sys
import time

import sympy as sp

from .. import (
    Data,
    Measure,
    entropy,
    evaluate,
    first_variation,
    integral,
    lions_derivative,
    local,
    relative_entropy,
    second_variation,
)

__all__ = ["examples", "main"]


def examples():
    """(claim, name, functional, measure, kind) for each derivation in the report."""
    w, a, b, x = sp.symbols("w a b x", real=True)
    u, v = sp.symbols("u v", real=True)
    sigma, tau = sp.symbols("sigma tau", positive=True)
    W = sp.Function("W")
    mu = Measure("mu", (w, a, b))
    nu = Data("nu", (x,))
    rho = Measure("rho", (u,))
    f_mu = integral(w * sp.tanh(a * x + b), mu)
    risk = integral((f_mu - sp.sin(x)) ** 2 / 2, nu) + sp.Rational(1, 100) * integral(
        w**2 + a**2 + b**2, mu
    )
    U = (w**2 + a**2 + b**2) / 2
    m = rho.density(u)
    return [
        ("C1", "potential energy", integral(sp.cos(u), rho), rho, "first"),
        ("C1", "interaction, non-symmetric W", integral(integral(W(u, v), rho, over=(v,)), rho), rho, "first"),
        ("C1", "entropy", entropy(rho), rho, "first"),
        ("C1", "porous medium", local(tau / 2 * m**2, rho), rho, "first"),
        ("C1", "network risk (MSE + L2)", risk, mu, "first"),
        ("C1", "MFLD energy V^sigma", risk + sigma**2 / 2 * relative_entropy(mu, sp.exp(-U)), mu, "first"),
        ("C2", "network risk, Lions derivative", risk, mu, "lions"),
        ("C3", "network risk, second variation", risk, mu, "second"),
    ]


def timing(repeats: int = 3) -> float:
    """Best-of-``repeats`` seconds for δF/δμ and D_μF of the network risk, evaluated on
    5 data points and 3 neurons."""
    claim, name, F, mu, _ = examples()[4]
    nu = next(iter(F.atoms(Data)))
    y = mu.point("y")
    spec = {
        mu: ([(1, 0.5, 0.1), (-1, 2, 0.3), (0.5, -1, 0)], [sp.Rational(1, 3)] * 3),
        nu: ([-1, -0.5, 0, 0.5, 1], [0.2] * 5),
    }
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        evaluate(first_variation(F, mu, at=y), spec)
        evaluate(lions_derivative(F, mu, at=y), spec)
        best = min(best, time.perf_counter() - t0)
    return best


def identity_timing() -> float:
    """Derive and verify the identities the flows issue requires; print each verdict and time."""
    from .. import RhoHFlow, WassersteinFlow, dissipation_identity

    claim, name, F, mu, _ = examples()[4]
    w, a, b = mu.variables
    sigma = sp.Symbol("sigma", positive=True)
    th, x = sp.symbols("theta x", real=True)
    H, h, f, V = [sp.Function(n, real=True) for n in "HhfV"]
    rho, D = Measure("rho", (th,)), Data("D", (x,))
    G = integral((integral(H(th) * h(th, x), rho) - f(x)) ** 2 / 2, D) + integral(V(H(th), th), rho)
    cases = [
        ("(3.9) Wasserstein gradient flow", lambda: WassersteinFlow(F, mu)),
        ("Theorem 2 (MFLD)", lambda: WassersteinFlow(F, mu, noise=sigma, confinement=(w**2 + a**2 + b**2) / 2)),
        ("(3.19) separated (rho, H)", lambda: RhoHFlow(G, rho, H, "separated")),
        ("Prop 3.3 chaos (rho, H)", lambda: RhoHFlow(G, rho, H, "chaos")),
        ("(3.21) transported (rho, H)", lambda: RhoHFlow(G, rho, H, "transported")),
    ]
    total = 0.0
    for label, make in cases:
        t0 = time.perf_counter()
        v = dissipation_identity(make()).verify()
        t1 = time.perf_counter()
        div = v.is_divergence
        t2 = time.perf_counter()
        total += t1 - t0
        print(f"[identity] {label:<32} {'PROVED' if v.proved else 'NOT PROVED':<11} "
              f"derive+verify {t1 - t0:5.2f} s; Euler certificate {t2 - t1:5.2f} s "
              f"({'total divergence' if div else 'not a total divergence'})")
    print(f"[identity] all five derived and verified in {total:.2f} s (target < 10 s)\n")
    return total


def main(argv=None) -> int:
    """Print the derivation report (``mfderive report``); exit status 1 if the network
    risk's derivations take a second or more."""
    print("mfderive derivation report: every formula below is derived by the engine\n")
    t_all = time.perf_counter()
    for claim, name, F, mu, kind in examples():
        y = mu.point("y")
        t0 = time.perf_counter()
        if kind == "first":
            out = first_variation(F, mu, at=y)
            label = "dF/dmu(y)"
        elif kind == "lions":
            out = lions_derivative(F, mu, at=y).T
            label = "D_mu F(y)"
        else:
            out = second_variation(F, mu, at=(y, mu.point("z")))
            label = "d2F/dmu2(y,z)"
        dt = time.perf_counter() - t0
        print(f"[{claim}] {name}   ({dt * 1e3:.0f} ms)")
        print(f"    F          = {sp.sstr(F)}")
        print(f"    {label:<10} = {sp.sstr(out)}\n")
    identity_timing()
    t = timing()
    verdict = "OK" if t < 1.0 else "SLOW"
    print(
        f"network risk (3-parameter neurons, 5 data points): first variation + Lions "
        f"derivative, derived and evaluated in {t * 1e3:.0f} ms (target < 1000 ms): {verdict}"
    )
    print(f"report took {time.perf_counter() - t_all:.1f} s")
    return 0 if t < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
