"""Evaluation of pretrained encoders with the protocols of HDC §4 (docs/evaluation.md).

- ``metrics``: retrieval top-k and classification top-k (pure numpy).
- ``encoders``: where an encoder comes from (run dir, encoder.keras, SavedModel, random init).
- ``features``: feature models and per-video averaging over test-time clips.
- ``retrieval``, ``finetune``, ``linear_probe``, ``extract``: the four commands of ``evaluate.py``.
- ``datasets``, ``reports``, ``config``: data roots, output files, the config dataclass.
"""
