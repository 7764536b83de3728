#!/usr/bin/env bash
# Post-training quantization accuracy table (issue 4, item 4): regenerates docs/results/ptq.md.
#
# For mnist-8 and each Fashion-MNIST model (lenet5, mlp3, vgg_bn, lstm) it quantizes the FP32 ONNX file with
# `edgeq quantize` and measures top-1 on the full 10,000-image test set with `edgeq eval` (fast path):
#   FP32, FP16, BF16, dynamic INT8, static INT8 (minmax / percentile:99.99 / entropy / mse x per-tensor /
#   per-channel weights, QDQ), weight-only INT4 group 32 and 128, weight-only INT2 group 32.
# Columns: top-1, % of FP32, target met/missed (static INT8 >= 99.5 %, dynamic INT8 >= 99.7 %, weight-only INT4
# >= 99.0 % of FP32 top-1), file size, bits/weight (`edgeq quantize --json`), quantize and eval seconds, and
# PyTorch 1.13's numbers from $EDGEQ_SHARED/assets/fashion-mnist-models/README.md.
# Calibration: the first 512 Fashion-MNIST *training* images; mnist-8 has no MNIST training set in shared/,
# so it calibrates on the first 512 MNIST *test* images (said so in the table).
#
# Usage: scripts/ptq-results.sh [BUILD_DIR] [OUT.md]     (defaults: build, docs/results/ptq.md)
# Env:   EDGEQ_SHARED (default <repo>/../shared), PTQ_MODELS (subset, e.g. "lenet5 mlp3"), PTQ_THREADS (eval/quantize
#        threads, default: all cores).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
OUTMD=${2:-$ROOT/docs/results/ptq.md}
SHARED=${EDGEQ_SHARED:-$ROOT/../shared}
EDGEQ=$BUILD/edgeq
WORK=$BUILD/ptq-results
FM=$SHARED/assets/fashion-mnist-models
FDATA=/usr/share/datasets/fashion-mnist
MDATA=$SHARED/assets/datasets/mnist
FPRE=scale=0.00392156862745098,mean=0.2860,std=0.3530
THREADS=()
[ -n "${PTQ_THREADS:-}" ] && THREADS=(--threads "$PTQ_THREADS")
MODELS=(${PTQ_MODELS:-mnist-8 lenet5 mlp3 vgg_bn lstm})

[ -x "$EDGEQ" ] || { echo "ptq-results: $EDGEQ not built (cmake --build $BUILD --target edgeq)" >&2; exit 1; }
command -v jq >/dev/null 2>&1 || { echo "ptq-results: jq not found" >&2; exit 1; }
mkdir -p "$WORK" "$(dirname "$OUTMD")"

# model -> file, test images, labels, preprocess, calibration images, calibration note
model_setup() {
    case $1 in
    mnist-8)
        FILE=$SHARED/assets/onnx_models/mnist-8/model.onnx
        IMG=$MDATA/t10k-images-idx3-ubyte.gz LAB=$MDATA/t10k-labels-idx1-ubyte.gz PRE=scale=1,mean=0,std=1
        CALIB=$MDATA/t10k-images-idx3-ubyte.gz CALIB_NOTE="first 512 MNIST **test** images (no MNIST training set in shared/)"
        ;;
    *)
        FILE=$FM/$1.onnx
        IMG=$FDATA/t10k-images-idx3-ubyte.gz LAB=$FDATA/t10k-labels-idx1-ubyte.gz PRE=$FPRE
        CALIB=$FDATA/train-images-idx3-ubyte.gz CALIB_NOTE="first 512 Fashion-MNIST training images"
        ;;
    esac
}

# PyTorch 1.13 numbers from the models README's accuracy table: FP32, dynamic INT8, static INT8 (or empty).
pytorch_numbers() {
    local readme=$FM/README.md
    [ -f "$readme" ] || return 0
    awk -F'|' -v m="$1" '
        function num(s) { if (match(s, /[0-9]+\.[0-9]+ %/)) return substr(s, RSTART, RLENGTH - 2); return "" }
        $2 ~ "^ *" m " *$" && $4 ~ /%/ { print num($4) "|" num($7) "|" num($8); exit }' "$readme"
}

VARIANTS=(
    "FP32|"
    "FP16|--method fp16"
    "BF16|--method bf16"
    "dynamic INT8|--method dynamic --weights int8"
)
for cal in minmax percentile:99.99 entropy mse; do
    for g in tensor channel; do
        VARIANTS+=("static INT8 $cal per-$g|--method static --weights int8 --granularity $g --calibrator $cal --format qdq CALIB")
    done
done
VARIANTS+=(
    "weight-only INT4 g32|--method weight-only --weights int4 --granularity group:32"
    "weight-only INT4 g128|--method weight-only --weights int4 --granularity group:128"
    "weight-only INT2 g32|--method weight-only --weights int2 --granularity group:32"
)

pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", 100 * a / b }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 1e-9 >= b) }'; }
gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a > b + 1e-9) }'; }

ROWS=$WORK/rows.md
SUMMARY=$WORK/summary.md
: >"$ROWS"
: >"$SUMMARY"
NOTES=()
t_start=$(date +%s)
for m in "${MODELS[@]}"; do
    model_setup "$m"
    [ -f "$FILE" ] || { echo "ptq-results: $FILE missing (set EDGEQ_SHARED)" >&2; exit 1; }
    IFS='|' read -r pt_fp32 pt_dyn pt_static < <(pytorch_numbers "$m")
    NOTES+=("- **$m**: calibration on the $CALIB_NOTE; preprocess \`$PRE\`.")
    fp32_acc=
    fp32_esec=
    total_params=$("$EDGEQ" inspect --json "$FILE" | jq -r .graph.parameters)
    best_static= best_static_name= dyn_cov= dyn_pct= w4_pct= static_met=0 static_all=0
    for v in "${VARIANTS[@]}"; do
        name=${v%%|*}
        args=${v#*|}
        args=${args/CALIB/--calib $CALIB --preprocess $PRE --calib-samples 512}
        tag=$(echo "$name" | tr ' :' '__')
        qf=$WORK/$m-$tag.onnx
        qsec=
        bpw=
        wq=
        if [ -z "$args" ]; then
            qf=$FILE
            bpw=32
            wq="$total_params (all float32)"
        else
            t0=$(date +%s.%N)
            # shellcheck disable=SC2086
            if ! "$EDGEQ" quantize "$FILE" "$qf" $args "${THREADS[@]}" --json >"$WORK/$m-$tag.quantize.json" \
                    2>"$WORK/$m-$tag.quantize.err"; then
                err=$(tr '\n' ' ' <"$WORK/$m-$tag.quantize.err" | cut -c1-200)
                echo "| $m | $name | quantize failed: ${err//|/\\|} | | | | | | | | |" >>"$ROWS"
                echo "ptq-results: $m $name: quantize failed: $err" >&2
                continue
            fi
            qsec=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
            bpw=$(printf '%.2f' "$(jq -r .bits_per_weight "$WORK/$m-$tag.quantize.json")")
            wp=$(jq -r .weight_params "$WORK/$m-$tag.quantize.json")
            wq="$wp / $total_params ($(pct "$wp" "$total_params") %)"
        fi
        bytes=$(stat -c %s "$qf")
        if ! "$EDGEQ" eval "$qf" --data "$IMG" --labels "$LAB" --preprocess "$PRE" --json "${THREADS[@]}" \
                >"$WORK/$m-$tag.eval.json" 2>"$WORK/$m-$tag.eval.err"; then
            err=$(tr '\n' ' ' <"$WORK/$m-$tag.eval.err" | cut -c1-200)
            echo "| $m | $name | eval failed: ${err//|/\\|} | | | $bytes | $bpw | $wq | $qsec | | |" >>"$ROWS"
            echo "ptq-results: $m $name: eval failed: $err" >&2
            continue
        fi
        acc=$(jq -r .value "$WORK/$m-$tag.eval.json")
        esec=$(printf '%.1f' "$(jq -r .seconds "$WORK/$m-$tag.eval.json")")
        [ "$name" = FP32 ] && fp32_acc=$acc fp32_esec=$esec
        eslow=$(awk -v a="$esec" -v b="$fp32_esec" 'BEGIN { if (b > 0 && a / b >= 1.5) printf " (%.0f× FP32)", a / b }')
        accp=$(awk -v a="$acc" 'BEGIN { printf "%.2f %%", 100 * a }')
        rel=$(pct "$acc" "$fp32_acc")
        target=
        goal=
        case $name in
        "static INT8"*) goal=99.5 ;;
        "dynamic INT8") goal=99.7 ;;
        "weight-only INT4"*) goal=99.0 ;;
        esac
        if [ -n "$goal" ]; then
            if ge "$rel" "$goal"; then target="met (≥ $goal)"; else target="**missed** (< $goal)"; fi
        fi
        pt=
        case $name in
        FP32) [ -n "$pt_fp32" ] && pt="$pt_fp32 %" ;;
        "dynamic INT8") [ -n "$pt_dyn" ] && pt="$pt_dyn % ($(pct "$pt_dyn" "$pt_fp32") %)" ;;
        "static INT8"*per-channel) [ -n "$pt_static" ] && pt="$pt_static % ($(pct "$pt_static" "$pt_fp32") %)" ;;
        esac
        case $name in
        "static INT8"*)
            static_all=$((static_all + 1))
            ge "$rel" 99.5 && static_met=$((static_met + 1))
            if [ -z "$best_static" ] || gt "$rel" "$best_static"; then
                best_static=$rel best_static_name=${name#static INT8 }
            fi
            ;;
        "dynamic INT8") dyn_pct=$rel dyn_cov=$(pct "$wp" "$total_params") ;;
        "weight-only INT4 g32") w4_pct=$rel ;;
        esac
        echo "| $m | $name | $accp | $rel % | ${target:-—} | $bytes | $bpw | $wq | ${qsec:-—} | $esec$eslow | ${pt:-—} |" >>"$ROWS"
        echo "ptq-results: $m $name: $accp ($rel % of FP32) ${target} ${bytes} B ${bpw} b/w, quantize ${qsec:-0}s eval ${esec}s" >&2
    done
    pt_summary="—"
    [ -n "$pt_fp32" ] && pt_summary="$pt_fp32 % / ${pt_dyn:-—} % / ${pt_static:-—}${pt_static:+ %}"
    echo "| $m | $(awk -v a="$fp32_acc" 'BEGIN { printf "%.2f %%", 100 * a }') | ${dyn_pct:-—} % | ${best_static:-—} % (${best_static_name:-}) | $static_met / $static_all | ${w4_pct:-—} % | ${dyn_cov:-—} % | $pt_summary |" >>"$SUMMARY"
done
t_total=$(($(date +%s) - t_start))

commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$ROOT" status --porcelain --untracked-files=no -- src tools 2>/dev/null | wc -l)
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
{
    echo "# Post-training quantization accuracy (edgeq quantize + edgeq eval)"
    echo
    echo "Generated by \`scripts/ptq-results.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), checkout $commit$([ "$dirty" -gt 0 ] && echo " (+ $dirty uncommitted files under src/ tools/)"),"
    echo "edgeq binary $EDGEQ built $(date -u -r "$EDGEQ" '+%Y-%m-%d %H:%M UTC') (from the working tree of that time),"
    echo "machine: ${cpu:-unknown CPU}, $(nproc) CPUs, $(uname -sr); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "(a shared machine: the seconds columns are wall clock under that load). Total run: ${t_total} s."
    echo
    echo "Top-1 on the full 10,000-image test set (\`edgeq eval\`, fast path). % of FP32 = quantized top-1 / FP32 top-1."
    echo "Targets (issue 4): static INT8 ≥ 99.5 %, dynamic INT8 ≥ 99.7 %, weight-only INT4 ≥ 99.0 % of FP32."
    echo "Size = bytes of the ONNX file; bits/weight from \`edgeq quantize --json\` (scales and zero points included),"
    echo "counted over the weights the method converted; \"weights converted\" is that count (\`weight_params\`) against all"
    echo "parameters of the FP32 file (\`edgeq inspect --json\`): parameters not converted stay float32 in the file."
    echo "Eval s is \`edgeq eval\`'s own time for the 10,000 images (all cores); \"(N× FP32)\" marks rows ≥ 1.5× slower than FP32."
    echo "Static INT8 = QDQ format, int8 symmetric weights (per-tensor or per-channel), uint8 activations calibrated"
    echo "on 512 images with the named calibrator. Weight-only = int4/int2 group-wise weights with MSE clipping,"
    echo "float activations. PyTorch 1.13 = the numbers in the models' README (dynamic: per-tensor int8 Linear/LSTM"
    echo "only, convs stay FP32; static: eager mode, onednn, HistogramObserver, per-channel weights; shown in the"
    echo "per-channel static rows), with their % of PyTorch's FP32."
    echo
    echo "Calibration data:"
    printf '%s\n' "${NOTES[@]}"
    echo
    echo "## Summary"
    echo
    echo "| model | FP32 | dynamic INT8 (% of FP32) | best static INT8 (% of FP32) | static configs ≥ 99.5 % | INT4 g32 (% of FP32) | parameters converted by INT8/INT4 | PyTorch 1.13 FP32 / dynamic / static |"
    echo "|---|---|---|---|---|---|---|---|"
    cat "$SUMMARY"
    echo
    echo "## All rows"
    echo
    echo "| model | variant | top-1 | % of FP32 | target | size (bytes) | bits/weight | weights converted / all parameters | quantize s | eval s | PyTorch 1.13 |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|"
    cat "$ROWS"
} >"$OUTMD"
echo "ptq-results: wrote $OUTMD (${t_total} s)" >&2
