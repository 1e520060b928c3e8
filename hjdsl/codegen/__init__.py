"""Code generation: standalone Python modules for the cvxpy, numpyro and jax targets."""
