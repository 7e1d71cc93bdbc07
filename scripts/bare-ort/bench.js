// Bare ONNX Runtime through onnxruntime-node: the model edgecam uses, one inference per period
// like edgecam's timer, on a fixed input (no capture, decode, letterbox or send). Prints the CPU
// of each run (process CPU around session.run, so every ORT thread counts), the CPU of the whole
// process per period (idle included, as edgecam's soak counts it) and the resident memory.
//
// Usage: node bench.js MODEL   (env: BARE_RUNS=60, BARE_PERIOD_MS=1000, BARE_THREADS=physical
// cores, BARE_SPINNING=0|1, BARE_ARENA=1|0, BARE_MEMPATTERN=0|1)
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function physicalCores() {
  const ids = new Set();
  for (const cpu of fs.readdirSync('/sys/devices/system/cpu').filter((d) => /^cpu\d+$/.test(d))) {
    try {
      const t = `/sys/devices/system/cpu/${cpu}/topology/`;
      ids.add(fs.readFileSync(t + 'physical_package_id', 'utf8').trim() + '/' + fs.readFileSync(t + 'core_id', 'utf8').trim());
    } catch (e) { /* offline CPU */ }
  }
  return Math.max(1, Math.min(ids.size || require('os').cpus().length, require('os').availableParallelism()));
}

function rssMB() {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

async function main() {
  const model = process.argv[2];
  if (!model) throw new Error('usage: node bench.js MODEL.onnx');
  const env = (k, d) => (process.env[k] === undefined || process.env[k] === '' ? d : Number(process.env[k]));
  const runs = env('BARE_RUNS', 60), period = env('BARE_PERIOD_MS', 1000);
  const threads = env('BARE_THREADS', physicalCores()), spin = String(env('BARE_SPINNING', 0));
  const opts = {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    enableCpuMemArena: env('BARE_ARENA', 1) === 1, enableMemPattern: env('BARE_MEMPATTERN', 0) === 1,
    extra: { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } },
  };
  const session = await ort.InferenceSession.create(model, opts);
  const name = session.inputNames[0];
  const meta = session.inputMetadata && session.inputMetadata[0];
  const dims = meta && meta.shape && meta.shape.every((d) => typeof d === 'number') ? meta.shape : [1, 3, 480, 640];
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(114 / 255);
  const feeds = { [name]: new ort.Tensor('float32', data, dims) };
  for (let i = 0; i < 3; i++) await session.run(feeds); // warm-up
  const perRun = [];
  const start = cpuMs(), t0 = Date.now();
  for (let i = 0; i < runs; i++) {
    const c = cpuMs();
    await session.run(feeds);
    perRun.push(cpuMs() - c);
    await sleep(Math.max(0, t0 + (i + 1) * period - Date.now()));
  }
  const total = cpuMs() - start;
  console.log(JSON.stringify({
    ort: ort.env.versions && ort.env.versions.common, threads, spinning: spin === '1', arena: opts.enableCpuMemArena,
    memPattern: opts.enableMemPattern, input: dims, runs, periodMs: period,
    cpuPerRunMsMedian: +median(perRun).toFixed(1), cpuPerRunMsMean: +(perRun.reduce((a, b) => a + b, 0) / runs).toFixed(1),
    cpuPerPeriodMs: +(total / runs).toFixed(1), rssMB: +rssMB().toFixed(1),
  }));
}

main().catch((e) => { console.error(e); process.exit(1); });
