"""Networks as Hamilton–Jacobi systems: stacks of LSE layers, residual and recurrent flows."""
