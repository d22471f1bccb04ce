"""Temporal transformations on frame indices, each returned with the labels that describe it.

Every function maps a seed (a shape [2] integer tensor; all randomness goes through
``tf.random.stateless_*``) and a video length ``num_frames`` (a scalar int32 tensor,
known at run time only) to int32 vectors of frame indices into that video. Nothing
touches pixels, so the pipeline decodes only the frames it needs and the tests decode
every label exactly from the indices. All functions run inside ``tf.data.Dataset.map``.

Label conventions (int32 scalars unless noted):

- speed class c plays the clip at ``SPEEDS[c]``× by taking every SPEEDS[c]-th frame
  (time-equivariant §3.2); a T-frame clip at speed s spans (T − 1)·s + 1 frames.
- direction: 0 = forward, 1 = reversed (the clip's index vector reversed; §3.2).
- order of clip q relative to clip p (§3.2, Fig. 2; our numbering):
  0 = ``ORDER_BEFORE``: q lies entirely before p (q's last index < p's first);
  1 = ``ORDER_AFTER``: q lies entirely after p (q's first index > p's last);
  2 = ``ORDER_OVERLAP``: the frame spans [first, last] of p and q intersect.
- offset of clip q relative to clip p: (first source frame of q's span) − (first of
  p's), signed, in source frames, whatever the directions (time-equivariant §1: "the
  temporal shift between them"). With spans s_p, s_q: before ⇔ offset <= −s_q, after ⇔
  offset >= s_p, overlap otherwise.
- ``transform_id``: one id per exact relative transformation of a pair (mixed radix, below).

Short videos. Frames never repeat while the video is long enough, and labels always
state what was applied:

- ``window``, ``long_sequence``, ``pair_views``: a video shorter than the span loops
  (indices mod num_frames, "Random m" of thesis §3), so the stride (1, or ``window``'s
  ``speed``) holds modulo num_frames; ``shift`` is clamped to the video and its label
  is the applied offset.
- ``separated_windows``: a video too short for the gap (fewer than 2T + gap frames)
  puts the two windows at its two ends, as far apart as it allows.
- ``place_pair``: if a before/after relation needs more than num_frames frames even at
  speed 1 (num_frames < 2T), the order falls back to ``ORDER_OVERLAP``. Then, while the
  clips do not fit (before/after: span_p + span_q > num_frames; overlap: the longer
  span > num_frames), the faster clip (both on a tie) drops one speed class; last, the
  offset is clamped to the nearest one that keeps the order and fits. The labels report
  what was applied. A video shorter than T gives two speed-1 windows at frame 0 that
  loop (stride 1 modulo num_frames), order overlap, offset 0.
  A reduction changes the relative transformation, so partners 2k, 2k + 1 drawn with
  the same ``relative_transform`` can end with different ``transform_id``s (e.g. 8×/8×
  in a before/after pair needs 2·(8(T − 1) + 1) = 242 frames and more at T = 16): the
  loss must use the ids of the labels ``place_pair`` returns, never the requested ones.
"""

import numbers

import tensorflow as tf

SPEEDS = (1, 2, 4, 8)
ORDER_BEFORE, ORDER_AFTER, ORDER_OVERLAP = 0, 1, 2
RELATIVE_LABELS = ("speed_p", "speed_q", "direction_p", "direction_q", "order", "offset")
PAIR_TRANSFORMS = ("none", "shift", "drop", "reverse", "shuffle")

_fold = tf.random.experimental.stateless_fold_in


def _randint(seed, low, high):
    """A uniform int32 in [low, high], both included (high >= low)."""
    return tf.random.stateless_uniform([], seed, low, high + 1, dtype=tf.int32)


def _check_frames(frames):
    if not isinstance(frames, numbers.Integral) or frames < 1:
        raise ValueError(f"frames must be a positive integer, received {frames!r}")


def _check_transform(transform):
    if transform not in PAIR_TRANSFORMS:
        raise ValueError(f"transform must be one of {PAIR_TRANSFORMS}, received {transform!r}")


def clip_indices(start, num_frames, frames, speed=1, reverse=False):
    """Indices (start + speed·k) mod num_frames for k = 0..frames−1, reversed if ``reverse``."""
    indices = (start + speed * tf.range(frames)) % tf.cast(num_frames, tf.int32)
    return tf.where(reverse, tf.reverse(indices, [0]), indices)


def window(seed, num_frames, frames, speed=1):
    """``frames`` indices, every ``speed``-th frame, from a uniformly random start.

    The clip spans (frames − 1)·speed + 1 frames; the start is uniform in
    [0, max(num_frames − span, 0)], so a shorter video starts at 0 and loops
    (indices mod num_frames). ``speed`` 1 gives consecutive frames.
    """
    _check_frames(frames)
    if not isinstance(speed, numbers.Integral) or speed < 1:
        raise ValueError(f"speed must be a positive integer, received {speed!r}")
    num_frames = tf.cast(num_frames, tf.int32)
    start = _randint(seed, 0, tf.maximum(num_frames - ((frames - 1) * speed + 1), 0))
    return clip_indices(start, num_frames, frames, speed)


def _union_draw(seed, low_size, high_start, last):
    """(u, size): u uniform over [0, low_size) ∪ [high_start, last], size its count (0: empty, u = 0)."""
    high_start = tf.maximum(high_start, low_size)  # parts that touch or overlap are one interval
    size = low_size + tf.maximum(last - high_start + 1, 0)
    u = _randint(seed, 0, tf.maximum(size - 1, 0))
    return tf.where(u < low_size, u, high_start + u - low_size), size


def separated_windows(seed, num_frames, frames, gap):
    """Two windows of ``frames`` consecutive indices with at least ``gap`` frames between them.

    HDC's x_i and Γ(x_i) (§3.1, §3.3): Temporal Contrast takes "a new clip from the
    video of the query clip" (§1), "another clip x'_i from the same video" (Fig. 2),
    "whose spatial semantics are as different from the query clip as possible".
    Windows starting at a and b satisfy the gap when |a − b| >= frames + gap, i.e.
    ``gap`` frames strictly between them (0: disjoint, they may touch). Starts range
    over [0, m], m = max(num_frames − frames, 0); D = frames + gap.

    - x's start a is uniform over the starts that have a partner at distance >= D:
      all of [0, m] once num_frames >= 3·frames + 2·gap − 1, and then it equals
      ``window(fold_in(seed, 0), ...)``'s start; otherwise [0, m − D] ∪ [D, m].
    - The second start b, given a, is uniform over [0, a − D] ∪ [a + D, m].
    - A video too short for the gap (m < D: fewer than 2·frames + gap frames) has no
      such pair: the windows go to its two ends, a ∈ {0, m} by a fair coin and
      b = m − a, the largest distance it allows (both at 0, looping, when
      num_frames <= frames).

    Both draws sample the admissible set directly (no rejection), from folds 0 and 1
    of ``seed``. Returns (first, second), int32 (frames,) each.
    """
    _check_frames(frames)
    if not isinstance(gap, numbers.Integral) or isinstance(gap, bool) or gap < 0:
        raise ValueError(f"gap must be a non-negative integer, received {gap!r}")
    n = tf.cast(num_frames, tf.int32)
    last, distance = tf.maximum(n - frames, 0), frames + gap
    fits = last >= distance
    first, _ = _union_draw(_fold(seed, 0), tf.where(fits, last - distance + 1, 1), tf.where(fits, distance, last), last)
    second, size = _union_draw(_fold(seed, 1), tf.maximum(first - distance + 1, 0), first + distance, last)
    second = tf.where(size > 0, second, last - first)
    return clip_indices(first, n, frames), clip_indices(second, n, frames)


def random_permutation(seed, length):
    """A uniformly random permutation of 0..length−1, int32 (length,).

    The per-example feature-level temporal shuffle Aug_k of multi-level §3.3 (Eq. 12),
    drawn in the pipeline so it is deterministic and resumable.
    """
    return tf.argsort(tf.random.stateless_uniform([length], seed))


def shuffled_permutation(seed, length):
    """A uniformly random permutation of 0..length−1 other than the identity, int32 (length,).

    Multi-level §3.3 (Eq. 12) contrasts f with Aug_k(f) as a negative pair ("temporal
    transformations that result in semantically inconsistent motion patterns"); the
    identity would make that negative equal to f itself, so it is redrawn, from
    fold_in(seed, k) at the k-th retry (uniform over the length! − 1 others; on average
    length!/(length! − 1) draws).
    """
    if not isinstance(length, numbers.Integral) or length < 2:
        raise ValueError(f"length must be an integer >= 2 (a permutation other than the identity), received {length!r}")
    identity = tf.range(length)
    _, permutation = tf.while_loop(
        lambda k, p: tf.reduce_all(tf.equal(p, identity)),
        lambda k, p: (k + 1, random_permutation(_fold(seed, k + 1), length)),
        (tf.constant(0), random_permutation(seed, length)),
    )
    return permutation


def long_sequence(seed, num_frames, frames):
    """Multi-level §4.2 (L_ret, Eq. 13): 2T consecutive indices and their two T-frame halves.

    The paper samples 32 consecutive frames and splits them into two 16-frame clips
    (the positive pair, and the short sequences v_s of Eq. 13); the 32 frames are the
    long sequence v_l. Returns (long (2T,), first half (T,), second half (T,)); the
    halves are slices of ``long``. Nothing random beyond the start, so no labels.
    """
    _check_frames(frames)
    indices = window(seed, num_frames, 2 * frames)
    return indices, indices[:frames], indices[frames:]


def max_offset(frames, num_speeds=len(SPEEDS), max_gap=None):
    """B, the largest |offset| ``relative_transform`` draws: the longest span plus the largest gap."""
    _check_frames(frames)
    return (frames - 1) * SPEEDS[num_speeds - 1] + 1 + _gap(frames, max_gap)


def _gap(frames, max_gap):
    if max_gap is None:
        return frames
    if not isinstance(max_gap, numbers.Integral) or isinstance(max_gap, bool) or max_gap < 0:
        raise ValueError(f"max_gap must be a non-negative integer or None, received {max_gap!r}")
    return max_gap


def _span(frames, speed_class):
    return (frames - 1) * tf.gather(tf.constant(SPEEDS, tf.int32), speed_class) + 1


def relative_transform(seed, frames, num_speeds=len(SPEEDS), max_gap=None):
    """The relative temporal transformation of a clip pair (p, q) (time-equivariant §3.1–3.2).

    The whole transformation, so that partners 2k, 2k + 1 share it exactly (Fig. 1: "the
    relative temporal shifts between the top two clips and the bottom two clips are
    identical"; Fig. 3: "We apply the same temporal transformations (e.g., temporal
    cropping) to two training examples"): the speed classes of p and q, their
    directions, and ``offset`` = (first source frame of q's span) − (first source frame
    of p's span), signed, in source frames, whatever the directions. ``order`` follows
    from the offset and the spans (module docstring) and is returned for L_aux.

    The paper gives no distributions; ours keep every auxiliary class balanced and
    offsets small enough for real videos: speeds, directions and the order class are
    uniform; then, with spans s_p, s_q, the offset is uniform over the placements of
    that class: overlap, every offset whose spans intersect, [−(s_q − 1), s_p − 1];
    after, s_p + g; before, −(s_q + g); the gap g (frames strictly between the clips)
    uniform in [0, ``max_gap``], default T. A gap of at most one clip keeps a disjoint
    pair within s_p + s_q + T frames: at T = 16 every before/after pair up to 4×/2×
    (61 + 31 + 16 = 108) fits a UCF101-length video (~180 frames); 8×/8× (258) does
    not, and ``place_pair`` reduces it. Measured (``benchmarks/te_pairs.py``, T = 16,
    UCF101-like lengths): 60% of partner pairs keep an identical transformation with gaps
    up to T, 64% with no gap, 51% with gaps up to 4T; the 8× spans (121 frames) cost most
    of the rest. (A gap drawn over the whole video would make the offset mostly say how
    long the video is.)

    Key ``seed`` by the pair index so examples 2k and 2k + 1 share it, and pass the
    result to ``place_pair`` with a per-example seed. Returns a dict of int32 scalars
    keyed by ``RELATIVE_LABELS``.
    """
    _check_frames(frames)
    if not isinstance(num_speeds, numbers.Integral) or not 1 <= num_speeds <= len(SPEEDS):
        raise ValueError(f"num_speeds must be an integer in [1, {len(SPEEDS)}], received {num_speeds!r}")
    gap = _gap(frames, max_gap)
    classes = (num_speeds, num_speeds, 2, 2, 3)
    drawn = {name: _randint(_fold(seed, k), 0, n - 1) for k, (name, n) in enumerate(zip(RELATIVE_LABELS, classes))}
    sp, sq = _span(frames, drawn["speed_p"]), _span(frames, drawn["speed_q"])
    g = _randint(_fold(seed, 5), 0, gap)
    overlap = _randint(_fold(seed, 6), 1 - sq, sp - 1)
    order = drawn["order"]
    drawn["offset"] = tf.where(order == ORDER_AFTER, sp + g, tf.where(order == ORDER_BEFORE, -(sq + g), overlap))
    return drawn


def place_pair(seed, num_frames, frames, relative):
    """Absolute positions of clips p and q for the relative transformation ``relative``.

    Returns (indices_p (T,), indices_q (T,), labels) with labels keyed by
    ``RELATIVE_LABELS`` as applied. p's span starts at a, q's at a + offset; a is
    uniform over the starts where both spans lie in the video, so partners differ only
    in where the pair sits in their videos. A video too short for the transformation
    reduces it (module docstring): speeds as there, then the offset is clamped to the
    nearest one that keeps the order class and fits.
    """
    _check_frames(frames)
    n = tf.cast(num_frames, tf.int32)
    order = tf.cast(relative["order"], tf.int32)
    order = tf.where((order != ORDER_OVERLAP) & (2 * frames > n), ORDER_OVERLAP, order)
    overlap = tf.equal(order, ORDER_OVERLAP)
    cp, cq = tf.cast(relative["speed_p"], tf.int32), tf.cast(relative["speed_q"], tf.int32)
    for _ in range(len(SPEEDS) - 1):  # each step lowers the fastest class by one
        sp, sq = _span(frames, cp), _span(frames, cq)
        too_long = tf.where(overlap, tf.maximum(sp, sq), sp + sq) > n
        faster = tf.maximum(cp, cq)
        cp, cq = (tf.where(too_long & tf.equal(c, faster), tf.maximum(c - 1, 0), c) for c in (cp, cq))
    sp, sq = _span(frames, cp), _span(frames, cq)

    # Offsets that fit the video, [sp − n, n − sq], within the order class.
    low = tf.where(order == ORDER_AFTER, sp, tf.where(overlap, tf.maximum(sp - n, 1 - sq), sp - n))
    high = tf.where(order == ORDER_BEFORE, -sq, tf.where(overlap, tf.minimum(n - sq, sp - 1), n - sq))
    offset = tf.cast(relative["offset"], tf.int32)
    offset = tf.where(low <= high, tf.clip_by_value(offset, low, tf.maximum(high, low)), 0)  # 0: shorter than T
    first = tf.maximum(0, -offset)
    p_start = _randint(_fold(seed, 0), first, tf.maximum(tf.minimum(n - sp, n - sq - offset), first))

    labels = {
        "speed_p": cp,
        "speed_q": cq,
        "direction_p": tf.cast(relative["direction_p"], tf.int32),
        "direction_q": tf.cast(relative["direction_q"], tf.int32),
        "order": order,
        "offset": offset,
    }
    speeds = tf.constant(SPEEDS, tf.int32)
    indices_p = clip_indices(p_start, n, frames, tf.gather(speeds, cp), tf.equal(labels["direction_p"], 1))
    indices_q = clip_indices(p_start + offset, n, frames, tf.gather(speeds, cq), tf.equal(labels["direction_q"], 1))
    return indices_p, indices_q, labels


def transform_id(labels, frames, num_speeds=len(SPEEDS), max_gap=None):
    """One id per exact relative transformation, in [0, 16·S²·B + 4·S²), B = ``max_offset``.

    Mixed radix, most significant first: speed_p (S = num_speeds), speed_q (S),
    direction_p (2), direction_q (2), offset + B (2B + 1), i.e.
    id = ((((speed_p·S + speed_q)·2 + direction_p)·2 + direction_q)·(2B + 1) + offset + B.
    The order is a function of the offset and the spans, so it adds nothing. Works on
    scalars and on batched (B,) labels alike; rows with equal ids share the relative
    transformation exactly (time-equivariant Eq. 1: ψ_i^{pq} vs ψ_j^{pq}).
    """
    bound = max_offset(frames, num_speeds, max_gap)
    value = labels["speed_p"] * num_speeds + labels["speed_q"]
    value = (value * 2 + labels["direction_p"]) * 2 + labels["direction_q"]
    return value * (2 * bound + 1) + labels["offset"] + bound


def pair_label_shapes(transform, frames):
    """{label: per-example shape} of the labels ``pair_views`` returns for ``transform``."""
    _check_frames(frames)
    _check_transform(transform)
    return {
        "none": {},
        "shift": {"shift": ()},
        "drop": {"parity_a": ()},
        "reverse": {"reversed_view": ()},
        "shuffle": {"permutation_a": (frames,), "permutation_b": (frames,)},
    }[transform]


def pair_views(seed, num_frames, frames, transform, max_shift=8):
    """Two T-frame views of one clip for videoSimCLR / videoMoCo (thesis §3 "Temporal transformation").

    One transformation per run, by name; returns (indices_a, indices_b, labels):

    - "none": both views are the same T consecutive frames ("Random m"; §5.1–5.2); labels {}.
    - "shift" (*RandomShift [−s, s]*, §3 and Fig. 3): an original clip is drawn, then
      each view is shifted from it by its own uniform integer in [−s, s], s = ``max_shift``
      (both views move in Fig. 3: "Shift −1" and "Shift +3"). The original start keeps
      a margin of s frames from both ends when the video allows (the thesis code samples
      T + 2s frames and shifts inside them), otherwise shifted starts are clamped to the
      video. labels {"shift": b_start − a_start as applied}. Default s = 8, the best for
      UCF101 (§5.3, Table 4; s = 4 for HMDB51), also the thesis code's default.
    - "drop" (*Temporal Drop*): 2T consecutive frames; one view keeps the even positions,
      the other the odd ones, which view gets which being random (one decision, as in the
      thesis code). labels {"parity_a": 0 if a has the even positions, 1 if the odd}.
    - "reverse" (*Temporal reverse*): one view is the clip, the other the clip reversed;
      always applied, the reversed view chosen at random. labels {"reversed_view": 0 = a, 1 = b}.
    - "shuffle" (*Temporal Shuffle*): "two random permutations of the frame indexes", one
      per view. labels {"permutation_a", "permutation_b"}: int32 (T,) with
      view[i] = clip[permutation[i]], clip the T consecutive indices.
    """
    _check_frames(frames)
    _check_transform(transform)
    if not isinstance(max_shift, numbers.Integral) or max_shift < 0:
        raise ValueError(f"max_shift must be a non-negative integer, received {max_shift!r}")
    n = tf.cast(num_frames, tf.int32)
    if transform == "shift":
        last = tf.maximum(n - frames, 0)
        margin = tf.minimum(max_shift, last // 2)
        origin = _randint(_fold(seed, 0), margin, last - margin)
        start_a, start_b = (
            tf.clip_by_value(origin + _randint(_fold(seed, k), -max_shift, max_shift), 0, last) for k in (1, 2)
        )
        return clip_indices(start_a, n, frames), clip_indices(start_b, n, frames), {"shift": start_b - start_a}
    if transform == "drop":
        positions = tf.reshape(window(_fold(seed, 0), n, 2 * frames), [frames, 2])  # (even, odd) per row
        parity = _randint(_fold(seed, 1), 0, 1)
        a, b = tf.gather(positions, parity, axis=1), tf.gather(positions, 1 - parity, axis=1)
        return a, b, {"parity_a": parity}
    clip = window(_fold(seed, 0), n, frames)
    if transform == "none":
        return clip, clip, {}
    if transform == "reverse":
        view = _randint(_fold(seed, 1), 0, 1)
        backward = tf.reverse(clip, [0])
        a, b = tf.where(tf.equal(view, 0), backward, clip), tf.where(tf.equal(view, 1), backward, clip)
        return a, b, {"reversed_view": view}
    perm_a, perm_b = random_permutation(_fold(seed, 1), frames), random_permutation(_fold(seed, 2), frames)
    return tf.gather(clip, perm_a), tf.gather(clip, perm_b), {"permutation_a": perm_a, "permutation_b": perm_b}
