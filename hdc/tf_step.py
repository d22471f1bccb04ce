"""The TensorFlow training and evaluation steps of ``HDCModel``.

Exact under ``tf.distribute`` (MirroredStrategy, MultiWorkerMirroredStrategy):

- Negatives come from the global batch: each replica gathers the candidate
  embeddings of all replicas (``ReplicaContext.all_gather``, whose gradient
  is exact) and contrasts its local anchors against them, the positive of
  local row i being global row ``replica_id · local_batch + i``.
- Keras sums the replicas' gradients, so inside the tape each replica
  minimises ``(its mean loss + weight decay) / num_replicas``; the sum is the
  single-device loss on the global batch.
"""

import keras
import tensorflow as tf


def _replica_setup(model, views):
    ctx = tf.distribute.get_replica_context()
    replicas = ctx.num_replicas_in_sync if ctx is not None else 1
    if replicas == 1:
        return 1, None, 0
    local_batch = tf.shape(views)[0]
    offset = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * local_batch
    return replicas, (lambda z: ctx.all_gather(z, axis=0)), offset


def _logs(model, outputs, l2):
    """Update every tracker; logs are rank-1 under multi-worker (keras#20585)."""
    model.trackers["loss"].update_state(outputs["loss"] + l2)
    model.trackers["l2"].update_state(l2)
    for name, value in outputs.items():
        model.trackers["objective" if name == "loss" else name].update_state(value)
    rank1 = isinstance(model.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy)
    return {name: tf.reshape(t.result(), [1]) if rank1 else t.result() for name, t in model.trackers.items()}


def _inputs(data):
    """``fit`` passes the element itself; ``train_on_batch(x)`` passes (x, None, None)."""
    return keras.utils.unpack_x_y_sample_weight(data)[0]


def train_step(model, data):
    views = _inputs(data)
    replicas, gather, offset = _replica_setup(model, views)
    with tf.GradientTape() as tape:
        outputs = model.objective_outputs(views, training=True, gather=gather, replica_offset=offset)
        l2 = tf.cast(model.weight_decay(), outputs["loss"].dtype)
        loss = (outputs["loss"] + l2) / replicas
        scaled = model.optimizer.scale_loss(loss)
    variables = model.trainable_variables
    model.optimizer.apply(tape.gradient(scaled, variables), variables)
    return _logs(model, outputs, l2)


def test_step(model, data):
    views = _inputs(data)
    _, gather, offset = _replica_setup(model, views)
    outputs = model.objective_outputs(views, training=False, gather=gather, replica_offset=offset)
    return _logs(model, outputs, tf.cast(model.weight_decay(), outputs["loss"].dtype))
