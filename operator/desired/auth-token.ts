import type { V1EnvVar, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { RuntimeEnv } from '../../runtime/contract.ts';
import { SpecDefaults } from '../api/schema.ts';
import type { ModelDeployment } from '../api/types.ts';

const AUTH_VOLUME = 'auth-token';
export const AUTH_TOKEN_DIR = '/var/run/secrets/modelship/auth';
const AUTH_TOKEN_FILE_NAME = 'token';

export interface AuthTokenMount {
  env: V1EnvVar[];
  volumes: V1Volume[];
  mounts: V1VolumeMount[];
}

/**
 * spec.security.authSecret reaches the runtime as a mounted file, not an env var: the kubelet
 * updates a mounted Secret in place (never one mounted by subPath), and the runtime re-reads the
 * file, so rotating the token needs no restart and no new revision.
 */
export function authTokenMount(md: ModelDeployment): AuthTokenMount {
  const secret = md.spec.security?.authSecret;
  if (!secret) return { env: [], volumes: [], mounts: [] };
  return {
    env: [{ name: RuntimeEnv.authTokenFile, value: `${AUTH_TOKEN_DIR}/${AUTH_TOKEN_FILE_NAME}` }],
    volumes: [{
      name: AUTH_VOLUME,
      secret: { secretName: secret.name, items: [{ key: secret.key ?? SpecDefaults.authSecretKey, path: AUTH_TOKEN_FILE_NAME }] },
    }],
    mounts: [{ name: AUTH_VOLUME, mountPath: AUTH_TOKEN_DIR, readOnly: true }],
  };
}
