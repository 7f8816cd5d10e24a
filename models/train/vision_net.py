"""The Scrubline vision network: one small encoder–decoder, three dense heads.

Design, and why:
* MobileNetV2-style inverted residual blocks (depthwise-separable convolutions): most of the
  arithmetic of a plain convolution for a fraction of the cost, which is what a 2-core CPU
  running three tasks at ≥ 15 frames/s beside a video decoder needs.
* A U-Net-like decoder back to half the input resolution with skip connections: instrument
  edges and the jaws are thin, and the low-resolution encoder alone blurs them away.
* A global-context branch (pooled features added back at the bottleneck): lighting and the
  colour cast of a whole frame matter for deciding what is blood and what is tissue.
* Three heads on one shared decoder (instrument mask, tip map, bleeding mask): a shared last
  refinement layer and one output channel each, sigmoid inside the graph so the ONNX outputs
  are probabilities, as the manifest's roles require.

Trained from scratch (no pretrained weights are available offline), so the network is kept
narrow: a few hundred thousand parameters.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

HEADS = ("instrument", "tip", "bleeding")
# Class-aware tool detection (CenterNet-style, at a quarter of the input resolution): a centre
# heatmap per tool class, the box size (fraction of the frame) and the centre's sub-cell offset.
TOOL_CLASSES = ("Grasper", "Bipolar", "Hook", "Scissors", "Clipper", "Irrigator", "SpecimenBag")
DET_OUTPUTS = ("tool_heatmap", "tool_size", "tool_offset")
DET_STRIDE = 4


class ConvBNAct(nn.Sequential):
    def __init__(
        self, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1, act: bool = True
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if act:
            layers.append(nn.ReLU6(inplace=True))
        super().__init__(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1, expand: int = 4) -> None:
        super().__init__()
        mid = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(ConvBNAct(cin, mid, 1))
        layers += [ConvBNAct(mid, mid, 3, stride, groups=mid), ConvBNAct(mid, cout, 1, act=False)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


class SeparableConv(nn.Sequential):
    """Depthwise 3x3 then pointwise 1x1: the decoder's cheap refinement step."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(ConvBNAct(cin, cin, 3, groups=cin), ConvBNAct(cin, cout, 1))


class DecoderStage(nn.Module):
    def __init__(self, cin: int, cskip: int, cout: int) -> None:
        super().__init__()
        self.merge = ConvBNAct(cin + cskip, cout, 1)
        self.refine = SeparableConv(cout, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return self.refine(self.merge(torch.cat([x, skip], dim=1)))


class VisionNet(nn.Module):
    """Input N×3×H×W in 0..1 (H, W divisible by 32); outputs three N×1×H/2×W/2 probability maps
    (logits with `logits=True`, for training)."""

    def __init__(
        self, width: float = 1.0, detect: bool = False, det_width: int = 64, det_deep: bool = False
    ) -> None:
        super().__init__()
        self.detect = detect
        self.det_deep = det_deep

        def c(n: int) -> int:
            return max(8, int(round(n * width / 8)) * 8)

        c1, c2, c3, c4, c5 = c(16), c(24), c(32), c(64), c(96)
        self.stem = nn.Sequential(
            ConvBNAct(3, c1, 3, 2), InvertedResidual(c1, c1, 1, expand=1)
        )  # /2
        # expansion 3 at the two highest resolutions: BatchNorm over wide full-size tensors dominated
        # training time on the CPU
        self.stage2 = nn.Sequential(
            InvertedResidual(c1, c2, 2, expand=3), InvertedResidual(c2, c2, expand=3)
        )  # /4
        self.stage3 = nn.Sequential(
            InvertedResidual(c2, c3, 2), InvertedResidual(c3, c3), InvertedResidual(c3, c3)
        )  # /8
        self.stage4 = nn.Sequential(
            InvertedResidual(c3, c4, 2), InvertedResidual(c4, c4), InvertedResidual(c4, c4)
        )  # /16
        self.stage5 = nn.Sequential(
            InvertedResidual(c4, c5, 2), InvertedResidual(c5, c5), InvertedResidual(c5, c5)
        )  # /32
        self.context = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(c5, c5, 1), nn.ReLU6(inplace=True)
        )
        self.up4 = DecoderStage(c5, c4, c4)
        self.up3 = DecoderStage(c4, c3, c3)
        self.up2 = DecoderStage(c3, c2, c2)
        self.up1 = DecoderStage(c2, c1, c2)
        # One refinement layer and one 1x1 convolution give all three maps: at half the input
        # resolution every layer costs about a millisecond, and separate per-head layers were
        # a quarter of the whole network's time for no visible gain.
        self.head = nn.Sequential(SeparableConv(c2, c2), nn.Conv2d(c2, len(HEADS), 1))
        # Start near the rare-positive prior so early training is stable.
        nn.init.constant_(self.head[-1].bias, -3.0)
        if detect:
            if det_deep:
                # the detection branch's own copy of the deep stages (initialised from the
                # shared ones): class semantics live there, and at 1/16 and 1/32 they are cheap
                self.det_stage4 = nn.Sequential(
                    InvertedResidual(c3, c4, 2), InvertedResidual(c4, c4), InvertedResidual(c4, c4)
                )
                self.det_stage5 = nn.Sequential(
                    InvertedResidual(c4, c5, 2), InvertedResidual(c5, c5), InvertedResidual(c5, c5)
                )
                self.det_context = nn.Sequential(
                    nn.AdaptiveAvgPool2d(1), nn.Conv2d(c5, c5, 1), nn.ReLU6(inplace=True)
                )
            self.det = ToolDetector(c2, c3, c4, c5, width=det_width)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        s1 = self.stem(x)
        s2 = self.stage2(s1)
        s3 = self.stage3(s2)
        s4 = self.stage4(s3)
        s5 = self.stage5(s4)
        return s1, s2, s3, s4, s5 + self.context(s5)

    def forward(self, x: torch.Tensor, logits: bool = False) -> tuple[torch.Tensor, ...]:
        """The three maps, then (with `detect`) tool heatmap, size and offset."""
        s1, s2, s3, s4, s5 = self.encode(x)
        d = self.up4(s5, s4)
        d = self.up3(d, s3)
        d = self.up2(d, s2)
        d = self.up1(d, s1)
        out = self.head(d)
        if not logits:
            out = torch.sigmoid(out)
        maps = tuple(out[:, i : i + 1] for i in range(len(HEADS)))
        if not self.detect:
            return maps
        return (*maps, *self.detect_from(s2, s3, s4, s5, logits))

    def detect_from(
        self,
        s2: torch.Tensor,
        s3: torch.Tensor,
        s4: torch.Tensor,
        s5: torch.Tensor,
        logits: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The detection branch from the shared encoder's features (training caches them)."""
        if self.det_deep:
            s4 = self.det_stage4(s3)
            s5 = self.det_stage5(s4)
            s5 = s5 + self.det_context(s5)
        return self.det(s2, s3, s4, s5, logits)


class ToolDetector(nn.Module):
    """The detection branch: a small feature pyramid over the shared encoder's 1/4 to 1/32
    features (the encoder stays frozen, so the instrument, tip and bleeding maps are exactly
    those of the 1.x network) and a CenterNet head at 1/4: 7 class centre heatmaps, box size
    and centre offset. Plain 3x3 convolutions rather than depthwise ones: on a CPU, training
    depthwise layers in torch was several times slower per step, and the branch is trained here
    on a shared 2-core machine."""

    def __init__(self, c2: int, c3: int, c4: int, c5: int, width: int = 64) -> None:
        super().__init__()

        def conv(cin: int, cout: int, k: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, k, 1, k // 2), nn.ReLU(inplace=True))

        w4, w3, w2 = width, width * 3 // 4, width // 2
        self.lateral5, self.lateral4, self.smooth4 = (
            conv(c5, w4, 1),
            conv(c4, w4, 1),
            conv(w4, w4, 3),
        )
        self.reduce3, self.lateral3, self.smooth3 = (
            conv(w4, w3, 1),
            conv(c3, w3, 1),
            conv(w3, w3, 3),
        )
        self.reduce2, self.lateral2, self.smooth2 = (
            conv(w3, w2, 1),
            conv(c2, w2, 1),
            conv(w2, w2, 3),
        )
        self.out = nn.Conv2d(w2, len(TOOL_CLASSES) + 4, 1)
        with torch.no_grad():
            self.out.bias[: len(TOOL_CLASSES)] = -4.6  # CenterNet's prior: p = 0.01
            self.out.bias[len(TOOL_CLASSES) :] = 0.0

    def forward(
        self,
        s2: torch.Tensor,
        s3: torch.Tensor,
        s4: torch.Tensor,
        s5: torch.Tensor,
        logits: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        def up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
            return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)

        x = self.smooth4(up(self.lateral5(s5), s4) + self.lateral4(s4))
        x = self.smooth3(up(self.reduce3(x), s3) + self.lateral3(s3))
        x = self.smooth2(up(self.reduce2(x), s2) + self.lateral2(s2))
        det = self.out(x)
        k = len(TOOL_CLASSES)
        heat, size, offset = det[:, :k], det[:, k : k + 2], det[:, k + 2 : k + 4]
        if not logits:  # probabilities and fractions (0..1) in the graph
            heat, size, offset = torch.sigmoid(heat), torch.sigmoid(size), torch.sigmoid(offset)
        return heat, size, offset


def fuse_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every Conv2d+BatchNorm2d pair into the convolution (eval mode). The ONNX file is
    exported from the fused model, so its initializers carry this model's parameter names and
    `load_onnx_weights` can rebuild a trainable network from the bundled file alone."""
    for module in model.modules():
        if isinstance(module, ConvBNAct):
            conv, bn = module[0], module[1]
            if not isinstance(bn, nn.BatchNorm2d):
                continue
            scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
            fused = nn.Conv2d(
                conv.in_channels,
                conv.out_channels,
                conv.kernel_size,
                conv.stride,
                conv.padding,
                groups=conv.groups,
                bias=True,
            )
            fused.weight.data = conv.weight.detach() * scale[:, None, None, None]
            fused.bias.data = bn.bias.detach() - bn.running_mean * scale
            module[0] = fused
            module[1] = nn.Identity()
    return model


def fused_skeleton(
    width: float = 1.0, detect: bool = False, det_width: int = 64, det_deep: bool = False
) -> VisionNet:
    """A network with the fused structure (convolutions with bias, no BatchNorm)."""
    model = VisionNet(width, detect=detect, det_width=det_width, det_deep=det_deep)
    model.eval()
    return fuse_batchnorm(model)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
