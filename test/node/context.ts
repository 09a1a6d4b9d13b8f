import type { RealNode } from '../plane/node.ts';
import type { NodeImage } from '../support/node-images.ts';

/** What real-node tests get besides the plane (test/integration/context.ts's plane()). */
export interface RealNodeContext {
  node: RealNode;
  /** The runtime image (Dockerfile.runtime, replayed) as the node knows it: the operator's default image name. */
  runtimeImage: NodeImage;
}

let current: RealNodeContext | undefined;

export function setRealNode(context: RealNodeContext | undefined): void {
  current = context;
}

/** The running real node; throws outside the real-node suite's lifetime. */
export function realNode(): RealNodeContext {
  if (!current) throw new Error('the real node is not running (run via npm run test:node)');
  return current;
}
