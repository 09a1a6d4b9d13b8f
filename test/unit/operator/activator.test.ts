import { expect } from 'chai';
import type { V1EndpointSlice } from '@kubernetes/client-node';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { once } from 'node:events';
import { ActivatorMetrics } from '../../../operator/activator/metrics.ts';
import type { ReadyEndpoints } from '../../../operator/activator/ready-endpoints.ts';
import { ACTIVATOR_SLICE_MANAGER, readyEndpointsOf, SERVICE_NAME_LABEL, SLICE_MANAGER_LABEL, type Endpoint } from '../../../operator/activator/slices.ts';
import { drainable } from '../../../operator/activator/drain.ts';
import { createActivatorServer, HELD_HEADER } from '../../../operator/activator/server.ts';
import { targetOf, type Target } from '../../../operator/activator/target.ts';
import { createLogger } from '../../../operator/logging.ts';

const portOf = (server: Server) => (server.address() as AddressInfo).port;

/** The model's pods as the activator sees them, switched on by the test: none until `start`. */
class ModelPods implements Pick<ReadyEndpoints, 'serviceOf' | 'whenReady'> {
  private ready: Endpoint[] = [];
  private waiters: ((endpoints: Endpoint[]) => void)[] = [];
  serviceOf(target: Target): string | undefined {
    if (target.kind === 'service' && target.namespace === 'fraud' && target.name === 'detector') return 'fraud/detector';
    if (target.kind === 'clusterIP' && target.ip === '10.96.0.20') return 'fraud/detector';
    return undefined;
  }
  whenReady(_service: string, signal: AbortSignal): Promise<Endpoint[]> {
    if (this.ready.length) return Promise.resolve(this.ready);
    return new Promise((resolve, reject) => {
      this.waiters.push(resolve);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
  start(endpoint: Endpoint): void {
    this.ready = [endpoint];
    for (const waiter of this.waiters.splice(0)) waiter(this.ready);
  }
}

describe('activator: holds requests for a model scaled to zero until a pod is ready', () => {
  let model: Server;
  let activator: Server;
  let pods: ModelPods;
  let metrics: ActivatorMetrics;
  const seen: { method?: string; url?: string; host?: string; body: string }[] = [];

  beforeEach(async () => {
    seen.length = 0;
    model = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, host: req.headers.host, body: Buffer.concat(chunks).toString() });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ model_name: 'detector', outputs: [] }));
      });
    }).listen(0, '127.0.0.1');
    await once(model, 'listening');
    pods = new ModelPods();
    metrics = new ActivatorMetrics();
    activator = createActivatorServer(pods, metrics, { holdMs: 1_500, maxBodyBytes: 1024 }, createLogger('silent')).listen(0, '127.0.0.1');
    await once(activator, 'listening');
  });

  afterEach(() => {
    model.close();
    activator.close();
  });

  /** A V2 request through the activator with this Host (fetch cannot set Host). */
  const send = (host: string, body = '{"inputs":[]}', port = portOf(activator)) => new Promise<{ status: number; held: number; json: () => unknown }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/v2/models/detector/infer', headers: { host, 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, held: Number(res.headers[HELD_HEADER]), json: () => JSON.parse(Buffer.concat(chunks).toString()) }));
    });
    req.on('error', reject);
    req.end(body);
  });
  const pending = async () => (await metrics.pending.get()).values.reduce((sum, value) => sum + value.value, 0);

  it('holds the request while no pod is ready, counts it as pending, then sends it on as it came and says how long it waited', async () => {
    const answer = send('detector.fraud.svc.cluster.local:8080');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await pending(), 'held and pending').to.equal(1);
    expect(seen).to.have.length(0);
    pods.start({ address: '127.0.0.1', port: portOf(model) });
    const response = await answer;
    expect(response.status).to.equal(200);
    expect(response.json()).to.deep.equal({ model_name: 'detector', outputs: [] });
    expect(response.held).to.be.at.least(150);
    expect(seen).to.deep.equal([{ method: 'POST', url: '/v2/models/detector/infer', host: 'detector.fraud.svc.cluster.local:8080', body: '{"inputs":[]}' }]);
    expect(await pending()).to.equal(0);
  });

  it('sends a request on at once when a pod is ready, whether the Host names the Service or its cluster IP', async () => {
    pods.start({ address: '127.0.0.1', port: portOf(model) });
    for (const host of ['detector.fraud', '10.96.0.20:8080']) {
      const response = await send(host);
      expect(response.status, host).to.equal(200);
      expect(response.held).to.be.below(1_000);
    }
  });

  it('answers 503 with a message when no pod is ready within the hold time, and no longer counts the request', async () => {
    const response = await send('detector.fraud');
    expect(response.status).to.equal(503);
    expect((response.json() as { error: string }).error).to.equal('model fraud/detector has no ready pod after 2 s: it is scaled to zero and did not start in time');
    expect(await pending()).to.equal(0);
    expect(seen).to.have.length(0);
  });

  it('when told to stop, takes no new connection but answers the requests it holds once the model\'s pod is ready (a rolling update of the activator)', async () => {
    const drain = drainable(activator);
    const held = send('detector.fraud');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(drain.inFlight).to.equal(1);
    const port = portOf(activator);
    const closing = drain.close(5_000);
    const refused = await send('detector.fraud', undefined, port).then(() => 'answered', (error: NodeJS.ErrnoException) => error.code);
    expect(refused, 'a new connection').to.equal('ECONNREFUSED');
    pods.start({ address: '127.0.0.1', port: portOf(model) });
    expect((await held).status).to.equal(200);
    expect(await closing, 'drained').to.equal(true);
  });

  it('gives up on the requests it holds after the time it is given to stop', async () => {
    const drain = drainable(activator);
    const held = send('detector.fraud');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await drain.close(300), 'drained').to.equal(false);
    expect(drain.inFlight).to.equal(1);
    expect((await held).status, 'then its own hold time ends it').to.equal(503);
  });

  it('refuses what it cannot place or hold: a Host without a namespace (400), a Service that is not a model (404), a body over the limit (413)', async () => {
    const bare = await send('detector');
    expect(bare.status).to.equal(400);
    expect((bare.json() as { error: string }).error).to.match(/cannot tell the model's namespace from Host "detector"/);
    const other = await send('kubernetes.default');
    expect(other.status).to.equal(404);
    expect((other.json() as { error: string }).error).to.equal('no Modelship model Service is addressed by Host "kubernetes.default"');
    const large = await send('detector.fraud', 'x'.repeat(2_000));
    expect(large.status).to.equal(413);
    expect(await pending()).to.equal(0);
  });
});

describe('activator: which pods of a Service are ready, and which Service a Host names', () => {
  const slice = (manager: string, endpoints: V1EndpointSlice['endpoints'], port = 8080): V1EndpointSlice => ({
    addressType: 'IPv4',
    metadata: { namespace: 'fraud', name: `detector-${manager}`, labels: { [SERVICE_NAME_LABEL]: 'detector', [SLICE_MANAGER_LABEL]: manager } },
    ports: [{ name: 'http', port, protocol: 'TCP' }, { name: 'grpc', port: 8081, protocol: 'TCP' }],
    endpoints,
  });

  it('takes ready, not terminating pods from the Service\'s own slices, at the port its http port leads to, never the activator\'s slice', () => {
    const ready = readyEndpointsOf([
      slice('endpointslice-controller.k8s.io', [
        { addresses: ['10.88.0.5'], conditions: { ready: true } },
        { addresses: ['10.88.0.6'], conditions: { ready: false } },
        { addresses: ['10.88.0.7'], conditions: { ready: true, terminating: true } },
      ]),
      slice(ACTIVATOR_SLICE_MANAGER, [{ addresses: ['10.88.0.100'], conditions: { ready: true } }], 8012),
    ], 'http');
    expect(ready).to.deep.equal([{ address: '10.88.0.5', port: 8080 }]);
  });

  it('reads the Service from its DNS name or cluster IP', () => {
    expect(targetOf('detector.fraud.svc.cluster.local:8080')).to.deep.equal({ kind: 'service', namespace: 'fraud', name: 'detector' });
    expect(targetOf('detector.fraud')).to.deep.equal({ kind: 'service', namespace: 'fraud', name: 'detector' });
    expect(targetOf('10.96.0.20:8080')).to.deep.equal({ kind: 'clusterIP', ip: '10.96.0.20' });
    expect(targetOf('[fd00::20]:8080')).to.deep.equal({ kind: 'clusterIP', ip: 'fd00::20' });
    expect(targetOf(undefined).kind).to.equal('unknown');
  });
});
