/** What every command gets: where to write, the global options, and a client made on demand. */
import type { Readable } from 'node:stream';
import type { Command } from 'commander';
import { relative } from 'node:path';
import { HitchError, isHitchError } from '../errors.ts';
import { cliDataDir, resolveAuth } from './auth.ts';
import { HitchClient } from './client.ts';
import { lastServe } from './last-serve.ts';

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
      const dir = cliDataDir({ dataDir: g.dataDir }, this.io.env);
      // The default data directory, while the last server started here used another: say so.
      const explicit = g.dataDir !== undefined || Boolean(this.io.env['HITCH_DATA_DIR']);
      const last = explicit ? null : lastServe(this.io.env, process.cwd());
      const other = last && last.dataDir !== dir ? last : null;
      const shown = (d: string): string => (relative(process.cwd(), d).startsWith('..') ? d : `./${relative(process.cwd(), d)}`);
      let auth;
      try {
        auth = resolveAuth({ osCloud: g.osCloud, dataDir: g.dataDir, as: g.as }, this.io.env);
      } catch (e) {
        if (!other || !isHitchError(e, 'HITCH_UNAUTHORIZED')) throw e;
        throw new HitchError('HITCH_UNAUTHORIZED', {}, {
          message: `no credentials in ${shown(dir)}; the last server started in this directory (${other.url}) keeps them in ${shown(other.dataDir)}: run hitch --data-dir ${shown(other.dataDir)} …`,
        });
      }
      if (other && auth.source === `${dir}/credentials.json`) {
        this.io.err(`hitch: note: using ${shown(dir)} (${auth.authUrl.replace(/\/identity\/v3$/, '')}); the last server started in this directory was ${other.url} with ${shown(other.dataDir)}: add --data-dir ${shown(other.dataDir)} for that one`);
      }
      if (g.debug) this.io.err(`auth: ${auth.username}@${auth.projectName} via ${auth.source}`);
      this.#client = new HitchClient(auth, g.debug ? { debug: (l) => this.io.err(l) } : {});
    }
    return this.#client;
  }
}
