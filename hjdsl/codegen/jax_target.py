"""`hjdsl compile --target jax`: a standalone module of jitted network / Hopf–Cole functions."""

from __future__ import annotations

from hjdsl.codegen import render
from hjdsl.codegen.model_block import imports, model_block, require_quadratic

_BODY = '''
# --- the LSE layer from the forward map ---
# W_j = A^-1 y_j / (2t),  b_j = -g_j - y_j' A^-1 y_j / (4t).
# Then f_eps(x) + u_eps(x) = x' A^-1 x / (4t) for every eps (the identity checked below).
A_INV = np.linalg.inv(A)
W = Y @ A_INV / (2.0 * T)
B = -G - np.einsum("jd,de,je->j", Y, A_INV, Y) / (4.0 * T)


@jax.jit
def logits(x):
    """z_j(x) = W_j . x + b_j, shape (points, atoms)."""
    return x @ W.T + B


@jax.jit
def costs(x):
    """c_j(x) = g_j + (x - y_j)' A^-1 (x - y_j) / (4t), shape (points, atoms)."""
    diff = x[:, None, :] - Y[None, :, :]
    return G + jnp.einsum("pjd,de,pje->pj", diff, A_INV, diff) / (4.0 * T)


@jax.jit
def quadratic_term(x):
    """x' A^-1 x / (4t)."""
    return jnp.einsum("pd,de,pe->p", x, A_INV, x) / (4.0 * T)


@jax.jit
def network(x, eps):
    """f_eps(x) = eps log sum_j exp(z_j / eps), shifted by the largest logit (no overflow)."""
    z = logits(x)
    top = jnp.max(z, axis=1)
    return top + eps * jnp.log(jnp.sum(jnp.exp((z - top[:, None]) / eps), axis=1))


@jax.jit
def hopf_cole(x, eps):
    """u_eps(x) = -eps log sum_j exp(-c_j / eps), shifted by the smallest cost."""
    c = costs(x)
    low = jnp.min(c, axis=1)
    return low - eps * jnp.log(jnp.sum(jnp.exp(-(c - low[:, None]) / eps), axis=1))


@jax.jit
def gibbs_weights(x, eps):
    """pi_j(x) = softmax(z / eps)_j: the attribution of atom j (= d f_eps / d b_j)."""
    return jax.nn.softmax(logits(x) / eps, axis=1)


@jax.jit
def entropy(x, eps):
    """Ent(pi) = -sum_j pi_j log pi_j, from log-softmax (no log of an underflowed weight)."""
    log_pi = jax.nn.log_softmax(logits(x) / eps, axis=1)
    return -jnp.sum(jnp.exp(log_pi) * log_pi, axis=1)


@jax.jit
def tropical(x):
    """f_0(x) = max_j z_j(x): the eps -> 0 limit of the network."""
    return jnp.max(logits(x), axis=1)


@jax.jit
def hopf_lax(x):
    """u_0(x) = min_j c_j(x): the discrete Hopf-Lax formula."""
    return jnp.min(costs(x), axis=1)


def views(eps):
    """Every quantity at the points X for one eps (eps = 0 is the tropical limit)."""
    x = jnp.asarray(X)
    if eps == 0:
        z = logits(x)
        f, u = tropical(x), hopf_lax(x)
        pi = jax.nn.one_hot(jnp.argmax(z, axis=1), z.shape[1], dtype=z.dtype)
        ent = jnp.zeros(x.shape[0])
    else:
        f, u = network(x, eps), hopf_cole(x, eps)
        pi, ent = gibbs_weights(x, eps), entropy(x, eps)
    arrays = {"network": f, "hopf_cole": u, "attribution": pi, "entropy": ent,
              "identity_residual": f + u - quadratic_term(x)}
    return {key: np.asarray(value) for key, value in arrays.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", metavar="OUT.json", help="also write every array to a JSON file")
    args = parser.parse_args()
    results = [views(eps) for eps in EPS]
    x = jnp.asarray(X)
    if args.json:
        arrays = {key: [r[key].tolist() for r in results] for key in results[0]}
        arrays.update(eps=EPS, x=X.tolist(), tropical=np.asarray(tropical(x)).tolist(),
                      hopf_lax=np.asarray(hopf_lax(x)).tolist())
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(arrays, out)
    print(f"{NAME}: {len(Y)} atoms in d = {Y.shape[1]}, t = {T}, {len(X)} evaluation points")
    print(f"x[0] = {X[0].tolist()}")
    print(f"{'eps':>10} {'max|f+u-q|':>12} {'f(x[0])':>12} {'u(x[0])':>12} {'max entropy':>12}")
    for eps, r in zip(EPS, results):
        residual = np.max(np.abs(r["identity_residual"]))
        print(f"{eps:>10.4g} {residual:>12.3e} {r['network'][0]:>12.6f} "
              f"{r['hopf_cole'][0]:>12.6f} {np.max(r['entropy']):>12.6f}")


if __name__ == "__main__":
    main()
'''


def generate(model) -> str:
    """The jax module's source text for a quadratic-H model.

    >>> from hjdsl.model.ir import Model
    >>> src = generate(Model.from_atoms([[-1.0], [1.0]], [0.0, 0.5], eps=[1.0, 0.0]))
    >>> "def network(x, eps):" in src and "import hjdsl" not in src
    True
    """
    require_quadratic(model, "jax")
    summary = (f"Model {model.name!r} as jitted JAX functions: network f_eps, Hopf-Cole u_eps, "
               "Gibbs weights\nand entropy on the evaluation points for every eps.\n\n"
               "Run it: `python THIS.py` prints a table; `--json OUT.json` also writes every "
               "array.\n")
    parts = [
        render.header(model, "jax", summary),
        imports("import jax", "import jax.numpy as jnp", "import numpy as np",
                arrays=(model.y, model.evaluate)),
        'jax.config.update("jax_enable_x64", True)  # float64, as hjdsl computes\n',
        f"NAME = {model.name!r}\n",
        model_block(model, model.evaluate),
        _BODY,
    ]
    return "\n".join(parts)
