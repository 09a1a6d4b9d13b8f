import { expect } from 'chai';
import type { RunningRuntime } from '../../runtime/server.ts';
import { fraudRequest, getJson, modelPath, postJson, startTestRuntime } from './helpers.ts';

const RPS = 2;
const BURST = 4;

describe('runtime: per-client rate limit (MODELSHIP_RATE_LIMIT_RPS / _BURST, token bucket per bearer token)', () => {
  let runtime: RunningRuntime;
  before(async () => {
    runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', rateLimitRps: String(RPS), rateLimitBurst: String(BURST) });
  });
  after(() => runtime.close());

  const infer = (token: string) => postJson(`${runtime.url}/v2/models/fraud/infer`, fraudRequest(1, 1), { authorization: `Bearer ${token}` });

  it('a client past its burst gets 429 with Retry-After and a JSON error; another client is unaffected; probes stay open', async () => {
    const started = performance.now();
    const statuses: number[] = [];
    const refusals: Array<Awaited<ReturnType<typeof infer>>> = [];
    for (let i = 0; i < BURST + 4; i++) {
      const answer = await infer('client-a');
      statuses.push(answer.status);
      if (answer.status === 429) refusals.push(answer);
    }
    const elapsedSeconds = (performance.now() - started) / 1000;
    const served = statuses.filter((status) => status === 200).length;
    expect(statuses.filter((status) => status !== 200 && status !== 429), 'only 200 or 429').to.deep.equal([]);
    expect(statuses.slice(0, BURST), 'the burst is served').to.deep.equal(Array(BURST).fill(200));
    // Beyond the burst, only what the bucket refilled meanwhile (however slow this machine is).
    expect(served).to.be.at.most(BURST + Math.ceil(elapsedSeconds * RPS));
    expect(refusals.length).to.be.greaterThan(0);
    expect(Number(refusals[0]?.headers.get('retry-after'))).to.be.at.least(1);
    expect(refusals[0]?.body.error).to.match(/rate limit exceeded: 2 requests per second per client/);

    expect((await infer('client-b')).status, 'a different token has its own bucket').to.equal(200);
    expect((await getJson(`${runtime.url}/v2/health/ready`)).status, 'probes are never limited').to.equal(200);
  });
});
