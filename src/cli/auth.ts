/**
 * Where the CLI finds a cloud and its credentials, first match wins:
 *
 * 1. `--os-cloud NAME` (or `OS_CLOUD`): that entry of clouds.yaml, searched as openstackclient
 *    does (`OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`, `~/.config/openstack/clouds.yaml`,
 *    `/etc/openstack/clouds.yaml`) and then in the data directory that `hitch serve` wrote;
 * 2. `OS_AUTH_URL` + `OS_USERNAME` + `OS_PASSWORD` (+ `OS_PROJECT_NAME`, domains);
 * 3. the data directory's `credentials.json` (`--data-dir`, `HITCH_DATA_DIR`, default `./.data`)
 *    as the demo user (`--as admin` for the admin).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { HitchError } from '../errors.ts';

export interface CliAuth {
  readonly authUrl: string;
  readonly username: string;
  readonly password: string;
  readonly projectName: string;
  readonly userDomain: string;
  readonly projectDomain: string;
  /** Where these came from, for `--debug`. */
  readonly source: string;
}

export interface AuthOptions {
  readonly osCloud?: string | undefined;
  readonly dataDir?: string | undefined;
  readonly as?: string | undefined;
}

const bad = (reason: string): HitchError => new HitchError('HITCH_INVALID_ARGUMENT', { reason });

/** The data directory the CLI reads credentials from. */
export function cliDataDir(opts: AuthOptions, env: NodeJS.ProcessEnv): string {
  return resolve(opts.dataDir ?? env['HITCH_DATA_DIR'] ?? '.data');
}

type CloudEntry = { auth?: Record<string, unknown> };

/**
 * The YAML parser, loaded only when a clouds.yaml is read: it costs more start-up than the rest
 * of a client command together, and most commands never read one.
 */
const yaml = (): typeof import('yaml') => createRequire(import.meta.url)('yaml') as typeof import('yaml');

function fromCloudsYaml(name: string, dataDir: string, env: NodeJS.ProcessEnv): CliAuth {
  const files = [env['OS_CLIENT_CONFIG_FILE'], 'clouds.yaml', join(homedir(), '.config/openstack/clouds.yaml'), '/etc/openstack/clouds.yaml', join(dataDir, 'clouds.yaml')].filter(
    (f): f is string => typeof f === 'string' && f.length > 0,
  );
  for (const f of files) {
    if (!existsSync(f)) continue;
    let doc: { clouds?: Record<string, CloudEntry> };
    try {
      doc = (yaml().parse(readFileSync(f, 'utf8')) ?? {}) as typeof doc;
    } catch (e) {
      throw bad(`cannot read ${f}: ${(e as Error).message}`);
    }
    const c = doc.clouds?.[name];
    if (!c) continue;
    const a = c.auth ?? {};
    const s = (k: string, dflt?: string): string => {
      const v = a[k];
      if (typeof v === 'string' && v.length > 0) return v;
      if (dflt !== undefined) return dflt;
      throw bad(`cloud ${name} in ${f} has no auth.${k}`);
    };
    return {
      authUrl: s('auth_url'),
      username: s('username'),
      password: s('password'),
      projectName: s('project_name'),
      userDomain: s('user_domain_name', 'Default'),
      projectDomain: s('project_domain_name', 'Default'),
      source: `${f} (cloud ${name})`,
    };
  }
  throw bad(`no cloud named ${name} in ${files.join(', ')}`);
}

/** Resolve the credentials to use; throws a one-line error saying what to do when there are none. */
export function resolveAuth(opts: AuthOptions, env: NodeJS.ProcessEnv = process.env): CliAuth {
  const dataDir = cliDataDir(opts, env);
  const cloud = opts.osCloud ?? env['OS_CLOUD'];
  if (cloud) return fromCloudsYaml(cloud, dataDir, env);
  if (env['OS_AUTH_URL'] && env['OS_USERNAME'] && env['OS_PASSWORD']) {
    return {
      authUrl: env['OS_AUTH_URL'],
      username: env['OS_USERNAME'],
      password: env['OS_PASSWORD'],
      projectName: env['OS_PROJECT_NAME'] ?? env['OS_TENANT_NAME'] ?? env['OS_USERNAME'],
      userDomain: env['OS_USER_DOMAIN_NAME'] ?? 'Default',
      projectDomain: env['OS_PROJECT_DOMAIN_NAME'] ?? 'Default',
      source: 'OS_* environment',
    };
  }
  const credFile = join(dataDir, 'credentials.json');
  if (existsSync(credFile)) {
    let c: { url?: unknown; admin?: { password?: unknown }; demo?: { password?: unknown } };
    try {
      c = JSON.parse(readFileSync(credFile, 'utf8')) as typeof c;
    } catch (e) {
      throw bad(`cannot read ${credFile}: ${(e as Error).message}`);
    }
    const who = opts.as ?? 'demo';
    if (who !== 'demo' && who !== 'admin') throw bad(`--as must be demo or admin (got ${who})`);
    const password = c[who]?.password;
    if (typeof c.url !== 'string' || typeof password !== 'string') throw bad(`${credFile} is not a Hitch credentials file`);
    return {
      authUrl: `${c.url}/identity/v3`,
      username: who,
      password,
      projectName: who,
      userDomain: 'Default',
      projectDomain: 'Default',
      source: credFile,
    };
  }
  throw new HitchError('HITCH_UNAUTHORIZED', {}, {
    message: `no credentials: start the server with \`hitch serve\` (writes ${credFile}), or use --os-cloud NAME or OS_AUTH_URL/OS_USERNAME/OS_PASSWORD`,
  });
}
