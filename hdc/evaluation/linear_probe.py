"""``evaluate.py linear``: a linear classifier on frozen per-video features.

As in TE §3.4/§4, features are averaged over several clips and crops of each
video and standardised with training-set statistics (a Keras
``Normalization`` layer adapted on the training features); one ``Dense``
softmax layer is then trained with Adam on the train split and scored on the
test split (``OUT/scores.npz``: the test videos' class scores, labels and ids).
"""

import os

import keras
from tqdm import tqdm

from hdc.evaluation import datasets, reports
from hdc.evaluation.features import clip_feature_fn
from hdc.evaluation.metrics import classification_topk
from hdc.evaluation.retrieval import video_features


def train_linear_probe(features, labels, num_classes, epochs=200, learning_rate=1e-3, batch_size=256, seed=0):
    """Fit standardisation + one Dense softmax layer on ``features`` (N, D)."""
    keras.utils.set_random_seed(seed)
    normalize = keras.layers.Normalization(name="standardize")
    normalize.adapt(features)
    inputs = keras.Input(features.shape[1:], name="features")
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="classifier")(normalize(inputs))
    model = keras.Model(inputs, outputs, name="linear_probe")
    model.compile(keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy")
    with tqdm(total=epochs, desc="linear probe", unit="epoch") as bar:
        progress = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: (bar.update(1), bar.set_postfix(loss=f"{logs['loss']:.3f}"))
        )
        model.fit(features, labels, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[progress])
    return model


def evaluate_split(config, root, out):
    fn = clip_feature_fn(config.source, config.clip_shape, config.feature)
    train = video_features(config, root, "train", fn, config.clips)
    test = video_features(config, root, "test", fn, config.clips)
    classes = datasets.num_classes(root, train["labels"])
    probe = train_linear_probe(
        train["outputs"], train["labels"], classes, config.probe_epochs, config.probe_learning_rate, seed=config.seed
    )
    scores = probe.predict(test["outputs"], verbose=0)
    reports.write_npz(os.path.join(out, "scores.npz"), scores=scores, labels=test["labels"],
                      video_ids=test["video_ids"])
    result = classification_topk(scores, test["labels"])
    result["train_top1"] = classification_topk(probe.predict(train["outputs"], verbose=0), train["labels"])["top1"]
    result.update(num_train=len(train["labels"]), num_test=len(test["labels"]))
    reports.write_json(os.path.join(out, "linear.json"), dict(result, settings=settings(config, root)))
    return result


def settings(config, root):
    return {
        **datasets.common_settings(config, root),
        "feature": config.feature,
        "clips": config.clips,
        "epochs": config.probe_epochs,
        "learning_rate": config.probe_learning_rate,
        "optimizer": "adam",
        "standardized": True,
    }


def run_linear(config):
    return datasets.run_over_splits(config, evaluate_split, "linear.json", settings)
