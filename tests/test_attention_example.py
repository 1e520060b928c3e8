"""The trained digits example: its views against a numpy forward pass, the CLI, the script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hjdsl
from hjdsl.attention.report import diagram_rows
from hjdsl.views.report import failures

from conftest import run_cli_here


@pytest.fixture
def cli():
    """The commands run in this process (hjdsl.cli.main) as the shell runs them: no test here is
    about the process boundary, and a new interpreter per command imports JAX again."""
    return run_cli_here


ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT / "examples" / "attention"
SPECS = sorted(FOLDER.glob("*.hj"))
DIGITS = FOLDER / "digits_attention.hj"
WEIGHTS = FOLDER / "digits_attention.safetensors"


def numpy_heads(path):
    """Q, K, V of the trained layer, computed here from the raw file (safetensors' numpy API)."""
    from safetensors.numpy import load_file

    w = {k: v.astype(np.float64) for k, v in load_file(str(path)).items()}
    x = w["X"]
    h = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    return [np.stack([h @ w[name][:, 8 * a:8 * (a + 1)] for a in range(2)])
            for name in ("W_Q", "W_K", "W_V")]


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_every_attention_example_holds_every_exact_relation(path):
    ds = hjdsl.load(path).compare(audit=2)
    rows = diagram_rows(ds)
    assert rows and not failures([r for _, r in rows])


def test_the_trained_heads_match_a_numpy_forward_pass():
    q, k, v = numpy_heads(WEIGHTS)
    ds = hjdsl.load(DIGITS).compare(eps=[np.sqrt(8)], audit=0)
    scores = q @ np.swapaxes(k, 1, 2) / np.sqrt(8)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    assert np.abs(ds.attention.values[:, 0] - weights).max() <= 1e-13
    assert np.abs(ds.output.values[:, 0] - weights @ v).max() <= 1e-13


def test_the_weights_file_is_a_trained_classifier():
    from safetensors import safe_open

    with safe_open(str(WEIGHTS), framework="np") as f:
        meta = f.metadata()
        assert set(f.keys()) >= {"X", "W_Q", "W_K", "W_V", "W_O", "b_O", "W_E", "P"}
    assert float(meta["test_accuracy"]) > 0.9  # ten classes: chance is 0.1
    assert WEIGHTS.stat().st_size < 20_000


def test_compare_cli_json_and_dataset(cli, tmp_path):
    import xarray as xr

    out = tmp_path / "heads.nc"
    code, text, err = cli("compare", str(DIGITS), "--eps", "2.83,0", "--audit", "1", "--json",
                          "-o", str(out))
    assert code == 0, err
    report = json.loads(text)
    assert report["model"]["kind"] == "attention" and report["model"]["heads"] == 2
    assert {r["head"] for r in report["rows"]} == {0, 1} and report["all_exact_hold"]
    with xr.open_dataset(out) as ds:
        assert ds.sizes["head"] == 2 and ds.sizes["query"] == 8 and ds.sizes["key"] == 8
        assert ds.attrs["layernorm"] == 1 and ds.attrs["spec_sha256"]
        assert ds["attention"].attrs["units"] == "1"


def test_check_cli_summarises_the_heads(cli):
    code, out, err = cli("check", str(DIGITS))
    assert code == 0, err
    assert "ok (model digits_attention, attention: 2 heads, 8 queries × 8 keys, d_k = 8, " \
           "4 ε values)" in out


def test_compare_cli_table_per_head(cli):
    code, out, err = cli("compare", str(DIGITS), "--eps", "2.83", "--audit", "0")
    assert code == 0, err
    assert "head 0: mean entropy" in out and "head 1: mean entropy" in out
    assert "all exact relations hold" in out


def test_attribute_cli_per_head_entropy_and_regime(cli):
    code, out, err = cli("attribute", str(DIGITS), "--eps", "2.83", "--top", "2")
    assert code == 0, err
    assert "eps* = N^(-1/d_k) = 0.7711" in out
    assert out.count("head 0, eps = 2.83") == 1 and out.count("head 1, eps = 2.83") == 1
    code, text, err = cli("attribute", str(DIGITS), "--eps", "2.83", "--json")
    heads = json.loads(text)["heads"]
    assert [h["head"] for h in heads] == [0, 1]
    assert all(h["regime"] in ("particle", "mixed", "wave") for h in heads)


@pytest.mark.parametrize("argv, message", [
    (("attribute", "--at", "0"), "--at does not apply"),
    (("compare", "--fit", "fit.nc"), "--fit does not apply"),
    (("attribute", "--robustness"), "--robustness does not apply"),
    (("solve",), "attention spec supports"),
    (("bifurcate",), "attention spec supports"),
    (("compile", "--target", "jax"), "attention spec supports"),
])
def test_other_verbs_and_options_are_usage_errors(cli, tmp_path, argv, message):
    verb, *rest = argv
    code, out, err = cli(verb, str(DIGITS), *rest)
    assert code == 2 and message in err, err
    assert "Traceback" not in err and "internal error" not in err


@pytest.mark.parametrize("verb", ["compare", "attribute"])
def test_plot_draws_every_head(cli, tmp_path, verb):
    png = tmp_path / "heads.png"
    code, out, err = cli(verb, str(DIGITS), "--eps", "2.83,1", "--plot", str(png), "-q",
                         *(["--audit", "0"] if verb == "compare" else []))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_the_training_script_runs_and_its_file_is_read(tmp_path):
    out = tmp_path / "digits_attention.safetensors"
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "train_digits_attention.py"),
                          "--steps", "20", "--out", str(out)], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    spec = tmp_path / "digits.hj"
    spec.write_text(DIGITS.read_text())
    model = hjdsl.load(spec)
    assert model.heads.n_heads == 2 and model.heads.d_k == 8


def test_a_long_convex_audit_is_warned_about_before_it_runs(capsys):
    import argparse

    from hjdsl.attention.commands import _warn_if_long

    model = hjdsl.parse("model m\nviscosity eps in [1, 2, 3, 4]\n"
                        "attention synthetic heads = 100 keys = 20 d_k = 4\n")
    _warn_if_long(model, argparse.Namespace(eps=None, audit=None))
    assert "solves 6,400 convex programs" in capsys.readouterr().err
    _warn_if_long(model, argparse.Namespace(eps=None, audit="0"))
    assert capsys.readouterr().err == ""
