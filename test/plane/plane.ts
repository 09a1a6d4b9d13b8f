import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { Agent, request, type AgentOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { FRONT_PROXY_CLIENT, generatePki, type PlanePki } from './pki.ts';
import { freePorts } from './ports.ts';
import { SupervisedProcess } from './supervised-process.ts';

const run = promisify(execFile);
const here = new URL('.', import.meta.url).pathname;

export interface PlaneOptions {
  /** Number of simulated (KWOK) nodes to register (default 2; 0 where a real node takes the pods). */
  nodes?: number;
  /** Where to print progress; silent when omitted. */
  log?: (line: string) => void;
  /** Keep the data directory after stop (for debugging). */
  keepData?: boolean;
}

export interface RunningPlane {
  server: string;
  kubeconfigPath: string;
  binDir: string;
  dataDir: string;
  /** The cluster CA's certificate: the kubelet trusts client certificates it signed. */
  caCertPath: string;
  /** Stops kube components and etcd; the apiserver alone can be restarted with restartApiserver(). */
  stop(): Promise<void>;
  /**
   * Stops kube-apiserver, keeps it down at least `downMs` and until `whileDown` settles, starts it
   * again on the same port and data, as an outage would; resolves once it is ready.
   */
  restartApiserver(downMs?: number, whileDown?: () => Promise<void>): Promise<void>;
  /** The same for etcd (same ports and data dir); resolves once etcd and the apiserver are ready again. */
  restartEtcd(downMs?: number, whileDown?: () => Promise<void>): Promise<void>;
  kubectl(args: string[], input?: string): Promise<string>;
}

/** Builds (or reuses from cache) the plane's binaries and returns their directory. */
export async function ensureBinaries(log?: (line: string) => void): Promise<string> {
  log?.('building/locating control-plane binaries (first build takes several minutes)');
  const { stdout } = await run('bash', [join(here, 'build.sh')], { maxBuffer: 16 * 1024 * 1024 });
  const lines = stdout.trim().split('\n');
  const bin = lines[lines.length - 1];
  if (!bin) throw new Error('test/plane/build.sh printed no bin directory');
  return bin;
}

/**
 * Starts genuine etcd, kube-apiserver, kube-controller-manager, kube-scheduler and KWOK on
 * loopback, registers simulated nodes, and resolves once /readyz answers ok and the nodes are Ready.
 */
export async function startPlane(options: PlaneOptions = {}): Promise<RunningPlane> {
  const log = options.log ?? (() => {});
  const binDir = await ensureBinaries(log);
  const dataDir = await mkdtemp(join(tmpdir(), 'modelship-plane-'));
  const bin = (name: string) => join(binDir, name);
  const logFile = (name: string) => join(dataDir, `${name}.log`);
  const processes: SupervisedProcess[] = [];
  const started = Date.now();

  const [etcdClient, etcdPeer, apiPort, kcmPort, schedPort, kwokPort] = await freePorts(6);
  const pki = await generatePki(dataDir);
  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfigPath = join(dataDir, 'kubeconfig');
  await writeFile(kubeconfigPath, await kubeconfigYaml(server, pki));

  const stopAll = async () => {
    for (const proc of [...processes].reverse()) await proc.stop();
    if (!options.keepData) await rm(dataDir, { recursive: true, force: true });
  };

  try {
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcdArgs = [
      '--name=default', `--data-dir=${join(dataDir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync', '--log-level=warn', '--quota-backend-bytes=4294967296',
    ];
    const startEtcd = () => {
      log(`starting etcd on ${etcdUrl}`);
      const proc = new SupervisedProcess('etcd', bin('etcd'), etcdArgs, logFile('etcd'));
      processes.unshift(proc);
      return proc;
    };
    let etcd = startEtcd();

    const apiserverArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1', `--secure-port=${apiPort}`, '--advertise-address=127.0.0.1',
      '--endpoint-reconciler-type=none',
      `--tls-cert-file=${pki.servingCert}`, `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      '--service-cluster-ip-range=10.0.0.0/16',
      '--authorization-mode=RBAC', '--allow-privileged=true',
      // kubectl logs/exec through a real node's kubelet (which trusts the cluster CA).
      `--kubelet-client-certificate=${pki.adminCert}`, `--kubelet-client-key=${pki.adminKey}`, '--kubelet-preferred-address-types=InternalIP',
      // The aggregation layer (APIService: metrics.k8s.io from metrics-server, external.metrics.k8s.io
      // from KEDA), routed to the endpoint's address: the plane runs without kube-proxy unless a real node does.
      `--requestheader-client-ca-file=${pki.frontProxyCaCert}`, `--requestheader-allowed-names=${FRONT_PROXY_CLIENT}`,
      '--requestheader-username-headers=X-Remote-User', '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${pki.frontProxyClientCert}`, `--proxy-client-key-file=${pki.frontProxyClientKey}`,
      '--enable-aggregator-routing=true',
      '--profiling=false', '--v=1',
    ];
    const startApiserver = () => {
      log(`starting kube-apiserver on ${server}`);
      const proc = new SupervisedProcess('kube-apiserver', bin('kube-apiserver'), apiserverArgs, logFile('kube-apiserver'));
      processes.splice(1, 0, proc);
      return proc;
    };
    const stopProcess = async (proc: SupervisedProcess) => {
      await proc.stop();
      const index = processes.indexOf(proc);
      if (index >= 0) processes.splice(index, 1);
    };
    let apiserver = startApiserver();
    await Promise.race([waitForHealthy(`${server}/readyz`, await adminTls(pki), 120_000), apiserver.crashed()]);
    log(`kube-apiserver ready after ${((Date.now() - started) / 1000).toFixed(1)}s`);

    const common = [`--kubeconfig=${kubeconfigPath}`, '--bind-address=127.0.0.1', '--leader-elect=false'];
    processes.push(new SupervisedProcess('kube-controller-manager', bin('kube-controller-manager'), [
      ...common, `--secure-port=${kcmPort}`,
      `--service-account-private-key-file=${pki.serviceAccountKey}`, `--root-ca-file=${pki.caCert}`,
      '--use-service-account-credentials=false', '--allocate-node-cidrs=false',
      '--controllers=*,-node-ipam-controller',
      // Short horizons so tests see scale decisions and garbage collection promptly.
      '--horizontal-pod-autoscaler-sync-period=5s', '--concurrent-gc-syncs=20',
      // The default 20 QPS client would make Deployment → ReplicaSet → Pod the bottleneck of the scale benchmark.
      '--kube-api-qps=200', '--kube-api-burst=400',
    ], logFile('kube-controller-manager')));
    processes.push(new SupervisedProcess('kube-scheduler', bin('kube-scheduler'), [
      ...common, `--secure-port=${schedPort}`,
    ], logFile('kube-scheduler')));
    processes.push(new SupervisedProcess('kwok', bin('kwok'), [
      `--kubeconfig=${kubeconfigPath}`, `--config=${bin('kwok-stages.yaml')}`,
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      '--cidr=10.244.0.0/16', '--node-ip=10.1.0.1',
      `--server-address=127.0.0.1:${kwokPort}`,
    ], logFile('kwok')));

    const kubectl = async (args: string[], input?: string): Promise<string> => {
      const child = run(bin('kubectl'), [`--kubeconfig=${kubeconfigPath}`, ...args], { maxBuffer: 64 * 1024 * 1024 });
      if (input !== undefined) child.child.stdin?.end(input);
      const { stdout } = await child;
      return stdout;
    };

    const components = processes.slice(2);
    await Promise.race([
      Promise.all([
        waitForHealthy(`https://127.0.0.1:${kcmPort}/healthz`, { rejectUnauthorized: false }, 60_000),
        waitForHealthy(`https://127.0.0.1:${schedPort}/healthz`, { rejectUnauthorized: false }, 60_000),
      ]),
      ...components.map((proc) => proc.crashed()),
    ]);
    const simulatedNodes = options.nodes ?? 2;
    if (simulatedNodes > 0) {
      await registerNodes(kubectl, simulatedNodes);
      log('waiting for simulated nodes to become Ready');
      await kubectl(['wait', '--for=condition=Ready', 'node', '--all', '--timeout=120s']);
    }
    log(`control plane up in ${((Date.now() - started) / 1000).toFixed(1)}s (data in ${dataDir})`);

    return {
      server, kubeconfigPath, binDir, dataDir, kubectl, caCertPath: pki.caCert,
      stop: stopAll,
      async restartApiserver(downMs = 2_000, whileDown = async () => {}) {
        await stopProcess(apiserver);
        try {
          await Promise.all([sleep(downMs), whileDown()]);
        } finally {
          apiserver = startApiserver();
          await Promise.race([waitForHealthy(`${server}/readyz`, await adminTls(pki), 120_000), apiserver.crashed()]);
        }
      },
      async restartEtcd(downMs = 2_000, whileDown = async () => {}) {
        await stopProcess(etcd);
        try {
          await Promise.all([sleep(downMs), whileDown()]);
        } finally {
          etcd = startEtcd();
          await Promise.race([waitForHealthy(`${etcdUrl}/health`, {}, 60_000), etcd.crashed()]);
          await Promise.race([waitForHealthy(`${server}/readyz`, await adminTls(pki), 120_000), apiserver.crashed(), etcd.crashed()]);
        }
      },
    };
  } catch (error) {
    const tails = await Promise.all(processes.map(async (p) => `--- ${p.name} ---\n${await tail(p.logFile)}`));
    await stopAll();
    throw new Error(`control plane failed to start: ${(error as Error).message}\n${tails.join('\n')}`, { cause: error });
  }
}

async function registerNodes(kubectl: RunningPlane['kubectl'], count: number): Promise<void> {
  const nodes = Array.from({ length: count }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: `kwok-node-${i}`,
      annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
      labels: { 'kubernetes.io/hostname': `kwok-node-${i}`, 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64', type: 'kwok' },
    },
    status: {
      allocatable: { cpu: '64', memory: '256Gi', pods: '500' },
      capacity: { cpu: '64', memory: '256Gi', pods: '500' },
    },
  }));
  await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: nodes }));
}

async function kubeconfigYaml(server: string, pki: PlanePki): Promise<string> {
  const b64 = async (file: string) => (await readFile(file)).toString('base64');
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'modelship-test', cluster: { server, 'certificate-authority-data': await b64(pki.caCert) } }],
    users: [{ name: 'admin', user: { 'client-certificate-data': await b64(pki.adminCert), 'client-key-data': await b64(pki.adminKey) } }],
    contexts: [{ name: 'modelship-test', context: { cluster: 'modelship-test', user: 'admin' } }],
    'current-context': 'modelship-test',
  }, null, 2);
}

async function adminTls(pki: PlanePki): Promise<AgentOptions> {
  return { ca: await readFile(pki.caCert), cert: await readFile(pki.adminCert), key: await readFile(pki.adminKey) };
}

async function waitForHealthy(url: string, tls: AgentOptions, timeoutMs: number): Promise<void> {
  const secure = url.startsWith('https:');
  const agent = secure ? new Agent({ ...tls, keepAlive: false }) : undefined;
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = await new Promise<string>((resolve) => {
      const req = (secure ? request : httpRequest)(url, { ...(agent && { agent }), timeout: 2_000 }, (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve(res.statusCode === 200 ? 'ok' : `${res.statusCode} ${body.slice(0, 200)}`));
      });
      req.on('error', (err) => resolve(err.message));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
    if (last === 'ok') return;
    await sleep(250);
  }
  throw new Error(`${url} not ok after ${timeoutMs}ms: ${last}`);
}

async function tail(file: string, lines = 15): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
