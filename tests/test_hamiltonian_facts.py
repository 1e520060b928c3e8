"""The facts every Hamiltonian family states, against independent computations.

L = H* against a brute-force Legendre transform (sup of p·v − H(p) over a fine grid of p, refined
around the best point), ∇H against central differences and jax.grad, the flux bound against
sampled gradients (and tight), Fenchel–Young, the cvxpy form against L, and build().
"""

from __future__ import annotations

import numpy as np
import pytest

from hjdsl.hamiltonians import Atom, Composite, Max, NotSupported, Scaled, Sum, build, norm, quadratic

A2 = np.array([[2.0, 0.6], [0.6, 1.0]])

FAMILIES = {
    "quadratic iso": lambda: quadratic(1.5 * np.eye(2)),
    "quadratic aniso": lambda: quadratic(A2),
    "l1": lambda: norm("l1", 1.5),
    "l2": lambda: norm("l2", 1.5),
    "linf": lambda: norm("linf", 1.5),
    "relativistic": lambda: build(Scaled(1.5, Atom("relativistic", c=2.0)), "relativistic", 2),
    "huber": lambda: build(Atom("huber", delta=0.7), "huber(|p|, 0.7)", 2),
    "radial sum": lambda: build(Sum((Atom("sq"), Scaled(2.0, Atom("l2")))), "|p|^2 + 2*|p|_2", 2),
    "radial max": lambda: build(Max((Atom("sq"), Scaled(2.0, Atom("l2")))), "max", 2),
    "sum sq + l1": lambda: build(Sum((Atom("sq"), Atom("l1"))), "|p|^2 + |p|_1", 2),
    "max l1, quad": lambda: build(Max((Atom("l1"), Scaled(0.5, Atom("quad", matrix=A2)))),
                                  "max(|p|_1, 0.5*p' A p)", 2),
}
PROGRAM = {"sum sq + l1", "max l1, quad"}  # L by the convex program (slow-ish): fewer points
# max takes the larger bound of its terms, where the other term may be the active one: a factor
LOOSE_BOUND = {"radial max": 0.5, "max l1, quad": 0.5}


def brute_conjugate(H, v, radius=12.0, n=161, rounds=7):
    """sup_p p·v − H(p) over the square |p_k| ≤ radius, by a grid refined around its best point."""
    center, half = np.zeros(2), radius
    best = -np.inf
    for _ in range(rounds):
        axis = np.linspace(-half, half, n)
        p = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2) + center
        f = p @ v - np.asarray(H.value(p), dtype=float)
        k = int(np.argmax(f))
        best, center, half = max(best, f[k]), p[k], 4.0 * half / (n - 1)
    return best


def samples(H, n, seed, inside=True):
    """v's well inside dom L (|v| ≤ 0.8 radius) or well outside it (≥ 1.25 radius)."""
    rng = np.random.default_rng(seed)
    direction = rng.normal(size=(n, 2))
    dom = H.domain
    if dom is None:
        return direction * rng.uniform(0.2, 2.0, size=(n, 1))
    from hjdsl.hamiltonians.reach import dual_norm

    unit = direction / dual_norm(direction, dom[0])[:, None]
    scale = rng.uniform(0.05, 0.8, size=(n, 1)) if inside else rng.uniform(1.25, 2.0, size=(n, 1))
    return unit * dom[1] * scale


@pytest.mark.parametrize("name", FAMILIES)
def test_lagrangian_is_the_conjugate(name):
    H = FAMILIES[name]()
    v = samples(H, 3 if name in PROGRAM else 6, seed=1)
    got = np.asarray(H.lagrangian(v), dtype=float)
    want = np.array([brute_conjugate(H, vi) for vi in v])
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-7)
    if H.domain is not None:  # outside dom L: +inf, and the brute sup grows with the box
        out = samples(H, 2, seed=2, inside=False)
        assert np.all(np.isinf(H.lagrangian(out)))
        for vi in out:
            assert brute_conjugate(H, vi, radius=40.0) > brute_conjugate(H, vi, radius=10.0) + 3.0


@pytest.mark.parametrize("name", FAMILIES)
def test_fenchel_young(name):
    H = FAMILIES[name]()
    rng = np.random.default_rng(3)
    p = rng.normal(size=(4, 2)) * 1.3
    v = samples(H, 4, seed=4)
    gap = H.value(p) + H.lagrangian(v) - np.sum(p * v, axis=-1)
    assert np.all(gap >= -1e-9)
    # equality at v = ∇H(p), pulled in by 1e-12 so a boundary point of dom L stays inside
    # (the gap grows only to second order there)
    dv = np.asarray(H.grad(p), dtype=float) * (1.0 - 1e-12)
    gap = H.value(p) + H.lagrangian(dv) - np.sum(p * dv, axis=-1)
    np.testing.assert_allclose(gap, 0.0, atol=1e-7)


@pytest.mark.parametrize("name", FAMILIES)
def test_gradient_against_differences_and_autodiff(name):
    import jax
    import jax.numpy as jnp

    H = FAMILIES[name]()
    p = np.random.default_rng(5).normal(size=(5, 2)) * 1.2  # generic: off every kink
    h = 1e-6
    fd = np.stack([(H.value(p + h * e) - H.value(p - h * e)) / (2 * h) for e in np.eye(2)], -1)
    got = np.asarray(H.grad(p), dtype=float)
    np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-6)
    auto = np.asarray(jax.vmap(jax.grad(lambda q: H.value(q, jnp)))(jnp.asarray(p)))
    np.testing.assert_allclose(got, auto, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", FAMILIES)
def test_gradient_bound_holds_and_is_tight(name):
    H = FAMILIES[name]()
    rng = np.random.default_rng(6)
    for m in (np.array([0.3, 2.0]), np.array([1.5, 0.8])):
        bound = H.gradient_bound(m)
        corners = np.array([[sx, sy] for sx in (-1, 1) for sy in (-1, 1)]) * m
        axes = np.array([[m[0], 0.0], [0.0, m[1]], [-m[0], 0.0], [0.0, -m[1]]])
        inner = rng.uniform(-1, 1, size=(300, 2)) * m
        p = np.concatenate([corners, axes, inner])
        g = np.abs(np.asarray(H.grad(p), dtype=float))
        assert np.all(g <= bound * (1 + 1e-12) + 1e-12), (g.max(axis=0), bound)
        assert np.all(g.max(axis=0) >= bound * LOOSE_BOUND.get(name, 1 - 1e-9)), (g.max(0), bound)


@pytest.mark.parametrize("name", FAMILIES)
def test_cvxpy_cost_is_the_scaled_lagrangian(name):
    import cvxpy as cp

    H = FAMILIES[name]()
    t = 0.7
    x = cp.Parameter(2)
    y = cp.Variable(2)
    expr, cons = H.cvxpy_cost(x - y, t)
    for w0 in samples(H, 2, seed=7) * t:
        x.value = w0
        problem = cp.Problem(cp.Minimize(expr), cons + [y == 0])
        assert problem.is_dpp()
        problem.solve(solver=cp.CLARABEL)
        np.testing.assert_allclose(problem.value, t * float(H.lagrangian(w0 / t)), atol=1e-6,
                                   rtol=1e-6)
    if H.domain is not None:
        x.value = samples(H, 1, seed=8, inside=False)[0] * t
        problem = cp.Problem(cp.Minimize(expr), cons + [y == 0])
        problem.solve(solver=cp.CLARABEL)
        assert problem.status == "infeasible"


def test_radial_solve_matches_closed_forms_up_to_the_boundary():
    """Max of identical atoms is the atom: the 1-D solve against the atom's closed form.

    Near |v| = 1 L is ill-conditioned in s = |v| (dL/ds = r* → ∞): the solve is held to a few
    ulp of s times r*, the closed form, from (1 − s)(1 + s), to round-off of L."""
    rel = Atom("relativistic", c=3.0)
    hub = Atom("huber", delta=0.4)
    s = np.array([0.0, 1e-9, 0.3, 0.9, 1 - 1e-6, 1 - 1e-12, 1.0])
    v = np.stack([s, np.zeros_like(s)], axis=-1)
    # the maximiser r* of r·s − h(r): s·sqrt(c)/sqrt(1 − s²) (0 on the boundary: L is its
    # asymptote there), and s/2 for huber
    inner = np.where(s < 1, s, 0.0)
    for atom, scale, r_star in ((rel, 1.0, inner * np.sqrt(3.0) / np.sqrt(1 - inner ** 2)),
                                (hub, 0.8, s * 0.8 / 2)):
        solved = Composite("H", Max((atom, atom)), 2)
        closed = Composite("H", atom, 2)
        assert solved.traceable and "1-D solve" in solved.lagrangian_text
        got, want = solved.lagrangian(v * scale), closed.lagrangian(v * scale)
        allowed = 8 * np.finfo(float).eps * (np.abs(want) + r_star * s * scale)
        assert np.all(np.abs(got - want) <= allowed), np.abs(got - want) / allowed
    # the closed form itself, against −sqrt(c)·sqrt(1 − s²) at 50 digits
    import mpmath

    mpmath.mp.dps = 50
    exact = [float(-mpmath.sqrt(3) * mpmath.sqrt(1 - mpmath.mpf(x) ** 2)) for x in s]
    np.testing.assert_allclose(Composite("H", rel, 2).lagrangian(v), exact, rtol=4e-16, atol=0)


def test_costs_reach_and_kernels():
    import jax
    import jax.numpy as jnp

    H = FAMILIES["relativistic"]()  # dom L = |v|_2 ≤ 1.5
    y = np.array([[1.2, 0.0], [0.0, 0.0], [1.2 - 1e-9, 0.0]])
    x = np.array([[2.2 * 1.5 / 1.5 + 0.3, 0.0]])  # 2.5: atom 0 at 1.3 = reachable at t = 1
    t = 1.3 / 1.5  # atom 0 exactly on the boundary (up to rounding), atom 2 just beyond
    c = H.costs(x, y, np.zeros(3), t)
    assert np.isfinite(c[0, 0]) and np.isinf(c[0, 1]) and np.isinf(c[0, 2])
    np.testing.assert_allclose(c[0, 0], t * 1.5 * -np.sqrt(2.0) * 0.0, atol=1e-6)
    xs = np.random.default_rng(9).normal(size=(4, 2))
    ys = np.random.default_rng(10).normal(size=(3, 2))
    g = np.array([0.1, -0.2, 0.3])
    want = g + 0.9 * H.lagrangian((xs[:, None, :] - ys) / 0.9)
    np.testing.assert_allclose(H.costs(xs, ys, g, 0.9), want, rtol=1e-12)
    jitted = jax.jit(lambda a, b, c, arg: H.kernel_costs(a, b, c, 0.9, arg, jnp))
    np.testing.assert_allclose(jitted(xs, ys, g, H.kernel_args(0.9)), want, rtol=1e-12)


def test_program_costs_outside_and_memory(monkeypatch):
    from hjdsl.errors import RunError

    H = FAMILIES["max l1, quad"]()
    assert not H.traceable
    with pytest.raises(NotSupported, match="convex program"):
        import jax.numpy as jnp

        H.lagrangian(jnp.zeros((1, 2)), jnp)
    monkeypatch.setenv("HJDSL_MAX_MEMORY", "1KiB")
    with pytest.raises(RunError, match="budget"):
        H.costs(np.zeros((3, 2)), np.ones((4, 2)), np.zeros(4), 1.0)


def test_keys_tell_trees_apart():
    a = build(Sum((Atom("sq"), Scaled(2.0, Atom("l2")))), "x", 2)
    b = build(Sum((Atom("sq"), Scaled(2.0000000001, Atom("l2")))), "x", 2)
    c = build(Max((Atom("sq"), Scaled(2.0, Atom("l2")))), "x", 2)
    assert len({a.kernel_key, b.kernel_key, c.kernel_key}) == 3
    assert a.kernel_key == build(Sum((Atom("sq"), Scaled(2.0, Atom("l2")))), "y", 2).kernel_key


@pytest.mark.parametrize("tree, family, scale", [
    (Atom("sq"), "quadratic", None),
    (Scaled(3.0, Scaled(0.5, Atom("sq"))), "quadratic", None),
    (Atom("quad", matrix=A2), "quadratic", None),
    (Scaled(2.0, Atom("linf")), "linf", 2.0),
    (Sum((Scaled(2.0, Atom("l1")),)), "l1", 2.0),
    (Max((Max((Scaled(1.0, Atom("l2")),)),)), "l2", 1.0),
    (Atom("huber", delta=1.0), "composite", None),
    (Sum((Atom("sq"), Sum((Atom("l1"), Atom("l2"))))), "composite", None),
])
def test_build_returns_the_simplest_family(tree, family, scale):
    H = build(tree, "text", 2)
    assert H.kind == family and H.text == "text"
    if scale is not None:
        assert H.scale == scale
    if family == "quadratic":
        np.testing.assert_allclose(H.value(np.array([0.3, -0.4])), tree_value(tree))
    if family == "composite" and isinstance(tree, Sum):
        assert len(H.tree.terms) == 3  # flattened


def tree_value(tree):
    p = np.array([0.3, -0.4])
    while isinstance(tree, Scaled):
        return tree.a * tree_value(tree.node)
    return float(tree.value(p))


def test_labels_and_texts():
    H = FAMILIES["relativistic"]()
    assert H.lagrangian_text == "-sqrt(2)*sqrt(1.5^2 - |v|^2) on |v|_2 <= 1.5"
    assert FAMILIES["sum sq + l1"]().lagrangian_text == (
        "inf-convolution of |v|^2/4 and (0 on |v|_inf <= 1): convex program")
    labels = {view: H.exactness(view).label for view in
              ("hopf_lax", "convex_lp", "hopf_lax_program", "fit_hopf_lax", "grid", "hopf_cole",
               "convex_entropic", "network", "pde_residual", "fit_probabilistic", "fit_convex")}
    assert labels == {"hopf_lax": "exact", "convex_lp": "exact", "hopf_lax_program": "exact",
                      "fit_hopf_lax": "exact", "grid": "exact", "hopf_cole": "structural",
                      "convex_entropic": "structural", "network": "none", "pde_residual": "none",
                      "fit_probabilistic": "none", "fit_convex": "none"}
    assert all(H.exactness(v).reason for v in labels if labels[v] != "exact")
    with pytest.raises(NotSupported, match="network"):
        H.weights(np.zeros((1, 2)), np.zeros(1), 1.0)


def test_convex_hull_domain_by_the_gauge_program():
    """dom L of max(|p|_1, 2|p|_inf) is the hull of the square |v|_inf ≤ 1 and the diamond
    |v|_1 ≤ 2: |v_1| + |v_2| ≤ 2 and |v|_inf ≤ 2 minus the corners beyond the square."""
    H = build(Max((Atom("l1"), Scaled(2.0, Atom("linf")))), "max(|p|_1, 2*|p|_inf)", 2)
    assert H.domain == ("l1", 2.0, False)
    v = np.array([[1.2, 0.7], [1.2, 0.9], [1.0, 1.0], [1.9, 0.0], [0.0, -2.1]])
    assert np.isfinite(H.lagrangian(v)).tolist() == [True, False, True, True, False]
    assert H.reached(v * 0.5, np.zeros((1, 2)), 0.5)[:, 0].tolist() == [True, False, True, True,
                                                                        False]
    for vi in v[[0, 3]]:  # L = 0 on the domain: the sup of p·v − H(p) is at p = 0
        assert abs(brute_conjugate(H, vi)) < 1e-9


def test_the_lagrangian_program_refuses_an_inaccurate_answer(monkeypatch):
    """The batched program for L = H* has no certificate of its own, so, by hjdsl's one rule for
    solver answers, an `optimal_inaccurate` is refused with a RunError, not used as exact."""
    import cvxpy as cp

    from hjdsl.errors import RunError
    from hjdsl.hamiltonians.composite import Atom, Sum, build

    H = build(Sum((Atom("sq"), Atom("l1"))), "|p|^2 + |p|_1", 2)
    v = np.array([[3.0, 0.0]])
    np.testing.assert_allclose(H.lagrangian(v), [1.0], rtol=1e-8)   # ((3 − 1)_+)²/4
    real_solve = cp.Problem.solve

    def sloppy(self, *args, **kwargs):
        value = real_solve(self, *args, **kwargs)
        self._status = "optimal_inaccurate"
        return value

    monkeypatch.setattr(cp.Problem, "solve", sloppy)
    with pytest.raises(RunError, match="ended inaccurate"):
        H.lagrangian(v)
