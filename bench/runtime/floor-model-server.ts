import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { InferenceSession, Tensor } from 'onnxruntime-node';

/**
 * The ceiling for a server that runs the model: the floor (fixed answer, no parsing) plus the model's
 * own work for every row, batched as well as anything can batch it. Requests that arrive in one I/O
 * poll share one session.run on the main thread (one row each, from the validation rows), then all get
 * the fixed answer. No decode, no encode, no validation, no metrics: what is left when a server does
 * nothing but HTTP and the model.
 *   CEILING_MODEL=path CEILING_SAMPLES=rows.f32 CEILING_FEATURES=64 CEILING_RESPONSE_FILE=path CEILING_PORT=port \
 *   [CEILING_ROW_SHAPE=3x48x192] CEILING_INTRA_OP_THREADS=n node --import tsx bench/runtime/floor-model-server.ts
 * CEILING_FEATURES is the number of elements in a row; CEILING_ROW_SHAPE its shape (default: [features]).
 */
const body = readFileSync(process.env.CEILING_RESPONSE_FILE ?? '');
const features = Number(process.env.CEILING_FEATURES);
const rowShape = process.env.CEILING_ROW_SHAPE ? process.env.CEILING_ROW_SHAPE.split('x').map(Number) : [features];
const samples = new Float32Array(readFileSync(process.env.CEILING_SAMPLES ?? '').buffer.slice(0));
const intraOpThreads = Number(process.env.CEILING_INTRA_OP_THREADS ?? 0);
const session = await InferenceSession.create(process.env.CEILING_MODEL ?? '', {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  extra: { session: { intra_op: { allow_spinning: '0' } } },
  ...(intraOpThreads > 0 ? { intraOpNumThreads: intraOpThreads } : {}),
});
const inputName = session.inputNames[0] as string;
const MAX_BATCH = 256;
const sampleRows = Math.min(MAX_BATCH, samples.length / features);

const waiting: ServerResponse[] = [];
let running = false;

async function runBatches(): Promise<void> {
  running = true;
  while (waiting.length > 0) {
    const batch = waiting.splice(0, MAX_BATCH);
    const rows = new Float32Array(batch.length * features);
    for (let r = 0; r < batch.length; r++) rows.set(samples.subarray((r % sampleRows) * features, ((r % sampleRows) + 1) * features), r * features);
    await session.run({ [inputName]: new Tensor('float32', rows, [batch.length, ...rowShape]) });
    for (const res of batch) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
      res.end(body);
    }
  }
  running = false;
}

const server = createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    waiting.push(res);
    // Everything that arrives before the check phase joins the first batch.
    if (!running) setImmediate(() => void runBatches());
    running = true;
  });
});
server.listen(Number(process.env.CEILING_PORT ?? 0), '127.0.0.1', () => console.log('ready'));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
