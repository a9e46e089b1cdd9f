"""Dataset I/O: cards, downloads, file readers and the registered loaders (the protocol core
in :mod:`stgraph.data` knows nothing of files)."""
