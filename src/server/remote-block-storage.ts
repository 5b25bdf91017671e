/**
 * Compute against a block storage service over REST (config `blockStorageUrl`): Hitch's own in
 * another process, or any Cinder-compatible endpoint. As Nova does with its `[cinder]` section,
 * compute keeps a Keystone session of its own (`blockStorageUser` in `blockStorageProject`),
 * finds the block storage endpoint in that session's catalog, negotiates the microversion, and
 * makes every storage call of an attach and a detach through `BlockStorageClient` — the
 * attachments API from 3.44, the legacy actions before it or when `cinderFlow` says so.
 *
 * The data plane must be one both sides reach: the real one (the remote's targets on the
 * network), or a simulator daemon's world both processes share (`simSocket`). An in-process
 * simulation is refused: the remote's targets are not in it.
 */
import { httpVolumeProtocol } from '../compute/http-volume-protocol.ts';
import { HitchError } from '../errors.ts';
import { KeystoneSession } from '../http/keystone-session.ts';
import type { VolumeAttachProtocol } from '../ports/block-storage.ts';
import { BlockStorageClient } from '../volume/client.ts';
import type { HitchConfig } from './config.ts';
import type { Logger } from './log.ts';

export interface RemoteBlockStorage {
  /** The block storage endpoint the catalog named (`…/volume/v3/{project_id}` for a Hitch). */
  readonly endpoint: string;
  /** The microversion agreed with it. */
  readonly version: string;
  /** The storage side of attach and detach for compute host `hostName`. */
  protocol(hostName: string): Promise<VolumeAttachProtocol>;
}

/** The remote block storage of `cfg.blockStorageUrl`, or null when compute uses its own in process. */
export async function remoteBlockStorage(cfg: HitchConfig, logger: Logger): Promise<RemoteBlockStorage | null> {
  if (cfg.blockStorageUrl === null) return null;
  if (cfg.blockStoragePassword === null) {
    throw new HitchError('HITCH_INVALID_ARGUMENT', { reason: 'config blockStoragePassword: needed with blockStorageUrl' });
  }
  if (cfg.simSocket === null && cfg.backend === 'sim') {
    throw new HitchError('HITCH_INVALID_ARGUMENT', {
      reason: `config blockStorageUrl: the simulated data plane of this process cannot reach the targets of ${cfg.blockStorageUrl}; share a simulator daemon's world with it (--sim-socket) or use the real data plane (--backend tgt)`,
    });
  }
  const session = new KeystoneSession({
    authUrl: cfg.blockStorageUrl,
    username: cfg.blockStorageUser,
    password: cfg.blockStoragePassword,
    projectName: cfg.blockStorageProject,
  });
  const endpoint = await session.endpoint(['volumev3', 'block-storage']);
  const client = new BlockStorageClient({
    endpoint,
    token: () => session.token(),
    // keystoneauth's REQ lines (token as its SHA1), at debug beside the host commands.
    log: (line) => logger.debug({ service: 'block-storage' }, line),
  });
  const version = await client.negotiate();
  logger.info({ block_storage: endpoint, version, flow: cfg.cinderFlow }, `compute uses the block storage service at ${endpoint} (microversion ${version})`);
  return { endpoint, version, protocol: (hostName) => httpVolumeProtocol(client, cfg.cinderFlow, hostName) };
}
