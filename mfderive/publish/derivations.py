r"""The book's derivations page, written at build time from what the engine derives.

:func:`page` returns MyST Markdown: the first variations, Lions derivatives and second
variation of the report's examples (:func:`mfderive.publish.report.examples`), the PDEs of
the flows, and their dissipation identities with the engine's verdict and certificate
(the flux :math:`Q` of the divergence and the boundary term).  Nothing on the page is
typed by hand, so the book cannot drift from the engine.

Equations are written for reading: one equation per display, a sum of several terms
broken one term per line (:func:`display`), integrals against a measure printed as
:math:`\int \dots\,\mu(dz)` (the engine's own LaTeX printing).

>>> import sympy as sp
>>> x, y = sp.symbols("x y")
>>> print(display(r"F", x + y - 1, per_line=1))
$$
\begin{aligned}
F ={}& -1 \\
&+ x \\
&+ y
\end{aligned}
$$
"""

from __future__ import annotations

import time
from pathlib import Path

import sympy as sp

__all__ = ["display", "page", "write"]


def _terms(expr) -> list[sp.Expr]:
    return list(sp.Add.make_args(expr)) if isinstance(expr, sp.Add) else [expr]


def display(lhs: str, expr: sp.Basic, per_line: int = 1, relation: str = "=") -> str:
    r"""``lhs = expr`` (a SymPy object the engine returned) as a display: on one line when
    ``expr`` has at most two terms and is short, otherwise an ``aligned`` block with
    ``per_line`` terms per line."""
    if not isinstance(expr, sp.Expr):  # a matrix or a tuple: one display
        return f"$$\n{lhs} {relation} {sp.latex(expr)}\n$$"
    terms = _terms(expr)
    if len(terms) <= 2 and per_line >= 1 and len(sp.latex(expr)) < 160:
        return f"$$\n{lhs} {relation} {sp.latex(expr)}\n$$"
    lines = []
    for i in range(0, len(terms), per_line):
        chunk = terms[i:i + per_line]
        out = []
        for j, t in enumerate(chunk):
            neg = t.could_extract_minus_sign()
            body = sp.latex(-t if neg else t)
            if i == 0 and j == 0:
                out.append(("-" if neg else "") + body)
            else:
                out.append(("- " if neg else "+ ") + body)
        lines.append(" ".join(out))
    first = f"{lhs} {relation}{{}}& {lines[0]}"
    rest = [f"&{ln}" for ln in lines[1:]]
    return "$$\n\\begin{aligned}\n" + " \\\\\n".join([first, *rest]) + "\n\\end{aligned}\n$$"


def _examples_section() -> list[str]:
    from .. import first_variation, lions_derivative, second_variation
    from .report import examples

    out = ["## First variations, Lions derivatives, second variation", ""]
    for claim, name, F, mu, kind in examples():
        y = mu.point("y")
        out += [f"### {name} ({claim})", "", display(r"F", F), ""]
        if kind == "first":
            out += [display(rf"\frac{{\delta F}}{{\delta {sp.latex(mu)}}}(y)", first_variation(F, mu, at=y)), ""]
        elif kind == "lions":
            D = lions_derivative(F, mu, at=y)
            for v, comp in zip(mu.variables, D):
                out += [display(rf"\big(D_{{{sp.latex(mu)}}} F\big)_{{{sp.latex(v)}}}(y)", comp), ""]
        else:
            z = mu.point("z")
            out += [display(rf"\frac{{\delta^2 F}}{{\delta {sp.latex(mu)}^2}}(y, z)",
                            second_variation(F, mu, at=(y, z))), ""]
    return out


def _flows():
    """(label, claim, flow) for the flows whose PDEs and identities the page shows."""
    from .. import Data, Measure, RhoHFlow, UnbalancedFlow, WassersteinFlow, entropy, integral, local
    from .report import examples

    claim, name, F, mu, _ = examples()[4]
    w, a, b = mu.variables
    sigma, alpha, tau = sp.Symbol("sigma", positive=True), sp.Symbol("alpha", positive=True), sp.Symbol("tau", positive=True)
    th, x, s = sp.symbols("theta x s", real=True)
    H, h, f, V = [sp.Function(n, real=True) for n in "HhfV"]
    rho, D = Measure("rho", (th,)), Data("D", (x,))
    G = integral((integral(H(th) * h(th, x), rho) - f(x)) ** 2 / 2, D) + integral(V(H(th), th), rho)
    m = Measure("m", (s,))
    return [
        ("Wasserstein gradient flow of the network risk (μ formulation)", "C4", WassersteinFlow(F, mu)),
        ("Mean-field Langevin dynamics (Theorem 2)", "C6",
         WassersteinFlow(F, mu, noise=sigma, confinement=(w**2 + a**2 + b**2) / 2)),
        ("Heat-regularised flow (4.2)", "C12", WassersteinFlow(integral(s**2 / 2, m) + tau * entropy(m), m)),
        ("Porous-medium-regularised flow (4.7)", "C12",
         WassersteinFlow(integral(s**2 / 2, m) + local(tau / 2 * m.density(s) ** 2, m), m)),
        ("(ρ, H) separated flow (3.19)", "C9", RhoHFlow(G, rho, H, "separated")),
        ("(ρ, H) transported flow (3.21)–(3.22)", "C10", RhoHFlow(G, rho, H, "transported")),
        ("(ρ, H) chaos flow (Proposition 3.3)", "C11", RhoHFlow(G, rho, H, "chaos")),
        ("Wasserstein–Fisher–Rao (birth–death) flow", "C14", UnbalancedFlow(integral(s**2 / 2, m), m, alpha)),
    ]


def _flows_section() -> list[str]:
    from .. import dissipation_identity

    out = ["## Flows and their dissipation identities", ""]
    for label, claim, flow in _flows():
        out += [f"### {label} ({claim})", ""]
        for eq in flow.pde():
            out += [display(sp.latex(eq.lhs), eq.rhs), ""]
        try:
            ident = dissipation_identity(flow)
            v = ident.verify()
        except Exception as exc:  # a flow without a gradient structure: say what the engine says
            out += [f"Dissipation identity: not available ({type(exc).__name__}: {exc}).", ""]
            continue
        verdict = "**proved**" if v.proved else "**not proved**"
        out += [f"Dissipation identity: {verdict} ({v.method}). {v.reason}", ""]
        if v.proved and v.flux is not None:
            flux = list(v.flux) if isinstance(v.flux, (tuple, list, sp.Matrix, sp.Tuple)) else [v.flux]
            out += ["Certificate: the residual is the divergence of the flux $Q$,", ""]
            for i, q in enumerate(flux):
                out += [display(f"Q_{{{i + 1}}}" if len(flux) > 1 else "Q", q), ""]
        elif not v.proved and v.remainder is not None:
            out += ["The remainder the engine exhibits:", "", display(r"R", v.remainder), ""]
    return out


def page() -> str:
    """The derivations page (MyST Markdown)."""
    t0 = time.perf_counter()
    body = _examples_section() + _flows_section()
    head = [
        "# Derivations, from the engine",
        "",
        "Every formula on this page was derived by `mfderive` when the book was built, from the "
        "functional's definition, and printed by SymPy's LaTeX printer: nothing is typed by hand. "
        "Integrals against a measure are printed as $\\int \\dots\\,\\mu(dz)$, points of the "
        "parameter space as $y = (y_w, y_a, y_b)$. A sum of several terms is broken one term per line.",
        "",
    ]
    tail = ["", f"_Derived in {time.perf_counter() - t0:.1f} s at build time._", ""]
    return "\n".join(head + body + tail)


def write(path: Path) -> Path:
    """Write :func:`page` to ``path``; return it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(), encoding="utf-8")
    return path
