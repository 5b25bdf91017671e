/**
 * Inside the storage host guest: Debian's os-brick 6.1 beside Hitch — one Python process
 * (bench/peers/os_brick_real.py under /usr/bin/python3), os-brick imported once for the whole
 * boot, ISCSIConnector with multipath, privsep in process (root, no helper). Requests go one at a
 * time over its stdin; `connectMany` runs several connects at once in threads, as Nova's
 * concurrent attach requests do.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface OsBrickReply {
  readonly ok: boolean;
  readonly ms: number;
  readonly commands: number;
  readonly trail: readonly string[];
  readonly device?: Readonly<Record<string, string>>;
  readonly devices?: readonly OsBrickReply[];
  readonly props?: Readonly<Record<string, unknown>>;
  readonly error?: string;
}

export class OsBrickOnGuest {
  readonly version: string;
  readonly importMs: number;
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #waiting: Array<(r: OsBrickReply) => void> = [];
  readonly stderr: string[] = [];

  private constructor(child: ChildProcessWithoutNullStreams, version: string, importMs: number, lines: AsyncIterableIterator<string>) {
    this.#child = child;
    this.version = version;
    this.importMs = importMs;
    void (async () => {
      for await (const line of lines) this.#waiting.shift()?.(JSON.parse(line) as OsBrickReply);
    })();
    // A harness that ends (killed, crashed) answers every request still waiting, with its stderr.
    child.on('exit', (code, signal) => {
      const error = `os-brick harness exited (${signal ?? code}): ${this.stderr.join('').slice(-1500)}`;
      for (const w of this.#waiting.splice(0)) w({ ok: false, ms: 0, commands: 0, trail: [], error });
      OsBrickOnGuest.#instance = null;
    });
  }

  static #instance: Promise<OsBrickOnGuest> | null = null;

  /** The one os-brick process of this boot (started, and imported, on first use). */
  static get(): Promise<OsBrickOnGuest> {
    this.#instance ??= OsBrickOnGuest.#start();
    return this.#instance;
  }

  static async #start(): Promise<OsBrickOnGuest> {
    const child = spawn('/usr/bin/python3', ['bench/peers/os_brick_real.py'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    const stderr: string[] = [];
    child.stderr.on('data', (b: Buffer) => {
      stderr.push(b.toString('utf8'));
      if (stderr.length > 200) stderr.shift();
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await lines.next();
    if (first.done) throw new Error(`os-brick harness exited before it was ready: ${stderr.join('').slice(-2000)}`);
    const ready = JSON.parse(first.value) as { t: string; importMs: number; version: string };
    const o = new OsBrickOnGuest(child, ready.version, ready.importMs, lines);
    o.stderr.push(...stderr);
    child.stderr.removeAllListeners('data');
    child.stderr.on('data', (b: Buffer) => {
      o.stderr.push(b.toString('utf8'));
      if (o.stderr.length > 200) o.stderr.shift();
    });
    return o;
  }

  request(req: Record<string, unknown>): Promise<OsBrickReply> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) {
      return Promise.resolve({ ok: false, ms: 0, commands: 0, trail: [], error: `os-brick harness not running: ${this.stderr.join('').slice(-1500)}` });
    }
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#child.stdin.write(`${JSON.stringify(req)}\n`);
    });
  }

  connect(props: unknown, multipath = true): Promise<OsBrickReply> {
    return this.request({ op: 'connect', props, multipath });
  }

  connectMany(props: readonly unknown[], multipath = true): Promise<OsBrickReply> {
    return this.request({ op: 'connectMany', props, multipath });
  }

  disconnect(props: unknown, device: unknown, multipath = true): Promise<OsBrickReply> {
    return this.request({ op: 'disconnect', props, device, multipath });
  }
}
