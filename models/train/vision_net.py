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

    def __init__(self, width: float = 1.0) -> None:
        super().__init__()

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

    def forward(self, x: torch.Tensor, logits: bool = False) -> tuple[torch.Tensor, ...]:
        s1 = self.stem(x)
        s2 = self.stage2(s1)
        s3 = self.stage3(s2)
        s4 = self.stage4(s3)
        s5 = self.stage5(s4)
        s5 = s5 + self.context(s5)
        d = self.up4(s5, s4)
        d = self.up3(d, s3)
        d = self.up2(d, s2)
        d = self.up1(d, s1)
        out = self.head(d)
        if not logits:
            out = torch.sigmoid(out)
        return tuple(out[:, i : i + 1] for i in range(len(HEADS)))


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


def fused_skeleton(width: float = 1.0) -> VisionNet:
    """A network with the fused structure (convolutions with bias, no BatchNorm)."""
    model = VisionNet(width)
    model.eval()
    return fuse_batchnorm(model)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
