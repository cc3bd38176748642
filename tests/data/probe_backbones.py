"""Test-only backbones: a small resolution-agnostic conv net, one that raises, one that diverges."""

from torch import nn

from frlbench.registry import register_backbone


class ProbeConv(nn.Module):
    def __init__(self, ndim: int, in_channels: int, out_channels: int, width: int = 8):
        super().__init__()
        conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[ndim]
        self.net = nn.Sequential(
            conv(in_channels, width, 3, padding=1, padding_mode="circular"),
            nn.GELU(),
            conv(width, out_channels, 3, padding=1, padding_mode="circular"),
        )

    def forward(self, x):
        return self.net(x)


@register_backbone("probe_conv", family="test", sizes=("tiny",))
def build_probe_conv(spec, task, in_channels, out_channels):
    return ProbeConv(task.ndim, in_channels, out_channels)


class Raises(ProbeConv):
    def forward(self, x):
        raise RuntimeError("probe backbone failure")


@register_backbone("probe_raise", family="test", sizes=("tiny",))
def build_probe_raise(spec, task, in_channels, out_channels):
    return Raises(task.ndim, in_channels, out_channels)


class Explodes(ProbeConv):
    def forward(self, x):
        return super().forward(x) * float("nan")


@register_backbone("probe_nan", family="test", sizes=("tiny",))
def build_probe_nan(spec, task, in_channels, out_channels):
    return Explodes(task.ndim, in_channels, out_channels)
