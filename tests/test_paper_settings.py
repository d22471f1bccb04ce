"""``--method NAME --preset paper`` gives each paper's pretraining values. The expected numbers
are typed here from the papers' text (section quoted), never read from the code."""

import keras
import pytest

import train

PAPER = {
    # thesis §4.1: "The number of epochs for pre-training was 100 for videoSimCLR and 200 for videoMOCO
    # V1/V2"; "we resize the video frames from 320x240 to the standard size of 224x224"; "batch size of 128"
    "simclr": dict(epochs=100, batch_size=128, crop=224, objectives=("simclr",)),
    # MoCo v2 (its τ; the thesis gives none): 0.2 with the MLP head
    "moco": dict(epochs=200, batch_size=128, crop=224, moco_version=2, moco_temperature=0.2),
    "moco-v1": dict(epochs=200, batch_size=128, crop=224, moco_version=1, moco_temperature=0.07),
    # time-equivariant §3.4: "16 frames at a resolution of 128×128", AdamW, weight decay 1e-4, warm-up to 3e-4,
    # cosine; §4.2: Kinetics-400, "200 epochs", "512 for 3D-ResNet-18"
    "te": dict(frames=16, crop=128, batch_size=512, epochs=200, optimizer="adamw", lr=3e-4,
               adamw_weight_decay=1e-4, schedule="cosine"),
    # §4.1: "400 epochs on UCF101 training split 1 with a batch size of 192"
    "te-ucf101": dict(frames=16, crop=128, batch_size=192, epochs=400, optimizer="adamw", lr=3e-4),
    # multi-level §4.2: "32 RGB frames ... two 16-frame clips with resolution 112×112", "batch size of 256",
    # "100 epochs on Kinetics-400, and 300 epochs on UCF-101 using ADAM with an initial learning rate of 10^-3"
    "mlfo": dict(frames=16, crop=112, batch_size=256, epochs=100, optimizer="adam", lr=1e-3),
    "mlfo-ucf101": dict(frames=16, crop=112, batch_size=256, epochs=300, optimizer="adam", lr=1e-3),
}
# Epochs at which the learning rate drops ÷10: moco-v1 "120, 160 of 200" (MoCo v1's schedule, the thesis
# code); multi-level "decayed by 10 at 70 epochs for Kinetics-400, and 200 epochs for UCF-101".
DROPS = {"moco-v1": [120, 160], "mlfo": [70], "mlfo-ucf101": [200]}


@pytest.mark.parametrize("method", sorted(PAPER))
def test_paper_preset_gives_the_papers_values(method):
    config, _ = train.config_from_args(["--method", method, "--preset", "paper", "--backbone", "r3d18"])
    for field, value in PAPER[method].items():
        assert getattr(config, field) == (pytest.approx(value) if isinstance(value, float) else value), field
    if method in DROPS:
        assert [round(m * config.epochs) for m in config.lr_milestones] == DROPS[method]
        assert config.schedule == "step" and config.lr_step_factor == 0.1


def test_demo_preset_keeps_demo_sizes_with_a_method():
    config, _ = train.config_from_args(["--method", "te-ucf101", "--backbone", "c3d"])
    assert (config.batch_size, config.epochs, config.optimizer) == (8, 3, "adamw")


def test_mlfo_on_r3d18_keeps_time_at_the_stem_and_runs_its_temporal_terms_at_blocks_3_and_4():
    """Multi-level §4.2 needs multi-level temporal features; with the authors' stem 3D-ResNet18 has
    16 // 2, 16 // 4, 16 // 8 = 8, 4, 2 time steps at blocks 3, 4, 5 for 16 frames (Hara's: 4, 2, 1)."""
    from hdc.pretrain import build_model

    flags = ["--method", "mlfo", "--backbone", "r3d18", "--width-multiplier", "0.125", "--crop", "32",
             "--mlfo-prototypes", "8", "--mlfo-queue-size", "0"]  # fmt: skip
    config, _ = train.config_from_args(flags)
    assert (config.frames, config.stem_time_pool) == (16, False)
    model = build_model(config, total_steps=10)
    out = model.backbone.compute_output_spec(keras.KerasTensor((1, 16, 32, 32, 3)))
    steps = {tap: out[tap].shape[1] for tap in ("block3", "block4", "block5")}
    assert steps == {"block3": 8, "block4": 4, "block5": 2}
    logged = {name for name in model.trackers if "aug_" in name or "ret_" in name}
    assert logged == {f"mlfo/{t}_block{b}" for t in ("aug", "ret") for b in (3, 4)}, sorted(model.trackers)
    hara, _ = train.config_from_args(flags + ["--stem-time-pool"])
    spec = build_model(hara, total_steps=10).backbone.compute_output_spec(keras.KerasTensor((1, 16, 32, 32, 3)))
    assert spec["block5"].shape[1] == 1
