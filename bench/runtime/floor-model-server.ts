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
 *
 * CEILING_JSON=1 adds what no server of V2 JSON can skip, the cheapest way Node offers: each body's
 * JSON.parse, its row taken from the parsed numbers, and its own answer written as JSON (every output,
 * the row's values through String(), in the runtime's answer layout). No validation, no metrics.
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

const parseJson = process.env.CEILING_JSON === '1';
const V2_DATATYPES: Record<string, string> = { float32: 'FP32', float64: 'FP64', int64: 'INT64', int32: 'INT32', bool: 'BOOL' };

interface Waiting {
  readonly res: ServerResponse;
  /** The request's own row (CEILING_JSON), else undefined: a validation row stands in. */
  readonly row?: readonly number[];
}
const waiting: Waiting[] = [];
let running = false;

/** The row's own answer, in the runtime's JSON layout. */
function jsonAnswer(outputs: InferenceSession.OnnxValueMapType, row: number): string {
  let text = '{"model_name":"wide","model_version":"1","outputs":[';
  let first = true;
  for (const name of session.outputNames) {
    const tensor = outputs[name] as Tensor;
    const perRow = tensor.dims.slice(1).reduce((a, b) => a * Number(b), 1);
    const values = (tensor.data as Float32Array).subarray(row * perRow, (row + 1) * perRow);
    text += `${first ? '' : ','}{"name":"${name}","datatype":"${V2_DATATYPES[tensor.type] ?? tensor.type}","shape":[1${tensor.dims.slice(1).map((d) => `,${d}`).join('')}],"data":[${values.join(',')}]}`;
    first = false;
  }
  return `${text}]}`;
}

async function runBatches(): Promise<void> {
  running = true;
  while (waiting.length > 0) {
    const batch = waiting.splice(0, MAX_BATCH);
    const rows = new Float32Array(batch.length * features);
    for (let r = 0; r < batch.length; r++) {
      const own = batch[r]!.row;
      if (own) rows.set(own, r * features);
      else rows.set(samples.subarray((r % sampleRows) * features, ((r % sampleRows) + 1) * features), r * features);
    }
    const outputs = await session.run({ [inputName]: new Tensor('float32', rows, [batch.length, ...rowShape]) });
    for (let r = 0; r < batch.length; r++) {
      const { res } = batch[r]!;
      const answer = parseJson ? jsonAnswer(outputs, r) : body;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    }
  }
  running = false;
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => {
    if (parseJson) chunks.push(chunk);
  });
  req.on('end', () => {
    // A body-less GET is the benchmark's readiness check.
    const row = parseJson && chunks.length > 0
      ? (JSON.parse((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString()) as { inputs: { data: number[] }[] }).inputs[0]!.data
      : undefined;
    waiting.push({ res, ...(row && { row }) });
    // Everything that arrives before the check phase joins the first batch.
    if (!running) setImmediate(() => void runBatches());
    running = true;
  });
});
server.listen(Number(process.env.CEILING_PORT ?? 0), '127.0.0.1', () => console.log('ready'));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
