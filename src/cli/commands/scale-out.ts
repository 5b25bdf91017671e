/**
 * Scale-out processes, on PostgreSQL:
 *
 *   hitch api   [serve's options] --database-url postgres://…   any number of API processes
 *   hitch agent --host NAME --database-url postgres://…         one per compute host
 *
 * The API processes answer every API and queue compute work for the server's host; each agent
 * runs its host's attach and detach flows. With the simulated data plane, every process points
 * at one simulated world: `hitch sim serve --scenario three-hosts` and `--sim-socket PATH`.
 */
import { Option, type Command } from 'commander';
import { HitchError } from '../../errors.ts';
import type { CliContext } from '../context.ts';
import { recordServe } from '../last-serve.ts';

/** The options the data plane and the database need, shared by `api` and `agent`. */
function planeOptions(c: Command): Command {
  return c
    .addOption(new Option('--database-url <url>', 'postgres://… — the state every process shares (HITCH_DATABASE_URL)'))
    .addOption(new Option('--data-dir <dir>', 'credentials and clouds.yaml (HITCH_DATA_DIR, default ./.data)'))
    .addOption(new Option('--scenario <name>', 'simulated data plane: built-in scenario or file'))
    .addOption(new Option('--seed <n>', "the simulation's random seed"))
    .addOption(new Option('--sim-socket <path>', "the simulator daemon's socket (hitch sim serve), shared by every process (HITCH_SIM_SOCKET)"))
    .addOption(new Option('--backend <kind>', 'block storage backend').choices(['sim', 'tgt', 'nvmet']))
    .addOption(new Option('--virt <kind>', 'hypervisor driver').choices(['sim', 'libvirt']))
    .addOption(new Option('--attach-mode <mode>', "kernel initiator or QEMU's own iSCSI").choices(['kernel', 'qemu-native']))
    .addOption(new Option('--cinder-flow <flow>', 'attachments API or the legacy actions').choices(['attachments', 'legacy']))
    .addOption(new Option('--block-storage-url <url>', 'Keystone v3 URL of the cloud whose block storage compute uses over REST (HITCH_BLOCK_STORAGE_URL; password in HITCH_BLOCK_STORAGE_PASSWORD); default: its own, in process'))
    .addOption(new Option('--detach-timeout-ms <ms>', 'how long a guest may take to release a disk'))
    .addOption(new Option('--log-level <level>', 'log level (HITCH_LOG_LEVEL, default info)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .addOption(new Option('--log-format <format>', 'JSON lines, or pretty lines for a person (HITCH_LOG_FORMAT; default: pretty on a terminal, else json)').choices(['json', 'pretty', 'auto']))
    .addOption(new Option('--config <file>', 'YAML or JSON config file (HITCH_CONFIG)'));
}

function requirePostgres(url: unknown, what: string, env: NodeJS.ProcessEnv): void {
  const u = typeof url === 'string' ? url : env['HITCH_DATABASE_URL'];
  if (!u || !/^postgres(ql)?:\/\//.test(u)) {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `${what} shares its state through PostgreSQL: give --database-url postgres://… (hitch serve is the one-process, SQLite mode)` });
  }
}

export function registerScaleOutCommands(program: Command, ctx: CliContext): void {
  planeOptions(
    program
      .command('api')
      .description('run an API process of a scale-out cloud (PostgreSQL): all APIs, compute work queued to the agents')
      .addOption(new Option('--port <port>', 'port to listen on (HITCH_PORT)'))
      .addOption(new Option('--bind <address>', 'address to listen on (HITCH_BIND)'))
      .addOption(new Option('--public-url <url>', 'URL clients use, in the catalog')),
  ).action(async (o: Record<string, unknown>) => {
    requirePostgres(o['databaseUrl'], 'hitch api', ctx.io.env);
    // --data-dir is also a global option (for the client commands): honour either place, as serve does.
    const dataDir = o['dataDir'] ?? program.opts<{ dataDir?: string }>().dataDir;
    const { serve } = await import('../../server/serve.ts');
    const running = await serve({ ...o, ...(dataDir !== undefined ? { dataDir } : {}), simSpeed: 0, role: { kind: 'api' } }, ctx.io.out);
    if (running) recordServe(ctx.io.env, process.cwd(), { dataDir: running.config.dataDir, url: running.url });
  });

  planeOptions(
    program
      .command('agent')
      .description("run the agent of one or more compute hosts: recovers their unfinished operations, then takes their work from the queue")
      .requiredOption('--host <name>', 'a compute host this agent serves (a host of the data plane); repeat it, or give a comma-separated list, for many hosts in one process', (v: string, prev: string[] | undefined) => [...(prev ?? []), ...v.split(',').map((x) => x.trim()).filter(Boolean)]),
  ).action(async (o: Record<string, unknown> & { host: string[] }) => {
    requirePostgres(o['databaseUrl'], 'hitch agent', ctx.io.env);
    const { host: hosts, ...flags } = o;
    const dataDir = o['dataDir'] ?? program.opts<{ dataDir?: string }>().dataDir;
    const [{ resolveConfig }, { startAgent }, { serverLogger }] = await Promise.all([import('../../server/config.ts'), import('../../server/scale-out.ts'), import('../../server/serve.ts')]);
    const config = resolveConfig({ ...flags, ...(dataDir !== undefined ? { dataDir } : {}), port: 0 });
    // Agents log as the server does: the same lines, the same request ids (from the API process).
    const logger = serverLogger(config, process.stdout, 'agent');
    const running = await startAgent({ config, hosts, logger });
    const named = hosts.length <= 3 ? `host ${hosts.join(', ')}` : `${hosts.length} hosts (${hosts[0]} … ${hosts[hosts.length - 1]})`;
    ctx.io.out(`hitch agent: ${named} (agent ${running.agent.id}) taking work from ${config.databaseUrl.replace(/\/\/[^@]*@/, '//***@')}`);
    const stop = (sig: NodeJS.Signals): void => {
      ctx.io.out(`hitch agent: ${sig}: finishing operations in flight, then signing off`);
      void running.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
