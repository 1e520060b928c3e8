"""The views of one model: network, tropical, viscous PDE and convex."""
