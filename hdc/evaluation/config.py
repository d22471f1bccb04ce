"""The evaluation config: one dataclass filled by ``evaluate.py`` and passed
to the library (defaults are the protocols of HDC §4; docs/evaluation.md)."""

import dataclasses
import os

from hdc.evaluation.encoders import EncoderSource, run_config

FEATURES = ("block1", "block2", "block3", "block4", "block5", "vcop")
SPLITS = ("1", "2", "3", "all")


@dataclasses.dataclass
class EvalConfig:
    out: str  # output directory
    source: EncoderSource  # where the encoder comes from
    data: str = "synthetic"  # "synthetic" or a prepared-shards directory
    split: str = "1"  # official split 1|2|3, or "all" (average of the three)
    frames: int = 16  # clip length T (HDC §3.3)
    frame_stride: int = 1  # clips take every N-th frame (time-equivariant §3.4 transfers at 4)
    crop: int = 112  # network input H = W
    sample_size: int = 128  # short side the frames are resized to before cropping
    batch_size: int = 32  # clips per forward/backward pass
    feature: str = "block5"  # retrieval/linear/extract feature: blockN (pooled) or vcop
    seed: int = 0  # seed for the random init, data order and head init
    # finetune (HDC §4)
    epochs: int = 50  # the paper does not state its fine-tuning length
    steps_per_epoch: int = None  # None: one pass over the training videos
    learning_rate: float = 0.01
    momentum: float = 0.9
    decay: float = 1e-4  # Keras time decay per step: lr_t = lr / (1 + decay * t)
    weight_decay: float = 5e-5  # L2 factor on every kernel
    dropout: float = 0.5
    test_mode: str = "dense"  # "dense": all non-overlapping clips x 5 crops; "10x3"
    # linear probe (TE §4)
    probe_epochs: int = 200
    probe_learning_rate: float = 1e-3
    clips: str = "retrieval"  # per-video clip enumeration for features: retrieval | dense | 10x3
    # extract
    videos: str = None  # a folder of video files (else the shards of `data`)
    extract_split: str = "test"  # which shard split `extract` reads when --videos is absent
    num_thumbnails: int = 6  # queries drawn in the retrieval picture

    @property
    def clip_shape(self):
        return (self.frames, self.crop, self.crop, 3)

    def validate(self):
        self.source.validate()
        if self.split not in SPLITS:
            raise ValueError(f"--split must be one of {SPLITS}, received {self.split!r}")
        if self.feature not in FEATURES:
            raise ValueError(f"--feature must be one of {FEATURES}, received {self.feature!r}")
        for name in ("frames", "frame_stride", "crop", "sample_size", "batch_size", "epochs", "probe_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be positive, received {getattr(self, name)}")
        if self.crop > self.sample_size:
            raise ValueError(f"--crop {self.crop} is larger than --sample-size {self.sample_size}")
        if self.test_mode not in ("dense", "10x3"):
            raise ValueError(f"--test-mode must be dense or 10x3, received {self.test_mode!r}")
        if self.clips not in ("retrieval", "dense", "10x3"):
            raise ValueError(f"--clips must be retrieval, dense or 10x3, received {self.clips!r}")
        if self.extract_split not in ("train", "test", "unsplit"):
            raise ValueError(f"--extract-split must be train, test or unsplit, received {self.extract_split!r}")
        if self.data != "synthetic" and not os.path.isdir(self.data):
            raise ValueError(f"--data {self.data}: no such directory (give 'synthetic' or prepared shards)")
        if self.videos is not None and not os.path.isdir(self.videos):
            raise ValueError(f"--videos {self.videos}: no such directory")
        return self


def clip_defaults(source):
    """Clip-shape defaults: a run's config.json (train.py calls the sample
    square ``resize``), else the paper's 16/112/128."""
    defaults = {"frames": 16, "crop": 112, "sample_size": 128}
    if source.run:
        config = run_config(source.run)
        keys = {"frames": ("frames",), "crop": ("crop",), "sample_size": ("resize", "sample_size")}
        for name, aliases in keys.items():
            found = [config[k] for k in aliases if k in config]
            if found:
                defaults[name] = int(found[0])
    return defaults
