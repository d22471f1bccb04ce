"""``evaluate.py retrieval``: nearest-neighbour video retrieval (HDC §4.3,
Tables 4–5), following VCOP: test-split videos query the train-split
gallery; 10 clips per video centred at linspace(8, len−8, 10), centre crop;
features averaged per video; cosine distance; k = 1, 5, 10, 20, 50."""

import os

import numpy as np

from data.records import shard_files
from hdc.evaluation import datasets, reports
from hdc.evaluation.features import clip_feature_fn, per_video_means
from hdc.evaluation.metrics import RETRIEVAL_KS, nearest_neighbours, topk_hits


def video_features(config, root, split, fn, mode):
    """Per-video mean features of one split of a prepared root."""
    videos, count = datasets.evaluation_videos(config, root, split, mode)
    return per_video_means(fn, videos, config.batch_size, total=count, desc=split)


def draw_neighbours(config, root, query, gallery, path, shown=3):
    """The retrieval picture: a few queries spread over the test set, each
    with its ``shown`` nearest gallery videos (green = same label)."""
    count = min(config.num_thumbnails, len(query["labels"]))
    rows = np.linspace(0, len(query["labels"]) - 1, count).round().astype(int)
    nn = nearest_neighbours(query["outputs"][rows], gallery["outputs"], shown)
    query_ids = list(query["video_ids"][rows])
    gallery_ids = list(gallery["video_ids"][nn.ravel()])
    images = datasets.thumbnails(shard_files(root, "test"), query_ids)
    images.update(datasets.thumbnails(shard_files(root, "train"), gallery_ids))
    correct = gallery["labels"][nn] == query["labels"][rows, None]
    return reports.plot_retrieval_grid(
        path,
        [images[v] for v in query_ids],
        datasets.label_names(root, query["labels"][rows]),
        [[images[v] for v in gallery["video_ids"][r]] for r in nn],
        [datasets.label_names(root, gallery["labels"][r]) for r in nn],
        correct,
    )


def evaluate_split(config, root, out):
    fn = clip_feature_fn(config.source, config.clip_shape, config.feature)
    query = video_features(config, root, "test", fn, "retrieval")
    gallery = video_features(config, root, "train", fn, "retrieval")
    scores = topk_hits(query["outputs"], query["labels"], gallery["outputs"], gallery["labels"], RETRIEVAL_KS)
    reports.write_npz(
        os.path.join(out, "features.npz"),
        query_features=query["outputs"],
        query_labels=query["labels"],
        query_ids=query["video_ids"],
        gallery_features=gallery["outputs"],
        gallery_labels=gallery["labels"],
        gallery_ids=gallery["video_ids"],
    )
    draw_neighbours(config, root, query, gallery, os.path.join(out, "retrieval.png"))
    result = dict(scores, num_queries=len(query["labels"]), num_gallery=len(gallery["labels"]))
    reports.write_json(os.path.join(out, "retrieval.json"), dict(result, settings=settings(config, root)))
    return result


def settings(config, root):
    return {
        **datasets.common_settings(config, root),
        "feature": config.feature,
        "clips_per_video": "10 centred at linspace(8, len-8, 10), centre crop",
        "distance": "cosine",
        "ks": list(RETRIEVAL_KS),
    }


def run_retrieval(config):
    """Evaluate retrieval on every requested split; returns the results dict
    (``top1``…``top50`` fractions, averaged over splits for ``--split all``)."""
    return datasets.run_over_splits(config, evaluate_split, "retrieval.json", settings)
