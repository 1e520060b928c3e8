"""Attribution, robustness certificates and entropy-landscape bifurcations."""
