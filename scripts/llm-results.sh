#!/usr/bin/env bash
# LLM quantization quality table (issue 5, item 5): regenerates docs/results/llm.md.
#
# For stories260K (shared/fixtures/llm) and shakespeare-wiki-4M (shared/assets/llm, when present) and every type
# (llama.cpp's fixture types, IQ4_NL, INT4/INT3/INT2 g32/g64) it quantizes the F32 GGUF three ways with
# `edgeq quantize` -- plain (ggml's quantizers), with an imatrix (`edgeq imatrix` on the calibration text), and
# GPTQ (`--method gptq --calib`) -- and measures with `edgeq perplexity --kl-base`: PPL, mean KLD and top-1
# agreement against edgeq's own F32 logits on the same tokens (they equal llama.cpp's F32 logits within 4e-5).
# The llama.cpp columns are the fixture values (results.json / llm_results.json: llama_model_quantize without
# imatrix, KL against llama.cpp's F32 logits on the same tokens).
#
# Evaluation tokens are the fixtures': stories260K = the first 256 tokens of tinystories_sample.txt;
# shakespeare-wiki-4M = the first 256 tokens of each validation text (PPL over both, KLD / top-1 the mean).
# Calibration text (imatrix and GPTQ) never overlaps them: stories260K = tinystories_sample.txt from byte 1000
# on (~1400 tokens); shakespeare-wiki-4M = the first 30,000 characters of tinyshakespeare.txt and of
# wikitext-2-raw-test (the training region; validation is the last 5 %), 16 chunks of 256 tokens.
#
# Usage: scripts/llm-results.sh [BUILD_DIR] [OUT.md]      (defaults: build, docs/results/llm.md)
# Env:   EDGEQ_SHARED (default <repo>/../shared), LLM_MODELS (subset: "stories260K shakespeare-wiki-4M"),
#        LLM_THREADS (default: all cores), LLM_REPORT_ONLY=1 (re-render OUT.md from BUILD_DIR/llm-results/
#        llm-results.json of the last run). Takes about 6-9 minutes on the shared 2-core machine.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
OUTMD=${2:-$ROOT/docs/results/llm.md}
SHARED=${EDGEQ_SHARED:-$ROOT/../shared}
[ -x "$BUILD/edgeq" ] || { echo "llm-results: $BUILD/edgeq not built (cmake --build $BUILD --target edgeq)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "llm-results: python3 not found" >&2; exit 1; }
mkdir -p "$BUILD/llm-results" "$(dirname "$OUTMD")"
exec python3 - "$BUILD/edgeq" "$SHARED" "$BUILD/llm-results" "$OUTMD" "${LLM_MODELS:-stories260K shakespeare-wiki-4M}" \
    "${LLM_THREADS:-0}" <<'PY'
import json, math, os, re, subprocess, sys, time

edgeq, shared, work, outmd, models, threads = sys.argv[1:7]
models = models.split()
thr = ["--threads", threads] if threads != "0" else []
t_start = time.time()
TEXT = f"{shared}/assets/datasets/text"
INT_TYPES = ["INT4_G32", "INT4_G64", "INT3_G32", "INT3_G64", "INT2_G32", "INT2_G64"]


def run(args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"llm-results: {' '.join(args)} failed:\n{r.stderr}")
    return r.stdout


def setup(name):
    if name == "stories260K":
        fx = f"{shared}/fixtures/llm"
        calib = f"{work}/calib_stories.txt"
        with open(f"{TEXT}/tinystories_sample.txt", "rb") as f:
            data = f.read()
        open(calib, "wb").write(data[1000:])
        res = json.load(open(f"{fx}/llm_results.json"))["variants"]
        n_params = res["F32"]["llama_model_size"] / 4
        ref = {v: dict(bytes=e["llama_model_size"], bpw=8 * e["llama_model_size"] / n_params, ppl=e["ppl"],
                       kld=e.get("kl_vs_F32_mean", 0.0), top1=e.get("top1_agreement_vs_F32", 1.0)) for v, e in res.items()}
        return dict(f32=f"{fx}/models/stories260K-F32.gguf", texts=[f"{TEXT}/tinystories_sample.txt"], calib=calib,
                    calib_args=["--ctx", "128"], ref=ref,
                    types=["Q8_0", "Q6_K", "Q5_K_S", "Q4_K_M", "Q4_0", "IQ4_NL", "Q2_K"] + INT_TYPES)
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
        res = json.load(open(f"{fx}/results.json"))["variants"]
        ref = {v: dict(bytes=e["llama_model_size"], bpw=e["bits_per_weight"], ppl=e["ppl"], kld=e.get("kl_vs_F32_mean", 0.0),
                       top1=e.get("top1_agreement_vs_F32", 1.0)) for v, e in res.items()}
        return dict(f32=f32, texts=[f"{fx}/val_text/shakespeare_val.txt", f"{fx}/val_text/wikitext_val.txt"],
                    calib=calib, calib_args=["--ctx", "256", "--calib-chunks", "16"], ref=ref,
                    types=["Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q4_0", "IQ4_NL", "Q3_K_M", "Q2_K"]
                    + INT_TYPES)
    sys.exit(f"llm-results: unknown model {name}")


def evaluate(model, m, tag):
    nll, kld, top1 = [], [], []
    for i, text in enumerate(m["texts"]):
        base = f"{work}/{tag}_base{i}.npy"
        j = json.loads(run([edgeq, "perplexity", model, "-f", text, "--ctx", "256", "--chunks", "1", "-q", "--json",
                            "--kl-base", base] + thr))
        nll.append(math.log(j["ppl"]))
        kld.append(j["kld_mean"])
        top1.append(j["top1_agreement"])
    return dict(ppl=math.exp(sum(nll) / len(nll)), kld=sum(kld) / len(kld), top1=sum(top1) / len(top1))


def quantize(m, out, typ, extra):
    s = run([edgeq, "quantize", m["f32"], out, typ] + extra + thr)
    bpw = float(re.search(r"([0-9.]+) bits per weight", s).group(1))
    info = re.search(r"([0-9.]+) information bits per weight", s)
    info_bpw = float(info.group(1)) if info else (bpw if typ.startswith("INT") else None)
    return dict(bytes=os.path.getsize(out), bpw=bpw, info_bpw=info_bpw)


results = {}
report_only = os.environ.get("LLM_REPORT_ONLY") == "1"  # re-render OUT.md from the last run's JSON
if report_only:
    results = json.load(open(f"{work}/llm-results.json"))
for name in models if not report_only else []:
    m = setup(name)
    if m is None:
        print(f"llm-results: {name} not present, skipped", file=sys.stderr)
        continue
    for i, text in enumerate(m["texts"]):
        run([edgeq, "perplexity", m["f32"], "-f", text, "--ctx", "256", "--chunks", "1", "-q", "--save-logits",
             f"{work}/{name}_base{i}.npy"] + thr)
    imx = f"{work}/{name}_imatrix.gguf"
    ictx = m["calib_args"][:2]
    ichunks = ["--chunks", m["calib_args"][3]] if len(m["calib_args"]) > 2 else []
    run([edgeq, "imatrix", m["f32"], "-f", m["calib"], "-o", imx, "-q"] + ictx + ichunks + thr)
    rows = []
    for typ in m["types"]:
        row = dict(type=typ, ref=m["ref"].get(typ))
        for meth, extra in (("plain", []), ("imatrix", ["--imatrix", imx]),
                            ("gptq", ["--method", "gptq", "--calib", m["calib"]] + m["calib_args"])):
            out = f"{work}/{name}-{typ}-{meth}.gguf"
            t0 = time.time()
            q = quantize(m, out, typ, extra)
            q.update(evaluate(out, m, name))
            q["seconds"] = time.time() - t0
            row[meth] = q
            os.remove(out)
        print(f"{name} {typ}: " + ", ".join(f"{k} {row[k]['kld']:.5f}" for k in ("plain", "imatrix", "gptq")),
              file=sys.stderr)
        rows.append(row)
    results[name] = dict(rows=rows, model=m)

if not report_only:
    json.dump(results, open(f"{work}/llm-results.json", "w"), indent=1)


def f(v, fmt):
    return "–" if v is None else format(v, fmt)


L = ["# LLM quantization quality: edgeq plain / imatrix / GPTQ vs llama.cpp", "",
     "Generated by `scripts/llm-results.sh` (do not edit by hand; method and settings in the script header and in",
     "[docs/llm/gptq.md](../llm/gptq.md)). KLD = mean KL(P_F32 ‖ P_quant) per position (nats), top-1 = agreement of",
     "the argmax with F32. edgeq's numbers are against edgeq's F32 logits, llama.cpp's against llama.cpp's F32",
     "logits (fixtures, `llama_model_quantize` without imatrix); the F32 logits of the two agree within 4e-5.",
     "Size = edgeq's output file (llama.cpp's files of the same type have the same tensors and types); bpw =",
     "8 · tensor bytes / parameters (llama.cpp's definition, `llama_model_size`). INT types: levels stored in Q4_1 blocks, so the file is Q4_1-sized; the",
     "`info bpw` column is bits + 32/group (fp16 scale and offset per group) — what a packed format would take.",
     "**best** = the lowest KLD among edgeq's three; ✓ where it is ≤ llama.cpp's KLD at the same type (same size).", ""]
# Headline: per llama.cpp size point, edgeq's best vs llama.cpp; each INT type against the llama.cpp type of
# the nearest bits per weight (its information bits, see above).
L += ["## Summary", ""]
for name, r in results.items():
    with_ref = [row for row in r["rows"] if row["ref"] is not None]
    best = lambda row: min(row[k]["kld"] for k in ("plain", "imatrix", "gptq"))
    wins = [row["type"] for row in with_ref if best(row) <= row["ref"]["kld"]]
    losses = [row["type"] for row in with_ref if best(row) > row["ref"]["kld"]]
    ratios = [best(row) / row["ref"]["kld"] for row in with_ref if row["ref"]["kld"] > 0]
    L.append(f"- **{name}**: edgeq's best KLD ≤ llama.cpp's at {len(wins)} of {len(with_ref)} llama.cpp types"
             + (f" (not at: {', '.join(losses)})" if losses else "")
             + (f"; best / llama.cpp KLD {min(ratios):.2f}–{max(ratios):.2f}" if ratios else "") + ".")
    refs = [(k, v) for k, v in r["model"]["ref"].items() if k not in ("F32", "F16") and v["kld"] > 0]
    for row in r["rows"]:
        if not row["type"].startswith("INT") or not refs:
            continue
        ib = row["plain"]["info_bpw"]
        k, v = min(refs, key=lambda kv: abs(kv[1]["bpw"] - ib))
        verdict = "lower" if best(row) <= v["kld"] else "**higher**"
        L.append(f"  - {row['type']} ({ib:.2f} info bpw): best KLD {best(row):.3g}, {verdict} than llama.cpp {k} "
                 f"({v['bpw']:.2f} bpw) {v['kld']:.3g}")
L.append("")
for name, r in results.items():
    m = r["model"]
    L += [f"## {name}", "",
          f"Evaluation: {', '.join(os.path.basename(t) for t in m['texts'])} (first 256 tokens each). "
          f"Calibration: `{os.path.basename(m['calib'])}` ({' '.join(m['calib_args'])}).", "",
          "| type | size KiB | bpw | info bpw | plain PPL | plain KLD | plain top-1 | imatrix PPL | imatrix KLD | "
          "imatrix top-1 | GPTQ PPL | GPTQ KLD | GPTQ top-1 | llama.cpp PPL | llama.cpp KLD | llama.cpp top-1 | "
          "best vs llama.cpp |",
          "|" + "---|" * 17]
    for row in r["rows"]:
        p, i, g, ref = row["plain"], row["imatrix"], row["gptq"], row["ref"]
        best = min(("plain", "imatrix", "gptq"), key=lambda k: row[k]["kld"])
        cmp = "–"
        if ref is not None:
            ok = row[best]["kld"] <= ref["kld"]
            cmp = f"{'✓' if ok else '✗'} {best} {row[best]['kld']:.3g} vs {ref['kld']:.3g}"
        cells = [row["type"], f(p["bytes"] / 1024, ".1f"), f(p["bpw"], ".3f"), f(p["info_bpw"], ".3f")]
        for q in (p, i, g):
            kl = f(q["kld"], ".4g")
            if q is row[best]:
                kl = f"**{kl}**"
            cells += [f(q["ppl"], ".4f"), kl, f(q["top1"], ".3f")]
        cells += [f(ref and ref["ppl"], ".4f"), f(ref and ref["kld"], ".4g"), f(ref and ref["top1"], ".3f"), cmp]
        L.append("| " + " | ".join(cells) + " |")
    L.append("")
L.append(f"Run time: {time.time() - t_start:.0f} s.")
open(outmd, "w").write("\n".join(L) + "\n")
print(f"llm-results: wrote {outmd} ({time.time() - t_start:.0f} s)", file=sys.stderr)
PY
