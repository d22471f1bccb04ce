"""HDC: Hierarchically Decoupled Spatial-Temporal Contrast.

Importing this package is light: submodules are imported on demand, and the
backend-agnostic ones (``hdc.losses``, heads, objectives) never import
TensorFlow.
"""
