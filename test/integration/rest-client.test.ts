import type { KubernetesObject } from '@kubernetes/client-node';
import { expect } from 'chai';
import { loadKubeConnection } from '../../operator/kube/connection.ts';
import { CoreResources, type ResourceType } from '../../operator/kube/resources.ts';
import { ApiError, KubeRestClient } from '../../operator/kube/rest-client.ts';
import { plane } from './context.ts';

const configMaps: ResourceType = { group: '', version: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true };
const namespaces: ResourceType = { group: '', version: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false };

describe("the operator's API client against the real kube-apiserver", () => {
  const namespace = `rest-${Date.now().toString(36)}`;
  let client: KubeRestClient;

  before(async () => {
    client = new KubeRestClient(await loadKubeConnection({ KUBECONFIG: plane().kubeconfigPath }));
    await client.create(namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  });

  after(async () => {
    await client.delete(namespaces, undefined, namespace);
  });

  it("a delete sends its options: a uid precondition that does not match refuses the delete, and the connection's next requests are answered as their own", async () => {
    const created = await client.create<KubernetesObject & { data: Record<string, string> }>(configMaps, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kept', namespace }, data: { a: '1' } });
    // Deletes with a wrong uid, each followed at once by a read on the same keep-alive connection.
    for (let i = 0; i < 5; i += 1) {
      const refused = await client.delete(configMaps, namespace, 'kept', '00000000-0000-0000-0000-000000000000').then(() => undefined, (error: unknown) => error);
      expect(refused, 'the delete with a stale uid').to.be.instanceOf(ApiError).and.to.include({ statusCode: 409 });
      const read = await client.get<{ metadata: { uid: string } }>(configMaps, namespace, 'kept');
      expect(read.metadata.uid).to.equal(created.metadata?.uid);
    }
    await client.delete(configMaps, namespace, 'kept', created.metadata?.uid);
    const list = await client.list(CoreResources.event, {}, namespace);
    expect(list.items).to.be.an('array');
    const gone = await client.get(configMaps, namespace, 'kept').then(() => undefined, (error: unknown) => error);
    expect(gone, 'deleted with the right uid').to.be.instanceOf(ApiError).and.to.include({ statusCode: 404 });
  });
});
