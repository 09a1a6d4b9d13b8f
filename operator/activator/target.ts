import { isIP } from 'node:net';

/** Which model Service a held request was sent to. */
export type Target =
  | { kind: 'service'; namespace: string; name: string }
  | { kind: 'clusterIP'; ip: string }
  | { kind: 'unknown'; message: string };

/**
 * The Service a request was addressed to, from its Host header: `<service>.<namespace>[.svc[.<domain>]]`
 * or the Service's cluster IP. The activator sits behind every scaled-to-zero model's Service at
 * once, and by then the destination address has been rewritten to its own: the Host is what is left.
 */
export function targetOf(host: string | undefined): Target {
  if (!host) return { kind: 'unknown', message: 'the request has no Host header: address the model as <service>.<namespace> or by its Service IP' };
  const hostname = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  if (isIP(hostname)) return { kind: 'clusterIP', ip: hostname };
  const labels = hostname.toLowerCase().replace(/\.$/, '').split('.');
  if (labels.length < 2 || labels.some((label) => !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(label))) {
    return { kind: 'unknown', message: `cannot tell the model's namespace from Host ${JSON.stringify(host)}: address it as <service>.<namespace> or by its Service IP` };
  }
  return { kind: 'service', name: labels[0]!, namespace: labels[1]! };
}
