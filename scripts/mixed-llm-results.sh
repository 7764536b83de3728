#!/usr/bin/env bash
# GGUF half of docs/results/mixed.md (issue 8, item 4): prints a Markdown section to stdout.
#
# For stories260K (shared/fixtures/llm) and shakespeare-wiki-4M (shared/assets/llm, when present):
#   `edgeq autotune F32.gguf OUT.gguf --data CALIB --target-bpw B`, B = the bits per weight of llama.cpp's
#   Q4_K_M file of that model (fixture results: 8 * llama_model_size / parameters), against llama.cpp's
#   Q4_K_M file itself and edgeq's uniform Q4_K_M with GPTQ (`edgeq quantize ... Q4_K_M --method gptq --calib
#   CALIB`, the best uniform edgeq Q4_K_M in docs/results/llm.md).
# KLD, PPL and top-1 of all three are measured the same way, by `edgeq perplexity --kl-base` against edgeq's F32
# logits on the held-out evaluation text of scripts/llm-results.sh: stories260K = the first 256 tokens of
# tinystories_sample.txt; shakespeare-wiki-4M = the first 256 tokens of each validation text (mean of the two).
# Autotune's --data is the calibration text of scripts/llm-results.sh (never overlapping the evaluation text):
# stories260K = tinystories_sample.txt from byte 1000 on (--ctx 128); shakespeare-wiki-4M = the first 30,000
# characters of tinyshakespeare.txt and of wikitext-2-raw-test (--ctx 256). Autotune splits it again into a
# calibration part (Hessians, sensitivities) and a held-out part (its own verification).
#
# Usage: scripts/mixed-llm-results.sh [BUILD_DIR] > section.md      (default BUILD_DIR: build)
#        scripts/mixed-llm-results.sh build > docs/results/mixed-llm.md
# Env:   EDGEQ_SHARED (default <repo>/../shared), MIXED_LLM_MODELS (subset: "stories260K shakespeare-wiki-4M"),
#        MIXED_LLM_THREADS (default: all cores). Takes about 10 minutes on the shared 2-core machine.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
SHARED=${EDGEQ_SHARED:-$ROOT/../shared}
[ -x "$BUILD/edgeq" ] || { echo "mixed-llm-results: $BUILD/edgeq not built (cmake --build $BUILD --target edgeq)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "mixed-llm-results: python3 not found" >&2; exit 1; }
mkdir -p "$BUILD/mixed-llm-results"
exec python3 - "$BUILD/edgeq" "$SHARED" "$BUILD/mixed-llm-results" "${MIXED_LLM_MODELS:-stories260K shakespeare-wiki-4M}" \
    "${MIXED_LLM_THREADS:-0}" <<'PY'
import collections, json, math, os, subprocess, sys, time

edgeq, shared, work, models, threads = sys.argv[1:6]
thr = ["--threads", threads] if threads != "0" else []
TEXT = f"{shared}/assets/datasets/text"
t_start = time.time()


def run(args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"mixed-llm-results: {' '.join(args)} failed:\n{r.stderr}")
    return r.stdout


def setup(name):
    if name == "stories260K":
        fx = f"{shared}/fixtures/llm"
        calib = f"{work}/calib_stories.txt"
        with open(f"{TEXT}/tinystories_sample.txt", "rb") as f:
            open(calib, "wb").write(f.read()[1000:])
        res = json.load(open(f"{fx}/llm_results.json"))["variants"]
        n_params = res["F32"]["llama_model_size"] / 4
        q = res["Q4_K_M"]
        return dict(f32=f"{fx}/models/stories260K-F32.gguf", ref=f"{fx}/models/stories260K-Q4_K_M.gguf",
                    ref_bpw=8 * q["llama_model_size"] / n_params, texts=[f"{TEXT}/tinystories_sample.txt"],
                    calib=calib, ctx=128)
    if name == "shakespeare-wiki-4M":
        f32 = f"{shared}/assets/llm/shakespeare-wiki-4M/shakespeare-wiki-4M-F32.gguf"
        if not os.path.exists(f32):
            return None
        fx = f"{shared}/fixtures/llm-shakespeare"
        calib = f"{work}/calib_4m.txt"
        with open(calib, "w") as out:
            out.write(open(f"{TEXT}/tinyshakespeare.txt", encoding="utf-8").read()[:30000])
            wiki = open(f"{TEXT}/wikitext-2-raw-test.crlf.txt", encoding="utf-8", newline="").read()
            out.write(wiki.replace("\r\n", "\n")[:30000])
        q = json.load(open(f"{fx}/results.json"))["variants"]["Q4_K_M"]
        return dict(f32=f32, ref=f"{fx}/models/shakespeare-wiki-4M-Q4_K_M.gguf", ref_bpw=q["bits_per_weight"],
                    texts=[f"{fx}/val_text/shakespeare_val.txt", f"{fx}/val_text/wikitext_val.txt"], calib=calib, ctx=256)
    sys.exit(f"mixed-llm-results: unknown model {name}")


def evaluate(model, name, m):
    nll, kld, top1 = [], [], []
    for i, text in enumerate(m["texts"]):
        j = json.loads(run([edgeq, "perplexity", model, "-f", text, "--ctx", "256", "--chunks", "1", "-q", "--json",
                            "--kl-base", f"{work}/{name}_base{i}.npy"] + thr))
        nll.append(math.log(j["ppl"]))
        kld.append(j["kld_mean"])
        top1.append(j["top1_agreement"])
    return dict(ppl=math.exp(sum(nll) / len(nll)), kld=sum(kld) / len(kld), top1=sum(top1) / len(top1))


rows = []
for name in models.split():
    m = setup(name)
    if m is None:
        print(f"mixed-llm-results: {name} not present, skipped", file=sys.stderr)
        continue
    base_nll = []
    for i, text in enumerate(m["texts"]):
        j = json.loads(run([edgeq, "perplexity", m["f32"], "-f", text, "--ctx", "256", "--chunks", "1", "-q", "--json",
                            "--save-logits", f"{work}/{name}_base{i}.npy"] + thr))
        base_nll.append(math.log(j["ppl"]))
    out = f"{work}/{name}-autotune.gguf"
    t0 = time.time()
    at = json.loads(run([edgeq, "autotune", m["f32"], out, "--data", m["calib"], "--target-bpw", f"{m['ref_bpw']:.6f}",
                         "--ctx", str(m["ctx"]), "--json", "-q"] + thr))
    at_secs = time.time() - t0
    a = evaluate(out, name, m)
    r = evaluate(m["ref"], name, m)
    gq = f"{work}/{name}-Q4_K_M-gptq.gguf"
    run([edgeq, "quantize", m["f32"], gq, "Q4_K_M", "--method", "gptq", "--calib", m["calib"], "--ctx", str(m["ctx"])] + thr)
    g = evaluate(gq, name, m)
    g_bytes = sum(t["bytes"] for t in json.loads(run([edgeq, "inspect", gq, "--json"]))["tensors"])
    os.remove(gq)
    types = collections.Counter(t["type"] for t in at["tensors"] if t["tuned"])
    print(f"{name}: autotune {at['bits_per_weight']:.3f} bpw KLD {a['kld']:.5f}; llama.cpp Q4_K_M {m['ref_bpw']:.3f} "
          f"bpw KLD {r['kld']:.5f}; GPTQ Q4_K_M KLD {g['kld']:.5f}", file=sys.stderr)
    rows.append(dict(name=name, m=m, at=at, a=a, r=r, g=g, g_bytes=g_bytes, types=types, secs=at_secs,
                     base_ppl=math.exp(sum(base_nll) / len(base_nll))))

L = ["## GGUF LLMs: autotune at llama.cpp Q4_K_M's size", "",
     "Generated by `scripts/mixed-llm-results.sh` (method: [docs/llm/autotune.md](../llm/autotune.md)). "
     "`edgeq autotune F32.gguf OUT.gguf --data CALIB --target-bpw B` with B = the bits per weight of llama.cpp's "
     "Q4_K_M file (8 · tensor bytes / parameters, norms and F16 fallbacks included), against that file and edgeq's "
     "uniform Q4_K_M with GPTQ on the same calibration text. KLD = mean KL(P_F32 ‖ P_quant) per position (nats), "
     "PPL and top-1 agreement with F32, all three measured by `edgeq perplexity --kl-base` against edgeq's F32 logits "
     "on the same held-out text (stories260K: first 256 tokens of tinystories_sample.txt; shakespeare-wiki-4M: first "
     "256 tokens of each validation text, mean of the two), which autotune never sees.", "",
     "| model | budget (llama.cpp Q4_K_M bpw) | autotune bpw | autotune KLD | llama.cpp Q4_K_M KLD | edgeq GPTQ Q4_K_M bpw | "
     "edgeq GPTQ Q4_K_M KLD | autotune / llama.cpp KLD | PPL F32 / autotune / llama.cpp | top-1 autotune / llama.cpp | "
     "lower KLD at ≤ its size |",
     "|" + "---|" * 11]
for x in rows:
    n_params = x["at"]["n_params"]
    ok = x["a"]["kld"] < x["r"]["kld"] and x["at"]["bits_per_weight"] <= x["m"]["ref_bpw"] + 1e-9
    L.append(f"| {x['name']} | {x['m']['ref_bpw']:.3f} | {x['at']['bits_per_weight']:.3f} | **{x['a']['kld']:.4g}** | "
             f"{x['r']['kld']:.4g} | {8 * x['g_bytes'] / n_params:.3f} | {x['g']['kld']:.4g} | "
             f"{x['a']['kld'] / x['r']['kld']:.2f} | {x['base_ppl']:.4f} / {x['a']['ppl']:.4f} / {x['r']['ppl']:.4f} | "
             f"{x['a']['top1']:.3f} / {x['r']['top1']:.3f} | {'✓' if ok else '✗'} |")
L.append("")
for x in rows:
    at = x["at"]
    L += [f"### {x['name']}", "",
          f"Chosen types ({sum(x['types'].values())} tuned tensors): "
          + ", ".join(f"{k} × {v}" for k, v in sorted(x["types"].items())) + ". "
          f"Autotune's own held-out split ({at['heldout_chunks']} chunks of {at['ctx']} tokens of CALIB): KLD "
          f"{at['kld']:.4g}, budget met: {'yes' if at['budget_met'] else 'no'}; "
          f"{at['sensitivity_evals']} sensitivity runs, {at['path_steps']} allocation steps, {x['secs']:.0f} s.", "",
          "Size / KLD front (autotune's held-out split; P = Pareto, * = written):", "",
          "| step | bpw | predicted KLD (sum of sensitivities) | held-out KLD | PPL | top-1 |", "|---|---|---|---|---|---|"]
    for p in at["front"]:
        mark = ("*" if p["chosen"] else "") + ("P" if p["pareto"] else "")
        L.append(f"| {p['step']} {mark} | {p['bits_per_weight']:.3f} | {p['predicted_kld']:.3g} | {p['kld']:.4g} | "
                 f"{p['ppl']:.4f} | {p['top1_agreement']:.3f} |")
    L.append("")
    L += ["<details><summary>per-tensor types</summary>", "", "| tensor | type | method | sensitivity (calibration KLD) |",
          "|---|---|---|---|"]
    for t in at["tensors"]:
        if t["tuned"] or t["type"] != t["from"]:
            L.append(f"| {t['name']} | {t['type']} | {('GPTQ' if t['gptq'] else 'RTN') if t['tuned'] else 'fallback'} | "
                     f"{t['sensitivity']:.3g} |")
    L += ["", "</details>", ""]
L.append(f"Run time: {time.time() - t_start:.0f} s.")
print("\n".join(L))
PY
