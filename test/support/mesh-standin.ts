import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The parts of Istio's VirtualService and DestinationRule that decide where a request goes. */
export interface MeshRules {
  virtualService: { spec: { http: { match?: { headers?: Record<string, { exact?: string }>; port?: number }[]; route: { destination: { subset: string }; weight?: number }[] }[] } };
  destinationRule: { spec: { subsets: { name: string; labels: Record<string, string> }[] } };
}

export interface MeshStandIn {
  url: string;
  /** Requests forwarded so far, per revision. */
  sent: Map<string, number>;
  close(): Promise<void>;
}

/**
 * NOT Envoy: a stand-in for Istio's data plane, which cannot run here. It routes each request as
 * the VirtualService says for the Service's REST port (header matches first, then the weighted split, by smooth weighted
 * round-robin so the split is exact and repeatable) to the backend of the subset's revision label.
 * It checks that the objects the operator writes mean what the operator intends; it proves
 * nothing about Envoy itself.
 */
export async function startMeshStandIn(rules: () => Promise<MeshRules>, backends: ReadonlyMap<string, string>, servicePort = 8080): Promise<MeshStandIn> {
  const sent = new Map<string, number>();
  const credit = new Map<string, number>();

  function pick(route: { destination: { subset: string }; weight?: number }[]): string {
    const weighted = route.map((r) => ({ subset: r.destination.subset, weight: r.weight ?? (route.length === 1 ? 100 : 0) })).filter((r) => r.weight > 0);
    const total = weighted.reduce((sum, r) => sum + r.weight, 0);
    let best = weighted[0];
    for (const r of weighted) {
      credit.set(r.subset, (credit.get(r.subset) ?? 0) + r.weight);
      if ((credit.get(r.subset) ?? 0) > (credit.get(best?.subset ?? '') ?? 0)) best = r;
    }
    if (!best) throw new Error('route has no destination with weight');
    credit.set(best.subset, (credit.get(best.subset) ?? 0) - total);
    return best.subset;
  }

  async function destination(req: IncomingMessage): Promise<string> {
    const { virtualService, destinationRule } = await rules();
    // Requests arrive as if on the Service's REST port.
    const http = virtualService.spec.http.find((entry) => !entry.match || entry.match.some((match) =>
      (match.port === undefined || match.port === servicePort)
      && Object.entries(match.headers ?? {}).every(([name, value]) => req.headers[name.toLowerCase()] === value.exact)));
    if (!http) throw new Error('no route matches');
    const subset = pick(http.route);
    const revision = destinationRule.spec.subsets.find((s) => s.name === subset)?.labels['modelship.io/revision'];
    const backend = revision && backends.get(revision);
    if (!revision || !backend) throw new Error(`subset ${subset} (revision ${revision}) has no backend`);
    sent.set(revision, (sent.get(revision) ?? 0) + 1);
    return backend;
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    destination(req).then((backend) => {
      const target = new URL(req.url ?? '/', backend);
      const upstream = request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', (error) => res.writeHead(502).end(error.message));
      req.pipe(upstream);
    }, (error: Error) => res.writeHead(503, { 'content-type': 'text/plain' }).end(error.message));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    sent,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
