r"""Polynomial graph filters :math:`\sum_k B_k(P)\, X \Theta_k` evaluated in the cheaper order.

Diffusion (powers of random-walk matrices), Chebyshev (Chebyshev polynomials of the rescaled
Laplacian) and adaptive-adjacency convolutions are all "concatenate the ``K`` filtered copies
of ``X`` and apply one linear map". When the map shrinks or keeps the feature size it is
cheaper to project first and filter the projections with Horner's rule (powers) or
Clenshaw's recurrence (Chebyshev): the same number of propagations, on ``out`` instead of
``in`` channels, with the additions fused into the products and no concatenation. The
parameters are the same either way (one ``nn.Linear`` over the concatenation), so both orders
give the same function; :func:`graph_polynomial` picks the order from the feature sizes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stgraph.nn.propagate import GraphOperator


def _chebyshev_terms(op: GraphOperator, x: Tensor, k: int) -> list[Tensor]:
    terms = [op(x)]
    for _ in range(1, k):
        prev = terms[-2] if len(terms) > 1 else x
        terms.append(op(terms[-1], add=-prev, alpha=2.0))
    return terms


def _power_terms(op: GraphOperator, x: Tensor, k: int) -> list[Tensor]:
    terms: list[Tensor] = []
    for _ in range(k):
        terms.append(op(terms[-1] if terms else x))
    return terms


def _horner(op: GraphOperator, coeffs: Sequence[Tensor], acc: Tensor) -> Tensor:
    """``acc + sum_{i=1}^{k} P^i c_i`` with ``k`` fused products."""
    h = coeffs[-1]
    for c in reversed(coeffs[:-1]):
        h = op(h, add=c)
    return op(h, add=acc)


def _clenshaw(op: GraphOperator, c: Sequence[Tensor]) -> Tensor:
    """``sum_{i=0}^{k} T_i(P) c_i`` (Chebyshev polynomials) with ``k`` fused products."""
    b1, b2 = c[-1], None
    for ci in reversed(c[1:-1]):
        b1, b2 = op(b1, add=ci if b2 is None else ci - b2, alpha=2.0), b1
    return op(b1, add=c[0] if b2 is None else c[0] - b2)


def graph_polynomial(
    x: Tensor, lin: nn.Linear, ops: Sequence[GraphOperator], k: int, chebyshev: bool = False
) -> Tensor:
    r"""``lin`` applied to the concatenation of the filtered copies of ``x``.

    * powers (``chebyshev=False``): ``[x, P_1 x, ..., P_1^k x, P_2 x, ..., P_2^k x, ...]``
    * Chebyshev (one operator ``P``): ``[T_0(P) x, T_1(P) x, ..., T_k(P) x]``

    Args:
        x: input features.
        lin: ``nn.Linear(in * (1 + k * len(ops)), out)``.
        ops: propagation operators.
        k: highest power / Chebyshev order.
        chebyshev: Chebyshev basis (``len(ops) == 1``).

    Shapes:
        x: [..., N, in] -> [..., N, out]
    """
    if k == 0 or not ops:
        return lin(x)
    in_f, out_f = x.shape[-1], lin.out_features
    if out_f > in_f:  # filter the narrower input, then one linear map
        terms = [x]
        for op in ops:
            terms += (_chebyshev_terms if chebyshev else _power_terms)(op, x, k)
        return lin(torch.cat(terms, dim=-1))
    n_terms = lin.in_features // in_f
    weight = lin.weight.view(out_f, n_terms, in_f).transpose(0, 1).reshape(-1, in_f)
    bias = None if lin.bias is None else F.pad(lin.bias, (0, (n_terms - 1) * out_f))
    c = F.linear(x, weight, bias).split(out_f, dim=-1)
    if chebyshev:
        return _clenshaw(ops[0], c)
    acc = c[0]
    for j, op in enumerate(ops):
        acc = _horner(op, c[1 + j * k : 1 + (j + 1) * k], acc)
    return acc
