"""Attention heads as Hopf–Cole layers: every view against independent numpy / scipy / mpmath."""

from __future__ import annotations

import dataclasses

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax

import hjdsl
from hjdsl.attention.report import CONVEX_PI, HARD, IDENTITY, diagram_rows
from hjdsl.views.tolerances import ULP

D_K = (4, 8, 16, 32, 64)


def reference(q, k, v, causal):
    """softmax(QKᵀ/√d_k)V per head, written out here (scipy's softmax, a triu mask)."""
    scores = np.matmul(q, np.swapaxes(k, -1, -2)) / np.sqrt(q.shape[-1])
    if causal:
        scores = np.where(np.triu(np.ones(scores.shape[-2:], bool), k=1), -np.inf, scores)
    weights = softmax(scores, axis=-1)
    return weights, np.matmul(weights, v)


def ln(x):
    return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)


def write_heads(tmp_path, d_k, causal, layernorm, seed=0, heads=2, n=6, d_v=3):
    """A weights file of random heads and the spec that reads it; the arrays for the reference."""
    rng = np.random.default_rng(seed + d_k)
    flags = f"causal = {str(causal).lower()}"
    if layernorm:
        d_model = 12
        x = 3.0 + 2.0 * rng.standard_normal((n, d_model))  # LN has a mean and a scale to remove
        w = {r: rng.standard_normal((d_model, heads * d)) / np.sqrt(d_model)
             for r, d in (("W_Q", d_k), ("W_K", d_k), ("W_V", d_v))}
        np.savez(tmp_path / "heads.npz", X=x, **w)
        split = {r: a.reshape(d_model, heads, -1).transpose(1, 0, 2) for r, a in w.items()}
        q, k, v = (ln(x) @ split[r] for r in ("W_Q", "W_K", "W_V"))
        arrays = 'x = "X" w_q = "W_Q" w_k = "W_K" w_v = "W_V"'
        flags += " layernorm = true"
    else:
        q, k = (rng.standard_normal((heads, n, d_k)) for _ in range(2))
        v = rng.standard_normal((heads, n, d_v))
        np.savez(tmp_path / "heads.npz", Q=q, K=k, V=v)
        arrays = ""
    spec = tmp_path / "heads.hj"
    spec.write_text(f'model heads\nattention "heads.npz" heads = {heads} {flags} {arrays}\n')
    return spec, q, k, v


@pytest.mark.parametrize("layernorm", [False, True], ids=["qkv", "layernorm"])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("d_k", D_K)
def test_output_equals_independent_softmax_attention(tmp_path, d_k, causal, layernorm):
    spec, q, k, v = write_heads(tmp_path, d_k, causal, layernorm)
    model = hjdsl.load(spec)
    assert model.eps.tolist() == [np.sqrt(d_k)]  # the softmax temperature by default
    ds = model.compare(audit=0)
    weights, out = reference(q, k, v, causal)
    assert np.max(np.abs(ds.attention.isel(eps=0).values - weights)) <= 1e-13
    assert np.max(np.abs(ds.output.isel(eps=0).values - out)) <= 1e-13
    # hard attention: the argmax key of the masked scores and its value
    scores = np.where(weights > 0, np.matmul(q, np.swapaxes(k, -1, -2)), -np.inf)
    hard = np.argmax(scores, axis=-1)
    assert (ds.hard_key.values == hard).all()
    hard_v = np.take_along_axis(v, hard[..., None], axis=1)
    assert np.max(np.abs(ds.hard_output.values - hard_v)) <= 1e-13
    assert np.max(np.abs(ds.tropical.values - scores.max(axis=-1))) <= 1e-13


@pytest.mark.parametrize("d_k", D_K)
def test_identity_holds_to_round_off_and_values_match_mpmath(tmp_path, d_k):
    spec, q, k, v = write_heads(tmp_path, d_k, causal=True, layernorm=False, heads=1, n=4)
    ds = hjdsl.load(spec).compare(eps=[np.sqrt(d_k), 0.3, 0.0], audit=0)
    rows = [r for _, r in diagram_rows(ds) if r.arrow == IDENTITY]
    assert rows and all(r.status == "PASS" for r in rows)
    t = 1.0
    with mpmath.workdps(40):  # f and u from the keys alone, at 40 digits
        for i in range(q.shape[1]):
            qi = [mpmath.mpf(float(a)) for a in q[0, i]]
            keys = [[mpmath.mpf(float(a)) for a in k[0, j]] for j in range(i + 1)]
            z = [mpmath.fsum(a * b for a, b in zip(qi, kj)) for kj in keys]
            e = mpmath.mpf(0.3)
            f = e * mpmath.log(mpmath.fsum(mpmath.exp(zj / e) for zj in z))
            c = [-t * mpmath.fsum(b * b for b in kj)
                 + mpmath.fsum((a - 2 * t * b) ** 2 for a, b in zip(qi, kj)) / (4 * t)
                 for kj in keys]
            u = -e * mpmath.log(mpmath.fsum(mpmath.exp(-cj / e) for cj in c))
            assert abs(float(f) - ds.network.values[0, 1, i]) <= 1e-13 * max(1.0, abs(float(f)))
            assert abs(float(u) - ds.hopf_cole.values[0, 1, i]) <= 1e-13 * max(1.0, abs(float(u)))


def test_a_corrupted_view_fails_its_row(tmp_path):
    """Both directions: the true views pass; a hopf_cole off by 1e-10 or π off by 1e-4 fail."""
    spec, *_ = write_heads(tmp_path, 4, causal=False, layernorm=False, heads=1, n=3)
    ds = hjdsl.load(spec).compare(eps=[2.0], audit="all")
    assert all(r.status == "PASS" for _, r in diagram_rows(ds))
    bad = ds.copy(deep=True)
    bad["identity_residual"].values[0, 0, 1] += 1e-10
    bad["convex_attention"].values[0, 0, 2, 0] += 1e-4
    bad["output"].values[0, 0, 0, 0] += 10.0
    failed = {r.arrow for _, r in diagram_rows(bad) if r.status == "FAIL"}
    assert failed == {IDENTITY, CONVEX_PI, HARD}


@pytest.mark.parametrize("d_k", (4, 64))
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_convex_pi_is_the_attention_row_to_the_certified_tolerance(tmp_path, d_k, causal):
    spec, q, k, v = write_heads(tmp_path, d_k, causal, layernorm=False, heads=1, n=4)
    eps = np.sqrt(d_k)
    ds = hjdsl.load(spec).compare(eps=[eps, 0.0], audit="all")
    weights, _ = reference(q, k, v, causal)
    status = ds.convex_status.values
    assert all(s.startswith("optimal") for s in status.ravel()), status
    # The entropic program is ε-strongly convex in ‖·‖₁ on the simplex, so each solve's duality
    # gap bounds its π: ‖π̂ − π*‖_∞ ≤ √((gap + δ)/(2ε)), δ the rounding of the gap (a sum of
    # N + 2 terms each ≤ ε(1 + log N)); the softmax row's own round-off is a few ulp.
    n = np.tril(np.ones((4, 4))).sum(1) if causal else np.full(4, 4.0)
    delta = 8 * (n + 2) * ULP * 2 * eps * (1 + np.log(n))
    gap = np.maximum(ds.convex_gap.values[0, 0], 0.0)
    bound = np.sqrt((gap + delta) / (2 * eps)) + 16 * ULP
    err = np.abs(ds.convex_attention.values[0, 0] - weights[0]).max(axis=-1)
    assert (err <= bound).all(), (err, bound)
    assert (bound < 1e-5).all()  # the certificate is a tight one, not a vacuous one
    # at ε = 0 the LP picks the argmax key: its π is the one-hot of hard attention
    lp = ds.convex_attention.values[0, 1]
    assert np.array_equal(np.argmax(lp, axis=-1), ds.hard_key.values[0])
    assert np.abs(lp.max(axis=-1) - 1).max() <= 1e-9


def test_masked_keys_get_no_weight_and_first_query_sees_one_key():
    model = hjdsl.parse("model m\nattention synthetic queries = 4 keys = 4 d_k = 3 causal = "
                        "true seed = 5\n")
    ds = model.compare(eps=[1.0], audit=0)
    pi = ds.attention.values[0, 0]
    assert np.array_equal(pi > 0, np.tril(np.ones((4, 4), bool)))
    assert ds.entropy.values[0, 0, 0] == 0.0 and pi[0, 0] == 1.0


def test_eps_sweep_in_the_spec_and_monotone_entropy():
    model = hjdsl.parse("model m\nviscosity eps in [4, 2, 1, 0.5]\n"
                        "attention synthetic heads = 3 keys = 7 d_k = 5 seed = 2\n")
    ds = model.compare(audit=0)
    ent = ds.entropy.values  # ∂Ent/∂ε ≥ 0: larger ε, more spread
    assert (np.diff(ent, axis=1) <= 1e-15).all()
    assert ds.sizes["head"] == 3 and ds.attrs["n_heads"] == 3


def test_synthetic_heads_from_projections_match_layer_norm():
    from hjdsl.attention.heads import synthetic

    h = synthetic(3, 2, 5, 5, 4, 2, d_model=6, normalise=True)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 6))
    w_q = rng.standard_normal((2, 6, 4)) / np.sqrt(6)
    assert np.allclose(h.q, ln(x) @ w_q, rtol=0, atol=1e-14)


def test_result_is_cf_described_and_round_trips(tmp_path):
    import xarray as xr

    model = hjdsl.parse("model m\nattention synthetic heads = 2 keys = 3 d_k = 2 seed = 1\n")
    ds = model.compare(audit=0)
    for name in ds.variables:
        assert ds[name].attrs.get("long_name") and ds[name].attrs.get("units") == "1", name
    assert ds.attrs["spec_sha256"] == model.spec_sha256 and ds.attrs["Conventions"]
    assert set(ds.attention.dims) == {"head", "eps", "query", "key"}
    path = tmp_path / "out.nc"
    ds.to_netcdf(path)
    with xr.open_dataset(path) as back:
        assert np.array_equal(back.output.values, ds.output.values)


def test_attribution_entropy_and_regimes():
    model = hjdsl.parse("model m\nattention synthetic heads = 2 keys = 6 d_k = 4 seed = 3\n")
    ds = model.attribute(eps=[100.0, 0.01], top=2)
    pi = ds.attention.values
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(pi > 0, pi * np.log(pi), 0.0).sum(-1)
    assert np.allclose(ds.entropy.values, ent, rtol=0, atol=1e-12)
    assert (ds.regime.values[:, 0] == "wave").all()      # ε ≫ spread: uniform attention
    assert (ds.regime.values[:, 1] == "particle").all()  # ε ≪ gaps: one key
    assert ds.attrs["eps_star"] == pytest.approx(6 ** (-1 / 4))
    assert ds.eps_over_eps_star.values.tolist() == pytest.approx([100 / 6 ** -0.25,
                                                                   0.01 / 6 ** -0.25])
    assert np.allclose(ds.head_entropy.values, ent.mean(-1))


def test_other_verbs_refuse_an_attention_spec_clearly():
    from hjdsl.errors import UsageError

    model = hjdsl.parse("model m\nattention synthetic keys = 3 d_k = 2\n")
    assert not hasattr(model, "particles")
    with pytest.raises(UsageError, match="attention spec supports"):
        model.solve()
    with pytest.raises(UsageError, match="--at does not apply|query points"):
        model.attribute(at=[[0.0, 0.0]])
    assert dataclasses.replace(model, overrides=("t=2",)).overrides == ("t=2",)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), d_k=st.integers(1, 16), n=st.integers(1, 9),
       causal=st.booleans(), t=st.floats(0.05, 20.0), eps=st.floats(1e-3, 50.0),
       scale=st.floats(0.01, 30.0))
def test_identity_and_bounds_hold_for_any_heads(seed, d_k, n, causal, t, eps, scale):
    """f_ε + u_ε = |q|²/(4t) to round-off of S, and 0 ≤ f_ε − f_0 ≤ ε log N, for any heads."""
    from hjdsl.attention.heads import Heads, causal_mask
    from hjdsl.attention.model import AttentionModel
    from hjdsl.attention.views import closed_form
    from hjdsl.model.ir import Viscosity
    from hjdsl.views.tolerances import identity_ulps

    rng = np.random.default_rng(seed)
    q, k, v = (scale * rng.standard_normal((1, n, d)) for d in (d_k, d_k, 2))
    heads = Heads.of(q, k, v, causal_mask(n, n) if causal else None)
    model = AttentionModel("h", t, Viscosity(np.array([eps])), heads, "synthetic")
    c = closed_form(model, np.array([eps]))
    residual = c["f"] + c["u"] - c["quad"][:, None]
    assert np.all(np.abs(residual) <= identity_ulps(d_k) * ULP * c["scale"])
    gap = c["f"][:, 0] - c["f0"]
    assert np.all(gap >= -1e-15 * c["scale"][:, 0])
    assert np.all(gap <= eps * np.log(heads.allowed.sum(1)) + 1e-15 * c["scale"][:, 0])
    assert np.allclose(c["pi"].sum(-1), 1.0, rtol=0, atol=1e-14)


@pytest.mark.parametrize("name", ["heads", "model", "views", "attribution"])
def test_docstring_examples_run(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"hjdsl.attention.{name}"))
    assert result.attempted and not result.failed


def test_views_over_the_memory_budget_are_refused_before_allocating(monkeypatch):
    from hjdsl.attention.views import view_memory
    from hjdsl.errors import UsageError

    model = hjdsl.parse("model m\nattention synthetic heads = 2 keys = 300 d_k = 16 seed = 1\n")
    need = view_memory(2, 1, 300, 300, 16, 16)
    monkeypatch.setenv("HJDSL_MAX_MEMORY", str(need - 1))
    for run in (lambda: model.compare(audit=0), lambda: model.attribute()):
        with pytest.raises(UsageError, match="over the .* budget"):
            run()
    monkeypatch.setenv("HJDSL_MAX_MEMORY", str(need + 1))
    assert model.compare(audit=0).sizes["key"] == 300


def test_head_layouts_side_by_side_and_heads_first_agree(tmp_path):
    """2-D arrays with the heads side by side in the columns = 3-D arrays with heads first;
    projections without LayerNorm are X·W."""
    rng = np.random.default_rng(7)
    q, k, v = (rng.standard_normal((2, 5, d)) for d in (4, 4, 3))
    wide = {n: np.concatenate(list(a), axis=1) for n, a in (("Q", q), ("K", k), ("V", v))}
    np.savez(tmp_path / "wide.npz", **wide)
    np.savez(tmp_path / "first.npz", Q=q, K=k, V=v)
    x = rng.standard_normal((5, 6))
    w = {n: rng.standard_normal((6, 8)) for n in ("W_Q", "W_K", "W_V")}
    np.savez(tmp_path / "proj.npz", X=x, **w)
    models = {}
    for name, line in (("wide", '"wide.npz" heads = 2'), ("first", '"first.npz"'),
                       ("proj", '"proj.npz" heads = 2 x = "X"')):
        (tmp_path / f"{name}.hj").write_text(f"model {name}\nattention {line}\n")
        models[name] = hjdsl.load(tmp_path / f"{name}.hj")
    assert np.array_equal(models["wide"].heads.q, models["first"].heads.q)
    assert np.array_equal(models["wide"].heads.v, models["first"].heads.v)
    proj = models["proj"].heads
    assert proj.n_heads == 2 and proj.d_k == 4
    assert np.allclose(proj.k[1], x @ w["W_K"][:, 4:], rtol=0, atol=1e-14)
