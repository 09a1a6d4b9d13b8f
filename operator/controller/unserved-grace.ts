/**
 * Whether an optional kind that discovery no longer lists is really gone. Right after an apiserver
 * restart, discovery answers before the apiserver has loaded its CRDs and leaves them out for a few
 * seconds: that is not a removal. A kind counts as removed only once every discovery for `graceMs`
 * (and at least two in a row) left it out; any discovery that lists it starts over.
 */
export class UnservedGrace<K> {
  private readonly unservedSince = new Map<K, number>();

  constructor(private readonly graceMs: number, private readonly now: () => number = Date.now) {}

  /** Records one discovery's answer; true once the kind has been missing long enough to drop its watch. */
  removed(kind: K, served: boolean): boolean {
    if (served) {
      this.unservedSince.delete(kind);
      return false;
    }
    const since = this.unservedSince.get(kind);
    if (since === undefined) {
      this.unservedSince.set(kind, this.now());
      return false;
    }
    if (this.now() - since < this.graceMs) return false;
    this.unservedSince.delete(kind);
    return true;
  }
}
