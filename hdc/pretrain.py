"""HDC pretraining with ``fit``: devices, data, model, callbacks, resume and
outputs (TensorFlow backend). ``train.py`` parses flags into a
``TrainConfig`` and calls ``pretrain``."""

import dataclasses
import os

import keras
import tensorflow as tf

import models
from data import packing, pipelines, recipes, records
from data.augment import AugmentConfig, ThesisAugmentConfig
from hdc import checkpoint, distribute, export, families, memory, optim
from hdc.model import HDCModel


class NonFiniteLoss(RuntimeError):
    """Training stopped because the loss became NaN or infinite."""


class UsageError(ValueError):
    """The settings or the data cannot work; the message names them and the fix.
    Raised before anything is written to ``config.out``."""


def training_files(config):
    """Shard files of the training split and the number of videos in them."""
    if config.data == "synthetic":
        from data import synthetic

        print(f"Note: --data synthetic is the built-in demo dataset ({config.synthetic_size}), not a benchmark.")
        root = synthetic.ensure_dataset(config.synthetic_size, seed=0)
    else:
        root = config.data
        if not os.path.isdir(root):
            raise UsageError(
                f"--data {root!r} is neither 'synthetic' nor a prepared-shards directory "
                "(make one with python -m data.prepare)"
            )
    split = "train" if os.path.isdir(os.path.join(root, "train")) else "unsplit"
    try:
        files = records.shard_files(root, split)
    except ValueError as error:
        raise UsageError(f"--data {root!r}: {error}") from None
    return files, pipelines.count_records(files)


def check_run(config, num_videos, replicas):
    """Raise UsageError for settings that cannot work with this data and these devices;
    return (steps per epoch, total steps)."""
    if num_videos < config.batch_size:
        raise UsageError(
            f"--batch-size {config.batch_size} is larger than the {num_videos} training videos; "
            "contrast needs clips of different videos"
        )
    if config.batch_size % replicas:
        raise UsageError(
            f"--batch-size {config.batch_size} must be a multiple of the {replicas} replicas: "
            "each takes an equal part of the global batch"
        )
    if "te" in config.objectives and config.batch_size % (2 * replicas):
        raise UsageError(
            f"--batch-size {config.batch_size} must be a multiple of {2 * replicas} with --objectives te on "
            f"{replicas} replica(s): partners 2k, 2k + 1 must meet on one replica"
        )
    steps_per_epoch = config.steps_per_epoch or num_videos // config.batch_size
    total_steps = steps_per_epoch * config.epochs
    if config.schedule == "cosine" and total_steps <= config.warmup_steps:
        raise UsageError(
            f"--warmup-steps {config.warmup_steps} must be below the run's {total_steps} steps "
            f"({config.epochs} epochs of {steps_per_epoch})"
        )
    return steps_per_epoch, total_steps


def build_model(config, total_steps=None):
    """The compiled model of ``config.objectives`` (call inside the strategy scope)."""
    objective = families.build_objective(config)
    clip_shape = (config.frames, config.crop, config.crop, 3)
    several_lengths = any(m != 1 for m in objective.view_frames.values())
    backbone = models.build_backbone(
        config.backbone,
        input_shape=(None,) + clip_shape[1:] if several_lengths else clip_shape,
        kernel_regularizer=config.weight_decay or None,
        width_multiplier=config.width_multiplier,
        remat=config.remat,
        **({"stem_time_pool": config.stem_time_pool} if config.backbone == "r3d18" else {}),
    )
    model = HDCModel(backbone, objective, clip_shape=clip_shape, total_steps=total_steps, name="hdc")
    model.compile(
        optimizer=optim.make_optimizer(
            config.optimizer,
            config.lr,
            config.momentum,
            config.schedule,
            config.lr_decay,
            total_steps,
            config.warmup_steps,
            config.lr_milestones,
            config.lr_step_factor,
            config.adamw_weight_decay,
        ),
        jit_compile=config.jit_compile,
        steps_per_execution=config.steps_per_execution,
    )
    model(keras.ops.zeros((2, packing.element_size(model.layout)), "uint8"))  # even: pair objectives
    return model


def view_recipes(config):
    """Every view recipe, set from ``config``; the pipeline uses those the model's layout needs.

    HDC's family (``AugmentConfig``) serves HDC and, without channel replication, the
    time-equivariant clips; the thesis' family serves the pair and long recipes unless
    ``pair_augment`` / ``mlfo_augment`` say "hdc".
    """
    augment = AugmentConfig(
        scale_jitter=config.scale_jitter,
        scale=(config.scale_min, 1.0),
        flip=config.flip,
        flip_prob=config.flip_prob,
        color_jitter=config.color_jitter,
        color_prob=config.color_prob,
        brightness=config.brightness,
        contrast=config.contrast,
        saturation=config.saturation,
        hue=config.hue,
        channel_replication=config.channel_replication,
        replication_prob=config.replication_prob,
        tc_spatial_aug=config.tc_spatial_aug,
    )
    thesis = ThesisAugmentConfig(
        mode=config.thesis_aug_mode,
        scale=(config.thesis_scale_min, 1.0),
        flip_prob=config.thesis_flip_prob,
        color_prob=config.thesis_color_prob,
        brightness=config.thesis_brightness,
        contrast=config.thesis_contrast,
        saturation=config.thesis_saturation,
        hue=config.thesis_hue,
        grayscale_prob=config.thesis_grayscale_prob,
        blur_prob=config.thesis_blur_prob,
        blur_sigma=tuple(config.thesis_blur_sigma),
        blur_kernel=config.thesis_blur_kernel,
    )
    family = {"thesis": thesis, "hdc": augment}
    return (
        recipes.HDCRecipe(augment, config.tc_gap),
        recipes.PairRecipe(config.pair_transform, config.pair_max_shift, family[config.pair_augment]),
        recipes.TERecipe(
            config.te_num_speeds,
            dataclasses.replace(augment, channel_replication=False),
            config.te_equivariance,
            None if config.te_max_gap < 0 else config.te_max_gap,
        ),
        recipes.LongRecipe(config.mlfo_permutation_length, family[config.mlfo_augment]),
    )


def pretrain_dataset(config, layout, files, num_videos, start_step, input_context=None):
    clip = pipelines.ClipSpec(frames=config.frames, sample_size=config.resize, crop=config.crop)
    return pipelines.pretrain_dataset(
        files,
        config.batch_size,
        clip,
        seed=config.seed,
        start_step=start_step,
        num_videos=num_videos,
        layout=layout,
        recipes=view_recipes(config),
        input_context=input_context,
    )


def distributed_dataset(strategy, config, layout, files, num_videos, start_step):
    """The training input of ``strategy``: with several replicas, one pipeline per worker
    that reads and decodes only its replicas' part of each global batch
    (``data.pipelines``), so the global batch is the single-device one on any devices."""
    if strategy.num_replicas_in_sync == 1:
        return pretrain_dataset(config, layout, files, num_videos, start_step)
    return strategy.distribute_datasets_from_function(
        lambda context: pretrain_dataset(config, layout, files, num_videos, start_step, context)
    )


class MetricsCSV(keras.callbacks.CSVLogger):
    """Keras' CSVLogger without the ``val_*`` columns it adds when there is no validation
    data (``NA`` in every row): one column per logged value."""

    def on_epoch_end(self, epoch, logs=None):
        if self.keys is None:
            self.keys = sorted(logs or {})
        super().on_epoch_end(epoch, logs)


def callbacks(config, is_chief):
    out = config.out if is_chief else os.path.join(config.out, f"worker-{os.getpid()}")
    saver = checkpoint.StepCheckpoint(os.path.join(out, "checkpoints"), config.checkpoint_every, write=is_chief)
    summary = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: print(
            f"epoch {epoch + 1}/{config.epochs}: " + ", ".join(f"{k}={float(v):.4f}" for k, v in sorted(logs.items()))
        )
    )
    return saver, [
        keras.callbacks.TerminateOnNaN(),
        MetricsCSV(os.path.join(out, "metrics.csv"), append=True),
        keras.callbacks.TensorBoard(os.path.join(out, "tensorboard"), update_freq=config.checkpoint_every),
        saver,
        summary,
    ]


def pretrain(config, verbose=1):
    """Run (or resume) pretraining; return {output name: path}."""
    config.validate()
    distribute.split_cpu(config.cpu_devices)
    if config.strategy in ("auto", "one") and config.cpu_devices <= 1:
        distribute.configure_cpu_threads()  # one device: no collectives to starve
    keras.utils.set_random_seed(config.seed)
    if config.deterministic:
        tf.config.experimental.enable_op_determinism()
    if config.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    strategy = distribute.make_strategy(config.strategy, config.cpu_devices)
    chief = distribute.is_chief(strategy)

    files, num_videos = training_files(config)
    steps_per_epoch, total_steps = check_run(config, num_videos, strategy.num_replicas_in_sync)
    if problem := memory.check(config, strategy.num_replicas_in_sync):
        raise UsageError(problem)
    with strategy.scope():
        try:
            model = build_model(config, total_steps)
        except ValueError as error:  # the backbone or an objective rejects these settings
            raise UsageError(str(error)) from None
        step = checkpoint.restore(model, os.path.join(config.out, "checkpoints"))
    os.makedirs(config.out, exist_ok=True)
    if chief:  # the flags, plus every objective's full settings (its Keras config)
        settings = {part.name: part.get_config() for part in model.objective.parts}
        config.to_json(os.path.join(config.out, "config.json"), objective_settings=settings)
    saver, cbs = callbacks(config, chief)
    if step:
        print(f"Resuming from step {step} (epoch {step // steps_per_epoch + 1}) in {config.out}")

    # A run resumed mid-epoch first finishes that epoch, then runs whole ones.
    while step < total_steps and not model.stop_training:
        epoch, done = divmod(step, steps_per_epoch)
        last_epoch = config.epochs if done == 0 else epoch + 1
        model.fit(
            distributed_dataset(strategy, config, model.layout, files, num_videos, step),
            initial_epoch=epoch,
            epochs=last_epoch,
            steps_per_epoch=steps_per_epoch - done if done else steps_per_epoch,
            callbacks=cbs,
            verbose=verbose,
            shuffle=False,  # the dataset shuffles itself (data.pipelines)
        )
        if saver.stopped_by_signal and not saver.saw_nonfinite_loss:  # a NaN at that step: the error below
            print(f"Stopped by SIGTERM at step {saver.step()}; checkpoint saved. Re-run the same command to resume.")
            return {}
        new_step = saver.step()
        if model.stop_training or new_step == step:
            break
        step = new_step
    if saver.saw_nonfinite_loss:
        raise NonFiniteLoss(
            f"Training stopped at step {saver.step()} because the loss was not finite; the last good "
            f"checkpoint is kept in {os.path.join(config.out, 'checkpoints')}. Try a lower --lr."
        )
    return export.write_outputs(model, config, chief) if chief else {}


def describe(config):
    """One line per config field, for the start of a run."""
    return "\n".join(f"  {f.name} = {getattr(config, f.name)!r}" for f in dataclasses.fields(config))
