import { expect } from 'chai';
import type { KubernetesObject } from '@kubernetes/client-node';
import type { InformerEvent, InformerHandler } from '../../../operator/kube/informer.ts';
import { ReadYourWrites } from '../../../operator/kube/read-your-writes.ts';

type Status = KubernetesObject & { status?: { phase: string } };

/** An informer's cache whose watch the test drives by hand, as a lagging watch would deliver. */
class HandDrivenInformer {
  private readonly cache = new Map<string, Status>();
  private readonly handlers: InformerHandler<Status>[] = [];
  private readonly relisted: (() => void)[] = [];
  get(key: string): Status | undefined {
    return this.cache.get(key);
  }
  on(handler: InformerHandler<Status>): void {
    this.handlers.push(handler);
  }
  afterRelist(listener: () => void): void {
    this.relisted.push(listener);
  }
  deliver(event: InformerEvent, object: Status): void {
    if (event === 'delete') this.cache.delete('ns/md');
    else this.cache.set('ns/md', object);
    for (const handler of this.handlers) handler(event, object);
  }
  relist(object: Status): void {
    this.cache.set('ns/md', object);
    for (const listener of this.relisted) listener();
  }
}

const md = (resourceVersion: string, phase: string): Status => ({ metadata: { namespace: 'ns', name: 'md', resourceVersion }, status: { phase } });

describe('ReadYourWrites: a pass reads what the last pass wrote, even while the watch lags', () => {
  let informer: HandDrivenInformer;
  let now: number;
  let latest: ReadYourWrites<Status>;
  beforeEach(() => {
    informer = new HandDrivenInformer();
    now = 0;
    latest = new ReadYourWrites<Status>(informer, () => now);
    informer.deliver('add', md('1', 'Progressing'));
  });

  it('answers with the written object until the watch delivers it, then with the cache again', async () => {
    await latest.write('ns/md', async () => md('2', 'WaitingForPromotion'));
    expect(latest.get('ns/md')?.status?.phase, 'the watch has not delivered the write yet').to.equal('WaitingForPromotion');
    informer.deliver('update', md('2', 'WaitingForPromotion'));
    informer.deliver('update', md('3', 'Promoted by someone else'));
    expect(latest.get('ns/md')?.status?.phase, 'changes after the write come from the cache').to.equal('Promoted by someone else');
  });

  it('remembers nothing when the watch delivered the write before the server answered', async () => {
    await latest.write('ns/md', async () => {
      informer.deliver('update', md('2', 'WaitingForPromotion'));
      informer.deliver('update', md('3', 'a later change'));
      return md('2', 'WaitingForPromotion');
    });
    expect(latest.get('ns/md')?.status?.phase).to.equal('a later change');
  });

  it('forgets a write once the object is deleted, relisted, or a minute has passed without the watch showing it', async () => {
    await latest.write('ns/md', async () => md('2', 'written'));
    informer.deliver('delete', md('2', 'written'));
    expect(latest.get('ns/md')).to.equal(undefined);

    informer.deliver('add', md('5', 'recreated'));
    await latest.write('ns/md', async () => md('6', 'written'));
    informer.relist(md('7', 'listed'));
    expect(latest.get('ns/md')?.status?.phase, 'a list is at least as new as the write').to.equal('listed');

    await latest.write('ns/md', async () => md('8', 'written'));
    now += 59_000;
    expect(latest.get('ns/md')?.status?.phase).to.equal('written');
    now += 2_000;
    expect(latest.get('ns/md')?.status?.phase).to.equal('listed');
  });

  it('remembers nothing of a write that failed', async () => {
    await latest.write('ns/md', async () => { throw new Error('409'); }).catch(() => undefined);
    expect(latest.get('ns/md')?.status?.phase).to.equal('Progressing');
  });
});
