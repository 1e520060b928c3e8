"""Weights files: an LSE layer's W, b (and ε) from .npz, .safetensors and NetCDF become atoms."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

import hjdsl
from hjdsl.cli import main
from hjdsl.errors import DataError, HJError
from hjdsl.hamiltonians import quadratic
from hjdsl.model.maps import atoms_to_weights, weights_to_atoms
from hjdsl.views.report import diagram_rows, failures
from hjdsl.weights_files import DataFileError, read_arrays

from conftest import run_cli_here


@pytest.fixture
def cli():
    """The commands run in this process (hjdsl.cli.main) as the shell runs them: no test here is
    about the process boundary, and a new interpreter per command imports JAX again."""
    return run_cli_here


ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "weights"
A_2D = np.array([[2.0, 0.5], [0.5, 1.0]])
HAMILTONIANS = {  # form in the spec, the matrix A, the let line it needs
    "|p|^2": (None, ""),
    "0.25*|p|^2": (0.25 * np.eye(2), ""),
    "p' A p": (A_2D, "let A = [[2, 0.5], [0.5, 1]]\n"),
}


def write(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write `arrays` in the format `path`'s suffix names (NetCDF-3 for .nc3 → .nc)."""
    if path.suffix == ".npz":
        np.savez(path, **arrays)
    elif path.suffix == ".safetensors":
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(path))
    else:
        dims = {2: ("unit", "input"), 1: ("unit",), 0: ()}
        ds = xr.Dataset({k: (dims[v.ndim], v) for k, v in arrays.items()})
        engine = "scipy" if path.name.endswith("3.nc") else "h5netcdf"
        ds.to_netcdf(path, engine=engine)
    return path


def spec(tmp_path: Path, weights_line: str, form: str = "|p|^2", d: int = 2, t: float = 0.7,
         extra: str = "") -> Path:
    let = HAMILTONIANS.get(form, (None, ""))[1]
    text = (f"model layer\ndim {d}\ntime t = {t}\n{let}hamiltonian H(p) = {form}\n"
            f"{weights_line}\n{extra}")
    path = tmp_path / "layer.hj"
    path.write_text(text)
    return path


def random_atoms(seed: int, n: int = 7, d: int = 2):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * 1.5, rng.normal(size=n)


def check(path: Path, capsys) -> tuple[int, dict]:
    """(exit code, the first diagnostic as JSON) of `hjdsl check --json PATH`."""
    code = main(["check", "--json", str(path)])
    out = json.loads(capsys.readouterr().out)
    diagnostics = out[0]["diagnostics"]
    return code, (diagnostics[0] if diagnostics else {})


# --- round trip: atoms → weights file → atoms ---------------------------------------------------
FORMATS = ["layer.npz", "layer.safetensors", "layer.nc", "layer3.nc"]


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("form", list(HAMILTONIANS))
def test_round_trip_through_a_file_recovers_the_atoms(tmp_path, name, form):
    y, g = random_atoms(seed=len(name) + len(form))
    t = 0.7
    A = HAMILTONIANS[form][0]
    ham = quadratic(np.eye(2) if A is None else A, form)
    W, b = atoms_to_weights(y, g, t, ham)
    write(tmp_path / name, {"W": W, "b": b})
    model = hjdsl.load(spec(tmp_path, f'weights "{name}"', form, t=t))
    assert model.particles.source == "weights" and model.n_atoms == 7
    assert np.max(np.abs(model.y - y)) <= 1e-14 * max(1.0, np.abs(y).max())
    assert np.max(np.abs(model.g - g)) <= 1e-14 * max(1.0, np.abs(g).max())


def test_the_inverse_map_is_y_2tAW_and_g_minus_b_minus_tWAW(tmp_path):
    """Independently of atoms_to_weights: the atoms are y = 2t·A·W, g = −b − t·WᵀAW."""
    rng = np.random.default_rng(3)
    W, b = rng.normal(size=(5, 2)), rng.normal(size=5)
    write(tmp_path / "layer.npz", {"W": W, "b": b})
    model = hjdsl.load(spec(tmp_path, 'weights "layer.npz"', "p' A p", t=0.7))
    np.testing.assert_allclose(model.y, 2 * 0.7 * np.einsum("kl,jl->jk", A_2D, W), rtol=1e-15)
    wAw = np.array([w @ A_2D @ w for w in W])
    np.testing.assert_allclose(model.g, -b - 0.7 * wAw, rtol=1e-14)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.integers(1, 4), st.floats(0.05, 20.0), st.integers(0, 2**31))
def test_weights_to_atoms_inverts_atoms_to_weights(n, d, t, seed):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(d, d))
    ham = quadratic(m @ m.T + d * np.eye(d), "p' A p")
    y, g = rng.normal(size=(n, d)), rng.normal(size=n)
    y2, g2 = weights_to_atoms(*atoms_to_weights(y, g, t, ham), t, ham)
    scale = 1.0 + np.abs(y).max() ** 2 / t + np.abs(g).max()
    assert np.max(np.abs(y2 - y)) <= 1e-13 * (1.0 + np.abs(y).max())
    assert np.max(np.abs(g2 - g)) <= 1e-13 * scale


# --- the views of a file's layer ---------------------------------------------------------------
def numpy_lse(x, W, b, eps):
    """f_ε(x) = ε log Σ_j exp((W_j·x + b_j)/ε), written here from the definition (max-shift)."""
    z = x @ W.T + b
    top = z.max(axis=1, keepdims=True)
    return top[:, 0] + eps * np.log(np.exp((z - top) / eps).sum(axis=1))


@pytest.mark.parametrize("name", ["layer.npz", "layer.safetensors", "layer.nc"])
def test_compare_network_view_is_the_files_lse_layer(tmp_path, name):
    rng = np.random.default_rng(11)
    W, b = rng.normal(size=(6, 2)), rng.normal(size=6)
    write(tmp_path / name, {"W": W, "b": b})
    model = hjdsl.load(spec(tmp_path, f'weights "{name}"', t=1.3,
                            extra="viscosity eps in [0.5, 0.05]\nevaluate x = grid(-2, 2, 5)\n"))
    ds = model.compare(audit=0, grid=False)
    x = ds.x.values
    for k, eps in enumerate(ds.eps.values):
        expected = numpy_lse(x, W, b, eps)
        assert np.max(np.abs(ds.network.values[k] - expected)) <= 1e-13 * np.abs(expected).max()
    z = x @ W.T + b
    np.testing.assert_allclose(ds.tropical.values, z.max(axis=1), rtol=1e-13, atol=1e-13)


def test_the_example_is_its_script_and_every_exact_relation_holds():
    from importlib.util import module_from_spec, spec_from_file_location

    loader = spec_from_file_location("make_layer", EXAMPLE / "make_layer.py")
    module = module_from_spec(loader)
    loader.loader.exec_module(module)
    arrays = read_arrays("layer.safetensors", EXAMPLE,
                         {"W": "head.weight", "b": "head.bias", "eps": "temperature"})
    made = module.layer()
    for role, name in (("W", "head.weight"), ("b", "head.bias"), ("eps", "temperature")):
        np.testing.assert_array_equal(arrays[role], made[name].astype(np.float64))
    model = hjdsl.load(EXAMPLE / "layer_2d.hj")
    assert model.eps.tolist() == [float(np.float32(0.05))]
    ds = model.compare(audit=3, grid=False)
    assert failures(diagram_rows(ds)) == []
    expected = numpy_lse(ds.x.values, arrays["W"], arrays["b"], model.eps[0])
    assert np.max(np.abs(ds.network.values[0] - expected)) <= 1e-13 * np.abs(expected).max()


def test_attribute_works_on_a_files_layer(capsys):
    code = main(["attribute", str(EXAMPLE / "layer_2d.hj"), "--at", "0.3,-0.2"])
    out = capsys.readouterr().out
    assert code == 0 and "N = 16 atoms" in out


# --- the reader and the checks ------------------------------------------------------------------
def test_read_arrays_gives_read_only_float64_and_accepts_integers(tmp_path):
    write(tmp_path / "w.npz", {"W": np.arange(6, dtype=np.int32).reshape(3, 2), "b": np.ones(3)})
    out = read_arrays("w.npz", tmp_path, {"W": "W", "b": "b"})
    assert out["W"].dtype == np.float64 and not out["W"].flags.writeable
    np.testing.assert_array_equal(out["W"], np.arange(6).reshape(3, 2))


def bfloat16_file(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """A safetensors file with BF16 arrays, as PyTorch writes them (safetensors.numpy cannot)."""
    header, blobs, offset = {}, [], 0
    for name, values in arrays.items():
        bits = np.asarray(values, dtype=np.float32).view(np.uint32)
        blob = (bits >> 16).astype("<u2").tobytes()
        header[name] = {"dtype": "BF16", "shape": list(values.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + b"".join(blobs))


def test_bfloat16_arrays_are_read_exactly(tmp_path):
    W = np.array([[1.0, -2.5], [0.375, 1024.0], [-0.0078125, 6.0]])  # exact in bfloat16
    bfloat16_file(tmp_path / "w.safetensors", {"W": W, "b": np.array([0.5, -1.0, 3.0])})
    out = read_arrays("w.safetensors", tmp_path, {"W": "W", "b": "b"})
    np.testing.assert_array_equal(out["W"], W)
    np.testing.assert_array_equal(out["b"], [0.5, -1.0, 3.0])


def test_shapes_are_refused_before_any_array_is_read(tmp_path, monkeypatch):
    import hjdsl.weights_files as wf

    write(tmp_path / "w.safetensors", {"W": np.ones((3, 2)), "b": np.ones(3)})

    def no_reading(*args):
        raise AssertionError("an array was read")

    def refuse(shapes):
        assert shapes == {"W": (3, 2), "b": (3,)}
        raise DataFileError("refused", "D006", part="W")

    monkeypatch.setattr(wf._Safetensors, "read", no_reading)
    with pytest.raises(DataFileError) as err:
        read_arrays("w.safetensors", tmp_path, {"W": "W", "b": "b"}, check_shapes=refuse)
    assert err.value.part == "W"


def test_a_large_file_is_refused_by_the_memory_budget_before_reading(tmp_path, monkeypatch):
    write(tmp_path / "w.npz", {"W": np.ones((2000, 2)), "b": np.ones(2000)})
    path = spec(tmp_path, 'weights "w.npz"')
    assert hjdsl.load(path).n_atoms == 2000  # within the budget: read
    monkeypatch.setenv("HJDSL_MAX_MEMORY", "32KiB")
    with pytest.raises(DataError, match="over the 32.0 KiB budget"):
        hjdsl.load(path)


def truncated_npz(path: Path) -> None:
    write(path, {"W": np.ones((40, 2)), "b": np.ones(40)})
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def member_shorter_than_header(path: Path) -> None:
    """A well-formed zip whose W.npy header promises more bytes than the member holds."""
    with zipfile.ZipFile(path, "w") as z:
        header = np.lib.format.header_data_from_array_1_0(np.ones((40, 2)))
        import io

        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, header)
        z.writestr("W.npy", buf.getvalue() + b"\x00" * 16)
        buf = io.BytesIO()
        np.save(buf, np.ones(40))
        z.writestr("b.npy", buf.getvalue())


def truncated_netcdf(path: Path) -> None:
    write(path, {"W": np.ones((400, 2)), "b": np.ones(400)})
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) - 2000])


def inf_in_b(path: Path) -> None:
    write(path, {"W": np.ones((3, 2)), "b": np.array([0.0, np.inf, 1.0])})


def nan_in_netcdf(path: Path) -> None:
    write(path, {"W": np.array([[1.0, np.nan], [0.0, 1.0]]), "b": np.zeros(2)})


def string_array(path: Path) -> None:
    np.savez(path, W=np.array([["a", "b"]]), b=np.zeros(1))


def one_dimensional_W(path: Path) -> None:
    write(path, {"W": np.ones(3), "b": np.ones(3)})


BAD_FILES = [  # (file name, how it is made, code, words of the message)
    ("w.npz", truncated_npz, "D004", "not a complete .npz"),
    ("w.npz", member_shorter_than_header, "D004", "truncated or damaged"),
    ("w.nc", truncated_netcdf, "D004", "cannot read"),
    ("w.safetensors", inf_in_b, "D009", "has inf at [1]"),
    ("w.nc", nan_in_netcdf, "D009", "has nan at [0, 1]"),
    ("w.npz", string_array, "D008", "not float or integer"),
    ("w.npz", one_dimensional_W, "D006", "W must be a matrix"),
]


@pytest.mark.parametrize("name, make, code, words", BAD_FILES, ids=lambda v: getattr(v, "__name__", None))
def test_every_bad_file_is_a_located_diagnostic(tmp_path, capsys, name, make, code, words):
    make(tmp_path / name)
    status, diag = check(spec(tmp_path, f'weights "{name}"'), capsys)
    assert status == 2
    assert diag["code"] == code and words in diag["message"], diag
    assert (diag["line"], diag["column"]) == (5, 9)  # the file name on the weights line


def test_a_good_file_passes_the_same_check(tmp_path, capsys):
    """The other direction: the check that refuses the files above accepts a sound one."""
    write(tmp_path / "w.nc", {"W": np.ones((3, 2)), "b": np.zeros(3)})
    status, diag = check(spec(tmp_path, 'weights "w.nc"'), capsys)
    assert (status, diag) == (0, {})


def test_a_file_outside_the_spec_folder_is_refused(tmp_path, capsys):
    write(tmp_path / "w.npz", {"W": np.ones((3, 2)), "b": np.zeros(3)})
    (tmp_path / "sub").mkdir()
    path = spec(tmp_path / "sub", 'weights "../w.npz"')
    status, diag = check(path, capsys)
    assert status == 2 and diag["code"] == "D011"


def test_a_missing_name_lists_the_names_the_file_has(tmp_path):
    write(tmp_path / "w.safetensors", {"head.weight": np.ones((3, 2)), "head.bias": np.zeros(3)})
    with pytest.raises(HJError) as err:
        hjdsl.load(spec(tmp_path, 'weights "w.safetensors" W = "head.weight" b = "bias"'))
    (diag,) = err.value.diagnostics
    assert diag.code == "D003" and "`bias` not found" in diag.message
    assert diag.hint == "arrays in the file: head.bias (3,), head.weight (3, 2)"
    assert (diag.span.line, diag.span.col) == (5, 47)  # the quoted name "bias"


def test_eps_from_the_file_is_the_viscosity(tmp_path):
    write(tmp_path / "w.npz", {"W": np.ones((3, 2)), "b": np.zeros(3), "T": np.array([0.25])})
    model = hjdsl.load(spec(tmp_path, 'weights "w.npz" eps = "T"'))
    assert model.eps.tolist() == [0.25] and not model.viscosity.learned
    write(tmp_path / "w.npz", {"W": np.ones((3, 2)), "b": np.zeros(3), "T": np.array(-1.0)})
    with pytest.raises(HJError, match="eps must be ≥ 0"):
        hjdsl.load(spec(tmp_path, 'weights "w.npz" eps = "T"'))


@pytest.mark.parametrize("method", ["map", "hopf_lax"])
def test_solve_on_a_weights_layer_says_the_file_fixes_it(tmp_path, method, cli):
    """A weights line stands in for `particles` and `initial`, so F005's usual advice (declare
    `initial g ~ ...`) would be refused; the message points at the weights line instead."""
    import shutil

    shutil.copy(ROOT / "examples" / "weights" / "layer.safetensors", tmp_path)
    spec = tmp_path / "fit.hj"
    spec.write_text(
        "model tangent_layer\ndim 2\ntime t = 1\nhamiltonian H(p) = |p|^2\n"
        'weights "layer.safetensors" W = "head.weight" b = "head.bias" eps = "temperature"\n'
        "data synthetic n = 20 seed = 1 {\n  x ~ uniform(-1, 1)\n"
        "  value = sqrt(1 + x[0]^2 + x[1]^2)\n  noise = 0.01\n}\n"
        "observe f ~ normal(sigma = 0.01)\nevaluate x = grid(-1.5, 1.5, 3)\n")
    code, out, err = cli("solve", str(spec), "--method", method)
    assert code == 2 and out == ""
    assert err.startswith(f"{spec}:5:1: error: nothing to fit: the `weights` file fixes the "
                          "layer's W and b")
    assert "replace the `weights` line by `particles y = ...` and `initial g ~ normal(0, 1)`" in err
