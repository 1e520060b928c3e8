"""Scaled dot-product attention as a Hopf–Cole layer: heads, their four views, attribution."""

from hjdsl.attention.heads import Heads as Heads
from hjdsl.attention.heads import causal_mask as causal_mask
from hjdsl.attention.heads import layer_norm as layer_norm
from hjdsl.attention.model import AttentionModel as AttentionModel

__all__ = ["AttentionModel", "Heads", "causal_mask", "layer_norm"]
