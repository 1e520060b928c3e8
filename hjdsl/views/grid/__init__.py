"""The grid PDE view (d ≤ 2) and its references.

`schemes` holds the monotone finite-difference pieces, `solver` the explicit time loop on a box,
`quadrature` the brute-force Hopf–Lax search and the Hopf–Cole quadrature that the solver is
measured against (cut at the `kinks` of g), and `pde` runs one convergence check per ε.
"""
