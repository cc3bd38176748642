"""Registered backbones, one module per family."""
