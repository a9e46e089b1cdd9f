"""Temporal layers: sequence RNNs, graph-recurrent cells, ConvLSTM, gated TCN, time encodings."""
