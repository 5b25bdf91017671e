/**
 * Scale-out processes (PostgreSQL for state and for the work queue):
 *
 *   hitch api                  any number: the HTTP APIs; compute work goes through the queue
 *   hitch agent --host NAME …  one per compute host, or one for many: runs their attach/detach flows
 *
 * Both take the same configuration as `hitch serve` (database URL, data plane); the all-in-one
 * `hitch serve` is both in one process, with direct dispatch.
 */
import { ComputeAgent } from '../compute/agent.ts';
import { HitchError } from '../errors.ts';
import { createCloud, createServices, type Cloud, type CloudCredentials, type Services } from './cloud.ts';
import type { HitchConfig } from './config.ts';
import type { DataPlane } from './data-plane.ts';
import type { Logger } from './log.ts';

export interface RunningAgent {
  readonly agent: ComputeAgent;
  readonly services: Services;
  stop(): Promise<void>;
}

function requirePostgres(cfg: HitchConfig, what: string): void {
  if (!cfg.databaseUrl.startsWith('postgres')) {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: `${what} shares its state through PostgreSQL: set --database-url postgres://… (SQLite is for the all-in-one hitch serve)` });
  }
}

/** An API process: all the HTTP APIs, no compute host of its own. */
export async function startApi(opts: { config: HitchConfig; credentials: CloudCredentials; dataPlane?: DataPlane }): Promise<Cloud> {
  requirePostgres(opts.config, 'hitch api');
  return createCloud({ config: opts.config, credentials: opts.credentials, role: { kind: 'api' }, ...(opts.dataPlane ? { dataPlane: opts.dataPlane } : {}) });
}

/**
 * An agent process of compute host `host` (or of every host in `hosts`): recovers each host's
 * unfinished operations, then takes their work, woken by its one LISTEN connection.
 */
export async function startAgent(opts: { config: HitchConfig; host?: string; hosts?: readonly string[]; dataPlane?: DataPlane; agentId?: string; logger?: Logger }): Promise<RunningAgent> {
  requirePostgres(opts.config, 'hitch agent');
  const hosts = [...(opts.hosts ?? []), ...(opts.host !== undefined ? [opts.host] : [])];
  const services = await createServices({ config: opts.config, role: { kind: 'agent', hosts }, ...(opts.dataPlane ? { dataPlane: opts.dataPlane } : {}), ...(opts.logger ? { logger: opts.logger } : {}) });
  try {
    const agent = new ComputeAgent({
      queue: services.queue,
      managers: services.hosts.map((h) => h.manager),
      listenUrl: opts.config.databaseUrl,
      // Two heartbeats per hostDownAfterMs (liveness.ts: down once a heartbeat is 11/12 of it old).
      heartbeatMs: Math.max(500, Math.floor(opts.config.hostDownAfterMs / 2)),
      ...(opts.agentId ? { agentId: opts.agentId } : {}),
    });
    await agent.start();
    return {
      agent,
      services,
      async stop() {
        await agent.stop();
        await services.close();
      },
    };
  } catch (e) {
    await services.close();
    throw e;
  }
}
