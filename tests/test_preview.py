"""python preview.py: the documented files, names, shapes, and the training batch itself."""

import os

import numpy as np
import pytest
import tensorflow as tf

import preview
import train
from data import pipelines, recipes
from data.records import encode_example
from hdc.pretrain import view_recipes
from tests.test_recipes import coded_video

FLAGS = ["--frames", "4", "--crop", "16", "--resize", "24", "--batch-size", "2", "--seed", "3"]
SHAPES = {
    "view_o": (2, 4, 16, 16, 3), "view_s": (2, 4, 16, 16, 3), "view_t": (2, 4, 16, 16, 3),
    "view_a": (2, 4, 16, 16, 3), "view_b": (2, 4, 16, 16, 3),
    "view_p": (2, 4, 16, 16, 3), "view_q": (2, 4, 16, 16, 3),
    "view_long": (2, 8, 16, 16, 3), "view_h1": (2, 4, 16, 16, 3), "view_h2": (2, 4, 16, 16, 3),
    "label_pair_permutation_a": (2, 4), "label_pair_permutation_b": (2, 4),
    "label_te_speed_p": (2,), "label_te_speed_q": (2,), "label_te_direction_p": (2,), "label_te_direction_q": (2,),
    "label_te_order": (2,), "label_te_offset": (2,), "label_te_transform_id": (2,), "label_long_permutation": (2, 4),
}  # fmt: skip


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A prepared dataset root: one unsplit shard of four index-coded videos."""
    root = tmp_path_factory.mktemp("prepared")
    (root / "unsplit").mkdir()
    with tf.io.TFRecordWriter(str(root / "unsplit" / "shard-00000-of-00001.tfrecord")) as writer:
        for video, count in enumerate((40, 12, 30, 20)):
            writer.write(encode_example(coded_video(video, count, 24, 32), video_id=f"v{video}", quality=95))
    return str(root)


def numpy_unpack(batch, layout):
    """The packed bytes split by hand: uint8 views, little-endian int32 labels."""
    flat, out, start = np.asarray(batch).reshape(len(batch), -1), {}, 0
    for field in layout:
        size = field.size
        part = flat[:, start : start + size]
        start += size
        if field.kind == "label":
            out[f"label_{field.name}"] = part.copy().view("<i4").reshape(len(batch), *field.shape)
        else:
            out[f"view_{field.name}"] = part.reshape(len(batch), *field.shape)
    return out


def test_recipes_preview_writes_the_training_batch(root, tmp_path, capsys):
    out = str(tmp_path / "preview")
    argv = ["--data", root, "--recipes", "hdc,pair,te,long", "--pair-transform", "shuffle", "--out", out] + FLAGS
    assert preview.main(argv) == 0
    assert sorted(os.listdir(out)) == ["views.npz", "views.png"]
    saved = np.load(os.path.join(out, "views.npz"))
    assert {k: saved[k].shape for k in saved.files} == SHAPES
    assert all(saved[k].dtype == (np.uint8 if k.startswith("view_") else np.int32) for k in saved.files)
    # The same batch straight from the training pipeline, unpacked independently.
    config, _ = train.config_from_args(argv, preview.build_parser(), reach=False)
    all_recipes = view_recipes(config)
    layout = recipes.full_layout(all_recipes, (4, 16, 16, 3))
    files = [os.path.join(root, "unsplit", "shard-00000-of-00001.tfrecord")]
    clip = pipelines.ClipSpec(frames=4, sample_size=24, crop=16)
    batch = next(iter(pipelines.pretrain_dataset(files, 2, clip, seed=3, layout=layout, recipes=all_recipes)))
    for name, value in numpy_unpack(batch, layout).items():
        np.testing.assert_array_equal(saved[name], value, err_msg=name)
    with open(os.path.join(out, "views.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    from matplotlib import image

    height, width, _ = image.imread(os.path.join(out, "views.png")).shape
    assert height > 100 and width > 500  # 2 rows, 10 columns
    assert "wrote " in capsys.readouterr().out


def test_objectives_preview_has_the_models_inputs(root, tmp_path):
    out = str(tmp_path / "hdc")
    assert preview.main(["--data", root, "--objectives", "hdc", "--out", out] + FLAGS) == 0
    assert sorted(np.load(os.path.join(out, "views.npz")).files) == ["view_o", "view_s", "view_t"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--recipes", "pair,jitter"], "unknown recipe name(s) ['jitter']"),
        (["--recipes", "te", "--objectives", "hdc"], "either --objectives or --recipes"),
        (["--recipes", "te", "--batch-size", "3"], "batch_size must be even with recipe 'te'"),
        (["--recipes", "pair", "--pair-transform", "jitter"], "invalid choice: 'jitter'"),
        (["--recipes", "pair", "--thesis-blur-prob", "2"], "thesis_blur_prob must be in [0, 1], received 2.0"),
    ],
)
def test_bad_flags_give_clear_errors(root, tmp_path, capsys, flags, message):
    argv = ["--data", root, "--out", str(tmp_path / "bad")] + FLAGS + flags
    with pytest.raises(SystemExit) as exit_info:
        preview.main(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "bad" / "views.npz")


def test_out_is_required(root, capsys):
    with pytest.raises(SystemExit):
        preview.main(["--data", root, "--recipes", "hdc"] + FLAGS)
    assert "--out DIR is required" in capsys.readouterr().err
