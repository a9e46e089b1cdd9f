"""GridConv is Conv2d on the row-major H x W image of the nodes."""

import torch

from stgraph.nn import GridConv


def test_grid_conv_equals_conv2d_on_the_image():
    conv = GridConv(3, 4, grid=(3, 5), kernel_size=3)
    x = torch.randn(2, 6, 15, 3)
    img = x.reshape(12, 3, 5, 3).permute(0, 3, 1, 2)
    ref = conv.conv(img).permute(0, 2, 3, 1).reshape(2, 6, 15, 4)
    torch.testing.assert_close(conv(x), ref)
