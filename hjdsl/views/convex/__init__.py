"""The convex view: each u_ε(x) as the optimum of a convex program solved by cvxpy.

`simplex` builds the entropy-regularised program over the simplex (an LP at ε = 0), `support`
prunes it to the atoms that can matter, `hopf_lax` builds the continuous Hopf–Lax program for
convex g, `lower` translates a spec's g(y) into cvxpy, `pool` spreads the solves over worker
processes and `view` runs them for a whole ε sweep.
"""

from hjdsl.views.convex.view import (DEFAULT_AUDIT, ConvexResult, atom_costs, audit_points,  # noqa: F401
                                     convex_view, to_cvxpy)
