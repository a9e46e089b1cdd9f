"""The folding helpers: exact inverses, and the attention foldings are views (no copy)."""

import torch

from stgraph.nn.ops.fold import (
    attention_heads,
    fold_axis,
    from_node_sequences,
    merge_heads,
    node_sequences,
    nodes_first,
    nodes_last,
)


def test_node_sequences_and_nodes_first_round_trip_exactly():
    x = torch.randn(2, 3, 4, 5)
    seq = node_sequences(x)
    assert torch.equal(seq[1 * 4 + 2], x[1, :, 2])  # row b*N + n is node n of batch b
    assert torch.equal(from_node_sequences(seq, 2), x)
    cols = nodes_first(x)
    assert cols.shape == (4, 2 * 3 * 5)
    assert torch.equal(nodes_last(cols, tuple(x.shape)), x)


def test_attention_folding_of_the_time_axis_is_a_view_not_a_copy():
    x = torch.randn(2, 7, 3, 8)  # [B, T, N, F], attend over T with 2 heads
    heads = attention_heads(fold_axis(x, 1), 2)
    assert heads.shape == (2, 3 * 2, 7, 4)
    assert heads.data_ptr() == x.data_ptr()
    assert torch.equal(heads[1, 2 * 2 + 1, 4], x[1, 4, 2, 4:])  # node 2, head 1, step 4
    assert torch.equal(merge_heads(heads, 3).reshape(x.shape), x)
