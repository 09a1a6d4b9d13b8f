import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePorts } from './ports.ts';
import { SupervisedProcess } from './supervised-process.ts';
import { startTcpRelay, type TcpRelay } from '../support/tcp-relay.ts';
import { writeOciArchive } from './oci-archive.ts';
import type { RunningPlane } from './plane.ts';

const run = promisify(execFile);
const here = new URL('.', import.meta.url).pathname;

/**
 * One real node per machine: its bridge, pod subnet and iptables rules are the machine's, so a second
 * node would fight the first. The owner file names the live node; a crashed run's leftovers are
 * cleaned up by the next start.
 */
const OWNER_FILE = '/run/modelship-node/owner.json';
const BRIDGE = 'msnode0';
const POD_SUBNET = '10.89.0.0/24';
/** The bridge's own address: the pods' gateway, and where cluster DNS listens for them. */
const GATEWAY = '10.89.0.1';
export const REAL_NODE_NAME = 'real-node';
/** The pod sandbox image, made locally from the build's pause program (no registry is reachable). */
const PAUSE_IMAGE = 'modelship.local/pause:1';
const CONTAINERD_NAMESPACE = 'k8s.io';
/** The kubelet refuses a loopback node IP: the node is known by its bridge address (kubelet API, kube-proxy). */
const NODE_IP = GATEWAY;
const SYSCTLS = ['net/ipv4/ip_forward', 'net/bridge/bridge-nf-call-iptables'] as const;

export interface RealNode {
  name: string;
  /** This machine's address on the pods' bridge: a server listening there is reachable from pods and from here. */
  hostAddress: string;
  /** Makes an image from a root filesystem and loads it into the node's containerd, as a registry pull would. */
  loadImage(image: { name: string; layers: string[]; config: OciImageConfig }): Promise<void>;
  /** Stops everything the node started and removes what it left: containers, mounts, netns, rules, cgroups. */
  stop(): Promise<void>;
  /** Log files of the node's components, by name. */
  logs: Record<string, string>;
}

export interface OciImageConfig {
  user?: string;
  env?: Record<string, string>;
  entrypoint?: string[];
  cmd?: string[];
  workdir?: string;
  exposedPorts?: string[];
  labels?: Record<string, string>;
}

interface Owner { pid: number; dir: string; sysctls: Record<string, string> }

/** Builds (or reuses from cache) the node's binaries and returns their directory. */
export async function ensureNodeBinaries(log?: (line: string) => void): Promise<string> {
  log?.('building/locating the real node\'s binaries (first build takes several minutes)');
  const { stdout } = await run('bash', [join(here, 'build-node.sh')], { maxBuffer: 16 * 1024 * 1024 });
  const bin = stdout.trim().split('\n').pop();
  if (!bin) throw new Error('test/plane/build-node.sh printed no bin directory');
  return bin;
}

/** What the node needs from the machine; a missing piece is an error that says how to get it. */
async function checkHost(): Promise<void> {
  await run('bash', [join(here, '..', '..', 'scripts', 'requirements.sh'), '--real-node']).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`the real node cannot start here: ${(error.stderr ?? error.message).trim()}`);
  });
  if (!existsSync('/proc/sys/net/bridge')) {
    await run('modprobe', ['br_netfilter']).catch(() => undefined);
    if (!existsSync('/proc/sys/net/bridge')) throw new Error('the kernel has no br_netfilter: pods could not reach Services');
  }
}

/**
 * Starts containerd (runc), CoreDNS, kube-proxy and a kubelet that joins `plane` as node
 * `real-node`: pods scheduled there run as real containers on a bridge network, reachable from this
 * machine by pod IP and through Services (kube-proxy, iptables), and resolve `<svc>.<ns>.svc`.
 */
export async function startRealNode(plane: RunningPlane, options: { log?: (line: string) => void } = {}): Promise<RealNode> {
  const log = options.log ?? (() => {});
  await checkHost();
  const binDir = await ensureNodeBinaries(log);
  await cleanupStaleNode(log);
  // Short: containerd's socket path must stay under the 108 bytes of a unix socket name.
  const dir = await mkdtemp('/tmp/msn-');
  const sysctls: Record<string, string> = {};
  for (const key of SYSCTLS) sysctls[key] = (await readFile(`/proc/sys/${key}`, 'utf8')).trim();
  await mkdir(join(OWNER_FILE, '..'), { recursive: true });
  await writeFile(OWNER_FILE, JSON.stringify({ pid: process.pid, dir, sysctls } satisfies Owner));

  const processes: SupervisedProcess[] = [];
  const logs: Record<string, string> = {};
  let apiserverForPods: TcpRelay | undefined;
  const start = (name: string, file: string, args: string[], env?: NodeJS.ProcessEnv) => {
    logs[name] = join(dir, `${name}.log`);
    const proc = new SupervisedProcess(name, file, args, logs[name], env);
    processes.push(proc);
    return proc;
  };
  const stop = async () => {
    await apiserverForPods?.close();
    for (const proc of [...processes].reverse()) {
      if (proc.name === 'containerd') await removeContainers(dir);
      await proc.stop();
    }
    await cleanupNode({ pid: process.pid, dir, sysctls }, binDir);
  };

  try {
    for (const key of SYSCTLS) await writeFile(`/proc/sys/${key}`, '1');
    await sh(`ip link add ${BRIDGE} type bridge && ip addr add ${GATEWAY}/24 dev ${BRIDGE} && ip link set ${BRIDGE} up`);
    const [kubeletPort, kubeletHealthz, proxyHealthz, proxyMetrics, dnsReady] = await freePorts(5);
    const socket = join(dir, 'containerd.sock');
    await writeNodeConfig(dir, socket);

    const containerd = start('containerd', join(binDir, 'containerd'), ['--config', join(dir, 'containerd.toml')],
      { PATH: `${binDir}:/usr/sbin:/usr/bin:/sbin:/bin` });
    await Promise.race([waitFor(() => existsSync(socket), 30_000, 'containerd socket'), containerd.crashed()]);
    const ctr = (args: string[]) => run(join(binDir, 'ctr'), ['--address', socket, '--namespace', CONTAINERD_NAMESPACE, ...args], { maxBuffer: 16 * 1024 * 1024 });
    const loadImage: RealNode['loadImage'] = async (image) => {
      const archive = join(dir, `image-${Date.now()}.tar`);
      // A reference pinned by digest is looked up by the kubelet as repository@digest, tag dropped.
      const name = image.name.includes('@') ? image.name.replace(/:[^/@]+@/, '@') : image.name;
      await writeOciArchive({ ...image, name, out: archive, scratch: join(dir, 'oci') });
      try {
        await ctr(['images', 'import', '--no-unpack=false', archive]);
      } finally {
        await rm(archive, { force: true });
      }
    };
    await loadImage({ name: PAUSE_IMAGE, layers: [await pauseRoot(dir, binDir)], config: { entrypoint: ['/pause'], user: '65535:65535' } });

    await writeFile(join(dir, 'Corefile'), corefile(plane.kubeconfigPath, dnsReady!));
    const coredns = start('coredns', join(binDir, 'coredns'), ['-conf', join(dir, 'Corefile')]);
    await Promise.race([waitForHttp(`http://127.0.0.1:${dnsReady}/ready`, 60_000), coredns.crashed()]);

    await writeFile(join(dir, 'kube-proxy.yaml'), kubeProxyConfig(plane.kubeconfigPath, proxyHealthz!, proxyMetrics!));
    const proxy = start('kube-proxy', join(binDir, 'kube-proxy'), [`--config=${join(dir, 'kube-proxy.yaml')}`, '--v=1']);

    await writeFile(join(dir, 'kubelet.yaml'), kubeletConfig(dir, plane, kubeletPort!, kubeletHealthz!));
    const kubelet = start('kubelet', join(binDir, 'kubelet'), [
      `--config=${join(dir, 'kubelet.yaml')}`, `--kubeconfig=${plane.kubeconfigPath}`,
      `--container-runtime-endpoint=unix://${socket}`, `--root-dir=${join(dir, 'kubelet')}`,
      `--cert-dir=${join(dir, 'kubelet-pki')}`, `--hostname-override=${REAL_NODE_NAME}`, `--node-ip=${NODE_IP}`,
      '--node-labels=modelship.io/test-node=real', '--v=1',
    ], { PATH: `${binDir}:/usr/sbin:/usr/bin:/sbin:/bin` });
    apiserverForPods = await publishApiserverToPods(plane);
    log('waiting for the real node to become Ready');
    await Promise.race([
      waitFor(async () => (await plane.kubectl(['get', 'node', REAL_NODE_NAME, '-o', 'jsonpath={.status.conditions[?(@.type=="Ready")].status}']).catch(() => '')) === 'True', 120_000, `node ${REAL_NODE_NAME} Ready`),
      kubelet.crashed(), proxy.crashed(), coredns.crashed(), containerd.crashed(),
    ]);
    log(`real node ${REAL_NODE_NAME} Ready (logs in ${dir})`);
    return { name: REAL_NODE_NAME, hostAddress: GATEWAY, loadImage, stop, logs };
  } catch (error) {
    const tails = await Promise.all(processes.map(async (p) => `--- ${p.name} ---\n${await tail(p.logFile)}`));
    await stop().catch(() => undefined);
    throw new Error(`the real node failed to start: ${(error as Error).message}\n${tails.join('\n')}`, { cause: error });
  }
}

/**
 * In-cluster clients (a pod with a ServiceAccount token) reach the apiserver at the `kubernetes`
 * Service. The plane's apiserver listens on loopback only and keeps no endpoints for it
 * (--endpoint-reconciler-type=none): a relay on the bridge address forwards to it, and an
 * EndpointSlice names the relay, as the apiserver's own endpoint reconciler would name itself.
 */
async function publishApiserverToPods(plane: RunningPlane): Promise<TcpRelay> {
  const apiserver = new URL(plane.server);
  const relay = await startTcpRelay({ host: apiserver.hostname, port: Number(apiserver.port) }, { host: GATEWAY });
  const port = Number(relay.address.split(':').pop());
  await plane.kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=modelship-real-node', '-f', '-'], JSON.stringify({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes', 'endpointslice.kubernetes.io/managed-by': 'modelship-real-node' } },
    addressType: 'IPv4',
    endpoints: [{ addresses: [GATEWAY], conditions: { ready: true } }],
    ports: [{ name: 'https', port, protocol: 'TCP' }],
  }));
  return relay;
}

async function writeNodeConfig(dir: string, socket: string): Promise<void> {
  const cniConf = join(dir, 'cni', 'net.d');
  await mkdir(cniConf, { recursive: true });
  await writeFile(join(cniConf, '10-modelship.conflist'), JSON.stringify({
    cniVersion: '1.0.0',
    name: 'modelship',
    plugins: [
      {
        type: 'bridge', bridge: BRIDGE, isGateway: true, hairpinMode: true,
        // No masquerading: pods talk only to this machine and each other.
        ipMasq: false,
        ipam: { type: 'host-local', ranges: [[{ subnet: POD_SUBNET, gateway: GATEWAY }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: join(dir, 'cni', 'ipam') },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }, null, 2));
  await writeFile(join(dir, 'containerd.toml'), `version = 3
root = "${join(dir, 'containerd', 'root')}"
state = "${join(dir, 'containerd', 'state')}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${socket}"

[plugins."io.containerd.cri.v1.runtime"]
  enable_selinux = false
  # This VM drops CAP_SYS_RESOURCE: runc may not lower a container's oom_score_adj.
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "/usr/sbin/runc"
        Root = "${join(dir, 'runc')}"
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "${cniConf}"

[plugins."io.containerd.cri.v1.images"]
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "${PAUSE_IMAGE}"

`);
}

function corefile(kubeconfig: string, readyPort: number): string {
  return `cluster.local:53 in-addr.arpa:53 {
    bind ${GATEWAY}
    errors
    ready 127.0.0.1:${readyPort}
    kubernetes cluster.local in-addr.arpa {
        kubeconfig ${kubeconfig} modelship-test
        pods insecure
    }
    cache 5
}
`;
}

function kubeProxyConfig(kubeconfig: string, healthz: number, metrics: number): string {
  return JSON.stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig },
    hostnameOverride: REAL_NODE_NAME,
    mode: 'iptables',
    clusterCIDR: POD_SUBNET,
    bindAddress: NODE_IP,
    healthzBindAddress: `127.0.0.1:${healthz}`,
    metricsBindAddress: `127.0.0.1:${metrics}`,
    oomScoreAdj: 0,
    // Leave the machine's conntrack sysctls alone.
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s', udpTimeout: '0s', udpStreamTimeout: '0s' },
  }, null, 2);
}

function kubeletConfig(dir: string, plane: RunningPlane, port: number, healthz: number): string {
  return JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // cgroup v1 (hybrid) on this kind of VM.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    failSwapOn: false,
    address: NODE_IP,
    port,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: healthz,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: plane.caCertPath } },
    authorization: { mode: 'Webhook' },
    clusterDomain: 'cluster.local',
    clusterDNS: [GATEWAY],
    resolvConf: '/etc/resolv.conf',
    podLogsDir: join(dir, 'pod-logs'),
    // A test machine's disk and memory are not the node's alone. Disk pressure is off ('0%' turns a
    // signal off): these machines have had from 80G down to under 1% of their 252G free, and at
    // 1% the node is tainted and its unused images deleted, the runtime's among them (a CI run's
    // later pods stayed Pending or failed to pull it). A disk that truly fills fails the test where
    // it writes, which says more.
    evictionHard: {
      'memory.available': '100Mi',
      'nodefs.available': '0%', 'nodefs.inodesFree': '0%', 'imagefs.available': '0%', 'imagefs.inodesFree': '0%',
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    syncFrequency: '10s',
    nodeStatusUpdateFrequency: '5s',
    protectKernelDefaults: false,
  }, null, 2);
}

/** The sandbox image's filesystem: the pause program alone. */
async function pauseRoot(dir: string, binDir: string): Promise<string> {
  const root = join(dir, 'pause-rootfs');
  await mkdir(root, { recursive: true });
  await run('cp', [join(binDir, 'pause'), join(root, 'pause')]);
  return root;
}

/** Kills and deletes every container of the node (the runc shim keeps one state root per containerd namespace). */
async function removeContainers(dir: string): Promise<void> {
  for (const namespace of await readdir(join(dir, 'runc')).catch(() => [] as string[])) {
    const root = join(dir, 'runc', namespace);
    const { stdout } = await run('runc', ['--root', root, 'list', '-q']).catch(() => ({ stdout: '' }));
    for (const id of stdout.split('\n').filter(Boolean)) {
      await run('runc', ['--root', root, 'delete', '--force', id]).catch(() => undefined);
    }
  }
}

async function cleanupStaleNode(log: (line: string) => void): Promise<void> {
  let owner: Owner;
  try {
    owner = JSON.parse(await readFile(OWNER_FILE, 'utf8')) as Owner;
  } catch {
    await cleanupNode(undefined, undefined);
    return;
  }
  if (owner.pid !== process.pid && isAlive(owner.pid)) {
    throw new Error(`a real node is already running on this machine (process ${owner.pid}, ${owner.dir}): one at a time`);
  }
  log(`cleaning up a real node left by process ${owner.pid} (${owner.dir})`);
  await removeContainers(owner.dir);
  await killProcessesMentioning(owner.dir);
  await cleanupNode(owner, undefined);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Idempotent: what a node leaves on the machine, gone. */
async function cleanupNode(owner: Owner | undefined, binDir: string | undefined): Promise<void> {
  if (owner) {
    await removeContainers(owner.dir);
    // Shims outlive containerd; their command lines name its socket in the node's directory.
    await killProcessesMentioning(owner.dir);
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')
      .map((line) => line.split(' ')[4]).filter((point): point is string => !!point && point.startsWith(owner.dir))
      .sort((a, b) => b.length - a.length);
    for (const point of mounts) await run('umount', ['-l', point]).catch(() => undefined);
  }
  // Pod network namespaces are made by containerd's CRI as cni-<uuid>.
  const netns = await readdir('/var/run/netns').catch(() => [] as string[]);
  for (const name of netns.filter((n) => n.startsWith('cni-'))) {
    await run('umount', [`/var/run/netns/${name}`]).catch(() => undefined);
    await rm(`/var/run/netns/${name}`, { force: true });
  }
  if (binDir) await run(join(binDir, 'kube-proxy'), ['--cleanup']).catch(() => undefined);
  await sh('for t in filter nat mangle; do for c in $(iptables -t $t -S 2>/dev/null | awk \'$1=="-N" && $2 ~ /^KUBE-/ {print $2}\'); do iptables -t $t -F $c 2>/dev/null; done; done; true');
  await sh(`for t in filter nat mangle; do iptables -t $t -S 2>/dev/null | awk '$1=="-A" && /KUBE-/' | sed 's/^-A/-D/' | while read -r rule; do eval iptables -t $t $rule 2>/dev/null; done; for c in $(iptables -t $t -S 2>/dev/null | awk '$1=="-N" && $2 ~ /^KUBE-/ {print $2}'); do iptables -t $t -X $c 2>/dev/null; done; done; true`);
  await sh(`ip link del ${BRIDGE} 2>/dev/null || true`);
  await removeCgroups();
  if (owner) {
    for (const [key, value] of Object.entries(owner.sysctls)) await writeFile(`/proc/sys/${key}`, value).catch(() => undefined);
    await rm(owner.dir, { recursive: true, force: true }).catch(() => undefined);
  }
  await rm(OWNER_FILE, { force: true });
}

/** The kubelet's pod cgroups (cgroupfs driver), deepest first, after killing any process still in them. */
async function removeCgroups(): Promise<void> {
  const controllers = await readdir('/sys/fs/cgroup').catch(() => [] as string[]);
  const { stdout: procs } = await run('find', ['/sys/fs/cgroup/pids/kubepods', '-name', 'cgroup.procs']).catch(() => ({ stdout: '' }));
  let killed = 0;
  for (const file of procs.split('\n').filter(Boolean)) {
    for (const pid of (await readFile(file, 'utf8').catch(() => '')).split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
        killed++;
      } catch {
        // gone already
      }
    }
  }
  if (killed) await sleep(500);
  for (const controller of controllers) {
    const top = join('/sys/fs/cgroup', controller, 'kubepods');
    if (!existsSync(top)) continue;
    const { stdout } = await run('find', [top, '-depth', '-type', 'd']).catch(() => ({ stdout: '' }));
    for (const path of stdout.split('\n').filter(Boolean)) await rmdir(path).catch(() => undefined);
  }
}

/** SIGKILL to every process whose command line contains `text` (this one excepted). */
async function killProcessesMentioning(text: string): Promise<void> {
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.replaceAll('\0', ' ').includes(text)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }
}

async function sh(script: string): Promise<void> {
  await run('sh', ['-c', script], { maxBuffer: 16 * 1024 * 1024 });
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(250);
  }
  throw new Error(`${what}: not after ${timeoutMs / 1000} s`);
}

async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  await waitFor(async () => (await fetch(url, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined))?.ok === true, timeoutMs, url);
}

async function tail(file: string, lines = 20): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
