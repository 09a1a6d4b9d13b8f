import { expect } from 'chai';
import { gzipSync } from 'node:zlib';
import type { RunningRuntime } from '../../runtime/server.ts';
import { fraudRequest, modelPath, startTestRuntime } from './helpers.ts';

/** Status and body of one answer, whatever its content type. */
async function answer(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const response = await fetch(`${url}/v2/models/fraud/infer`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: response.status, body: await response.text() };
}

/**
 * Large JSON bodies go to the decoder thread (runtime/protocol/request-decoder.ts); small ones, and all
 * of them with MODELSHIP_DECODE_OFFLOAD_BYTES=0, decode on the main thread. Either way a client must get
 * the same answer, byte for byte, and the same refusals.
 */
describe('runtime: large JSON bodies decoded on the decoder thread answer as the main thread would', function () {
  this.timeout(60_000);
  let inline: RunningRuntime;
  let offloaded: RunningRuntime;

  before(async () => {
    const model = { modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud' };
    [inline, offloaded] = await Promise.all([
      startTestRuntime({ ...model, decodeOffloadBytes: '0' }),
      startTestRuntime({ ...model, decodeOffloadBytes: '1024' }),
    ]);
  });
  after(async () => {
    await Promise.all([inline?.close(), offloaded?.close()]);
  });

  const big = (seed: number, extra: Record<string, unknown> = {}) => JSON.stringify(fraudRequest(400, seed, extra));

  it('answers valid bodies, plain and gzipped, many at once, exactly as the main thread does', async () => {
    const bodies = Array.from({ length: 24 }, (_, i) => big(i, { id: `r${i}` }));
    expect(bodies[0]?.length).to.be.greaterThan(64 * 1024);
    const [expected, got] = await Promise.all([inline, offloaded].map((runtime) => Promise.all(bodies.map((body) => answer(runtime.url, body)))));
    for (const [i, response] of (got ?? []).entries()) {
      expect(response.status, response.body).to.equal(200);
      expect(response.body, `body ${i}`).to.equal(expected?.[i]?.body);
    }
    const gzipped = gzipSync(Buffer.from(bodies[3] as string));
    expect((await answer(offloaded.url, gzipped, { 'content-encoding': 'gzip' })).body).to.equal(expected?.[3]?.body);
  });

  it('refuses malformed bodies with the same 4xx status and message', async () => {
    const valid = big(7);
    const refused = [
      valid.slice(0, -10),
      valid.replace('"FP32"', '"INT32"'),
      valid.replace('"features"', '"other"'),
      valid.replace('[400,30]', '[399,30]'),
      `${valid.slice(0, -2)},"outputs":[{"name":"nope"}]}`,
      JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [4000, 30], data: Array(120_000).fill('x') }] }),
    ];
    for (const body of refused) {
      const [expected, got] = await Promise.all([answer(inline.url, body), answer(offloaded.url, body)]);
      expect(got.status, got.body).to.be.within(400, 499);
      expect(got).to.deep.equal(expected);
    }
    // And it still serves afterwards.
    expect((await answer(offloaded.url, valid)).status).to.equal(200);
  });
});
