import { readFileSync } from 'node:fs';
import { InferenceSession, Tensor } from 'onnxruntime-node';

/**
 * Raw in-process onnxruntime: session.run in a loop at fixed batch sizes, no HTTP. Prints JSON.
 *   node --import tsx bench/runtime/raw.ts MODEL SAMPLES.f32 ROW_SHAPE DURATION_MS BATCH[,BATCH...]
 * ROW_SHAPE is one row's dims, e.g. 64 or 3x48x192.
 * Run as its own process so that its peak RSS is its own.
 */
const [modelPath, samplesPath, featuresArg, durationArg, batchesArg] = process.argv.slice(2);
const rowShape = (featuresArg as string).split('x').map(Number);
const features = rowShape.reduce((a, b) => a * b, 1);
const durationMs = Number(durationArg);
const samples = new Float32Array(readFileSync(samplesPath as string).buffer.slice(0));
const session = await InferenceSession.create(modelPath as string, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
const inputName = session.inputNames[0] as string;
const sampleRows = samples.length / features;

function batchOf(rows: number, offset: number): Float32Array {
  const out = new Float32Array(rows * features);
  for (let r = 0; r < rows; r++) {
    const source = ((offset + r) % sampleRows) * features;
    out.set(samples.subarray(source, source + features), r * features);
  }
  return out;
}

const results = [];
for (const batch of (batchesArg as string).split(',').map(Number)) {
  const inputs = Array.from({ length: 8 }, (_, i) => new Tensor('float32', batchOf(batch, i * 97), [batch, ...rowShape]));
  const warmupUntil = performance.now() + Math.min(500, durationMs / 4);
  while (performance.now() < warmupUntil) await session.run({ [inputName]: inputs[0] as Tensor });
  const latencies: number[] = [];
  const started = performance.now();
  let runs = 0;
  while (performance.now() - started < durationMs && runs < 1_000_000) {
    const t = performance.now();
    await session.run({ [inputName]: inputs[runs % inputs.length] as Tensor });
    latencies.push(performance.now() - t);
    runs++;
  }
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  results.push({
    batch,
    runsPerSecond: runs / seconds,
    rowsPerSecond: (runs * batch) / seconds,
    p50Ms: latencies[Math.floor(latencies.length / 2)],
    p99Ms: latencies[Math.floor(latencies.length * 0.99)],
  });
}

/** Labels for every sample row, for INT8-vs-FP32 agreement. */
const labelOutput = session.outputNames.includes('label') ? 'label' : undefined;
let labels: number[] = [];
if (labelOutput) {
  const all = await session.run({ [inputName]: new Tensor('float32', samples, [sampleRows, ...rowShape]) });
  labels = Array.from(all[labelOutput]?.data as BigInt64Array, Number);
}
console.log(JSON.stringify({ results, labels, peakRssBytes: process.resourceUsage().maxRSS * 1024 }));
