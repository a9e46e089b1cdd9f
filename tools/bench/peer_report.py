"""The markdown of ``peers.py``: the throughput table with FLOP rates, and the section
writer for ``results/performance.md``."""

from __future__ import annotations

from pathlib import Path

from peer_models import peers

RESULTS = Path(__file__).resolve().parent / "results" / "performance.md"
SECTION = "## Training throughput against the peers"


def table(rows: list[dict], peak: float) -> str:
    """Markdown: one row per (N, arch, library); ``stgraph x`` is stgraph's samples/s over
    the row's (above 1: stgraph faster), ``vs fastest peer`` over the best peer's.

    ``GFLOP`` is one step's dense work (``step_flops``) and ``% peak`` its rate against the
    measured fp32 matmul ``peak``. ``ceiling`` (stgraph's row) is the ratio over the fastest
    peer that stgraph would reach if its step ran at 100 % of peak: the most any
    implementation of stgraph's model can gain over that peer without doing less work."""
    head = "| N | arch | library | params | size | ms/step (n) | samples/s | GFLOP/step "
    head += "| % peak | stgraph x | vs fastest peer | ceiling |"
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple[int, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["n"], r["arch"]), []).append(r)
    for (n, arch), rs in groups.items():
        base = next((r for r in rs if r["lib"] == "stgraph" and "error" not in r), None)
        peer = [r for r in rs if r["lib"] != "stgraph" and "error" not in r]
        best = max((r["sps"] for r in peer), default=None)
        for r in rs:
            if "error" in r:
                lines.append(f"| {n} | {arch} | {r['lib']} | {r['params']:,} | {r['note']} | ")
                lines[-1] += f"{r['error']} | | | | | | |"
                continue
            ratio = "" if base is None or r is base else f"{base['sps'] / r['sps']:.2f}"
            vs = f"{base['sps'] / best:.2f}" if r is base and best else ""
            mem = f" ({r['rss']:.0f} MB)" if "rss" in r else ""
            rate = r["gflop"] / (r["ms"] / 1e3) / peak * 100
            ceil = ""
            if r is base and best:  # best peer's step time over stgraph's at peak
                ceil = f"{(r['sps'] / best) * (r['ms'] / 1e3) * peak / r['gflop']:.1f}"
            lines.append(
                f"| {n} | {arch} | {r['lib']} | {r['params']:,} | {r['note']} | {r['ms']:.0f} "
                f"({r['reps']}){mem} | {r['sps']:.1f} | {r['gflop']:.1f} | {rate:.0f} | "
                f"{ratio} | {vs} | {ceil} |"
            )
    return "\n".join(lines)


def preamble(check: str) -> str:
    """What every run block below shares: the protocol, the peers' configurations."""
    cfg = "\n".join(f"- **{p.lib} {p.arch}** ({p.knob}): {p.config}. Differs: {p.differs}."
                    for p in peers())  # fmt: skip
    return (
        f"{SECTION}\n\n"
        "`tools/bench/peers.py` (peers built by `tools/bench/install_peers.sh` into "
        "`.bench-venv`; never run by CI). One step = forward + MAE loss + backward + AdamW on "
        "random data, L=12 -> H=12, F=2, interleaved in one process (stgraph, peer A, peer B, "
        "stgraph, ...) after warm-up; `ms/step` is the median of the `n` timed steps. "
        "`stgraph x` = stgraph's samples/s over that peer's (above 1: stgraph is faster); "
        "`vs fastest peer` (stgraph's row) over the best peer's. Each peer's size knob is set so "
        "its parameter count is closest to stgraph's registered model (defaults; no covariates "
        "except GMAN, which both sides feed the calendar). `OMP_WAIT_POLICY=PASSIVE` matters on "
        "a shared machine: with OpenMP's spinning default a contended run took 220-430 s per "
        "PGT STGCN step (4.6 s passive) and 40 s per stgraph DCRNN step (7-10 s).\n\n"
        f"Diffusion normalisation (DCRNN), checked numerically on the METR-LA graph: {check}. "
        "stgraph divides an edge weight by its source's out-degree (D_O^-1 W, the paper's "
        "forward walk; PGT the same), tsl by its target's in-degree (a mean over in-neighbours); "
        "same cost.\n\nPeer configurations (fastest supported form of each; where one says "
        "SparseTensor, a block run with `--adjacency edge_index` passed the COO pair):\n\n"
        + cfg
        + "\n"
    )


def write(check: str, block: str) -> None:
    """Replace this section's preamble and the run block with the same heading (other runs'
    blocks, e.g. the other graph size, stay)."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Performance\n"
    start = old.find(SECTION)
    end = -1 if start < 0 else old.find("\n## ", start + len(SECTION))
    body = "" if start < 0 else old[start : None if end < 0 else end]
    head = block.split("\n", 1)[0]
    runs = [r for r in ("\n" + body).split("\n### ")[1:] if ("### " + r).split("\n")[0] != head]
    section = preamble(check) + "".join("\n### " + r.rstrip() + "\n" for r in runs)
    section += "\n" + block
    if start < 0:
        new = old.rstrip() + "\n\n" + section
    else:
        new = old[:start] + section + ("" if end < 0 else old[end:])
    RESULTS.write_text(new.rstrip() + "\n")
