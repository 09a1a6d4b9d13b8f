import { expect } from 'chai';
import { WorkQueue } from '../../../operator/controller/work-queue.ts';

describe('WorkQueue', () => {
  it('holds a key once however often it is added', async () => {
    const queue = new WorkQueue();
    queue.add('a'); queue.add('b'); queue.add('a');
    expect(queue.length).to.equal(2);
    expect(await queue.get()).to.equal('a');
    expect(await queue.get()).to.equal('b');
  });

  it('never hands a key to two workers; an add during processing comes back after done', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    const key = await queue.get();
    queue.add('a');
    expect(queue.length, 'not re-queued while processing').to.equal(0);
    queue.done(key!);
    expect(queue.length).to.equal(1);
    expect(await queue.get()).to.equal('a');
  });

  it('wakes a waiting worker when a key arrives', async () => {
    const queue = new WorkQueue();
    const next = queue.get();
    queue.add('x');
    expect(await next).to.equal('x');
  });

  it('backs off exponentially per key until forgotten', () => {
    const queue = new WorkQueue({ baseDelayMs: 10, maxDelayMs: 50 });
    expect([queue.addRateLimited('k'), queue.addRateLimited('k'), queue.addRateLimited('k'), queue.addRateLimited('k')]).to.deep.equal([10, 20, 40, 50]);
    expect(queue.addRateLimited('other')).to.equal(10);
    queue.forget('k');
    expect(queue.addRateLimited('k')).to.equal(10);
    queue.shutDown();
  });

  it('brings a key back after its requeue-after delay with no other add: the timers a rollout pause relies on', async () => {
    const queue = new WorkQueue();
    queue.add('a');
    const key = await queue.get();
    queue.addAfter(key!, 30);
    queue.done(key!);
    expect(queue.length, 'not back before the delay').to.equal(0);
    const started = Date.now();
    expect(await queue.get()).to.equal('a');
    expect(Date.now() - started).to.be.at.least(25);
    queue.shutDown();
  });

  it('releases waiting workers on shutdown', async () => {
    const queue = new WorkQueue();
    const next = queue.get();
    queue.shutDown();
    expect(await next).to.equal(undefined);
  });
});
