// ONNX Runtime side of tests/interop/ort_qdq_interop.sh: runs an (edgeq-quantized) ONNX classifier in
// onnxruntime-node on an IDX image set and compares ORT's argmax per image with edgeq's own logits.
//
// Usage:
//   node ort_qdq.js prep IMAGES.idx3.gz OUT_DIR --preprocess S,M,D [--chunk 1000]
//       Preprocesses the images like `edgeq eval --preprocess scale=S,mean=M,std=D` (x = (pixel*S - M)/D,
//       float32) and writes OUT_DIR/x_000.npy, x_001.npy, ... ([chunk, 1, rows, cols] each, the last one shorter).
//   node ort_qdq.js compare MODEL.onnx IMAGES.idx3.gz LABELS.idx1.gz EDGEQ_DIR --preprocess S,M,D [--batch 500]
//       Runs MODEL in ORT (1 thread, batch 500) on all images and reads edgeq's logits from
//       EDGEQ_DIR/out_000/<output>.npy, out_001/..., the outputs of `edgeq run` on the x_NNN.npy chunks.
//       Prints one JSON line: {model, count, ort_top1, edgeq_top1, agreement, disagree} (fractions in 0..1).
// Exit: 0 the comparison ran; 2 ORT refused the model (its error is printed on stderr, prefixed "ORT error:");
//       1 anything else (bad files, size mismatch).
// Module resolution: NODE_PATH or <repo>/.peers/node_modules (the interop script installs it there).
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

function die(msg, code = 1) {
  process.stderr.write(`ort_qdq.js: ${msg}\n`);
  process.exit(code);
}

function readIdx(file) {
  let buf = fs.readFileSync(file);
  if (file.endsWith('.gz')) buf = zlib.gunzipSync(buf);
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0 || buf[2] !== 0x08) die(`${file}: not a uint8 IDX file`);
  const ndim = buf[3];
  const dims = [];
  for (let i = 0; i < ndim; ++i) dims.push(buf.readUInt32BE(4 + 4 * i));
  const off = 4 + 4 * ndim;
  const n = dims.reduce((a, b) => a * b, 1);
  if (buf.length - off !== n) die(`${file}: ${buf.length - off} data bytes, header says ${n}`);
  return {dims, data: buf.subarray(off)};
}

function parsePre(s) {
  const v = (s || '1,0,1').split(',').map(Number);
  if (v.length !== 3 || v.some((x) => !Number.isFinite(x)) || v[2] === 0) die(`bad --preprocess '${s}' (want S,M,D)`);
  return v;
}

// Float32 arithmetic step by step, the way a C++ float loop computes (pixel*S - M)/D.
function preprocess(images, pre) {
  const [s, m, d] = pre.map(Math.fround);
  const out = new Float32Array(images.data.length);
  for (let i = 0; i < out.length; ++i) out[i] = Math.fround(Math.fround(Math.fround(images.data[i] * s) - m) / d);
  return out;
}

function writeNpy(file, shape, f32) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(pre);
  pre.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(f32.buffer, f32.byteOffset, f32.byteLength)]));
}

function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.readUInt32BE(0) !== 0x934e554d) die(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const hoff = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', hoff, hoff + hlen);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) die(`${file}: want little-endian C-order float32, header ${header.trim()}`);
  const shape = header.match(/'shape':\s*\(([^)]*)\)/)[1].split(',').map((x) => x.trim()).filter((x) => x).map(Number);
  const start = hoff + hlen;
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + start, buf.byteOffset + buf.length));
  return {shape, data};
}

function argmaxRows(data, n, k, out, at) {
  for (let i = 0; i < n; ++i) {
    let best = 0;
    for (let j = 1; j < k; ++j)
      if (data[i * k + j] > data[i * k + best]) best = j;
    out[at + i] = best;
  }
}

function prep() {
  const [images, outDir] = process.argv.slice(3, 5);
  const chunk = parseInt(arg('--chunk', '1000'), 10);
  const im = readIdx(images);
  const [n, rows, cols] = im.dims;
  const x = preprocess(im, parsePre(arg('--preprocess')));
  fs.mkdirSync(outDir, {recursive: true});
  const per = rows * cols;
  let files = 0;
  for (let b = 0; b < n; b += chunk, ++files) {
    const m = Math.min(chunk, n - b);
    writeNpy(path.join(outDir, `x_${String(files).padStart(3, '0')}.npy`), [m, 1, rows, cols], x.subarray(b * per, (b + m) * per));
  }
  console.log(files);
}

async function compare() {
  const [modelFile, images, labelsFile, edgeqDir] = process.argv.slice(3, 7);
  const batch = parseInt(arg('--batch', '500'), 10);
  let ortDir;
  try {
    ortDir = path.dirname(require.resolve('onnxruntime-node/package.json'));
  } catch (e) {
    ortDir = path.join(__dirname, '..', '..', '.peers', 'node_modules', 'onnxruntime-node');
  }
  const ort = require(ortDir);
  const im = readIdx(images);
  const lb = readIdx(labelsFile);
  const [n, rows, cols] = im.dims;
  if (lb.dims[0] !== n) die(`${labelsFile}: ${lb.dims[0]} labels for ${n} images`);
  const x = preprocess(im, parsePre(arg('--preprocess')));
  const per = rows * cols;

  let session;
  try {
    session = await ort.InferenceSession.create(modelFile, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
  } catch (e) {
    process.stderr.write(`ORT error: InferenceSession.create(${path.basename(modelFile)}): ${e.message}\n`);
    process.exit(2);
  }
  const inName = session.inputNames[0];
  const outName = session.outputNames[0];
  const ortPred = new Int32Array(n);
  for (let b = 0; b < n; b += batch) {
    const m = Math.min(batch, n - b);
    const feed = {[inName]: new ort.Tensor('float32', x.slice(b * per, (b + m) * per), [m, 1, rows, cols])};
    let out;
    try {
      out = (await session.run(feed))[outName];
    } catch (e) {
      process.stderr.write(`ORT error: run(${path.basename(modelFile)}, images ${b}..${b + m - 1}): ${e.message}\n`);
      process.exit(2);
    }
    const k = out.dims[out.dims.length - 1];
    if (out.data.length !== m * k) die(`ORT output ${outName} has ${out.data.length} values for batch ${m}`);
    argmaxRows(out.data, m, k, ortPred, b);
  }

  const eqPred = new Int32Array(n);
  let got = 0;
  for (let c = 0; got < n; ++c) {
    const f = path.join(edgeqDir, `out_${String(c).padStart(3, '0')}`, `${outName}.npy`);
    if (!fs.existsSync(f)) die(`${f} missing (edgeq has ${got} of ${n} predictions)`);
    const t = readNpy(f);
    const k = t.shape[t.shape.length - 1];
    const m = t.data.length / k;
    if (got + m > n) die(`${f}: more edgeq predictions than images`);
    argmaxRows(t.data, m, k, eqPred, got);
    got += m;
  }

  let agree = 0, ortOk = 0, eqOk = 0;
  const disagree = [];
  for (let i = 0; i < n; ++i) {
    if (ortPred[i] === eqPred[i]) ++agree;
    else if (disagree.length < 10) disagree.push(i);
    if (ortPred[i] === lb.data[i]) ++ortOk;
    if (eqPred[i] === lb.data[i]) ++eqOk;
  }
  console.log(JSON.stringify({
    model: path.basename(modelFile),
    count: n,
    ort_top1: ortOk / n,
    edgeq_top1: eqOk / n,
    agreement: agree / n,
    first_disagreements: disagree,
  }));
}

const cmd = process.argv[2];
if (cmd === 'prep') prep();
else if (cmd === 'compare') compare().catch((e) => die(e.stack || String(e)));
else die('usage: node ort_qdq.js prep|compare ... (see the header of this file)');
