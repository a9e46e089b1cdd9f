r"""Node-major polynomial graph filters: every product is one plain ``P @ X`` on ``[N, cols]``.

A recurrent cell applies the same filter to a ``[B, N, F]`` state at every time step. In the
house layout every propagation needs the node axis moved first and back (two copies per
product, :func:`stgraph.nn.ops.fold.nodes_first`). Here the cell keeps its tensors node-major,
``[N, B, F]`` (a ``[B, N, F]`` view with the node stride outermost), so a propagation is a
single matrix product on the ``[N, B * F]`` matrix with no copy, and the filter

.. math::
    Y = \sum_{k=0}^{K} \sum_{d=1}^{D} P_d^k X \Theta_{d,k} + b
    \qquad (\text{one } k = 0 \text{ term})

runs in Horner form over all ``D`` operators at once (DCRNN's two diffusion directions):
one GEMM projects ``X`` onto all ``1 + DK`` terms, written term-major (each term a contiguous
``[N, B * F_out]`` block), then ``K`` sparse products fold the powers from the highest down:

.. math::
    H_K = C_K,\quad H_k = C_k + \mathrm{diag}(P_1..P_D)\, H_{k+1},\quad
    Y = C_0 + [P_1 \cdots P_D]\, H_1

where :math:`C_k = [X\Theta_{1,k}; \dots; X\Theta_{D,k}]` stacks the directions along the
node axis (``[D N, cols]``). The block-diagonal and the side-by-side matrices are built once
per graph, dtype and device with their transposes (the backward pass is ``P^T g``).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

from stgraph.nn.ops.propagate import GraphOperator

DENSE_DENSITY = 0.2
"""Node-major products use a dense matrix above this density (non-zeros / ``(D N)^2``
for the block-diagonal), CSR below: with no layout copies a CSR product of a
``[207, 4,096]`` block costs about a fifth of the dense one at METR-LA's 4% density
(measured on the 2-core benchmark machine, ``tools/bench/efficiency.py``)."""


def _csr(rows: Tensor, cols: Tensor, vals: Tensor, shape: tuple[int, int]) -> Tensor:
    coo = torch.sparse_coo_tensor(
        torch.stack([rows, cols]), vals, shape, check_invariants=True
    ).coalesce()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return coo.to_sparse_csr()


def _project(x: Tensor, w: Tensor, out: Tensor) -> Tensor:
    """``out[j] = x @ w[j]^T`` for every term ``j`` (written in place)."""
    for j in range(w.shape[0]):
        torch.mm(x, w[j].t(), out=out[j])
    return out


class _Filter(torch.autograd.Function):
    """The whole node-major filter: term-major projection, then Horner over the stacked
    operators; the backward pass runs the transposed recurrence into one gradient buffer
    (no slice-gradient zero fills, nothing saved but the input)."""

    @staticmethod
    def forward(
        ctx: Any, x: Tensor, w: Tensor, bias: Tensor | None, mats: tuple[Tensor, ...], k: int
    ) -> Tensor:
        bd, _, side, _ = mats
        dn, n = side.shape[1], side.shape[0]
        rows, out_f = x.shape[0], w.shape[1]
        cols = rows // n * out_f
        c0 = torch.mm(x, w[0].t()) if bias is None else torch.addmm(bias, x, w[0].t())
        c = _project(x, w[1:], x.new_empty(w.shape[0] - 1, rows, out_f)).view(k, dn, cols)
        h = c[k - 1]
        for p in range(k - 2, -1, -1):  # H_p = C_p + blockdiag(P) H_{p+1}
            h = c[p].addmm_(bd, h)
        ctx.save_for_backward(x, w)
        ctx.mats, ctx.k, ctx.has_bias = mats, k, bias is not None
        return c0.view(n, cols).addmm_(side, h).view(rows, out_f)

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> tuple[Tensor, Tensor, Tensor | None, None, None]:
        x, w = ctx.saved_tensors
        _, bdt, side, sidet = ctx.mats
        k, n, dn = ctx.k, side.shape[0], side.shape[1]
        g = g.contiguous()
        cols = g.numel() // n
        gc = g.new_empty(w.shape[0] - 1, *g.shape)
        gh = gc.view(k, dn, cols)
        gh[0].addmm_(sidet, g.view(n, cols), beta=0)  # mm(out=) copies a sparse result
        for p in range(1, k):
            gh[p].addmm_(bdt, gh[p - 1], beta=0)
        gx = torch.mm(g, w[0])
        for j in range(gc.shape[0]):
            gx.addmm_(gc[j], w[j + 1])
        gw = torch.stack([torch.mm(g.t(), x)] + [torch.mm(gc[j].t(), x) for j in range(len(gc))])
        return gx, gw, g.sum(0) if ctx.has_bias else None, None, None


class StackedOperator:
    """``D`` fixed propagation operators of one graph, stacked for node-major Horner filters.

    Args:
        ops: the operators (their normalised edge lists are read, not their matrices).
        layout: ``"auto"`` (dense above :data:`DENSE_DENSITY`), ``"dense"`` or ``"sparse"``.

    Shapes:
        :meth:`filter`: x [N * M, in] -> [N * M, out]
    """

    def __init__(self, ops: list[GraphOperator], layout: str = "auto") -> None:
        self.ops, self.num_nodes = ops, ops[0].num_nodes
        nnz = sum(op.nnz for op in ops)
        dense = nnz > DENSE_DENSITY * len(ops) * self.num_nodes**2
        self.dense = layout == "dense" or (layout == "auto" and dense)
        self._mats: dict[tuple[torch.dtype, torch.device], tuple[Tensor, ...]] = {}

    def matrices(self, like: Tensor) -> tuple[Tensor, ...]:
        """(block-diagonal, its transpose, side-by-side, its transpose) for ``like``'s
        dtype and device, built once."""
        key = (like.dtype, like.device)
        if key not in self._mats:
            n, d = self.num_nodes, len(self.ops)
            src, dst, vals, blk = [], [], [], []
            for i, op in enumerate(self.ops):
                ei = op.edge_index.to(like.device)
                src.append(ei[0])
                dst.append(ei[1])
                vals.append(op.edge_weight.detach().to(like.device, like.dtype))
                blk.append(torch.full_like(ei[0], i * n))
            s, t, v, off = (torch.cat(a) for a in (src, dst, vals, blk))
            mats = (
                _csr(t + off, s + off, v, (d * n, d * n)),
                _csr(s + off, t + off, v, (d * n, d * n)),
                _csr(t, s + off, v, (n, d * n)),
                _csr(s + off, t, v, (d * n, n)),
            )
            self._mats[key] = tuple(m.to_dense() for m in mats) if self.dense else mats
        return self._mats[key]

    def filter(self, x: Tensor, weight: Tensor, bias: Tensor | None, k: int) -> Tensor:
        """``sum_j B_j(P) x W_j^T + b`` with the terms ordered ``0, (k=1, d=1..D),
        (k=2, d=1..D), ...`` (power-major): one GEMM per term, one product per power.

        Args:
            x: node-major rows (row ``i * M + m`` is node ``i``).
            weight: per-term weights.
            bias: output bias.
            k: highest power ``K >= 1``.

        Shapes:
            x: [N * M, in], weight: [1 + D K, out, in], bias: [out] -> [N * M, out]
        """
        out: Tensor = _Filter.apply(x, weight, bias, self.matrices(x), k)
        return out
