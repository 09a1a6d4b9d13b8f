import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PlanePki {
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
  /** The aggregation layer's: aggregated API servers (metrics-server, KEDA's adapter) trust requests this CA's client vouches for. */
  frontProxyCaCert: string;
  frontProxyClientCert: string;
  frontProxyClientKey: string;
}

/** The name the apiserver's aggregator proxies under; aggregated API servers accept it alone as the front proxy. */
export const FRONT_PROXY_CLIENT = 'front-proxy-client';

async function openssl(args: string[], cwd: string): Promise<void> {
  await run('openssl', args, { cwd });
}

/**
 * Generates a throwaway CA, an apiserver serving certificate for loopback, a system:masters client
 * certificate, the service-account signing key and the aggregation layer's front-proxy CA and client
 * certificate, with the openssl CLI (Node cannot issue X.509).
 */
export async function generatePki(dir: string): Promise<PlanePki> {
  const file = (name: string) => join(dir, name);
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3', '-subj', '/CN=modelship-test-ca',
    '-keyout', 'ca.key', '-out', 'ca.crt'], dir);

  await writeFile(file('serving.ext'), [
    'subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc',
    'extendedKeyUsage=serverAuth',
  ].join('\n'));
  await issue('serving', '/CN=kube-apiserver', 'serving.ext');

  await writeFile(file('client.ext'), 'extendedKeyUsage=clientAuth\n');
  await issue('admin', '/O=system:masters/CN=modelship-admin', 'client.ext');

  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3', '-subj', '/CN=modelship-test-front-proxy-ca',
    '-keyout', 'front-proxy-ca.key', '-out', 'front-proxy-ca.crt'], dir);
  await issue('front-proxy-client', `/CN=${FRONT_PROXY_CLIENT}`, 'client.ext', 'front-proxy-ca');

  await openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
  await openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);

  return {
    caCert: file('ca.crt'), caKey: file('ca.key'),
    servingCert: file('serving.crt'), servingKey: file('serving.key'),
    adminCert: file('admin.crt'), adminKey: file('admin.key'),
    serviceAccountKey: file('sa.key'), serviceAccountPub: file('sa.pub'),
    frontProxyCaCert: file('front-proxy-ca.crt'),
    frontProxyClientCert: file('front-proxy-client.crt'), frontProxyClientKey: file('front-proxy-client.key'),
  };

  async function issue(name: string, subject: string, extFile: string, ca = 'ca'): Promise<void> {
    await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', `${name}.key`, '-out', `${name}.csr`], dir);
    await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '3',
      '-extfile', extFile, '-out', `${name}.crt`], dir);
  }
}
