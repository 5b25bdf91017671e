/**
 * `hitch sim serve`: the simulated data plane as a process of its own (`src/sim/remote/`), so it
 * outlives the servers that use it (crash tests) and is shared by several of them (scale-out).
 * Servers reach it with `hitch serve --sim-socket PATH` (or HITCH_SIM_SOCKET).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { HitchError } from '../../errors.ts';
import type { CliContext } from '../context.ts';

function intOption(name: string, v: unknown, min: number, max: number): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `--${name} must be an integer from ${min} to ${max}` });
  return n;
}

export function registerSimCommands(program: Command, ctx: CliContext): void {
  const sim = program.command('sim').description('the simulated data plane as a process of its own');
  sim
    .command('serve')
    .description('serve one simulated world (arrays, hosts\' kernels, hypervisors) on a unix socket until SIGINT/SIGTERM')
    .addOption(new Option('--scenario <name>', 'a built-in scenario or a file (default healthy-multipath)'))
    .addOption(new Option('--seed <n>', 'the simulation\'s random seed (default: the scenario\'s, else 1)'))
    .addOption(new Option('--socket <path>', 'unix socket to listen on (default: a new private temp dir)'))
    .addOption(new Option('--quiet-ms <ms>', 'wall ms after the last client message during which virtual time stands still (default 5)'))
    .addOption(new Option('--speed <x>', 'pace virtual time at x times real time; 0 = jump when idle (default 0)'))
    .action(async (o: { scenario?: string; seed?: string; socket?: string; quietMs?: string; speed?: string }) => {
      const scenario = o.scenario ?? 'healthy-multipath';
      const [{ SimDaemon }, { loadScenario }] = await Promise.all([import('../../sim/remote/server.ts'), import('../../sim/scenario.ts')]);
      loadScenario(scenario); // fail fast, with the list of known names
      const socketPath = o.socket !== undefined ? resolve(o.socket) : join(mkdtempSync(join(tmpdir(), 'hitch-sim-')), 'sim.sock');
      const daemon = await SimDaemon.start({
        scenario,
        socketPath,
        ...(o.seed !== undefined ? { seed: intOption('seed', o.seed, 0, 2 ** 31 - 1) } : {}),
        ...(o.quietMs !== undefined ? { quietMs: intOption('quiet-ms', o.quietMs, 0, 10_000) } : {}),
        ...(o.speed !== undefined ? { speed: intOption('speed', o.speed, 0, 100_000) } : {}),
      });
      const info = daemon.hello();
      ctx.io.out(`hitch sim: scenario ${info.scenario}, seed ${info.seed}, ${o.speed && o.speed !== '0' ? `${o.speed}x real time` : 'virtual time jumps when idle'}, hosts ${info.hosts.map((h) => h.name).join(', ')}, arrays ${info.arrays.map((a) => a.name).join(', ')}`);
      ctx.io.out(`hitch sim: listening on ${socketPath} (hitch serve --sim-socket ${socketPath})`);
      const stop = (sig: NodeJS.Signals): void => {
        ctx.io.out(`hitch sim: ${sig}: closing`);
        void daemon.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
