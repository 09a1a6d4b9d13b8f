import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { plane } from '../integration/context.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { GrpcTestClient } from '../runtime/grpc-client.ts';
import { fraudRequest, REPO_ROOT } from '../runtime/helpers.ts';
import { eventually } from '../support/eventually.ts';
import { installOptionalCrds } from '../support/optional-crds.ts';
import { type OperatorProcess } from '../support/operator-process.ts';
import { startTraefikGateway, type RunningTraefik, type TraefikGateway } from '../support/traefik.ts';
import { leaveNamespace, modelDigest, prepareNamespace } from './cluster.ts';
import { startLoad, type Answer } from './load.ts';

interface Status {
  stableRevision?: string;
  candidateRevision?: string;
  weights?: { stable: number; candidate: number };
  rollout?: { phase?: string };
  conditions?: { type: string; status: string; reason: string; message: string }[];
}

const VERSION_FILES = { '1': 'fraud-fp32.onnx', '2': 'fraud-int8-qdq.onnx' } as const;

/**
 * Gateway API routing proven with a real proxy: Traefik v3 (built from its Go module, run on this
 * machine against the plane like an in-cluster gateway controller) routes real requests to the real
 * node's pods by the HTTPRoute the operator writes, and its route status comes back into the
 * ModelDeployment's TrafficRouting condition.
 */
describe('real node: Gateway API routing through Traefik, under real traffic', function () {
  this.timeout(15 * 60_000);
  const namespace = `gateway-${Date.now().toString(36)}`;
  let gatewayClass = '';
  let gateway: TraefikGateway | undefined;
  const kubectl = (args: string[], stdin?: string) => plane().running.kubectl(args, stdin);
  const status = async (name: string): Promise<Status> =>
    (JSON.parse(await kubectl(['get', 'md', name, '-n', namespace, '-o', 'json'])) as { status?: Status }).status ?? {};
  const condition = (s: Status, type: string) => s.conditions?.find((c) => c.type === type);
  let operator: OperatorProcess | undefined;
  let traefik: RunningTraefik | undefined;

  const modelDeployment = (name: string, version: keyof typeof VERSION_FILES, extra: Record<string, unknown>) => ({
    apiVersion: 'modelship.io/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name, namespace },
    spec: {
      model: { uri: `http://models.modelship-system.svc:8000/${VERSION_FILES[version]}`, sha256: modelDigest(VERSION_FILES[version]), version },
      runtime: { resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '1Gi' } } },
      traffic: { router: 'GatewayAPI', gateways: ['public'] },
      ...extra,
    },
  });

  before(async () => {
    // The CRDs first, so the operator finds the Gateway API installed when it starts.
    await installOptionalCrds(kubectl, 'gateway-api');
    operator = await prepareNamespace(kubectl, namespace, 'operator-gateway');
    gateway = await startTraefikGateway(kubectl, plane().kubeconfigPath, plane().running.dataDir, namespace);
    traefik = gateway.traefik;
    gatewayClass = gateway.className;
  });

  // Traefik's log goes with the plane's data dir: a failed test prints what Traefik said about the
  // test's routes (whether it built a route's latest generation, and its status writes).
  afterEach(async function () {
    if (this.currentTest?.state !== 'failed' || !traefik) return;
    const lines = (await readFile(traefik.logFile, 'utf8').catch(() => '')).split('\n');
    const relevant = lines.filter((line) => (line.includes(namespace) || /error|conflict|status/i.test(line)) && !line.includes('appending dashboard')).slice(-80);
    console.log(`      --- Traefik's log (${relevant.length} of ${lines.length} lines: this namespace, errors, status) ---\n${relevant.join('\n')}`);
    const operatorLines = (operator?.logs ?? []).filter((entry) => entry.namespace === namespace || JSON.stringify(entry).includes(namespace)).slice(-60);
    console.log(`      --- the operator's log (${operatorLines.length} lines of this namespace) ---\n${operatorLines.map((entry) => JSON.stringify(entry)).join('\n')}`);
  });

  after(async () => {
    await leaveNamespace(kubectl, namespace, operator);
    await gateway?.stop();
  });

  /** Waits until the MD's pods are Ready and Traefik has accepted its routes, as status says. */
  async function untilRouted(name: string, weights: Status['weights'], extra: (s: Status) => void = () => {}): Promise<Status> {
    return eventually(async () => {
      const s = await status(name);
      expect(condition(s, 'Ready')?.status, JSON.stringify(s)).to.equal('True');
      expect(condition(s, 'TrafficRouting'), JSON.stringify(s)).to.include({ status: 'True', reason: 'GatewayAPIRouting' });
      expect(s.weights, JSON.stringify(s)).to.deep.equal(weights);
      extra(s);
      return s;
    }, { timeoutMs: 240_000, intervalMs: 1_000 });
  }

  /**
   * A new model routed (as status says) and answered through Traefik: Traefik can load the route
   * before the Service's endpoints (it rebuilds its configuration at most every 2 s), and answers
   * "no available server" meanwhile.
   */
  async function untilServing(name: string): Promise<void> {
    await untilRouted(name, { stable: 100, candidate: 0 });
    const routedAt = Date.now();
    const body = JSON.stringify(fraudRequest(1, 7));
    await eventually(async () => {
      const response = await fetch(`${traefik!.url}/v2/models/${name}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(10_000) });
      expect(response.status, await response.text()).to.equal(200);
    }, { timeoutMs: 60_000, intervalMs: 200 });
    console.log(`      ${name}: first answer through Traefik ${((Date.now() - routedAt) / 1000).toFixed(1)} s after status said routed`);
  }

  /** Answers sent from `after` on, once at least `count` are in (the load keeps running). */
  async function windowOf(answers: Answer[], after: number, count: number): Promise<Answer[]> {
    return eventually(async () => {
      const window = answers.filter((a) => a.sentAt >= after);
      expect(window.length).to.be.at.least(count);
      return window;
    }, { timeoutMs: 180_000, intervalMs: 500 });
  }

  const shareOf = (answers: Answer[], version: string) => (100 * answers.filter((a) => a.version === version).length) / answers.length;

  it('examples/gateway-api-canary.yaml: the gateway splits real requests by the weight status reports, and after promotion only the new version answers; no request fails', async () => {
    // The example as it is (its Gateway is "public" of the namespace), then the next model version.
    const example = (loadAll(readFileSync(join(REPO_ROOT, 'examples', 'gateway-api-canary.yaml'), 'utf8')) as { metadata: { name: string }; spec: Record<string, unknown> }[])[0]!;
    const name = example.metadata.name;
    const canary = Object.fromEntries(Object.entries(example.spec).filter(([key]) => key !== 'model'));
    expect(canary.rollout, 'the example\'s first step').to.deep.include({ canary: { steps: [{ weight: 20, pause: '5m' }, { weight: 60, pause: '5m' }] } });
    await kubectl(['apply', '-n', namespace, '-f', join(REPO_ROOT, 'examples', 'gateway-api-canary.yaml')]);
    await untilServing(name);
    const load = startLoad(`${traefik!.url}/v2/models/${name}/infer`, { concurrency: 4, maxSeconds: 420, perSecond: 200 });
    const marks: [string, number][] = [];
    try {
      await sleep(2_000);
      const changedAt = Date.now();
      marks.push(['spec changed', changedAt]);
      await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment(name, '2', canary)));
      await untilRouted(name, { stable: 80, candidate: 20 }, (s) => expect(s.candidateRevision).to.be.a('string'));
      marks.push(['status 80/20', Date.now()]);
      // Traefik applies a route change within its refresh: measure from a little after status says so.
      const split = await windowOf(load.answers, Date.now() + 2_000, 2_000);
      if (split.some((a) => a.status !== 200)) console.log(`      Traefik has loaded ${await traefik!.loaded()}`);
      const candidateShare = shareOf(split, '2');
      console.log(`      20% step: ${split.length} requests through Traefik, ${candidateShare.toFixed(1)}% answered by the candidate`);
      expect(candidateShare, 'candidate share at the 20% step').to.be.within(18, 22);

      marks.push(['promote', Date.now()]);
      await kubectl(['annotate', 'md', name, '-n', namespace, 'modelship.io/promote=full']);
      const promoted = await untilRouted(name, { stable: 100, candidate: 0 }, (s) => expect(s.candidateRevision).to.equal(undefined));
      const after = await windowOf(load.answers, Date.now() + 2_000, 500);
      expect(new Set(after.map((a) => a.version)), `${after.length} answers after promotion to ${promoted.stableRevision}`).to.deep.equal(new Set(['2']));
      // The V2 gRPC port goes through the GRPCRoute on the same listener (h2c to Traefik and on to the pods).
      const grpc = new GrpcTestClient(`127.0.0.1:${traefik!.port}`);
      try {
        const input = fraudRequest(1, 7).inputs as { data: number[] }[];
        for (let i = 0; i < 20; i += 1) {
          const answer = await grpc.call('ModelInfer', {
            model_name: name, inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 30], contents: { fp32_contents: input[0]!.data } }],
          });
          expect(answer.model_version, 'gRPC answer after promotion').to.equal('2');
        }
      } finally {
        grpc.close();
      }
    } finally {
      const answers = await load.stop();
      const failed = answers.filter((a) => a.status !== 200);
      console.log(`      ${answers.length} requests, ${failed.length} failed${failed.length ? `: ${JSON.stringify(failed.slice(0, 3))}` : ''}`);
      const start = answers[0]?.sentAt ?? 0;
      if (failed.length) console.log(`      timeline (s): ${marks.map(([what, at]) => `${what} ${((at - start) / 1000).toFixed(1)}`).join(', ')}; failures sent at ${[...new Set(failed.map((a) => ((a.sentAt - start) / 1000).toFixed(1)))].join(' ')}`);
      expect(failed, 'failed requests through the gateway').to.deep.equal([]);
      await kubectl(['delete', 'md', name, '-n', namespace, '--wait=true']);
    }
  });

  /** Runs `during` under a bounded load through the gateway; returns the answers, none of which may have failed. */
  async function underLoad(name: string, during: (answers: Answer[]) => Promise<void>): Promise<Answer[]> {
    const load = startLoad(`${traefik!.url}/v2/models/${name}/infer`, { concurrency: 4, maxSeconds: 300, perSecond: 200 });
    try {
      await sleep(1_000);
      await during(load.answers);
    } finally {
      await load.stop();
    }
    const failed = load.answers.filter((a) => a.status !== 200);
    console.log(`      ${load.answers.length} requests, ${failed.length} failed${failed.length ? `: ${JSON.stringify(failed.slice(0, 3))}` : ''}`);
    expect(failed.length, `failed requests: ${JSON.stringify(failed.slice(0, 3))}`).to.equal(0);
    return load.answers;
  }

  it('blue/green: the new version waits behind its preview while every request gets the old one, then takes them all at promotion; no request fails', async () => {
    const name = 'fraud-bluegreen';
    const blueGreen = { replicas: 1, rollout: { strategy: 'BlueGreen', blueGreen: { autoPromote: false } } };
    await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment(name, '1', blueGreen)));
    await untilServing(name);
    await underLoad(name, async (answers) => {
      await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment(name, '2', blueGreen)));
      await untilRouted(name, { stable: 100, candidate: 0 }, (s) => expect(s.rollout?.phase).to.equal('WaitingForPromotion'));
      const previewing = await windowOf(answers, Date.now(), 400);
      expect(new Set(previewing.map((a) => a.version)), 'while the new version waits in preview').to.deep.equal(new Set(['1']));
      await kubectl(['annotate', 'md', name, '-n', namespace, 'modelship.io/promote=true']);
      await untilRouted(name, { stable: 100, candidate: 0 }, (s) => expect(s.candidateRevision).to.equal(undefined));
      const promoted = await windowOf(answers, Date.now() + 2_000, 400);
      expect(new Set(promoted.map((a) => a.version)), 'after promotion').to.deep.equal(new Set(['2']));
    });
    await kubectl(['delete', 'md', name, '-n', namespace, '--wait=true']);
  });

  it('a canary aborted at its step: every request goes back to the stable version at once; no request fails', async () => {
    const name = 'fraud-abort';
    const canary = { replicas: 1, rollout: { strategy: 'Canary', canary: { steps: [{ weight: 50, pause: '1h' }] } } };
    await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment(name, '1', canary)));
    await untilServing(name);
    await underLoad(name, async (answers) => {
      await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment(name, '2', canary)));
      await untilRouted(name, { stable: 50, candidate: 50 });
      const split = await windowOf(answers, Date.now() + 2_000, 400);
      expect(shareOf(split, '2'), 'the candidate\'s share at the 50% step').to.be.within(45, 55);
      await kubectl(['annotate', 'md', name, '-n', namespace, 'modelship.io/abort=true']);
      await untilRouted(name, { stable: 100, candidate: 0 }, (s) => expect(s.rollout?.phase).to.equal('Aborted'));
      const aborted = await windowOf(answers, Date.now() + 2_000, 400);
      expect(new Set(aborted.map((a) => a.version)), 'after the abort').to.deep.equal(new Set(['1']));
    });
    await kubectl(['delete', 'md', name, '-n', namespace, '--wait=true']);
  });

  it('an A/B test: the header and the cookie reach the candidate, every other request the stable version', async () => {
    const name = 'fraud-ab';
    const abTest = { replicas: 1, rollout: { strategy: 'ABTest', abTest: { header: { name: 'x-variant', value: 'b' }, cookie: { name: 'variant', value: 'b' } } } };
    await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment(name, '1', abTest)));
    await untilServing(name);
    await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment(name, '2', abTest)));
    // Matches reach the candidate once it is ready: the rollout then waits for promotion.
    await untilRouted(name, { stable: 100, candidate: 0 }, (s) => expect(s.rollout?.phase).to.equal('WaitingForPromotion'));
    await sleep(2_000);
    const versions = async (headers: Record<string, string>, count: number) => {
      const seen: string[] = [];
      for (let i = 0; i < count; i += 1) {
        const response = await fetch(`${traefik!.url}/v2/models/${name}/infer`, {
          method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(fraudRequest(1, i)), signal: AbortSignal.timeout(10_000),
        });
        const body = (await response.json()) as { model_version?: string; error?: string };
        seen.push(response.ok ? String(body.model_version) : `${response.status} ${body.error}`);
      }
      return seen;
    };
    expect(new Set(await versions({ 'x-variant': 'b' }, 100))).to.deep.equal(new Set(['2']));
    expect(new Set(await versions({ cookie: 'session=1; variant=b' }, 100))).to.deep.equal(new Set(['2']));
    expect(new Set(await versions({}, 100))).to.deep.equal(new Set(['1']));
    expect(new Set(await versions({ 'x-variant': 'a', cookie: 'variant=bb' }, 100))).to.deep.equal(new Set(['1']));
    await kubectl(['delete', 'md', name, '-n', namespace, '--wait=true']);
  });

  it('in an HTTPRoute the user owns (traffic.httpRouteRef): a canary through the model\'s own rules while the owner edits theirs; deleting the model takes out only its rules', async () => {
    const name = 'fraud-shared';
    const routeName = 'shop';
    // The owner's route: its Gateway, a host name and a redirect of their own, none of which the operator may touch.
    const ownersRule = { name: 'legacy', matches: [{ path: { type: 'PathPrefix', value: '/legacy' } }], filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'moved.example.com', statusCode: 302 } }] };
    await kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: routeName, namespace, labels: { team: 'shop' } },
      spec: { parentRefs: [{ name: 'public' }], rules: [ownersRule] },
    }));
    const route = async () => JSON.parse(await kubectl(['get', 'httproute', routeName, '-n', namespace, '-o', 'json'])) as { metadata: { labels?: Record<string, string>; ownerReferences?: unknown[] }; spec: { parentRefs: unknown[]; rules: { name?: string; filters?: unknown[] }[] } };
    const ownersAsStored = (await route()).spec.rules;
    const legacy = async () => (await fetch(`${traefik!.url}/legacy`, { redirect: 'manual', signal: AbortSignal.timeout(10_000) })).status;
    const shared = { replicas: 1, traffic: { router: 'GatewayAPI', httpRouteRef: { name: routeName } }, rollout: { strategy: 'Canary', canary: { steps: [{ weight: 50, pause: '1h' }] } } };
    await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment(name, '1', shared)));
    try {
      await sharedRouteRollout();
    } finally {
      // While the operator runs: its finalizer would hold the namespace's deletion after it stops.
      await kubectl(['delete', 'md', name, '-n', namespace, '--ignore-not-found', '--wait=true', '--timeout=60s']).catch(() => undefined);
    }
    expect(await kubectl(['get', 'md', '-n', namespace, '-o', 'name']), 'the deletion completes once the rules are out').to.not.contain(name);
    const left = await route();
    expect(left.spec.rules, 'only the owner\'s rule is left').to.deep.equal([{ ...ownersAsStored[0], filters: [{ type: 'RequestRedirect', requestRedirect: { hostname: 'moved.example.com', statusCode: 301 } }] }]);
    expect(left.metadata.labels).to.deep.equal({ team: 'shop' });
    expect(await legacy()).to.equal(301);
    await eventually(async () => {
      const response = await fetch(`${traefik!.url}/v2/models/${name}/infer`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(10_000) });
      expect(response.status, 'the model\'s path once its rules are gone').to.equal(404);
    }, { timeoutMs: 30_000, intervalMs: 500 });

    async function sharedRouteRollout() {
      await untilServing(name);
      expect((await route()).spec.rules.map((rule) => rule.name)).to.deep.equal(['legacy', `modelship-${name}`]);
      expect((await route()).metadata.ownerReferences, 'the route stays its owner\'s').to.equal(undefined);
      await underLoad(name, async (answers) => {
        await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment(name, '2', shared)));
        await untilRouted(name, { stable: 50, candidate: 50 });
        // Traefik applies a route it has reported on within its providersThrottleDuration (2 s).
        const split = await windowOf(answers, Date.now() + 2_000, 1_000);
        const candidateShare = shareOf(split, '2');
        console.log(`      50% step in the owner's route: ${split.length} requests, ${candidateShare.toFixed(1)}% answered by the candidate`);
        expect(candidateShare, 'the candidate\'s share at the 50% step').to.be.within(45, 55);
        // The owner changes their redirect meanwhile (a JSON patch of their rule, as kubectl edit would).
        await kubectl(['patch', 'httproute', routeName, '-n', namespace, '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/rules/0/filters/0/requestRedirect/statusCode', value: 301 }])]);
        await kubectl(['annotate', 'md', name, '-n', namespace, 'modelship.io/promote=full']);
        await untilRouted(name, { stable: 100, candidate: 0 }, (s) => expect(s.candidateRevision).to.equal(undefined));
        const promoted = await windowOf(answers, Date.now() + 2_000, 400);
        expect([...new Set(promoted.map((a) => a.version))], 'after promotion').to.deep.equal(['2']);
      });
      const edited = (await route()).spec.rules.find((rule) => rule.name === 'legacy');
      expect(edited?.filters, 'the owner\'s edit stays').to.deep.equal([{ type: 'RequestRedirect', requestRedirect: { hostname: 'moved.example.com', statusCode: 301 } }]);
      expect(await legacy()).to.equal(301);
    }
  });

  it('a mirror Traefik cannot apply (its GatewayClass does not list HTTPRouteRequestMirror) is left out and said so: stable keeps answering, no request fails', async () => {
    const name = 'fraud-mirror';
    const mirror = { replicas: 1, rollout: { strategy: 'Mirror', mirror: { percent: 100 } } };
    await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment(name, '1', mirror)));
    await untilServing(name);
    await kubectl(['apply', '-f', '-'], JSON.stringify(modelDeployment(name, '2', mirror)));
    const s = await eventually(async () => {
      const current = await status(name);
      expect(current.rollout?.phase, JSON.stringify(current)).to.equal('WaitingForPromotion');
      expect(condition(current, 'TrafficRouting'), JSON.stringify(current)).to.include({ status: 'False', reason: 'GatewayFeatureUnsupported' });
      return current;
    }, { timeoutMs: 240_000, intervalMs: 1_000 });
    expect(condition(s, 'TrafficRouting')?.message).to.equal(`GatewayClass ${gatewayClass} does not support HTTPRouteRequestMirror: the candidate gets no mirrored requests`);
    const load = startLoad(`${traefik!.url}/v2/models/${name}/infer`, { concurrency: 2, maxSeconds: 60, maxRequests: 300 });
    await eventually(async () => expect(load.answers.length).to.be.at.least(300), { timeoutMs: 90_000, intervalMs: 500 });
    const answers = await load.stop();
    const failed = answers.filter((a) => a.status !== 200);
    expect(failed.length, `failed requests: ${JSON.stringify(failed.slice(0, 3))}`).to.equal(0);
    expect(new Set(answers.map((a) => a.version))).to.deep.equal(new Set(['1']));
    await kubectl(['delete', 'md', name, '-n', namespace, '--wait=true']);
  });
});
