/**
 * oslo.concurrency's `processutils.execute`: every command os-brick and Nova run. With privsep
 * (os-brick since Pike) these lines are written by the privsep daemon and relayed into the
 * service's log with the daemon's pid and no request context (`[-]`); before, through rootwrap,
 * the command starts with `sudo nova-rootwrap /etc/nova/rootwrap.conf`.
 *
 *   Running cmd (subprocess): sudo cinder-rootwrap /etc/cinder/rootwrap.conf iscsiadm -m node -T iqn.2015-01.acc1.cinder:acc13afa9c71f6d4498cbaae9ee8720c8418 -p 192.168.1.252:3260 --rescan
 *   CMD "sudo cinder-rootwrap /etc/cinder/rootwrap.conf iscsiadm -m node -T iqn.2015-01.acc1.cinder:acc13afa9c71f6d4498cbaae9ee8720c8418 -p 192.168.1.252:3260 --login" returned: 8 in 121.624s
 *   u'sudo cinder-rootwrap /etc/cinder/rootwrap.conf iscsiadm -m node -T iqn.2015-01.acc1.cinder:acc13afa9c71f6d4498cbaae9ee8720c8418 -p 192.168.1.252:3260 --login' failed. Not Retrying.
 *   CMD "iscsiadm -m node -T … --login" reached timeout in 60.001s
 * and, when a caller asked for every failure to be logged (`log_errors`), the error itself:
 *   'Unexpected error while running command.'\ncommand: 'iscsiadm -m node -T … --login'\nexit code: 8\nstdout: '…'\nstderr: 'iscsiadm: …'
 */
import type { LogEvent } from '../events.ts';

const START = /^Running cmd \((?:subprocess|SSH)\): (.+)$/s;
const END = /^CMD "(.+)" returned: (-?\d+) in ([\d.]+)s$/s;
const TIMEOUT = /^CMD "(.+)" reached timeout in ([\d.]+)s$/s;
const FAILED = /^u?(['"])(.+)\1 failed\. (Not )?Retrying\.$/s;
const ERROR = /^'[^']*'\ncommand: u?(['"])(.*)\1\nexit code: (-?\d+|None)\nstdout: .*\nstderr: u?(['"])(.*)\4$/s;

export function parseProcessutils(message: string): LogEvent[] {
  const c = message.charCodeAt(0);
  if (c === 82 /* R */) {
    const m = START.exec(message);
    return m ? [{ kind: 'cmd.start', command: m[1] ?? '' }] : [];
  }
  if (c === 67 /* C */) {
    let m = END.exec(message);
    if (m) return [{ kind: 'cmd.end', command: m[1] ?? '', exitCode: Number(m[2]), ms: Math.round(Number(m[3]) * 1000) }];
    m = TIMEOUT.exec(message);
    if (m) return [{ kind: 'cmd.end', command: m[1] ?? '', exitCode: null, ms: Math.round(Number(m[2]) * 1000) }];
    return [];
  }
  if (message.endsWith('Retrying.')) {
    const m = FAILED.exec(message);
    return m ? [{ kind: 'cmd.failed', command: m[2] ?? '', retrying: m[3] === undefined }] : [];
  }
  if (c === 39 /* ' */ && message.includes('\ncommand: ')) {
    const m = ERROR.exec(message);
    if (m) return [{ kind: 'cmd.error', command: m[2] ?? '', exitCode: m[3] === 'None' ? null : Number(m[3]), stderr: (m[5] ?? '').replace(/\\n/g, '\n').trim() }];
  }
  return [];
}

/** The program a command line runs, past `sudo`, a rootwrap and `env`: `iscsiadm`, `multipath`. */
export function programOf(command: string): string {
  const words = command.split(/\s+/);
  let i = 0;
  for (;;) {
    const w = words[i] ?? '';
    if (w === 'sudo' || w === 'env' || /=/.test(w)) i++;
    else if (/-rootwrap$/.test(w)) i += 2;
    else if (w === 'privsep-helper') return w;
    else break;
    if (i >= words.length) break;
  }
  return (words[i] ?? words[0] ?? '').replace(/^.*\//, '');
}
