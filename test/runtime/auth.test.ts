import { expect } from 'chai';
import { getJson, modelPath, postJson, startTestRuntime } from './helpers.ts';
import type { RunningRuntime } from '../../runtime/server.ts';

const token = 's3cret-token-for-tests';
const request = { inputs: [{ name: 'features', shape: [1, 30], datatype: 'FP32', data: new Array<number>(30).fill(0.1) }] };

describe('runtime: bearer token (MODELSHIP_AUTH_TOKEN, set by the operator from spec.security.authSecret)', () => {
  let runtime: RunningRuntime;
  const infer = () => `${runtime.url}/v2/models/fraud/infer`;

  before(async () => {
    runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', authToken: token });
  });
  after(async () => runtime?.close());

  it('refuses inference and metadata without a token: 401 JSON with WWW-Authenticate', async () => {
    const inferred = await postJson(infer(), request);
    expect(inferred.status).to.equal(401);
    expect(inferred.headers.get('www-authenticate')).to.match(/^Bearer/);
    expect(inferred.body.error).to.match(/missing bearer token/);
    expect((await getJson(`${runtime.url}/v2/models/fraud`)).status).to.equal(401);
    expect((await getJson(`${runtime.url}/v2`)).status).to.equal(401);
  });

  it('refuses a wrong token', async () => {
    const response = await postJson(infer(), request, { authorization: `Bearer ${token}x` });
    expect(response.status).to.equal(401);
    expect(response.body.error).to.equal('invalid bearer token');
  });

  it('serves with the right token', async () => {
    const response = await postJson<{ outputs: unknown[] }>(infer(), request, { authorization: `Bearer ${token}` });
    expect(response.status).to.equal(200);
    expect(response.body.outputs).to.have.length(2);
  });

  it('leaves probes and /metrics open for the kubelet and Prometheus', async () => {
    expect((await getJson(`${runtime.url}/v2/health/live`)).status).to.equal(200);
    expect((await getJson(`${runtime.url}/v2/health/ready`)).status).to.equal(200);
    expect((await fetch(`${runtime.url}/metrics`)).status).to.equal(200);
  });
});
