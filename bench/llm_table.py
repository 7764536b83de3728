#!/usr/bin/env python3
"""Prints the LLM speed table of bench/llm_speed.sh from its results JSONL (one object a line):
  kind=machine (cpu, load), kind=bandwidth (threads, read_gbs),
  impl=edgeq|llama.cpp with size, type, threads, prefill_tps, decode_tps,
  impl=edgeq with size, type, peak_rss_bytes, file_bytes, kv_bytes, bytes_per_token.
Markdown tables: prefill and decode tok/s of both, edgeq / llama.cpp ratios, decode as % of the read-bandwidth
roofline (read GB/s of that thread count / bytes_per_token), and edgeq's peak RSS vs file + K/V + 50 MB.
Usage: llm_table.py RESULTS.jsonl"""
import json
import sys

MB = 1e6


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    bw = {r["threads"]: r["read_gbs"] for r in rows if r.get("kind") == "bandwidth"}
    meta = {}
    for r in rows:
        if r.get("kind") == "machine":
            meta.update(r)
    runs, mem = {}, {}
    for r in rows:
        if "impl" not in r:
            continue
        if "threads" in r:
            runs[(r["size"], r["type"], r["threads"], r["impl"])] = r
        else:
            mem[(r["size"], r["type"])] = r
    print(f"CPU: {meta.get('cpu', '?')}, {meta.get('nproc', '?')} cores; load average before "
          f"{meta.get('load_before', '?')}, after {meta.get('load_after', '?')}")
    print("read bandwidth: " + ", ".join(f"{t} thread{'s' if t > 1 else ''} {g:.1f} GB/s" for t, g in sorted(bw.items())))
    print()
    print("| size | type | thr | prefill edgeq | prefill llama.cpp | ratio | decode edgeq | decode llama.cpp | ratio "
          "| roofline tok/s | edgeq % roof | llama.cpp % roof |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    keys = sorted({k[:3] for k in runs}, key=lambda k: (k[0] != "100m", k[0], k[1], k[2]))
    for size, typ, t in keys:
        e = runs.get((size, typ, t, "edgeq"))
        l = runs.get((size, typ, t, "llama.cpp"))
        m = mem.get((size, typ))

        def f(x, key):
            return f"{x[key]:.1f}" if x else "—"

        def ratio(key):
            return f"{e[key] / l[key]:.2f}×" if e and l and l[key] > 0 else "—"

        roof = bw.get(t, 0) * 1e9 / m["bytes_per_token"] if m and bw.get(t) else 0
        pct = lambda x: f"{100 * x['decode_tps'] / roof:.0f} %" if x and roof else "—"
        print(f"| {size} | {typ} | {t} | {f(e, 'prefill_tps')} | {f(l, 'prefill_tps')} | {ratio('prefill_tps')} "
              f"| {f(e, 'decode_tps')} | {f(l, 'decode_tps')} | {ratio('decode_tps')} | {roof:.1f} | {pct(e)} | {pct(l)} |")
    print()
    print("| size | type | edgeq peak RSS MB | file MB | K/V MB | budget (file + K/V + 50 MB) | within |")
    print("|---|---|---|---|---|---|---|")
    for (size, typ), m in sorted(mem.items(), key=lambda kv: (kv[0][0] != "100m", kv[0])):
        budget = m["file_bytes"] + m["kv_bytes"] + 50 * MB
        print(f"| {size} | {typ} | {m['peak_rss_bytes'] / MB:.0f} | {m['file_bytes'] / MB:.0f} | {m['kv_bytes'] / MB:.0f} "
              f"| {budget / MB:.0f} | {'yes' if m['peak_rss_bytes'] <= budget else 'NO'} |")
    backends = {r.get("cpu_backend") for r in runs.values() if r.get("cpu_backend")}
    if backends:
        print(f"\nllama.cpp CPU backend: {', '.join(sorted(backends))}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
