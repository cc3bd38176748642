"""An example backbone plugin: copy it into baselines/ and `frlbench list backbones` shows it.

Add a ``baselines/my_cnn.toml`` with ``backbone = "my_cnn"`` to put it on the leaderboard.
"""

from torch import nn

from frlbench.models.common import with_input_check
from frlbench.registry import register_backbone


@register_backbone("my_cnn", family="CNN", sizes=("tiny", "small", "base"))
def build(spec, task, in_channels, out_channels):
    width = {"tiny": 8, "small": 32, "base": 64}[spec.size]
    conv = {2: nn.Conv2d, 3: nn.Conv3d}[task.ndim]
    net = nn.Sequential(
        conv(in_channels, width, 3, padding=1, padding_mode="circular"),
        nn.GELU(),
        conv(width, out_channels, 3, padding=1, padding_mode="circular"),
    )
    return with_input_check(net, "my_cnn", in_channels, out_channels, task.ndim)
