"""Where an evaluated encoder comes from: a train.py run directory, an
``encoder.keras`` file, a SavedModel export, or a fresh random init (the
"training from scratch" baseline of HDC Table 3).

Conv trunks have no weight that depends on the clip size, so a saved backbone
is rebuilt at the clip shape being evaluated and its weights copied over.
"""

import dataclasses
import json
import os
import zipfile

import keras

import models


@dataclasses.dataclass
class EncoderSource:
    run: str = None  # train.py output dir (config.json, encoder.keras, export/)
    encoder: str = None  # an encoder.keras file or a SavedModel directory
    random_init: bool = False  # build `backbone` with random weights
    backbone: str = None  # backbone name for random_init (or to check a run's)
    seed: int = 0  # seed of the random init
    width_multiplier: float = 1.0  # channel scale of the random_init backbone

    def validate(self):
        given = [bool(self.run), bool(self.encoder), bool(self.random_init)]
        if sum(given) != 1:
            raise ValueError(
                "give exactly one encoder source: --run DIR, --encoder PATH or "
                f"--random-init --backbone NAME (received run={self.run!r}, "
                f"encoder={self.encoder!r}, random_init={self.random_init})"
            )
        if not self.width_multiplier > 0:
            raise ValueError(f"--width-multiplier must be > 0, received {self.width_multiplier!r}")
        if self.random_init and self.backbone not in models.BACKBONES:
            raise ValueError(
                f"--random-init needs --backbone, one of {sorted(models.BACKBONES)}; "
                f"received {self.backbone!r}"
            )
        if self.run and not os.path.isdir(self.run):
            raise ValueError(f"--run {self.run}: no such directory")
        if not self.random_init:
            _check_encoder(self.path())
        return self

    def path(self):
        """The encoder file or SavedModel dir this source points to."""
        if self.encoder:
            return self.encoder
        if self.run:
            for name in ("encoder.keras", "export"):
                candidate = os.path.join(self.run, name)
                if os.path.exists(candidate):
                    return candidate
            raise ValueError(f"run directory {self.run} has neither encoder.keras nor export/")
        return None

    def is_savedmodel(self):
        path = self.path()
        return bool(path) and os.path.isdir(path)

    def describe(self):
        if self.random_init:
            width = f", width x{self.width_multiplier:g}" if self.width_multiplier != 1 else ""
            return f"random-init {self.backbone} (seed {self.seed}{width})"
        return self.path()


def _check_encoder(path):
    """Raise ValueError naming ``path`` unless it is a Keras archive (.keras) or a SavedModel dir."""
    if not os.path.exists(path):
        raise ValueError(f"encoder {path} does not exist")
    if os.path.isdir(path):
        if not os.path.isfile(os.path.join(path, "saved_model.pb")):
            raise ValueError(f"encoder {path} is a directory without saved_model.pb, not a SavedModel export")
        return
    if not path.endswith(".keras"):
        raise ValueError(f"encoder {path} must be an encoder.keras file or a SavedModel directory")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            if "config.json" in archive.namelist():
                return
    raise ValueError(f"encoder {path} is not a Keras archive (a .keras file is a zip holding config.json)")


def run_config(run_dir):
    """The flat ``config.json`` of a train.py run directory."""
    path = os.path.join(run_dir, "config.json")
    if not os.path.exists(path):
        raise ValueError(f"{path} is missing: {run_dir} is not a train.py run directory")
    with open(path, encoding="utf-8") as f:
        try:
            config = json.load(f)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path} is not valid JSON: {e}") from e
    if not isinstance(config, dict):
        raise ValueError(f"{path} must hold a JSON object, received {type(config).__name__}")
    return config


def load_backbone(source, clip_shape, kernel_regularizer=None):
    """A backbone from ``source`` built for clips ``clip_shape`` (T, H, W, 3).

    The saved weights are copied into a backbone rebuilt at ``clip_shape``
    (and with ``kernel_regularizer``, e.g. the fine-tuning L2 of HDC §4).
    """
    source.validate()
    if source.random_init:
        keras.utils.set_random_seed(source.seed)
        return models.build_backbone(
            source.backbone,
            tuple(clip_shape),
            kernel_regularizer=kernel_regularizer,
            width_multiplier=source.width_multiplier,
        )
    if source.is_savedmodel():
        raise ValueError(
            f"{source.path()} is a SavedModel, which gives pooled features only; this command "
            "needs the Keras backbone: pass the run's encoder.keras instead"
        )
    path = source.path()
    try:
        saved = keras.saving.load_model(path, compile=False)
    except Exception as e:  # keras raises many types for a bad archive
        raise ValueError(f"could not load the encoder {path}: {e}") from e
    if not isinstance(saved, models.VideoBackbone):
        raise ValueError(f"{path} holds a {type(saved).__name__}, not one of the models/ backbones")
    config = dict(saved.get_config(), input_shape=list(clip_shape))
    if kernel_regularizer is not None:
        config["kernel_regularizer"] = kernel_regularizer
    backbone = type(saved).from_config(config)
    backbone.set_weights(saved.get_weights())
    return backbone


def load_savedmodel(path):
    """The ``serving_default`` signature of an export dir, as a Keras layer
    taking uint8 clips and returning a dict of features."""
    return keras.layers.TFSMLayer(path, call_endpoint="serving_default")
