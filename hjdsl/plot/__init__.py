"""Figures for compare, solve and the analyses (matplotlib, imported lazily)."""
