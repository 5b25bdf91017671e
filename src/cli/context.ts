/** What every command gets: where to write, the global options, and a client made on demand. */
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { resolveAuth } from './auth.ts';
import { HitchClient } from './client.ts';

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** A terminal to redraw progress on, or null for plain lines. */
  readonly tty: NodeJS.WriteStream | null;
  /** Standard input, for commands that read it (`explain --log -`); absent in-process. */
  readonly stdin?: Readable;
}

export interface GlobalOptions {
  osCloud?: string;
  dataDir?: string;
  as?: string;
  debug?: boolean;
}

export class CliContext {
  readonly io: CliIo;
  readonly #program: Command;
  #client: HitchClient | null = null;

  constructor(program: Command, io: CliIo) {
    this.#program = program;
    this.io = io;
  }

  get globals(): GlobalOptions {
    return this.#program.opts<GlobalOptions>();
  }

  get client(): HitchClient {
    if (!this.#client) {
      const g = this.globals;
      const auth = resolveAuth({ osCloud: g.osCloud, dataDir: g.dataDir, as: g.as }, this.io.env);
      if (g.debug) this.io.err(`auth: ${auth.username}@${auth.projectName} via ${auth.source}`);
      this.#client = new HitchClient(auth, g.debug ? { debug: (l) => this.io.err(l) } : {});
    }
    return this.#client;
  }
}
