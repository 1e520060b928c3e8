"""The report of a residual or recurrent spec: one row per claim, judged from its Dataset."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Round-off tolerance of the two exact identities: the recursion and jax.grad evaluate the same
# chain rule in different orders, so they agree to a few ulp per step (measured ≤ 1e-15 for
# K ≤ 100); 1e-12 leaves room for long nets while any wrong sign, step or factor is O(1).
IDENTITY_TOL = 1e-12
ORDER, ORDER_TOL = 1.0, 0.15  # explicit Euler is first order


@dataclass(frozen=True)
class FlowRow:
    """One claim: `value` judged against `bound`; status PASS / FAIL / WARN / - (reported)."""

    check: str
    kind: str        # exact | approx | structural | reported | n/a
    value: float
    bound: float
    status: str
    detail: str = ""

    @property
    def fails_run(self) -> bool:
        return self.kind == "exact" and self.status == "FAIL"

    def to_json(self) -> dict:
        def num(v):
            return None if not np.isfinite(v) else float(v)

        return {"check": self.check, "kind": self.kind, "value": num(self.value),
                "bound": num(self.bound), "status": self.status, "detail": self.detail,
                "fails_run": self.fails_run}


def _exact(check: str, errors, detail: str) -> FlowRow:
    """An exact identity: its worst error; a non-finite error where a number is due fails."""
    errors = np.atleast_1d(np.asarray(errors, dtype=np.float64))
    bad = int(np.count_nonzero(~np.isfinite(errors)))
    if bad:
        return FlowRow(check, "exact", np.inf, IDENTITY_TOL, "FAIL",
                       f"{bad} non-finite errors where finite values are expected")
    worst = float(np.max(errors))
    return FlowRow(check, "exact", worst, IDENTITY_TOL,
                   "PASS" if worst <= IDENTITY_TOL else "FAIL", detail)


def flow_rows(ds) -> list[FlowRow]:
    """The report rows of a `flow_dataset` result."""
    residual = ds.attrs["network"] == "residual"
    K = int(ds.attrs["steps"])
    per = "max over the K steps" if residual else "summed over the shared steps"
    per_layer = ds.costate_error.values
    worst = int(np.nanargmax(per_layer)) if np.any(np.isfinite(per_layer)) else 0
    rows = [
        _exact("co-state = -dLoss/dx_k", per_layer,
               f"max relative error per layer k = 0..{K} (worst k = {worst}) over the samples, "
               "against jax.grad"),
        # a residual net's terminal step has no update (NaN by construction), so it is left out
        _exact("weight gradient = -h sum_i dH/dtheta",
               ds.weight_grad_error.values[:-1] if residual else ds.weight_grad_error.values,
               f"{per}, against jax.grad of the loss"),
    ]
    if residual and "ode_order" in ds:
        order = float(ds.ode_order.values[-1])
        ok = np.isfinite(order) and abs(order - ORDER) <= ORDER_TOL
        h = ds.h.values
        rows.append(FlowRow("Euler -> ODE, observed order", "approx", order, ORDER_TOL,
                            "PASS" if ok else "WARN",
                            f"|order - 1| <= {ORDER_TOL:g}; h = {h[-2]:.4g} -> {h[-1]:.4g}, K h = "
                            f"{float(ds.attrs['horizon_T']):g}, error {float(ds.ode_error[-1]):.2e}"))
    else:
        from hjdsl.networks.flow_results import NO_ODE

        rows.append(FlowRow("Euler -> ODE, observed order", "n/a", np.nan, np.nan, "-",
                            f"not applicable: {NO_ODE}"))
    ham = ds.hamiltonian.values[:-1].mean(axis=1)
    rows.append(FlowRow("Hamiltonian along the trajectory", "reported", float(np.ptp(ham)),
                        np.nan, "-", f"sample mean H_0 = {ham[0]:.4g}, H_{K - 1} = {ham[-1]:.4g} "
                        "(value: its range over k; constant only for an autonomous optimal flow)"))
    rows.append(FlowRow("per-layer HJ identity", "n/a", np.nan, np.nan, "-",
                        "not applicable: an update x + h F(x) is not an LSE layer of atoms "
                        "(see the stack specs for layer-wise identities)"))
    rows.append(FlowRow("stack tropical bound", "n/a", np.nan, np.nan, "-",
                        "not applicable: the steps are one flow's updates, not a stack of LSE "
                        "layers with their own eps"))
    if ds.attrs.get("declared_hamiltonian"):
        eps = ds.attrs.get("declared_eps")
        eps_text = f", eps = {', '.join(f'{e:g}' for e in np.ravel(eps))}" if eps is not None \
            else ""
        rows.append(FlowRow(f"declared H(p) = {ds.attrs['declared_hamiltonian']}{eps_text}",
                            "structural", np.nan, np.nan, "-", ds.attrs["declared_reason"]))
    else:
        rows.append(FlowRow("declared (H, eps)", "n/a", np.nan, np.nan, "-",
                            "not applicable: the spec declares no hamiltonian for this network"))
    return rows


def render(ds, rows: list[FlowRow]) -> str:
    """The report as a text table."""
    head = (f"{ds.attrs['network']} network {ds.attrs['model']!r}: cell {ds.attrs['cell']} "
            f"({ds.attrs['formula']}), {ds.attrs['steps']} steps, h = {float(ds.attrs['h']):g}, "
            f"state width {ds.attrs['state_width']}, {ds.sizes['sample']} samples, loss "
            f"{float(ds.terminal_loss):.6g}")
    lines = [head, f"sign convention: {ds.attrs['sign_convention']}", "",
             f"{'check':<40} {'kind':<10} {'value':>10} {'bound':>10}  status"]
    for r in rows:
        value = "-" if not np.isfinite(r.value) and r.value != np.inf else f"{r.value:.3e}"
        bound = "-" if not np.isfinite(r.bound) else f"{r.bound:.3e}"
        lines.append(f"{r.check:<40} {r.kind:<10} {value:>10} {bound:>10}  {r.status}")
        if r.detail:
            lines.append(f"    {r.detail}")
    return "\n".join(lines)
