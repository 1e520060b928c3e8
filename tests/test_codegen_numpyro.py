"""The generated numpyro module: standalone, valid Python, and it reproduces hjdsl's MAP fit."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import numpy as np
import pytest

import hjdsl
from hjdsl.codegen.numpyro_target import generate

SPEC = """
model gen "free atoms, learned sigma, student-t on u, split"
dim 1
viscosity eps = 0.2
hamiltonian H(p) = 0.5*|p|^2
particles y ~ normal(0, 2) [5]
initial g ~ normal(0, 2)
data synthetic n = 60 seed = 3 {
  x ~ uniform(-2, 2)
  value = abs(x)
  noise = 0.05
}
observe u ~ student_t(nu = 5, sigma ~ half_normal(0.2))
split test = 0.25 seed = 0
evaluate x = grid(-2, 2, 5)
fit method = map steps = 300 lr = 0.02 restarts = 2 seed = 4
"""


def run_generated(source: str, tmp_path) -> dict:
    path = tmp_path / "generated.py"
    path.write_text(source)
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return {m.group(1): m.group(2) for m in re.finditer(r"^(.+?): (.+)$", proc.stdout, re.M)}


def test_generated_module_is_standalone_python():
    source = generate(hjdsl.parse(SPEC))
    tree = ast.parse(source)
    imported = {a.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, (ast.Import, ast.ImportFrom))
                for a in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module)])}
    assert "hjdsl" not in imported and {"numpyro", "jax", "numpy"} <= imported
    assert 'numpyro.sample("y", dist.Normal(0.0, 2.0).expand([5, 1]).to_event(2))' in source
    assert 'numpyro.sample("sigma", dist.HalfNormal(0.2))' in source
    assert 'numpyro.sample("obs", dist.StudentT(nu, mean, sigma), obs=value)' in source


def test_generated_module_reproduces_the_map_fit(tmp_path):
    """Same algorithm (starting points, Adam blocks, L-BFGS-B, best restart) and the same XLA
    programs: the numbers agree to round-off; 1e-8 leaves room for a different BLAS path."""
    model = hjdsl.parse(SPEC)
    out = run_generated(generate(model), tmp_path)
    ds = model.solve(method="map")
    assert float(out["final loss"]) == pytest.approx(ds.attrs["final_loss"], rel=1e-8)
    assert float(out["fit error (MSE, train)"]) == pytest.approx(float(ds["fit_mse"]), rel=1e-8)
    assert float(out["held-out error (MSE)"]) == pytest.approx(float(ds["heldout_mse"]), rel=1e-8)
    assert float(out["sigma (fitted)"]) == pytest.approx(float(ds["sigma_hat"]), rel=1e-8)
    np.testing.assert_allclose(ast.literal_eval(out["g_hat values"]), ds["g_hat"].values, rtol=0, atol=1e-8)
    np.testing.assert_allclose(ast.literal_eval(out["y_hat values"]), ds["y_hat"].values.ravel(), rtol=0,
                               atol=1e-8)


def test_a_spec_that_learns_nothing_gets_a_forward_module(tmp_path):
    """four_atoms.hj (given y, g; no data): the module prints f_ε at the evaluation points, equal
    to the network view of `hjdsl compare` and to Appendix A (f = 0.593930 at x = 0, ε = 1)."""
    model = hjdsl.load("examples/paper/four_atoms.hj")
    out = run_generated(generate(model), tmp_path)
    view = model.compare()["network"]
    for eps in model.eps:
        printed = np.asarray(ast.literal_eval(out[f"network at eps={float(eps)!r}"]))
        np.testing.assert_allclose(printed, view.sel(eps=eps).values, rtol=0, atol=1e-12)
    x = model.evaluate[:, 0]
    at0 = np.asarray(ast.literal_eval(out["network at eps=1.0"]))[np.argmin(np.abs(x))]
    assert at0 == pytest.approx(0.593930, abs=1e-6)
