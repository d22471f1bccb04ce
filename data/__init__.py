"""Video decoding, dataset ingestion into TFRecord shards, the synthetic
dataset, augmentations and the tf.data pipelines."""
