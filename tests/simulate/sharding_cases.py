"""Every particle simulator run sharded over the host devices and on one device
(``tests/simulate/test_sharding.py`` runs this file in a subprocess, because the number of
host devices, ``XLA_FLAGS=--xla_force_host_platform_device_count=4``, must be set before
JAX starts).

``python tests/simulate/sharding_cases.py`` prints one JSON object: for each case the
largest relative difference between the sharded and the single-device run over the
state's arrays and the recorded trace, ``max|a - b| / max|b|`` per array, and the number
of devices each state array of the sharded run lives on (the size of
``x.sharding.device_set``) with the number of its row blocks (for the chunked cases also
the all-gathers in the compiled sharded step and its per-device temporaries over those of
one device); and, for particle counts that do not split over the devices, the error each
simulator raises (type name and message)."""

from __future__ import annotations

import json
import os
import re
import sys

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("JAX_ENABLE_X64", "1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

import mfderive as mf  # noqa: E402
from mfderive.derive.domains import Reals, Sphere  # noqa: E402
from mfderive.simulate.sharding import particle_mesh  # noqa: E402

N = 64  # particles (a multiple of 4 devices)
M = 24  # data points
STEPS = 4

w, a1, a2, b, x, t = sp.symbols("shc_w shc_a1 shc_a2 shc_b shc_x shc_t", real=True)
MU = mf.Measure("shc_mu", (w, a1, a2, b))
NU = mf.Data("shc_nu", (x, t))
sigma = sp.Symbol("shc_sigma", positive=True)
alpha = sp.Symbol("shc_alpha", positive=True)
Z = MU.point("shc_z")


def _rng(seed):
    return np.random.default_rng(seed)


XS = np.linspace(-1.5, 1.5, M)
DATA_ARR = np.column_stack([XS, np.sin(2 * XS)])
DATA = {NU: (DATA_ARR, np.full(M, 1.0 / M))}


def mfld():
    """Two-layer tanh network with data, noise, confinement and a pairwise kernel: the
    data reduction f_mu(x_m) and an N×N pair sum in one drift."""
    f = mf.integral(w * sp.tanh(a1 * x + a2 * x**2 / 4 + b), MU)
    sq = w**2 + a1**2 + a2**2 + b**2
    pair = mf.integral(mf.integral(sp.exp(-((w - Z[0]) ** 2) - (b - Z[3]) ** 2), MU, over=Z), MU)
    F = mf.integral((f - t) ** 2 / 2, NU) + sp.Rational(1, 100) * mf.integral(sq, MU) + pair / 10
    return mf.WassersteinFlow(F, MU, noise=sigma, confinement=sq / 2)


def positions(n, d, seed):
    return 0.7 * _rng(seed).normal(size=(n, d))


def cases():
    """``name -> (simulator builder taking sharding=, init arguments)``."""
    out = {}
    flow = mfld()
    P0 = positions(N, 4, 0)
    out["particle_flow"] = (lambda s: mf.particle_flow(flow, DATA, {sigma: 0.1}, dt=0.05, sharding=s),
                            (P0, jax.random.PRNGKey(7)))
    out["particle_flow chunked"] = (
        lambda s: mf.particle_flow(flow, DATA, {sigma: 0.1}, dt=0.05, chunk_size=16, sharding=s),
        (P0, jax.random.PRNGKey(7)))
    # a potential from the data only, chunked: the drift at a particle needs no other
    # particle, so the sharded step needs no collective at all (each device maps over the
    # blocks of its own rows)
    F_loc = mf.integral(mf.integral(sp.exp(-((w - x) ** 2) - (b - t) ** 2), NU), MU) + mf.integral(
        (w**2 + a1**2 + a2**2 + b**2) / 2, MU)
    out["particle_flow chunked data"] = (
        lambda s: mf.particle_flow(mf.WassersteinFlow(F_loc, MU), DATA, dt=0.05, chunk_size=16, sharding=s),
        (P0, 0))
    pw = _rng(1).uniform(0.5, 1.5, N)
    out["particle_flow weighted"] = (
        lambda s: mf.particle_flow(flow, DATA, {sigma: 0.1}, dt=0.05, sharding=s),
        (P0, jax.random.PRNGKey(7), pw / pw.sum()))

    # signed measure: weights are state (the lifted gradient flow)
    u, v = sp.symbols("shc_u shc_v", real=True)
    nu_s = mf.Measure("shc_nus", (u, v), signed=True)
    F_s = mf.integral((mf.integral(sp.Max(0, u * x + v), nu_s) - sp.Abs(x)) ** 2 / 2, NU)
    c0 = _rng(2).normal(size=N)
    out["particle_flow signed"] = (
        lambda s: mf.particle_flow(mf.WassersteinFlow(F_s, nu_s), DATA, dt=0.05, sharding=s),
        (positions(N, 2, 3), 0, c0))

    # sphere x line: retraction after each step
    t1, t2, r = sp.symbols("shc_t1 shc_t2 shc_r", real=True)
    mu_sph = mf.Measure("shc_sph", (t1, t2, r), domain=Sphere(2) * Reals(1))
    F_sph = (mf.integral((mf.integral(r * sp.tanh(t1 * x + t2), mu_sph) - t) ** 2 / 2, NU)
             + mf.integral(r**2, mu_sph) / 20)
    ang = _rng(4).uniform(0, 2 * np.pi, N)
    S0 = np.column_stack([np.cos(ang), np.sin(ang), _rng(5).normal(size=N)])
    out["particle_flow sphere"] = (
        lambda s: mf.particle_flow(mf.WassersteinFlow(F_sph, mu_sph), DATA, dt=0.05, sharding=s),
        (S0, 0))

    # WFR birth-death, with a pair term and data
    q = sp.Symbol("shc_q", real=True)
    mu_q = mf.Measure("shc_muq", (q,))
    zq = mu_q.point("shc_zq")
    F_bd = (mf.integral((mf.integral(sp.tanh(q * x), mu_q) - t) ** 2 / 2, NU)
            + mf.integral(mf.integral(sp.exp(-((q - zq[0]) ** 2)), mu_q, over=zq), mu_q) / 4
            + mf.integral(q**2 / 2, mu_q))
    out["birth_death_flow"] = (
        lambda s: mf.birth_death_flow(mf.UnbalancedFlow(F_bd, mu_q, alpha), DATA, {alpha: 3.0},
                                      dt=0.05, sharding=s),
        (positions(N, 1, 6), jax.random.PRNGKey(3)))

    # zero-sum game: weighted particles of both players (N x M pair sums)
    gx, gy = sp.symbols("shc_gx shc_gy", real=True)
    mx, my = mf.Measure("shc_mx", (gx,)), mf.Measure("shc_my", (gy,))
    ell = sp.cos(gx - gy) + sp.cos(2 * gx) * sp.sin(gy) / 2
    game = mf.ZeroSumGame(mf.integral(mf.integral(ell, my), mx), mx, my, alpha)
    out["ascent_descent"] = (
        lambda s: mf.ascent_descent(game, {alpha: 1.0}, dt=0.05, sharding=s),
        (_rng(7).uniform(0, 6, N), _rng(8).uniform(0, 6, 2 * N)))

    # (rho, H) chaos particles with a data fit and an interaction term, plain and chunked
    th1, th2 = sp.symbols("shc_th1 shc_th2", real=True)
    H = sp.Function("shcH", real=True)
    rho = mf.Measure("shc_rho", (th1, th2))
    zr = rho.point("shc_zr")
    G = (mf.integral((mf.integral(H(th1, th2) * sp.tanh(th1 * x + th2), rho) - t) ** 2 / 2, NU)
         + mf.integral(H(th1, th2) * mf.integral(H(*zr) * sp.exp(-((th1 - zr[0]) ** 2) - (th2 - zr[1]) ** 2),
                                                 rho, over=zr), rho) / 4
         + mf.integral((H(th1, th2) ** 2 + th1**2 + th2**2) / 10, rho))
    chaos = mf.RhoHFlow(G, rho, H, "chaos")
    p = _rng(9).uniform(0.5, 1.5, N)
    p /= p.sum()
    init = (positions(N, 2, 10), _rng(11).normal(size=N))
    out["rho_h_flow"] = (lambda s: mf.rho_h_flow(chaos, p, DATA, dt=0.02, sharding=s), init)
    out["rho_h_flow chunked"] = (lambda s: mf.rho_h_flow(chaos, p, DATA, dt=0.02, chunk_size=16, sharding=s), init)
    return out


def _float_leaves(tree):
    return [np.asarray(v) for v in jax.tree_util.tree_leaves(tree)
            if jnp.issubdtype(jnp.asarray(v).dtype, jnp.inexact)]


def _row_arrays(state):
    """The state's arrays with a particle axis (rank ≥ 1, not a PRNG key)."""
    return [v for v in jax.tree_util.tree_leaves(state)
            if getattr(v, "ndim", 0) >= 1 and jnp.issubdtype(v.dtype, jnp.inexact)]


def compare(build, args, sharding):
    """``(relative difference, [(devices, row blocks) per row array])`` after STEPS steps."""
    init1, step1, obs1 = build(None)
    initS, stepS, obsS = build(sharding)
    s1, tr1 = mf.run(step1, init1(*args), STEPS, obs1)
    sS, trS = mf.run(stepS, initS(*args), STEPS, obsS)
    rel = 0.0
    for u, v in zip(_float_leaves((sS, trS)), _float_leaves((s1, tr1)), strict=True):
        scale = max(np.max(np.abs(v)), np.finfo(np.float64).tiny) if v.size else 1.0
        rel = max(rel, float(np.max(np.abs(u - v)) / scale) if v.size else 0.0)
    layout = [(len(x.sharding.device_set), len({tuple(i) for i in _blocks(x)}))
              for x in _row_arrays(sS)]
    return rel, layout


def compiled_step(build, args, sharding):
    """``(all-gathers, per-device temporary bytes)`` of one compiled step: the number of
    all-gather ops in ``jax.jit(step).lower(state).compile().as_text()`` and
    ``memory_analysis().temp_size_in_bytes``."""
    init, step, _ = build(sharding)
    compiled = jax.jit(step).lower(init(*args)).compile()
    gathers = len(re.findall(r" all-gather(?:-start)?\(", compiled.as_text()))
    return gathers, compiled.memory_analysis().temp_size_in_bytes


def _blocks(x):
    """The distinct row ranges of ``x``'s shards ((start, stop) per device)."""
    return [(sh.index[0].start or 0, sh.index[0].stop or x.shape[0]) for sh in x.addressable_shards]


def uneven():
    """Inputs whose particle count does not split over the devices: ``name -> call``."""
    flow = mfld()
    game_x, game_y = sp.symbols("shc_ux shc_uy", real=True)
    ux, uy = mf.Measure("shc_ux", (game_x,)), mf.Measure("shc_uy", (game_y,))
    game = mf.ZeroSumGame(mf.integral(mf.integral(sp.cos(game_x - game_y), uy), ux), ux, uy, alpha)
    chaos_th = sp.Symbol("shc_uth", real=True)
    Hu = sp.Function("shcHu", real=True)
    rho_u = mf.Measure("shc_urho", (chaos_th,))
    chaos = mf.RhoHFlow(mf.integral((Hu(chaos_th) ** 2 + chaos_th**2) / 2, rho_u), rho_u, Hu, "chaos")
    return {
        "particle_flow 63": lambda: mf.particle_flow(flow, DATA, {sigma: 0.1}, sharding=True)[0](
            positions(N - 1, 4, 0), 0),
        "ascent_descent y 30": lambda: mf.ascent_descent(game, {alpha: 1.0}, sharding=True)[0](
            np.zeros(N), np.zeros(30)),
        "rho_h_flow 6": lambda: mf.rho_h_flow(chaos, np.full(6, 1 / 6), sharding=True),
    }


def main(names=None):
    assert jax.config.jax_enable_x64, "run with JAX_ENABLE_X64=1"
    mesh = particle_mesh()
    result = {"devices": len(jax.devices()), "cases": {}, "errors": {}}
    for name, (build, args) in cases().items():
        if names and name not in names:
            continue
        rel, layout = compare(build, args, mesh)
        result["cases"][name] = {"rel": rel, "layout": layout}
        if "chunked" in name:  # the compiled step, sharded and on one device
            gathers, temp = compiled_step(build, args, mesh)
            result["cases"][name].update(gathers=gathers, temp_ratio=temp / compiled_step(build, args, None)[1])
    for name, call in uneven().items():
        try:
            call()
            result["errors"][name] = None
        except Exception as e:  # reported, checked by the test
            result["errors"][name] = [type(e).__name__, str(e)]
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:] or None)
