"""The residual ST block is a residual: zero sub-layers leave the input unchanged."""

import torch

from stgraph.nn import GCNConv, ResidualSTBlock, TemporalAttention
from tests.nn.conftest import random_graph


def test_residual_block_is_identity_when_sublayers_output_zero_and_dropout_only_trains():
    block = ResidualSTBlock(4, GCNConv(4, 4), TemporalAttention(4, 2), dropout=0.5)
    ei, w = random_graph(6)
    x = torch.randn(2, 3, 6, 4)
    with torch.no_grad():
        for lin in (block.spatial.lin, block.temporal.attn.out, block.ffn[3]):
            lin.weight.zero_()
            if lin.bias is not None:
                lin.bias.zero_()
        block.spatial.bias.zero_()
    block.eval()
    torch.testing.assert_close(block(x, ei, w), x)
    block.reset_parameters()
    assert torch.equal(block(x, ei, w), block(x, ei, w))  # eval: no dropout
    block.train()
    assert not torch.equal(block(x, ei, w), block(x, ei, w))
