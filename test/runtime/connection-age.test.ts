import { expect } from 'chai';
import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { fraudRequest, modelPath, startTestRuntime } from './helpers.ts';

interface Sent { connection: string | undefined; localPort: number | undefined }

/** One request over `agent`: the answer's Connection header and the client port (same port, same connection). */
function infer(url: string, agent: Agent): Promise<Sent> {
  const body = JSON.stringify(fraudRequest(1, 3));
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v2/models/fraud/infer`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ connection: res.headers.connection, localPort: req.socket?.localPort }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('runtime: keep-alive connections have a maximum age (MODELSHIP_MAX_CONNECTION_AGE_SECONDS)', function () {
  this.timeout(30_000);

  it('closes a keep-alive connection after its first answer past the age, and the client\'s next request opens a new one', async () => {
    const runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', maxConnectionAgeSeconds: '1' });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await infer(runtime.url, agent);
      const second = await infer(runtime.url, agent);
      expect(first.connection).to.equal('keep-alive');
      expect(second, 'the same young connection is kept').to.deep.equal(first);
      await sleep(1_100);
      const old = await infer(runtime.url, agent);
      expect(old.connection, 'past its age').to.equal('close');
      const next = await infer(runtime.url, agent);
      expect(next.connection).to.equal('keep-alive');
      expect(next.localPort, 'a new connection').to.not.equal(first.localPort);
    } finally {
      agent.destroy();
      await runtime.close();
    }
  });

  it('keeps connections open with 0', async () => {
    const runtime = await startTestRuntime({ modelUri: modelPath('fraud-fp32.onnx'), modelName: 'fraud', maxConnectionAgeSeconds: '0' });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await infer(runtime.url, agent);
      await sleep(1_100);
      const later = await infer(runtime.url, agent);
      expect(later).to.deep.equal(first);
      expect(later.connection).to.equal('keep-alive');
    } finally {
      agent.destroy();
      await runtime.close();
    }
  });
});
