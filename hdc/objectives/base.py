"""The objective contract: what an objective declares and what it receives.

An objective is a ``keras.layers.Layer`` (subclass :class:`Objective`) that
turns backbone taps into named float32 losses. It declares what it needs, the
model (``hdc.model.HDCModel``) feeds it exactly that, and the training step
knows no objective by name:

- ``views``: names of the views run through the shared (online) backbone;
  the model makes one batched backbone call per clip length.
- ``raw_views``: names of the views it receives as pixels in [−1, 1], e.g.
  for a momentum key encoder of its own (``context["clips"]``).
- ``view_frames``: ``{view: m}`` when a view is m·T frames long (default 1).
- ``labels``: ``{name: per-example shape}`` of int32 labels it reads from
  ``context["labels"]`` (transformation classes, permutations, …).
- ``taps``: the backbone taps it reads.

``call(view_taps, gather=None, replica_offset=0, context=None, training=None)``
(``context``: see :func:`context`):
``view_taps`` is ``{view: {tap: (B, T, H, W, C)}}`` for this replica's B
clips. ``gather`` is None on one device, else a callable mapping a local
(B, ...) tensor to the global (G, ...) tensor of all replicas in replica
order; ``replica_offset`` is this replica's first row in the global batch.
An objective gathers only its own contrast candidates, so its loss on R
replicas equals its single-device loss on the same global batch. It returns
``{"loss": scalar to minimise (no weight decay), other named terms/metrics}``.

State (momentum encoders, queues; ``hdc.objectives.state``) is updated inside
``call`` when ``training`` is true, from values that are identical on every
replica (gathered keys, the replicated weights), so every replica keeps the
same state; it is saved with the model's weights and restored on resume.
"""

import keras
from keras import ops


def context(clips=None, labels=None, step=0, total_steps=None):
    """What an objective may read besides the taps: a plain dict of tensors (so
    that Keras traces them like any other argument):

    - ``clips``: ``{raw view: float (B, T', H, W, 3)}`` in [−1, 1];
    - ``labels``: ``{name: int32 (B, ...)}`` from the data pipeline;
    - ``step``: int64 scalar, the global training step counted from 0 (0
      outside training);
    - ``progress``: float32 scalar in [0, 1], step / total_steps (0 when the
      number of steps is unknown), for warm-ups and two-stage schedules.
    """
    step = ops.cast(step, "int64")
    if total_steps:
        progress = ops.minimum(ops.cast(step, "float32") / float(total_steps), 1.0)
    else:
        progress = ops.zeros((), "float32")
    return {"clips": clips or {}, "labels": labels or {}, "step": step, "progress": progress}


class Objective(keras.layers.Layer):
    """Base class: empty declarations; subclasses override what they need."""

    views = ()
    raw_views = ()
    view_frames = {}
    labels = {}
    taps = ()

    @property
    def input_views(self):
        """Every view it reads, each once: ``views`` then ``raw_views`` (a view may be both)."""
        return tuple(dict.fromkeys(tuple(self.views) + tuple(self.raw_views)))

    def attach(self, backbone):
        """Called once by the model with its online backbone, before the first
        call (e.g. to make a momentum copy of it). Keep no tracked reference to
        ``backbone``."""

    def get_build_config(self):
        # Not built on deserialisation: the model attaches the backbone first,
        # then its first call builds (an objective whose weights must exist
        # without a model, like HDCObjective, overrides this).
        return None

    def embedding(self, taps):
        """The exported embedding of a clip's taps, (B, D), or None if the
        objective defines none (``hdc.export`` serves the first one)."""
        return None
