import { RuntimeEnv } from '../../runtime/contract.ts';
import type { ModelDeployment } from '../api/types.ts';
import type { AuthTokenMount } from './auth-token.ts';

const TLS_VOLUME = 'serving-tls';
const TLS_DIR = '/var/run/secrets/modelship/tls';

export interface ServingTlsMount extends AuthTokenMount {
  /** How probes and Prometheus reach the runtime's HTTP port. */
  scheme: 'HTTP' | 'HTTPS';
}

/**
 * spec.security.tls: the Secret mounted whole (never by subPath, which the kubelet would not
 * update), so the runtime sees a renewed certificate and serves it without a restart.
 */
export function servingTlsMount(md: ModelDeployment): ServingTlsMount {
  const tls = md.spec.security?.tls;
  if (!tls) return { env: [], volumes: [], mounts: [], scheme: 'HTTP' };
  return {
    env: [
      { name: RuntimeEnv.tlsCertFile, value: `${TLS_DIR}/tls.crt` },
      { name: RuntimeEnv.tlsKeyFile, value: `${TLS_DIR}/tls.key` },
    ],
    volumes: [{ name: TLS_VOLUME, secret: { secretName: tls.secretName, items: [{ key: 'tls.crt', path: 'tls.crt' }, { key: 'tls.key', path: 'tls.key' }] } }],
    mounts: [{ name: TLS_VOLUME, mountPath: TLS_DIR, readOnly: true }],
    scheme: 'HTTPS',
  };
}
