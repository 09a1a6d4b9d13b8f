import { expect } from 'chai';
import { modelPath, postJson, seededFloats, startTestRuntime, type V2InferResponse } from './helpers.ts';

/**
 * Binary tensor data is read in place where it lies aligned in the body, and copied where it does
 * not; large bodies are assembled so that it does. Whatever the layout, the answer must be the one
 * the same rows get as JSON.
 */
describe('runtime: binary tensor data at every byte alignment, small and large bodies, alone and batched', function () {
  this.timeout(60_000);

  it('answers every layout exactly as the same rows sent as JSON', async () => {
    const runtime = await startTestRuntime({ modelUri: modelPath('wide-mlp-fp32.onnx'), modelName: 'wide' });
    const infer = `${runtime.url}/v2/models/wide/infer`;
    try {
      for (const rows of [1, 128]) {
        const values = seededFloats(rows, rows * 64, 2);
        const expected = (await postJson<V2InferResponse>(infer, { inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 64], data: values }] })).body.outputs;
        const data = Buffer.from(new Float32Array(values).buffer);
        // Spaces after the JSON header move the data through all eight offsets modulo 8.
        const answers = await Promise.all(Array.from({ length: 8 }, async (_, padding) => {
          const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [rows, 64], parameters: { binary_data_size: data.length } }] }) + ' '.repeat(padding));
          const response = await fetch(infer, {
            method: 'POST', body: Buffer.concat([header, data]),
            headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
          });
          expect(response.status, `padding ${padding}`).to.equal(200);
          return ((await response.json()) as V2InferResponse).outputs;
        }));
        for (const [padding, outputs] of answers.entries()) expect(outputs, `${rows} rows, padding ${padding}`).to.deep.equal(expected);
      }
    } finally {
      await runtime.close();
    }
  });
});
