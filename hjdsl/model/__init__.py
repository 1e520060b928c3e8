"""The checked model (IR), its expression nodes and the maps between views."""
