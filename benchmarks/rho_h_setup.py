r"""``python benchmarks/rho_h_setup.py --n 4 64 1024 --repeat 2``

Set-up of the :math:`(\rho,H)` chaos particles (Fernández-Real & Figalli 2022, Prop. 3.3):
the wall time of :func:`mfderive.rho_h_flow` (lowering the flow: lifting, code generation,
tracing) plus ``init_fn`` and the first ``step_fn`` (XLA compile included), for ``n``
particles.  Each ``n`` runs in a fresh Python process, so no cache of SymPy, of
:func:`mfderive.compile` or of JAX is shared between sizes; the flow's derivation
(``RhoHFlow(...)``, independent of ``n``) is timed apart.

Systems: ``1d`` is
:math:`G = \frac12\int_D(\int H(\theta)e^{-(\theta-x)^2}d\rho - \sin 2x)^2 + \int\frac\lambda2(H^2+\theta^2)d\rho`
with an 8-point Gauss–Legendre rule for :math:`D` (the system of
``tests/simulate/test_prop33_particles.py``); ``2d`` adds an interaction
:math:`\frac14\iint H(\xi)H(\zeta)e^{-|\xi-\zeta|^2}d\rho\,d\rho` on two variables
(``tests/simulate/test_rho_h_particles.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time


def _system(name):
    """``(G, rho, H, data)`` of the benchmark system ``name``."""
    import numpy as np
    import sympy as sp

    import mfderive as mf

    x = sp.Symbol("x", real=True)
    H = sp.Function("H", real=True)
    D = mf.Data("D", (x,))
    nodes, qw = np.polynomial.legendre.leggauss(8)
    data = {D: (nodes, qw)}
    if name == "1d":
        th = sp.Symbol("theta", real=True)
        rho = mf.Measure("rho", (th,))
        f = mf.integral(H(th) * sp.exp(-((th - x) ** 2)), rho)
        G = mf.integral((f - sp.sin(2 * x)) ** 2 / 2, D) + mf.integral(
            sp.Rational(1, 20) * (H(th) ** 2 + th**2), rho)
        return G, rho, H, data
    a, b = sp.symbols("a b", real=True)
    rho = mf.Measure("rho", (a, b))
    z = rho.point("z")
    G = (
        mf.integral((mf.integral(H(a, b) * sp.tanh(a * x + b), rho) - sp.cos(x)) ** 2 / 2, D)
        + mf.integral(H(a, b) * mf.integral(H(*z) * sp.exp(-((a - z[0]) ** 2) - (b - z[1]) ** 2),
                                            rho, over=z), rho) / 4
        + mf.integral((H(a, b) ** 2 + a**2 + b**2) / 10, rho)
    )
    return G, rho, H, data


def one(n: int, system: str, dtype: str) -> dict:
    """Time the set-up and first step for ``n`` particles in this process."""
    import jax

    jax.config.update("jax_enable_x64", dtype == "float64")
    import jax.numpy as jnp
    import numpy as np

    import mfderive as mf

    t0 = time.perf_counter()
    G, rho, H, data = _system(system)
    flow = mf.RhoHFlow(G, rho, H, "chaos")
    t1 = time.perf_counter()
    init, step, _ = mf.rho_h_flow(flow, np.full(n, 1.0 / n), data, dt=1e-2)
    t2 = time.perf_counter()
    key = jax.random.PRNGKey(0)
    theta = jax.random.normal(key, (n,) if rho.dim == 1 else (n, rho.dim), dtype=dtype)
    h = jax.random.normal(jax.random.PRNGKey(1), (n,), dtype=dtype)
    s = step(init(theta, h))
    jax.block_until_ready(s)
    t3 = time.perf_counter()
    s = step(s)
    jax.block_until_ready(s)
    t4 = time.perf_counter()
    assert bool(jnp.all(jnp.isfinite(s.h)))
    return {"n": n, "derive_s": t1 - t0, "lower_s": t2 - t1, "first_step_s": t3 - t2,
            "setup_and_first_step_s": t3 - t1, "second_step_s": t4 - t3,
            "device": str(jax.devices()[0]), "dtype": str(s.h.dtype)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="(rho, H) set-up + first step against n")
    ap.add_argument("--n", type=int, nargs="+", default=[4, 64, 1024])
    ap.add_argument("--system", choices=["1d", "2d"], default="1d")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    ap.add_argument("--repeat", type=int, default=1, help="runs per n (fresh processes)")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one is not None:
        print(json.dumps(one(args.one, args.system, args.dtype)))
        return 0
    import jax
    import sympy

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, jax {jax.__version__}, sympy {sympy.__version__}")
    print(f"system: {args.system}, dtype: {args.dtype}, sizes n = {args.n}, {args.repeat} run(s) each")
    print(f"{'n':>6} {'derive s':>9} {'rho_h_flow s':>13} {'init+step 1 s':>14} "
          f"{'set-up+step 1 s':>16} {'step 2 ms':>10}")
    for n in args.n:
        for _ in range(args.repeat):
            out = subprocess.run(
                [sys.executable, __file__, "--one", str(n), "--system", args.system, "--dtype", args.dtype],
                check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"{n:>6} {r['derive_s']:>9.2f} {r['lower_s']:>13.2f} {r['first_step_s']:>14.2f} "
                  f"{r['setup_and_first_step_s']:>16.2f} {1e3 * r['second_step_s']:>10.2f}"
                  f"   ({r['device']}, {r['dtype']})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
