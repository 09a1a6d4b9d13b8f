import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { load } from 'js-yaml';

/** Where and how to reach the apiserver; @kubernetes/client-node's KubeConfig is one. */
export interface KubeConnection {
  getCurrentCluster(): { server: string } | null;
  /** Adds the CA, client certificate and bearer token to https request options. */
  applyToHTTPSOptions(options: RequestOptions): Promise<void>;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

interface NamedEntry<T> { name: string; [key: string]: T | string }
interface KubeconfigFile {
  'current-context'?: string;
  contexts?: NamedEntry<{ cluster?: string; user?: string }>[];
  clusters?: NamedEntry<Record<string, unknown>>[];
  users?: NamedEntry<Record<string, unknown>>[];
}

/** The keys a static credential may use; anything else (exec, auth-provider) needs the full client. */
const STATIC_USER_KEYS = new Set(['client-certificate', 'client-certificate-data', 'client-key', 'client-key-data', 'token', 'tokenFile']);
const STATIC_CLUSTER_KEYS = new Set(['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name']);

class StaticConnection implements KubeConnection {
  constructor(
    private readonly server: string,
    private readonly tls: Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'rejectUnauthorized' | 'servername'>,
    private readonly tokenFile?: string,
    private readonly token?: string,
  ) {}

  getCurrentCluster() {
    return { server: this.server };
  }

  async applyToHTTPSOptions(options: RequestOptions): Promise<void> {
    Object.assign(options, this.tls);
    // Projected service-account tokens rotate: read the file when asked, not once at start.
    const token = this.tokenFile ? (await readFile(this.tokenFile, 'utf8')).trim() : this.token;
    if (token) options.headers = { ...options.headers, authorization: `Bearer ${token}` };
  }
}

const pem = (data: unknown, file: unknown, base: string): Promise<Buffer> | undefined =>
  typeof data === 'string' ? Promise.resolve(Buffer.from(data, 'base64')) : typeof file === 'string' ? readFile(resolve(base, file)) : undefined;

async function fromKubeconfig(path: string): Promise<KubeConnection | undefined> {
  const file = load(await readFile(path, 'utf8')) as KubeconfigFile;
  const context = file.contexts?.find((entry) => entry.name === file['current-context'])?.context as { cluster?: string; user?: string } | undefined;
  const cluster = file.clusters?.find((entry) => entry.name === context?.cluster)?.cluster as Record<string, unknown> | undefined;
  const user = (file.users?.find((entry) => entry.name === context?.user)?.user ?? {}) as Record<string, unknown>;
  if (!cluster || typeof cluster.server !== 'string') return undefined;
  if (!Object.keys(user).every((key) => STATIC_USER_KEYS.has(key)) || !Object.keys(cluster).every((key) => STATIC_CLUSTER_KEYS.has(key))) return undefined;
  const base = dirname(path);
  const [ca, cert, key] = await Promise.all([
    pem(cluster['certificate-authority-data'], cluster['certificate-authority'], base),
    pem(user['client-certificate-data'], user['client-certificate'], base),
    pem(user['client-key-data'], user['client-key'], base),
  ]);
  return new StaticConnection(cluster.server, {
    ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }),
    ...(cluster['insecure-skip-tls-verify'] === true && { rejectUnauthorized: false }),
    ...(typeof cluster['tls-server-name'] === 'string' && { servername: cluster['tls-server-name'] }),
  }, typeof user.tokenFile === 'string' ? resolve(base, user.tokenFile) : undefined, typeof user.token === 'string' ? user.token : undefined);
}

async function inCluster(env: NodeJS.ProcessEnv, serviceAccountDir: string): Promise<KubeConnection> {
  const host = env.KUBERNETES_SERVICE_HOST ?? '';
  return new StaticConnection(
    `https://${host.includes(':') ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`,
    { ca: await readFile(join(serviceAccountDir, 'ca.crt')) },
    join(serviceAccountDir, 'token'),
  );
}

/**
 * Finds the apiserver the way KubeConfig.loadFromDefault does ($KUBECONFIG, ~/.kube/config, then
 * the pod's service account) without loading @kubernetes/client-node, whose generated API models
 * cost the operator about 40 MB of heap it never uses. Kubeconfigs with auth plugins (exec,
 * auth-provider) or several files still go through KubeConfig.
 */
export async function loadKubeConnection(env: NodeJS.ProcessEnv = process.env, serviceAccountDir = SERVICE_ACCOUNT_DIR): Promise<KubeConnection> {
  const paths = env.KUBECONFIG?.split(delimiter).filter(Boolean) ?? [];
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  const path = paths.length > 0 ? paths : existsSync(home) ? [home] : [];
  if (path.length === 1) {
    const connection = await fromKubeconfig(path[0] as string);
    if (connection) return connection;
  } else if (path.length === 0 && env.KUBERNETES_SERVICE_HOST && existsSync(join(serviceAccountDir, 'token'))) {
    return inCluster(env, serviceAccountDir);
  }
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  if (path.length === 1) kubeConfig.loadFromFile(path[0] as string);
  else kubeConfig.loadFromDefault();
  return kubeConfig;
}
