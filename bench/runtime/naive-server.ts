import { createServer } from 'node:http';
import { InferenceSession, Tensor } from 'onnxruntime-node';

/**
 * The baseline: a plain node:http server that calls session.run once per request (JSON in, JSON
 * out, no batching, no validation beyond what JSON.parse and onnxruntime do).
 *   NAIVE_MODEL=path NAIVE_PORT=port node --import tsx bench/runtime/naive-server.ts
 */
const session = await InferenceSession.create(process.env.NAIVE_MODEL ?? '', { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
const inputName = session.inputNames[0] as string;

interface Request {
  inputs: Array<{ shape: number[]; data: number[] }>;
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    void (async () => {
      try {
        const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Request;
        const input = request.inputs[0] as Request['inputs'][number];
        const results = await session.run({ [inputName]: new Tensor('float32', Float32Array.from(input.data), input.shape) });
        const outputs = Object.entries(results).map(([name, tensor]) => ({
          name, shape: tensor.dims, data: Array.from(tensor.data as Float32Array, Number),
        }));
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ outputs }));
      } catch (error) {
        res.statusCode = 400;
        res.end(JSON.stringify({ error: (error as Error).message }));
      }
    })();
  });
});
server.listen(Number(process.env.NAIVE_PORT ?? 0), '127.0.0.1', () => console.log('ready'));
process.once('SIGTERM', () => server.close(() => process.exit(0)));
