"""State that changes every step without gradients: a momentum (EMA) copy of
layers and a FIFO queue of vectors (videoMoCo, multi-level L_sem).

Both live in non-trainable variables of the objective that owns them, so
``model.save_weights`` / the step checkpoints save them and a resumed run
restores them exactly; the SavedModel export and ``encoder.keras`` hold only
the online backbone. Under ``tf.distribute`` every replica computes the same
new value (from replicated weights or gathered rows) and the variables are
created with ``aggregation="only_first_replica"``, so an update inside the
replicated step keeps one value on every replica.

Instance norm has no cross-example statistics, so MoCo's shuffle-BN (which
stops a key encoder with batch norm from cheating through batch statistics)
is unnecessary with these backbones.
"""

import keras
from keras import ops

_REPLICATED = dict(trainable=False, aggregation="only_first_replica")


class MomentumCopy(keras.layers.Layer):
    """θ_k, an exponential moving average of a source layer's trainable weights.

    Calling it runs the *source's* computation with θ_k in place of θ_q
    (``Layer.stateless_call``), so no second model is built; outputs are
    under stop-gradient. The source's non-trainable state (none in these
    backbones and heads) is shared. θ_k starts equal to θ_q at build time.

    Args:
        source: a built layer or model (held without tracking, so its weights
            are not counted twice).
    """

    def __init__(self, source, **kwargs):
        super().__init__(trainable=False, **kwargs)
        if not source.built:
            raise ValueError(f"MomentumCopy: the source layer {source.name!r} must be built first")
        self._source = lambda: source  # untracked reference
        self.ema = [
            self.add_weight(shape=v.shape, initializer=lambda shape, dtype, v=v: ops.copy(v.value),
                            dtype=v.dtype, name=f"ema_{i}", **_REPLICATED)
            for i, v in enumerate(source.trainable_variables)
        ]
        self.built = True

    def update(self, momentum):
        """θ_k ← m·θ_k + (1 − m)·θ_q (MoCo Eq. 2); call before encoding the keys."""
        for ema, online in zip(self.ema, self._source().trainable_variables):
            ema.assign(momentum * ema + (1.0 - momentum) * ops.cast(online.value, ema.dtype))

    def call(self, *args, **kwargs):
        source = self._source()
        outputs, _ = source.stateless_call(
            [v.value for v in self.ema], [v.value for v in source.non_trainable_variables], *args, **kwargs
        )
        return keras.tree.map_structure(ops.stop_gradient, outputs)


class Queue(keras.layers.Layer):
    """A FIFO buffer of ``size`` vectors of width ``dim`` (float32).

    ``push(rows)`` writes the rows at positions ``count, count + 1, …``
    modulo ``size`` (oldest overwritten first) and advances ``count``, the
    number of rows ever pushed; ``filled() = min(count, size)``. Push the
    *global* batch (gathered) so that every replica holds the same queue.
    Rows not yet written hold ``initializer``'s values (MoCo starts from
    random unit vectors; a score queue may mask them with ``mask()``).
    """

    def __init__(self, size, dim, initializer="zeros", **kwargs):
        super().__init__(trainable=False, **kwargs)
        for name, value in (("size", size), ("dim", dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Queue: {name} must be a positive integer, received {value!r}")
        self.size, self.dim = size, dim
        self.initializer = keras.initializers.get(initializer)
        # autocast=False: under mixed precision the buffer stays float32 inside the owner's call too.
        self.values = self.add_weight(shape=(size, dim), initializer=self.initializer, dtype="float32",
                                      name="values", autocast=False, **_REPLICATED)
        self.count = self.add_weight(shape=(), initializer="zeros", dtype="int64", name="count", **_REPLICATED)
        self.built = True

    def push(self, rows):
        """Enqueue ``rows`` (N, dim), N <= size."""
        if rows.shape[0] is not None and rows.shape[0] > self.size:
            raise ValueError(f"Queue: cannot push {rows.shape[0]} rows into a queue of size {self.size}")
        number = ops.shape(rows)[0]
        positions = (self.count.value + ops.arange(number, dtype="int64")) % self.size
        self.values.assign(ops.scatter_update(self.values.value, positions[:, None], ops.cast(rows, "float32")))
        self.count.assign(self.count.value + ops.cast(number, "int64"))

    def filled(self):
        return ops.minimum(self.count.value, self.size)

    def mask(self):
        """bool (size,): True for rows that hold pushed vectors."""
        return ops.arange(self.size, dtype="int64") < self.filled()

    def get_config(self):
        return {**super().get_config(), "size": self.size, "dim": self.dim,
                "initializer": keras.initializers.serialize(self.initializer)}
