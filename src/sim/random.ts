/**
 * The simulator's only source of randomness: a seeded PRNG (mulberry32), so a scenario run
 * with the same seed makes the same choices (generated WWNs, jitter) every time.
 */
export class SeededRandom {
  #state: number;
  readonly seed: number;

  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.#state = this.seed;
  }

  /** A float in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** `n` lowercase hex digits. */
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += this.int(0, 15).toString(16);
    return s;
  }

  /**
   * An NAA type 6 WWN as `scsi_id --page 0x83 --whitelisted` prints it: `3` (NAA designator
   * type) then `6` then the IEEE company id and a vendor-specific id, 33 characters in all,
   * e.g. `36006016074e03a008d3cf25b04e2daae` (the seed's, company 006016 = DGC/EMC).
   */
  /** A UUID (`8-4-4-4-12` hex digits), as LIO gives a backstore's unit serial. */
  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  naaWwn(companyId = '001405'): string {
    return `36${companyId}${this.hex(32 - 1 - companyId.length)}`;
  }
}
