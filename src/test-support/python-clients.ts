/**
 * Run Debian's real OpenStack clients (`openstack`, `cinder`, `nova`) against a Hitch on
 * loopback, authenticated through Hitch's own Keystone with OS_* variables in a private HOME
 * (so no clouds.yaml or cache of the machine leaks in).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ClientResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A user's password and project, or an application credential (its own project and roles). */
export type ClientAuth =
  | { readonly baseUrl: string; readonly username: string; readonly password: string; readonly projectName: string }
  | { readonly baseUrl: string; readonly applicationCredentialId: string; readonly applicationCredentialSecret: string };

export const CLIENT_BINARIES = { openstack: '/usr/bin/openstack', cinder: '/usr/bin/cinder', nova: '/usr/bin/nova' } as const;

/** Which of the clients are missing. */
export function missingClients(names: readonly (keyof typeof CLIENT_BINARIES)[]): string[] {
  return names.filter((n) => !existsSync(CLIENT_BINARIES[n]));
}

export class PythonClients {
  readonly #home: string;
  readonly #env: NodeJS.ProcessEnv;

  constructor(auth: ClientAuth) {
    this.#home = mkdtempSync(join(tmpdir(), 'hitch-clients-'));
    this.#env = {
      PATH: '/usr/bin:/bin',
      HOME: this.#home,
      LANG: 'C.UTF-8',
      NO_PROXY: '*',
      no_proxy: '*',
      PYTHONWARNINGS: 'ignore',
      OS_AUTH_URL: `${auth.baseUrl}/identity/v3`,
      OS_IDENTITY_API_VERSION: '3',
      ...('password' in auth
        ? {
            OS_AUTH_TYPE: 'password',
            OS_USERNAME: auth.username,
            OS_PASSWORD: auth.password,
            OS_PROJECT_NAME: auth.projectName,
            OS_USER_DOMAIN_NAME: 'Default',
            OS_PROJECT_DOMAIN_NAME: 'Default',
          }
        : {
            OS_AUTH_TYPE: 'v3applicationcredential',
            OS_APPLICATION_CREDENTIAL_ID: auth.applicationCredentialId,
            OS_APPLICATION_CREDENTIAL_SECRET: auth.applicationCredentialSecret,
          }),
      OS_REGION_NAME: 'RegionOne',
      OS_INTERFACE: 'public',
    };
  }

  run(client: keyof typeof CLIENT_BINARIES, args: readonly string[], timeoutMs = 60_000): Promise<ClientResult> {
    return new Promise((resolve) => {
      execFile(CLIENT_BINARIES[client], [...args], { env: this.#env, cwd: this.#home, timeout: timeoutMs, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      });
    });
  }

  dispose(): void {
    rmSync(this.#home, { recursive: true, force: true });
  }
}
