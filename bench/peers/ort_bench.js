// ONNX Runtime (onnxruntime-node) FP32 latency, the peer side of bench/onnx_bench.cpp.
//
// Usage: node ort_bench.js OUT.json MODEL_SPEC... [--threads 1,2] [--batches 1,64] [--runs1 300] [--runs64 40]
//                          [--rounds 5]
//   MODEL_SPEC = name=path.onnx=d1xd2x... (input shape without the batch dimension), e.g.
//                lenet5=../shared/assets/fashion-mnist-models/lenet5.onnx=1x28x28
// Session: intraOpNumThreads = threads, interOpNumThreads = 1, sequential, graph optimisation "all" (ORT
// defaults otherwise). Each (model, batch, threads): warm-up, then `rounds` rounds of `runs` timed
// `await session.run()` calls on one random input; reported p50/p90 are medians over the rounds of the per-round
// p50/p90 (wall clock, includes the ~0.02 ms N-API call). A batch the model refuses (fixed batch dimension)
// is recorded as not applicable with ORT's error.
// Module resolution: NODE_PATH or <repo>/.peers/node_modules (scripts/bench-onnx.sh installs it there).
'use strict';
const fs = require('fs');
const path = require('path');

let ortDir;
try {
  ortDir = path.dirname(require.resolve('onnxruntime-node/package.json'));
} catch (e) {
  ortDir = path.join(__dirname, '..', '..', '.peers', 'node_modules', 'onnxruntime-node');
}
const ort = require(ortDir);
const ortVersion = JSON.parse(fs.readFileSync(path.join(ortDir, 'package.json'), 'utf8')).version;

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}
const ints = (s) => s.split(',').map((x) => parseInt(x, 10));
const outFile = process.argv[2];
const specs = process.argv.slice(3).filter((a, i, all) => !a.startsWith('--') && !(i > 0 && all[i - 1].startsWith('--')));
const threadsList = ints(arg('--threads', '1,2'));
const batches = ints(arg('--batches', '1,64'));
const runs1 = parseInt(arg('--runs1', '300'), 10);
const runs64 = parseInt(arg('--runs64', '40'), 10);
const rounds = parseInt(arg('--rounds', '5'), 10);

function pct(sorted, p) {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round((p / 100) * (sorted.length - 1))));
  return sorted[i];
}
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
};

async function main() {
  const results = [];
  for (const spec of specs) {
    const [name, file, dims] = spec.split('=');
    const inner = dims.split('x').map((d) => parseInt(d, 10));
    for (const threads of threadsList) {
      const session = await ort.InferenceSession.create(file, {
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,  // errors only (ultraface's IR-3 initializer-as-input warnings are noise here)
      });
      const inputName = session.inputNames[0];
      for (const batch of batches) {
        const shape = [batch, ...inner];
        const n = shape.reduce((a, b) => a * b, 1);
        const data = new Float32Array(n);
        for (let i = 0; i < n; ++i) data[i] = Math.random() * 2 - 1;
        const feeds = { [inputName]: new ort.Tensor('float32', data, shape) };
        const row = { model: name, batch, threads };
        try {
          const runs = batch === 1 ? runs1 : runs64;
          for (let i = 0; i < Math.max(10, runs / 10); ++i) await session.run(feeds);
          const p50s = [], p90s = [];
          for (let r = 0; r < rounds; ++r) {
            const t = [];
            for (let i = 0; i < runs; ++i) {
              const t0 = process.hrtime.bigint();
              await session.run(feeds);
              t.push(Number(process.hrtime.bigint() - t0) / 1e6);
            }
            t.sort((a, b) => a - b);
            p50s.push(pct(t, 50));
            p90s.push(pct(t, 90));
          }
          row.p50_ms = median(p50s);
          row.p90_ms = median(p90s);
        } catch (e) {
          row.p50_ms = null;
          row.not_applicable = true;
          row.error = String(e.message || e).split('\n')[0];
        }
        results.push(row);
        process.stderr.write(`ort ${name} batch ${batch} threads ${threads}: ${row.p50_ms === null ? 'n/a' : row.p50_ms.toFixed(3) + ' ms'}\n`);
      }
      if (session.release) await session.release();
    }
  }
  fs.writeFileSync(outFile, JSON.stringify({ onnxruntime: ortVersion, results }, null, 1));
}

main().catch((e) => {
  console.error('ort_bench: ' + (e.stack || e));
  process.exit(1);
});
