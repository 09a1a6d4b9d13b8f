import type { ModelDeployment } from '../api/types.ts';
import { GatewayApiReadKinds, gatewayKey, parentRefs, type GatewaySupport } from '../desired/routing/gateway-api.ts';
import type { KubeRestClient } from '../kube/rest-client.ts';

interface Gateway { spec?: { gatewayClassName?: string } }
interface GatewayClass { status?: { supportedFeatures?: ({ name?: string } | string)[] } }

const CHECK_EVERY_MS = 30_000;

/**
 * What the Gateways a ModelDeployment's routes attach to support, from their GatewayClass's
 * status.supportedFeatures (GEP-2162), read at most every 30 s per Gateway. A Gateway or class that
 * cannot be read, or a class that lists nothing, is taken to support what the spec asks.
 */
export class GatewaySupportLookup {
  private readonly cache = new Map<string, { at: number; support: GatewaySupport | undefined }>();

  constructor(
    private readonly client: KubeRestClient,
    private readonly now: () => number = Date.now,
  ) {}

  async of(md: ModelDeployment): Promise<ReadonlyMap<string, GatewaySupport>> {
    const found = new Map<string, GatewaySupport>();
    for (const gateway of parentRefs(md)) {
      const key = gatewayKey(gateway);
      let cached = this.cache.get(key);
      if (!cached || this.now() - cached.at >= CHECK_EVERY_MS) {
        cached = { at: this.now(), support: await this.look(gateway.namespace, gateway.name) };
        this.cache.set(key, cached);
      }
      if (cached.support) found.set(key, cached.support);
    }
    return found;
  }

  private async look(namespace: string, name: string): Promise<GatewaySupport | undefined> {
    try {
      const gateway = await this.client.get<Gateway>(GatewayApiReadKinds.gateway, namespace, name);
      const className = gateway.spec?.gatewayClassName;
      if (!className) return undefined;
      const gatewayClass = await this.client.get<GatewayClass>(GatewayApiReadKinds.gatewayClass, undefined, className);
      const listed = gatewayClass.status?.supportedFeatures;
      if (!listed?.length) return { className };
      // v1.1 listed plain names, later versions objects with a name.
      return { className, features: new Set(listed.map((feature) => (typeof feature === 'string' ? feature : feature.name ?? ''))) };
    } catch {
      return undefined;
    }
  }
}
