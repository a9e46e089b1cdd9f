r"""Polynomial graph filters :math:`\sum_k B_k(P)\, X \Theta_k` evaluated in the cheaper order.

Diffusion (powers of random-walk matrices), Chebyshev (Chebyshev polynomials of the rescaled
Laplacian) and adaptive-adjacency convolutions are all "concatenate the ``K`` filtered copies
of ``X`` and apply one linear map". When the map shrinks or keeps the feature size it is
cheaper to project first and filter the projections with Horner's rule: the same number of
propagations, on ``out`` instead of ``in`` channels, with the additions fused into the
products and no concatenation. A Chebyshev filter is first rewritten in the power basis,
:math:`\sum_k T_k(P) X \Theta_k = \sum_j P^j X \sum_k C_{kj} \Theta_k` with the integer
coefficients :math:`C_{kj}` of :math:`T_k` (:func:`chebyshev_to_power`), so up to order
:data:`POWER_BASIS_MAX_ORDER` it runs the same fused products as a diffusion filter with no
subtraction pass; higher orders use Clenshaw's recurrence, which stays accurate in float32.
The parameters are the same either way (one ``nn.Linear`` over the concatenation), so every
order gives the same function; :func:`graph_polynomial` picks it from the feature sizes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stgraph.nn.ops.propagate import GraphOperator

POWER_BASIS_MAX_ORDER = 4
"""Highest Chebyshev order (``K - 1``) evaluated in the power basis. The power form cancels
terms with coefficients up to ``|C_kj|`` (8 at order 4, 48 at order 6, 1,280 at order 10), so
its float32 error grows with the order. Measured (max error / max output, against a float64
recurrence, 207-node kNN graph): power basis 5e-7, 2e-6, 7e-6, 8e-5, 9e-3 at orders 2, 4, 6,
9, 15; the recurrence 3e-7 to 5e-6 throughout. Orders above this use Clenshaw's recurrence."""


@cache
def _chebyshev_coefficients(k: int) -> tuple[tuple[int, ...], ...]:
    rows = [[1] + [0] * k, [0, 1] + [0] * (k - 1)][: k + 1]
    while len(rows) <= k:
        prev, prev2 = rows[-1], rows[-2]
        rows.append([2 * (prev[j - 1] if j else 0) - prev2[j] for j in range(k + 1)])
    return tuple(tuple(r) for r in rows)


def chebyshev_to_power(weight: Tensor, k: int) -> Tensor:
    r"""Rewrite the weight of a Chebyshev filter of order ``k`` for the power basis:
    :math:`\Theta'_j = \sum_{i=j}^{k} C_{ij} \Theta_i`, where
    :math:`T_i(x) = \sum_j C_{ij} x^j` (:math:`T_0 = 1, T_1 = x, T_i = 2x T_{i-1} - T_{i-2}`).

    Exact in exact arithmetic; in float32 the power form loses accuracy as the order grows,
    so :func:`graph_polynomial` uses it up to :data:`POWER_BASIS_MAX_ORDER` only.

    Args:
        weight: ``nn.Linear`` weight over the concatenation ``[T_0 x, ..., T_k x]``.
        k: polynomial order.

    Shapes:
        weight: [out, (k + 1) * in] -> [out, (k + 1) * in] (blocks ordered ``P^0 .. P^k``)
    """
    out_f, n_terms = weight.shape[0], k + 1
    c = weight.new_tensor(_chebyshev_coefficients(k))
    w = weight.view(out_f, n_terms, -1)
    return torch.einsum("ij,oif->ojf", c, w).reshape(weight.shape)


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
    recurrence = chebyshev and k > POWER_BASIS_MAX_ORDER
    weight = chebyshev_to_power(lin.weight, k) if chebyshev and not recurrence else lin.weight
    in_f, out_f = x.shape[-1], lin.out_features
    if out_f > in_f:  # filter the narrower input, then one linear map
        terms = [x]
        for op in ops:
            terms += (_chebyshev_terms if recurrence else _power_terms)(op, x, k)
        return F.linear(torch.cat(terms, dim=-1), weight, lin.bias)
    n_terms = lin.in_features // in_f
    weight = weight.view(out_f, n_terms, in_f).transpose(0, 1).reshape(-1, in_f)
    bias = None if lin.bias is None else F.pad(lin.bias, (0, (n_terms - 1) * out_f))
    c = F.linear(x, weight, bias).split(out_f, dim=-1)
    if recurrence:
        return _clenshaw(ops[0], c)
    acc = c[0]
    for j, op in enumerate(ops):
        acc = _horner(op, c[1 + j * k : 1 + (j + 1) * k], acc)
    return acc
