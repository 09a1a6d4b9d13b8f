/**
 * A fast path for V2 JSON requests that carry big numeric tensors: JSON.parse boxes every element of
 * a 500 KB "data" array into a JS number in a JS array, which is nearly all of the decode time. Here
 * one string-aware pass over the body finds each input's "data" array of plain numbers, validates its
 * grammar strictly, and parses the numbers straight from the bytes into a Float64Array; the small rest
 * of the document (each such array replaced by `0`) still goes through JSON.parse.
 *
 * Contract: whatever `scanJsonRequest` returns, the caller gets exactly what JSON.parse of the whole
 * body gives (with the captured arrays' values obtainable from `NumericRun`), or `undefined`, meaning
 * "use JSON.parse on the whole body" (which also produces the error message for malformed JSON).
 */

/** One input's "data" array of numbers, as found in the body. */
export interface NumericRun {
  /** Byte range of the array's text in the body, brackets included. */
  readonly start: number;
  readonly end: number;
  /** Nesting depth of the numbers (1 for `[1,2]`, 2 for `[[1],[2]]`); every number sits at this depth. */
  readonly depth: number;
  /**
   * Every number in row-major order. A number marked in `float32Only` holds the float32-rounded value
   * (what a FP32 or FP16 tensor stores), not the double JSON.parse gives; all others are exact doubles.
   */
  readonly values: Float64Array;
  /** Indexes into `values` whose exact double was not worked out, each with its token's byte offset. */
  readonly float32Only: readonly number[];
}

export interface ScannedRequest {
  /** JSON.parse of the body with each captured array replaced by the number 0. */
  readonly request: Record<string, unknown>;
  /** Captured "data" arrays by index into "inputs" (only where that array is the member JSON.parse keeps). */
  readonly runs: ReadonlyMap<number, NumericRun>;
}

/** Below this a body goes straight to JSON.parse: the scan would cost more than it saves. */
export const FAST_PATH_MIN_BYTES = 16 * 1024;
/** Arrays with shorter text stay in the JSON.parse'd skeleton. */
const MIN_RUN_BYTES = 256;
const MAX_DEPTH = 30;

const QUOTE = 0x22, BACKSLASH = 0x5c, COMMA = 0x2c, COLON = 0x3a;
const OPEN_ARRAY = 0x5b, CLOSE_ARRAY = 0x5d, OPEN_OBJECT = 0x7b, CLOSE_OBJECT = 0x7d;
const MINUS = 0x2d, PLUS = 0x2b, DOT = 0x2e, ZERO = 0x30, NINE = 0x39, LOWER_E = 0x65, UPPER_E = 0x45;

const isWhitespace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isDigit = (c: number): boolean => c >= ZERO && c <= NINE;

const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => 10 ** i);
const TWO_53 = 2 ** 53;
/** Relative error bound, with a wide margin, of the float32-only approximation below. */
const APPROXIMATION_SLACK = 2 ** -40;
/** More significant digits than this and the approximation's error bound no longer holds. */
const MAX_APPROXIMATED_DIGITS = 40;

function tokenEnd(bytes: Buffer, start: number): number {
  let end = start;
  while (end < bytes.length) {
    const c = bytes[end] as number;
    if (!(isDigit(c) || c === MINUS || c === PLUS || c === DOT || c === LOWER_E || c === UPPER_E)) break;
    end++;
  }
  return end;
}

/** The exact double of the number token at `start`, as JSON.parse reads it. */
function exactNumberAt(bytes: Buffer, start: number): number {
  return Number(bytes.toString('latin1', start, tokenEnd(bytes, start)));
}

/** mantissa * 10^exponent for |exponent| <= 44, within a few ulps (at most three roundings). */
function scaled(mantissa: number, exponent: number): number {
  if (exponent >= 0) {
    return exponent <= 22 ? mantissa * (POWERS_OF_TEN[exponent] as number) : mantissa * 1e22 * (POWERS_OF_TEN[exponent - 22] as number);
  }
  return exponent >= -22 ? mantissa / (POWERS_OF_TEN[-exponent] as number) : mantissa / 1e22 / (POWERS_OF_TEN[-exponent - 22] as number);
}

class Abandon extends Error {}
const abandon = (): never => {
  throw new Abandon();
};

class Scanner {
  private pos = 0;
  private readonly runsByInput = new Map<number, NumericRun>();
  private readonly captured: NumericRun[] = [];

  constructor(private readonly bytes: Buffer) {}

  scan(): ScannedRequest | undefined {
    this.skipWhitespace();
    if (this.bytes[this.pos] !== OPEN_OBJECT) return undefined;
    this.topLevelObject();
    if (this.captured.length === 0) return undefined;
    const pieces: Buffer[] = [];
    let from = 0;
    for (const run of this.captured) {
      pieces.push(this.bytes.subarray(from, run.start), PLACEHOLDER);
      from = run.end;
    }
    pieces.push(this.bytes.subarray(from));
    let request: unknown;
    try {
      request = JSON.parse(Buffer.concat(pieces).toString('utf8'));
    } catch {
      return undefined;
    }
    if (typeof request !== 'object' || request === null || Array.isArray(request)) return undefined;
    return { request: request as Record<string, unknown>, runs: this.runsByInput };
  }

  private skipWhitespace(): void {
    const bytes = this.bytes;
    while (this.pos < bytes.length && isWhitespace(bytes[this.pos] as number)) this.pos++;
  }

  private expect(byte: number): void {
    this.skipWhitespace();
    if (this.bytes[this.pos] !== byte) abandon();
    this.pos++;
  }

  /** Reads a key; abandons on escapes, so a key spelled with escapes can never be mistaken. */
  private key(): string {
    this.skipWhitespace();
    if (this.bytes[this.pos] !== QUOTE) abandon();
    const close = this.bytes.indexOf(QUOTE, this.pos + 1);
    if (close < 0) abandon();
    const text = this.bytes.toString('latin1', this.pos + 1, close);
    if (text.includes('\\')) abandon();
    this.pos = close + 1;
    this.expect(COLON);
    this.skipWhitespace();
    return text;
  }

  /** Walks an object's members, calling `member` with the position at each value; ends past the `}`. */
  private members(member: (key: string) => void): void {
    this.pos++;
    this.skipWhitespace();
    if (this.bytes[this.pos] === CLOSE_OBJECT) {
      this.pos++;
      return;
    }
    for (;;) {
      member(this.key());
      this.skipWhitespace();
      const c = this.bytes[this.pos];
      this.pos++;
      if (c === CLOSE_OBJECT) return;
      if (c !== COMMA) abandon();
    }
  }

  private topLevelObject(): void {
    let sawInputs = false;
    this.members((key) => {
      if (key !== 'inputs') return this.skipValue();
      // Two "inputs" members: JSON.parse keeps the last; not worth mirroring.
      if (sawInputs) abandon();
      sawInputs = true;
      if (this.bytes[this.pos] !== OPEN_ARRAY) return this.skipValue();
      this.inputsArray();
    });
    this.skipWhitespace();
    if (this.pos !== this.bytes.length) abandon();
  }

  private inputsArray(): void {
    this.pos++;
    this.skipWhitespace();
    if (this.bytes[this.pos] === CLOSE_ARRAY) {
      this.pos++;
      return;
    }
    for (let index = 0; ; index++) {
      this.skipWhitespace();
      if (this.bytes[this.pos] === OPEN_OBJECT) this.inputObject(index);
      else this.skipValue();
      this.skipWhitespace();
      const c = this.bytes[this.pos];
      this.pos++;
      if (c === CLOSE_ARRAY) return;
      if (c !== COMMA) abandon();
    }
  }

  private inputObject(index: number): void {
    // Only a hint for speed (correctness never depends on it): a "datatype" seen before "data" that
    // needs exact doubles makes numbers beyond the fast path send the whole body to JSON.parse.
    let exactOnly = false;
    this.members((key) => {
      if (key === 'datatype') {
        const start = this.pos;
        this.skipValue();
        const text = this.bytes.toString('latin1', start, this.pos);
        exactOnly = text !== '"FP32"' && text !== '"FP16"';
        return;
      }
      if (key !== 'data') return this.skipValue();
      // JSON.parse keeps the last "data" member: each one overrides what an earlier one captured.
      this.runsByInput.delete(index);
      const run = this.bytes[this.pos] === OPEN_ARRAY ? this.numericArray(exactOnly) : undefined;
      if (run === undefined) return this.skipValue();
      this.captured.push(run);
      this.runsByInput.set(index, run);
    });
  }

  /** Skips any JSON value (not validated here: the skeleton's JSON.parse does that). */
  private skipValue(): void {
    const bytes = this.bytes;
    this.skipWhitespace();
    const first = bytes[this.pos];
    if (first === QUOTE) return this.skipString();
    if (first === OPEN_ARRAY || first === OPEN_OBJECT) {
      const length = bytes.length;
      let depth = 0;
      let at = this.pos;
      do {
        if (at >= length) abandon();
        const c = bytes[at] as number;
        if (c === QUOTE) {
          this.pos = at;
          this.skipString();
          at = this.pos;
          continue;
        }
        if (c === OPEN_ARRAY || c === OPEN_OBJECT) depth++;
        else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
        at++;
      } while (depth > 0);
      this.pos = at;
      return;
    }
    // A number or literal: up to the delimiter its container reads next.
    while (this.pos < bytes.length) {
      const c = bytes[this.pos] as number;
      if (c === COMMA || c === CLOSE_ARRAY || c === CLOSE_OBJECT || isWhitespace(c)) return;
      this.pos++;
    }
  }

  private skipString(): void {
    const bytes = this.bytes;
    let at = this.pos + 1;
    for (;;) {
      const close = bytes.indexOf(QUOTE, at);
      if (close < 0) abandon();
      let backslashes = 0;
      while (bytes[close - 1 - backslashes] === BACKSLASH) backslashes++;
      if (backslashes % 2 === 0) {
        this.pos = close + 1;
        return;
      }
      at = close + 1;
    }
  }

  /**
   * Reads an array holding only numbers (nested to one depth throughout) with JSON's grammar,
   * or leaves `pos` where it was and returns undefined for anything else (strings, literals, mixed depths...).
   */
  private numericArray(exactOnly: boolean): NumericRun | undefined {
    const bytes = this.bytes;
    const length = bytes.length;
    const start = this.pos;
    let values = new Float64Array(1024);
    let count = 0;
    const float32Only: number[] = [];
    let depth = 0;
    // Bit d set: some element at depth d is a number / an array. A depth with both is refused.
    let numberDepths = 0;
    let arrayDepths = 0;
    let at = start;
    // true right after '[' or ',': a value must come next.
    let wantValue = true;
    let afterOpen = false;
    while (at < length) {
      let c = bytes[at] as number;
      if (isWhitespace(c)) {
        at++;
        continue;
      }
      if (c === OPEN_ARRAY) {
        if (!wantValue) return this.reject(start);
        if (depth > 0) arrayDepths |= 1 << depth;
        if (++depth > MAX_DEPTH) return this.reject(start);
        at++;
        afterOpen = true;
        continue;
      }
      if (c === CLOSE_ARRAY) {
        if (wantValue && !afterOpen) return this.reject(start);
        at++;
        wantValue = false;
        afterOpen = false;
        if (--depth === 0) break;
        continue;
      }
      if (c === COMMA) {
        if (wantValue) return this.reject(start);
        at++;
        wantValue = true;
        afterOpen = false;
        continue;
      }
      if (!wantValue || !(isDigit(c) || c === MINUS)) return this.reject(start);
      wantValue = false;
      afterOpen = false;
      numberDepths |= 1 << depth;

      // One number token, JSON grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
      const tokenStart = at;
      const negative = c === MINUS;
      if (negative) c = bytes[++at] ?? 0;
      if (!isDigit(c)) return this.reject(start);
      let mantissa = 0;
      let digits = 0;
      if (c === ZERO) {
        c = bytes[++at] ?? 0;
        if (isDigit(c)) return this.reject(start);
      } else {
        do {
          mantissa = mantissa * 10 + (c - ZERO);
          digits++;
          c = bytes[++at] ?? 0;
        } while (isDigit(c));
      }
      let exponent = 0;
      if (c === DOT) {
        c = bytes[++at] ?? 0;
        if (!isDigit(c)) return this.reject(start);
        do {
          mantissa = mantissa * 10 + (c - ZERO);
          if (mantissa !== 0) digits++;
          exponent--;
          c = bytes[++at] ?? 0;
        } while (isDigit(c));
      }
      if (c === LOWER_E || c === UPPER_E) {
        c = bytes[++at] ?? 0;
        const negativeExponent = c === MINUS;
        if (c === MINUS || c === PLUS) c = bytes[++at] ?? 0;
        if (!isDigit(c)) return this.reject(start);
        let written = 0;
        do {
          if (written < 100_000) written = written * 10 + (c - ZERO);
          c = bytes[++at] ?? 0;
        } while (isDigit(c));
        exponent += negativeExponent ? -written : written;
      }

      let value: number;
      const scale = exponent < 0 ? -exponent : exponent;
      if (mantissa <= TWO_53 && scale <= 22) {
        // Exact mantissa and power of ten: one correctly rounded operation (Clinger's fast path).
        const magnitude = exponent < 0 ? mantissa / (POWERS_OF_TEN[scale] as number) : mantissa * (POWERS_OF_TEN[scale] as number);
        value = negative ? -magnitude : magnitude;
      } else if (exactOnly) {
        // Such numbers are JSON.parse's work anyway: hand it the whole body rather than walk on
        // (skipping the rest of a big array costs a fifth of parsing it).
        return abandon();
      } else if (digits <= MAX_APPROXIMATED_DIGITS && scale <= 44) {
        const magnitude = scaled(mantissa, exponent);
        const approximate = negative ? -magnitude : magnitude;
        const slack = magnitude * APPROXIMATION_SLACK;
        const rounded = Math.fround(approximate);
        // Float32 rounding is monotonic: if both ends of the error interval round to the same float32,
        // so does JSON.parse's double, which lies inside it.
        if (Math.fround(approximate - slack) === rounded && Math.fround(approximate + slack) === rounded) {
          value = rounded;
          float32Only.push(count, tokenStart);
        } else {
          value = exactNumberAt(bytes, tokenStart);
        }
      } else {
        value = exactNumberAt(bytes, tokenStart);
      }
      if (count === values.length) {
        const grown = new Float64Array(values.length * 2);
        grown.set(values);
        values = grown;
      }
      values[count++] = value;
    }
    if (depth !== 0) return this.reject(start);
    if ((numberDepths & arrayDepths) !== 0 || at - start < MIN_RUN_BYTES) return this.reject(start);
    this.pos = at;
    return {
      start,
      end: at,
      depth: count === 0 ? 0 : 31 - Math.clz32(numberDepths),
      values: values.subarray(0, count),
      float32Only,
    };
  }

  private reject(start: number): undefined {
    this.pos = start;
    return undefined;
  }
}

const PLACEHOLDER = Buffer.from('0');

/**
 * Finds the big numeric "data" arrays of a V2 request body and parses the rest with JSON.parse.
 * Undefined where the body should simply go to JSON.parse (small, malformed, unusual, or no big arrays).
 */
export function scanJsonRequest(body: Buffer): ScannedRequest | undefined {
  if (body.length < FAST_PATH_MIN_BYTES) return undefined;
  try {
    return new Scanner(body).scan();
  } catch (error) {
    if (error instanceof Abandon) return undefined;
    throw error;
  }
}

/**
 * The run's numbers as JSON.parse gives them (exact doubles), except that for FP32 and FP16 targets
 * float32-rounded values are kept as they are: those tensors store the same bits either way.
 * Works the exact doubles out in place, in the run's own array; undefined where so many numbers need
 * that JSON.parse of the array (runAsJson) is the cheaper way.
 */
export function runValues(body: Buffer, run: NumericRun, float32Target: boolean): Float64Array | undefined {
  const values = run.values;
  if (float32Target || run.float32Only.length === 0) return values;
  // Past this share, reading each number again costs more than JSON.parse of the whole array.
  if (run.float32Only.length / 2 > values.length / 16) return undefined;
  // One string for the whole run: slicing it is far cheaper than a Buffer.toString per number.
  const text = body.toString('latin1', run.start, run.end);
  for (let i = 0; i < run.float32Only.length; i += 2) {
    const start = (run.float32Only[i + 1] as number) - run.start;
    values[run.float32Only[i] as number] = Number(text.slice(start, tokenEnd(body, start + run.start) - run.start));
  }
  return values;
}

/** The run's array exactly as JSON.parse reads it, for the cases the fast path does not cover. */
export function runAsJson(body: Buffer, run: NumericRun): unknown[] {
  return JSON.parse(body.toString('latin1', run.start, run.end)) as unknown[];
}
