"""PyTorch reference of the HDC model, for benchmarks/step.py and for checking
the Keras implementation against an independent one.

Written from the papers (HDC §3, arXiv v1; C3D, Tran et al. 2015; 3D-ResNet,
Hara et al. 2018; R(2+1)D, Tran et al. 2018 §3.5), not from our Keras code:

- ``build_reference_backbone(name)``: "c3d", "r3d18" or "r2plus1d10" with
  instance norm (HDC §3.3), returning ``{"block1": …, "block5": …}``, each
  (B, C, T, H, W).
- ``HDCReference``: the HDC objective (HDC Eqs. 1, 4–6): per block 3–5, spatial
  pooling per time step (SC) and global pooling (TC), one linear 128-d
  projection per view and block, InfoNCE with cosine similarity / τ.
- ``load_keras_weights(torch_backbone, keras_backbone)``,
  ``load_keras_heads(reference, keras_objective)``: copy the weights of a
  ``models.build_backbone`` model / an ``HDCObjective``'s heads into it.

Convolutions and max-pools pad like TensorFlow's ``padding="same"`` (extra
padding after, not before, when the total is odd: stride-2 layers on even
sizes), so that both frameworks compute the same function and outputs can be
compared exactly. Instance norm is ``nn.InstanceNorm3d(affine=True)``, ε = 1e-5.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

NORM_EPSILON = 1e-5
STAGE_WIDTHS = (64, 128, 256, 512)


def same_padding(size, kernel, stride):
    """TensorFlow "same" padding of one axis: (before, after)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad_same(x, kernel, stride, value=0.0):
    """Pad (B, C, T, H, W) for a "same" window; returns (x, symmetric padding)."""
    pads = [same_padding(s, k, st) for s, k, st in zip(x.shape[2:], kernel, stride)]
    if all(before == after for before, after in pads):
        return x, [before for before, _ in pads]
    flat = [p for pair in reversed(pads) for p in pair]  # F.pad wants the last axis first
    return F.pad(x, flat, value=value), [0, 0, 0]


class SameConv3d(nn.Conv3d):
    """``nn.Conv3d`` with TensorFlow "same" padding."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, bias=False):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding=0, bias=bias)

    def forward(self, x):
        x, padding = _pad_same(x, self.kernel_size, self.stride)
        return F.conv3d(x, self.weight, self.bias, self.stride, padding)


def same_max_pool3d(x, kernel, stride):
    """Max-pool with TensorFlow "same" padding (padded cells never win)."""
    x, padding = _pad_same(x, kernel, stride, value=float("-inf"))
    return F.max_pool3d(x, kernel, stride, padding)


def instance_norm(channels):
    return nn.InstanceNorm3d(channels, eps=NORM_EPSILON, affine=True)


class C3D(nn.Module):
    """C3D conv trunk with instance norm + ReLU after every 3×3×3 conv (HDC §3.3).

    Pooling before blocks 2–5: (1,2,2), then (2,2,2) three times; the taps are
    each block's last ReLU output.
    """

    LAYOUT = (
        ("block1", None, (("conv1a", 64),)),
        ("block2", (1, 2, 2), (("conv2a", 128),)),
        ("block3", (2, 2, 2), (("conv3a", 256), ("conv3b", 256))),
        ("block4", (2, 2, 2), (("conv4a", 512), ("conv4b", 512))),
        ("block5", (2, 2, 2), (("conv5a", 512), ("conv5b", 512))),
    )

    def __init__(self):
        super().__init__()
        channels = 3
        for _, _, convs in self.LAYOUT:
            for conv, width in convs:
                self.add_module(conv, SameConv3d(channels, width, (3, 3, 3), bias=True))
                self.add_module(f"{conv}_norm", instance_norm(width))
                channels = width

    def forward(self, x):
        taps = {}
        for block, pool, convs in self.LAYOUT:
            if pool is not None:
                x = same_max_pool3d(x, pool, pool)
            for conv, _ in convs:
                x = F.relu(getattr(self, f"{conv}_norm")(getattr(self, conv)(x)))
            taps[block] = x
        return taps


def full_unit(in_channels, out_channels, kernel, stride):
    """A plain t×k×k convolution (3D-ResNet)."""
    return SameConv3d(in_channels, out_channels, kernel, stride)


class FactorizedUnit(nn.Module):
    """R(2+1)D unit: 1×d×d conv → instance norm → ReLU → t×1×1 conv.

    The middle width M = ⌊t·d²·N_in·N_out / (d²·N_in + t·N_out)⌋ (Tran et al.
    2018, §3.5) matches the parameters of the t×d×d conv it replaces. The
    spatial conv takes the spatial stride, the temporal conv the temporal one.
    """

    def __init__(self, in_channels, out_channels, kernel, stride):
        super().__init__()
        t, d = kernel[0], kernel[1]
        middle = (t * d * d * in_channels * out_channels) // (d * d * in_channels + t * out_channels)
        self.spatial = SameConv3d(in_channels, middle, (1, d, d), (1, stride[1], stride[2]))
        self.spatial_norm = instance_norm(middle)
        self.temporal = SameConv3d(middle, out_channels, (t, 1, 1), (stride[0], 1, 1))

    def forward(self, x):
        return self.temporal(F.relu(self.spatial_norm(self.spatial(x))))


class BasicBlock(nn.Module):
    """ResNet BasicBlock with instance norm; 1×1×1 unit + norm shortcut when the shape changes."""

    def __init__(self, unit, in_channels, out_channels, stride):
        super().__init__()
        strides = (stride,) * 3
        self.conv1 = unit(in_channels, out_channels, (3, 3, 3), strides)
        self.norm1 = instance_norm(out_channels)
        self.conv2 = unit(out_channels, out_channels, (3, 3, 3), (1, 1, 1))
        self.norm2 = instance_norm(out_channels)
        self.projects = stride != 1 or in_channels != out_channels
        if self.projects:
            self.shortcut = unit(in_channels, out_channels, (1, 1, 1), strides)
            self.shortcut_norm = instance_norm(out_channels)

    def forward(self, x):
        out = self.norm2(self.conv2(F.relu(self.norm1(self.conv1(x)))))
        shortcut = self.shortcut_norm(self.shortcut(x)) if self.projects else x
        return F.relu(out + shortcut)


class ResNet3D(nn.Module):
    """3D ResNet of BasicBlocks: stem (stride 1,2,2) → norm → ReLU [→ 3×3×3 max-pool /2]
    → four stages of widths 64…512, stride 2 at the first block of stages 2–4.

    Taps: block1 = stem output (before the pool), block2–5 = stage 1–4 outputs.
    """

    def __init__(self, unit, stage_blocks, stem_kernel, stem_pool):
        super().__init__()
        self.stem = unit(3, 64, stem_kernel, (1, 2, 2))
        self.stem_norm = instance_norm(64)
        self.stem_pool = stem_pool
        self.stage_names = []
        channels = 64
        for stage, (blocks, width) in enumerate(zip(stage_blocks, STAGE_WIDTHS)):
            names = []
            for block in range(blocks):
                stride = 2 if stage > 0 and block == 0 else 1
                name = f"stage{stage + 1}_block{block + 1}"
                self.add_module(name, BasicBlock(unit, channels, width, stride))
                names.append(name)
                channels = width
            self.stage_names.append(names)

    def forward(self, x):
        x = F.relu(self.stem_norm(self.stem(x)))
        taps = {"block1": x}
        if self.stem_pool:
            x = same_max_pool3d(x, (3, 3, 3), (2, 2, 2))
        for stage, names in enumerate(self.stage_names):
            for name in names:
                x = getattr(self, name)(x)
            taps[f"block{stage + 2}"] = x
        return taps


REFERENCE_BACKBONES = {
    "c3d": C3D,
    "r3d18": lambda: ResNet3D(full_unit, (2, 2, 2, 2), (7, 7, 7), stem_pool=True),
    "r2plus1d10": lambda: ResNet3D(FactorizedUnit, (1, 1, 1, 1), (3, 7, 7), stem_pool=False),
}


def build_reference_backbone(name):
    """The PyTorch reference backbone "c3d", "r3d18" or "r2plus1d10"."""
    if name not in REFERENCE_BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}; expected one of {sorted(REFERENCE_BACKBONES)}")
    return REFERENCE_BACKBONES[name]()


def info_nce(anchors, positives, temperature):
    """InfoNCE with cosine similarity (HDC Eq. 1), averaged over the batch.

    ``anchors``, ``positives``: (..., B, D); row i of one matches row i of the
    other. Leading axes are independent problems, averaged too.
    """
    anchors = F.normalize(anchors, dim=-1)
    positives = F.normalize(positives, dim=-1)
    logits = anchors @ positives.transpose(-1, -2) / temperature
    batch = logits.shape[-1]
    labels = torch.arange(batch, device=logits.device).expand(logits.shape[:-1])
    return F.cross_entropy(logits.reshape(-1, batch), labels.reshape(-1))


class HDCReference(nn.Module):
    """Backbone + HD-NCE (HDC Eq. 6) on uint8 clips (B, 3, T, H, W, 3), views (o, s, t).

    The three views go through the backbone in one batched call. Per block k:
    SC (Eq. 4) matches spatially pooled u_o and u_s features per time step
    (mean over time steps of InfoNCE), TC (Eq. 5) matches globally pooled u_o
    and u_t features; g_o^k is shared by SC and TC. Pixels are rescaled to
    [−1, 1] (HDC §3.3).
    """

    def __init__(self, backbone, tap_channels, blocks=(3, 4, 5), alpha=(0.25, 0.5, 1.0),
                 beta=(0.25, 0.5, 1.0), temperature=0.07, proj_dim=128):
        super().__init__()
        if not len(blocks) == len(alpha) == len(beta):
            raise ValueError(f"blocks, alpha and beta must have equal lengths, received {blocks}, {alpha}, {beta}")
        self.backbone = backbone
        self.blocks, self.alpha, self.beta = tuple(blocks), tuple(alpha), tuple(beta)
        self.temperature = temperature
        self.projections = nn.ModuleDict({
            f"{view}_block{k}": nn.Linear(tap_channels[f"block{k}"], proj_dim)
            for k in self.blocks for view in "ost"
        })

    def forward(self, clips):
        if clips.ndim != 6 or clips.shape[1] != 3 or clips.shape[-1] != 3:
            raise ValueError(f"clips must be (batch, 3 views, T, H, W, 3), received {tuple(clips.shape)}")
        batch = clips.shape[0]
        x = clips.permute(1, 0, 5, 2, 3, 4).reshape(3 * batch, *clips.shape[5:], *clips.shape[2:5])
        return self.hd_nce(self.backbone(x.float() / 127.5 - 1.0))

    def hd_nce(self, taps):
        """HD-NCE (Eq. 6) from taps (3B, C, T, H, W) holding the views o, s, t in that order."""
        total = 0.0
        for k, alpha, beta in zip(self.blocks, self.alpha, self.beta):
            g = {view: self.projections[f"{view}_block{k}"] for view in "ost"}
            f_o, f_s, f_t = taps[f"block{k}"].chunk(3)
            # (B, C, T, H, W) → (T, B, C): one InfoNCE per time step.
            per_step_o = g["o"](f_o.mean(dim=(3, 4)).permute(2, 0, 1))
            per_step_s = g["s"](f_s.mean(dim=(3, 4)).permute(2, 0, 1))
            spatial = info_nce(per_step_o, per_step_s, self.temperature)
            temporal = info_nce(g["o"](f_o.mean(dim=(2, 3, 4))), g["t"](f_t.mean(dim=(2, 3, 4))), self.temperature)
            total = total + alpha * spatial + beta * temporal
        return total


def load_keras_weights(torch_backbone, keras_backbone):
    """Copy a ``models.build_backbone`` model's weights into the reference.

    A reference module at path ``a.b`` corresponds to the Keras layer named
    ``f"{keras_backbone.name}_a_b"``. Kernels (t, h, w, in, out) become
    (out, in, t, h, w); instance-norm gamma/beta become weight/bias. Raises
    ``ValueError`` if a layer is missing on either side or a shape differs.
    """
    keras_layers = {layer.name: layer for layer in keras_backbone.layers if layer.weights}
    used = set()
    with torch.no_grad():
        for path, module in torch_backbone.named_modules():
            if isinstance(module, nn.Conv3d):
                layer = _keras_layer(keras_layers, keras_backbone.name, path)
                arrays = {"weight": np.transpose(np.asarray(layer.kernel), (4, 3, 0, 1, 2))}
                if module.bias is not None:
                    arrays["bias"] = np.asarray(layer.bias)
                if len(layer.weights) != len(arrays):
                    raise ValueError(f"{layer.name} has {len(layer.weights)} weights, {path} has {len(arrays)}")
            elif isinstance(module, nn.InstanceNorm3d):
                layer = _keras_layer(keras_layers, keras_backbone.name, path)
                arrays = {"weight": np.asarray(layer.gamma), "bias": np.asarray(layer.beta)}
            else:
                continue
            for attr, array in arrays.items():
                target = getattr(module, attr)
                if tuple(target.shape) != array.shape:
                    raise ValueError(f"{path}.{attr} is {tuple(target.shape)} but {layer.name} gives {array.shape}")
                target.copy_(torch.from_numpy(np.ascontiguousarray(array)))
            used.add(layer.name)
    unused = sorted(set(keras_layers) - used)
    if unused:
        raise ValueError(f"Keras layers with weights that have no reference counterpart: {unused}")


def _keras_layer(keras_layers, prefix, path):
    name = f"{prefix}_{path.replace('.', '_')}"
    if name not in keras_layers:
        raise ValueError(f"Reference module {path!r} has no Keras layer named {name!r}")
    return keras_layers[name]


def load_keras_heads(reference, keras_objective):
    """Copy an ``hdc.objectives.HDCObjective``'s projections into ``reference``.

    Its Dense layer ``f"{view}_block{k}"`` (kernel (C, D)) becomes the Linear
    of the same name (weight (D, C)). Raises ``ValueError`` unless both sides
    have the same heads.
    """
    dense = {layer.name: layer for layer in keras_objective.heads.dense.values()}
    if set(dense) != set(reference.projections):
        raise ValueError(f"Keras heads {sorted(dense)} differ from reference heads {sorted(reference.projections)}")
    with torch.no_grad():
        for name, linear in reference.projections.items():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(np.asarray(dense[name].kernel).T)))
            linear.bias.copy_(torch.from_numpy(np.asarray(dense[name].bias)))
