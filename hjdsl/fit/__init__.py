"""Fitting initial data to observations: numpyro inference and convex fits."""
