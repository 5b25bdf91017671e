/**
 * `hitch`: the all-in-one server (`hitch serve`) and a client for it — volumes, servers,
 * attach/detach with live progress, and `explain` for where an attach's time went.
 *
 * `runCli(argv, io)` is the whole program without the process: tests call it in-process.
 * Every error ends as one line `hitch: HITCH_CODE: message` and a non-zero exit status.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { HitchError, toHitchError } from '../errors.ts';
import { registerAttachCommands } from './commands/attach.ts';
import { registerDbCommands } from './commands/db.ts';
import { registerResourceCommands } from './commands/resources.ts';
import { registerScenarioCommands } from './commands/scenario.ts';
import { registerScaleOutCommands } from './commands/scale-out.ts';
import { registerSimCommands } from './commands/sim.ts';
import { CliContext, type CliIo } from './context.ts';
import { recordServe } from './last-serve.ts';

export const EXAMPLES = `
Examples:
  hitch serve                                  start the all-in-one cloud on http://127.0.0.1:8080
  hitch serve --scenario seed --sim-speed 10   the seed's dead portal, at 10x real time
  hitch volume list
  hitch attach demo-server demo-volume         attach, showing each step as it runs
  hitch explain demo-server demo-volume        waterfall, critical path, diagnosis
  hitch detach demo-server demo-volume
  hitch scenario run seed                      the seed in memory, on virtual time

Credentials: --os-cloud NAME (clouds.yaml), OS_* variables, or the data directory that
\`hitch serve\` wrote (./.data by default; --data-dir or HITCH_DATA_DIR).`;

function serveCommand(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('run the all-in-one cloud: identity, block storage, compute, dashboard, metrics on one port')
    .addOption(new Option('--port <port>', 'port to listen on (default 8080; HITCH_PORT)'))
    .addOption(new Option('--bind <address>', 'address to listen on (default 127.0.0.1; HITCH_BIND)'))
    .addOption(new Option('--public-url <url>', 'URL clients use, in the catalog (default http://BIND:PORT)'))
    .addOption(new Option('--data-dir <dir>', 'SQLite file, credentials, clouds.yaml (default ./.data; HITCH_DATA_DIR)'))
    .addOption(new Option('--database-url <url>', 'sqlite:FILE or postgres://… (default sqlite under the data dir)'))
    .addOption(new Option('--scenario <name>', 'simulated data plane: a built-in scenario or a file (default healthy-multipath)'))
    .addOption(new Option('--seed <n>', 'the simulation\'s random seed (default 1)'))
    .addOption(new Option('--sim-socket <path>', 'use the world of a simulator daemon (hitch sim serve) instead of an in-process one (HITCH_SIM_SOCKET)'))
    .addOption(new Option('--sim-speed <x>', 'pace virtual time at x times real time; 0 = unpaced (default 1; HITCH_SIM_SPEED)'))
    .addOption(new Option('--backend <kind>', 'block storage backend: the simulated array, tgt (iSCSI) or the kernel\'s nvmet (NVMe/TCP)').choices(['sim', 'tgt', 'nvmet']))
    .addOption(new Option('--virt <kind>', 'hypervisor driver').choices(['sim', 'libvirt']))
    .addOption(new Option('--attach-mode <mode>', 'kernel initiator or QEMU\'s own iSCSI').choices(['kernel', 'qemu-native']))
    .addOption(new Option('--cinder-flow <flow>', 'attachments API or the legacy actions').choices(['attachments', 'legacy']))
    .addOption(new Option('--block-storage-url <url>', 'Keystone v3 URL of the cloud whose block storage compute uses over REST (HITCH_BLOCK_STORAGE_URL; password in HITCH_BLOCK_STORAGE_PASSWORD); default: its own, in process'))
    .addOption(new Option('--detach-timeout-ms <ms>', 'how long a guest may take to release a disk'))
    .addOption(new Option('--log-level <level>', 'log level (HITCH_LOG_LEVEL, default info; debug adds every host command)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .addOption(new Option('--log-format <format>', 'JSON lines, or pretty lines for a person (HITCH_LOG_FORMAT; default: pretty on a terminal, else json)').choices(['json', 'pretty', 'auto']))
    .addOption(new Option('--operation-retention-days <days>', 'how long finished attaches and detaches stay in the operation history (default 30)'))
    .addOption(new Option('--config <file>', 'YAML or JSON config file (HITCH_CONFIG); flags > HITCH_* env > file > defaults'))
    .option('--print-config', 'print the resolved configuration (secrets masked) and exit')
    .action(async (o: Record<string, unknown>) => {
      // The data dir is also a global option (for the client commands): honour either place.
      const dataDir = o['dataDir'] ?? program.opts<{ dataDir?: string }>().dataDir;
      // Loaded only when serving: the server's modules (HTTP, database, data plane) are most of
      // Hitch, and a client command needs none of them.
      const { serve } = await import('../server/serve.ts');
      const running = await serve({ ...o, ...(dataDir !== undefined ? { dataDir } : {}) }, io.out);
      if (running) recordServe(io.env, process.cwd(), { dataDir: running.config.dataDir, url: running.url });
    });
}

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function buildProgram(io: CliIo): Command {
  const program = new Command('hitch');
  const ctx = new CliContext(program, io);
  program
    .description('Hitch attaches block volumes to virtual machines (the OpenStack Nova/Cinder/os-brick attach path, rebuilt).')
    .version(VERSION)
    .option('--os-cloud <name>', 'a cloud from clouds.yaml (OS_CLOUD)')
    .option('--data-dir <dir>', 'where `hitch serve` keeps credentials (HITCH_DATA_DIR, default ./.data)')
    .option('--as <user>', 'with the data dir\'s credentials: demo (default) or admin')
    .option('--debug', 'print each REST request (curl form, token masked) and response')
    .addHelpText('after', EXAMPLES)
    .showHelpAfterError('(run hitch --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => io.err(s.replace(/\n$/, '')),
      outputError: (s, write) => write(`hitch: HITCH_INVALID_ARGUMENT: ${s.replace(/^error: /, '').trim()}\n`),
    });
  serveCommand(program, io);
  registerResourceCommands(program, ctx);
  registerAttachCommands(program, ctx);
  registerScenarioCommands(program, ctx);
  registerSimCommands(program, ctx);
  registerScaleOutCommands(program, ctx);
  registerDbCommands(program, ctx);
  for (const c of program.commands) {
    c.exitOverride();
    for (const sub of c.commands) sub.exitOverride();
  }
  return program;
}

/** Run the CLI; resolves to the exit status. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version end here too, with status 0.
      return e.exitCode === 0 || e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? 0 : 2;
    }
    const err = e instanceof HitchError ? e : toHitchError(e);
    io.err(`hitch: ${err.code}: ${err.message.split('\n')[0]}`);
    if (program.opts<{ debug?: boolean }>().debug && !(e instanceof HitchError) && e instanceof Error && e.stack) io.err(e.stack);
    return 1;
  }
}

/** The process entry: run with the real terminal and set the exit status. */
export async function main(argv: readonly string[]): Promise<void> {
  // A reader that stops early (`hitch explain --log … | head`) closes the pipe: end quietly, as
  // Unix tools do, instead of crashing on the unhandled EPIPE of the next write.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? 0);
  });
  const io: CliIo = {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    env: process.env,
    tty: process.stdout.isTTY ? process.stdout : null,
    stdin: process.stdin,
  };
  const code = await runCli(argv, io);
  // `serve` keeps the process alive until a signal; every other command ends with its status.
  process.exitCode = code;
}

// `tsx src/cli/main.ts …` (what `npm start` runs); bin/hitch.js calls main() itself.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
