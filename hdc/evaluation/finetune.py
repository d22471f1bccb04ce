"""``evaluate.py finetune``: supervised fine-tuning for action recognition (HDC §4).

Model: the pretrained backbone (instance norm kept, blocks 1–5 initialised
from the encoder) → global average pooling of block5 → dropout 0.5 → one
Dense softmax layer. SGD, lr 0.01, momentum 0.9, Keras time decay 1e-4 per
step, L2 5e-5 on every kernel, batch 32 clips of 16 frames (random crop,
scale jitter, flip). Test: every non-overlapping 16-frame clip × 5 crops (or
10 clips × 3 crops), class scores (softmax) averaged per video and written
to ``OUT/scores.npz`` (scores, labels, video_ids, num_clips).

Resuming: ``keras.callbacks.BackupAndRestore`` keeps the weights, optimizer
state and epoch in ``OUT/backup`` after every epoch; a re-run with the same
``--out`` restarts at the first unfinished epoch (work inside an interrupted
epoch is redone) and the training data stream continues at that epoch's first
step, so the batches equal those of an uninterrupted run. A finished run
(``OUT/classifier.weights.h5``) is only re-tested.
"""

import csv
import json
import os
import shutil

import keras
import numpy as np

from data.pipelines import count_records, finetune_train_dataset
from data.records import shard_files
from hdc.evaluation import datasets, reports
from hdc.evaluation.encoders import load_backbone
from hdc.evaluation.features import per_video_means, to_unit_range
from hdc.evaluation.metrics import classification_topk


def build_classifier(backbone, num_classes, dropout=0.5, weight_decay=5e-5):
    """uint8 clips → class probabilities, on top of ``backbone`` (HDC §4)."""
    inputs = keras.Input(backbone.input_shape[1:], dtype="uint8", name="clips")
    taps = backbone(to_unit_range(inputs))
    x = keras.layers.GlobalAveragePooling3D(name="global_pool")(taps["block5"])
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    regularizer = keras.regularizers.L2(weight_decay) if weight_decay else None
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", kernel_regularizer=regularizer, name="classifier"
    )(x)
    return keras.Model(inputs, outputs, name=f"{backbone.name}_classifier")


def compile_classifier(model, num_classes, learning_rate=0.01, momentum=0.9, decay=1e-4):
    """SGD with Keras-style time decay: lr_t = lr / (1 + decay · t)."""
    schedule = keras.optimizers.schedules.InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=decay)
    model.compile(
        optimizer=keras.optimizers.SGD(schedule, momentum=momentum),
        loss="sparse_categorical_crossentropy",
        metrics=[
            keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
            keras.metrics.SparseTopKCategoricalAccuracy(k=min(5, num_classes), name="top5"),
        ],
    )
    return model


def completed_epochs(backup_dir):
    """Epochs finished before an interruption (BackupAndRestore's record)."""
    path = os.path.join(backup_dir, "training_metadata.json")
    if not os.path.exists(path):
        return 0
    with open(path, encoding="utf-8") as f:
        return int(json.load(f)["epoch"])


def train(config, model, root, out):
    """Fit on the train split with backup/resume; returns steps per epoch."""
    files = shard_files(root, "train")
    num_videos = count_records(files)
    steps = config.steps_per_epoch or num_videos // config.batch_size  # one data-epoch (data.pipelines)
    backup_dir = os.path.join(out, "backup")
    start = completed_epochs(backup_dir)
    if start:
        print(f"resuming fine-tuning at epoch {start + 1}/{config.epochs} from {backup_dir}")
    data = finetune_train_dataset(
        files, config.batch_size, clip=datasets.clip_spec(config), seed=config.seed, start_step=start * steps, num_videos=num_videos
    )
    callbacks = [
        keras.callbacks.CSVLogger(os.path.join(out, "history.csv"), append=True),
        keras.callbacks.BackupAndRestore(backup_dir, delete_checkpoint=False),
    ]
    model.fit(data, epochs=config.epochs, steps_per_epoch=steps, callbacks=callbacks, verbose=2, shuffle=False)
    return steps


def read_history(path):
    """{column: values} from CSVLogger's file; a redone epoch keeps its last row.

    Columns CSVLogger filled with "NA" (validation keys without validation) are dropped.
    """
    with open(path, encoding="utf-8") as f:
        rows = {int(r["epoch"]): r for r in csv.DictReader(f)}
    epochs = sorted(rows)
    columns = [k for k in rows[epochs[0]] if all(rows[e][k] not in ("NA", "") for e in epochs)]
    return {k: [float(rows[e][k]) for e in epochs] for k in columns}


def evaluate_split(config, root, out):
    os.makedirs(out, exist_ok=True)
    classes = datasets.num_classes(root)
    backbone = load_backbone(config.source, config.clip_shape, kernel_regularizer=config.weight_decay or None)
    model = build_classifier(backbone, classes, config.dropout, config.weight_decay)
    compile_classifier(model, classes, config.learning_rate, config.momentum, config.decay)
    weights = os.path.join(out, "classifier.weights.h5")
    if os.path.exists(weights):
        print(f"{weights} exists: fine-tuning is finished, testing only")
        model.optimizer.build(model.trainable_variables)  # the file holds the optimizer state too
        model.load_weights(weights)
    else:
        train(config, model, root, out)
        tmp = os.path.join(out, "tmp-classifier.weights.h5")
        model.save_weights(tmp)
        os.replace(tmp, weights)
        shutil.rmtree(os.path.join(out, "backup"), ignore_errors=True)
    history = read_history(os.path.join(out, "history.csv"))
    reports.plot_training_curve(
        os.path.join(out, "finetune_curve.png"),
        [e + 1 for e in history["epoch"]],
        {k: history[k] for k in ("loss", "accuracy") if k in history},
        f"fine-tuning {backbone.name} on {os.path.basename(os.path.abspath(root))}",
    )
    videos, count = datasets.evaluation_videos(config, root, "test", config.test_mode)
    scores = per_video_means(lambda x: model.predict_on_batch(x), videos, config.batch_size, count, "test")
    reports.write_npz(
        os.path.join(out, "scores.npz"),
        **{k: scores[k] for k in ("labels", "video_ids", "num_clips")},
        scores=scores["outputs"],
    )
    result = classification_topk(scores["outputs"], scores["labels"], (1, 5))
    result.update(num_test=len(scores["labels"]), epochs=len(history["epoch"]))
    result["final_train_accuracy"] = float(history["accuracy"][-1])
    reports.write_json(os.path.join(out, "finetune.json"), dict(result, settings=settings(config, root)))
    return result


def settings(config, root):
    return {
        **datasets.common_settings(config, root),
        "batch_size": config.batch_size,
        "epochs": config.epochs,
        "steps_per_epoch": config.steps_per_epoch,
        "optimizer": f"SGD lr {config.learning_rate} momentum {config.momentum} time decay {config.decay}",
        "weight_decay": config.weight_decay,
        "dropout": config.dropout,
        "test": "all non-overlapping clips x 5 crops" if config.test_mode == "dense" else "10 clips x 3 crops",
        "seed": config.seed,
    }


def run_finetune(config):
    return datasets.run_over_splits(config, evaluate_split, "finetune.json", settings)
