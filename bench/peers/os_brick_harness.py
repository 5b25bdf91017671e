"""Run Debian's os-brick 6.1 ISCSIConnector against Hitch's simulated host.

Started by bench/peers/os-brick-peer.ts with /usr/bin/python3 (the interpreter that sees
python3-os-brick). argv[1] is the job (JSON). Everything os-brick would do to the machine is a
JSON-lines call on stdout, answered on stdin by the simulator:

- ``execute`` (the ``execute=`` callable given to the connector, and the privsep/rootwrap
  entrypoints os-brick calls directly) -> ``exec`` on the simulated host;
- file calls under /sys, /dev, /etc/iscsi, /etc/multipath, /etc/nvme (os.path.exists, islink,
  isdir, realpath, readlink, os.listdir, os.stat, glob.glob, open, os.unlink) -> the simulated
  VFS; writes anywhere else are refused, so nothing touches the real host;
- ``time.sleep`` -> a sleep on the simulator's virtual clock; ``time.time``/``monotonic`` ->
  the virtual clock.

Threads stay honest by running one at a time under a baton (a cooperative scheduler): a
thread gives the baton up only when it blocks - on a sleep, a command, a lock, a join - and
the next runnable thread (FIFO) takes it. When no thread can run, the harness says ``idle``
and the simulator may move virtual time to its next event. So os-brick's parallel portal
logins really overlap in virtual time, its host-wide ``connect_volume`` lock really
serialises concurrent connects, and a run is deterministic.
"""

import builtins
import collections
import fnmatch
import io
import json
import os
import random
import sys
import threading
import time as real_time
import types

SIM_ROOTS = ('/sys', '/dev', '/etc/iscsi', '/etc/multipath', '/etc/nvme')
EPOCH = 1_800_000_000.0  # virtual time 0, in seconds since the Unix epoch

_out = sys.stdout
sys.stdout = sys.stderr  # nothing but protocol lines on the pipe
_write_lock = threading.Lock()


def send(msg):
    line = json.dumps(msg, separators=(',', ':'))
    with _write_lock:
        _out.write(line + '\n')
        _out.flush()


# --- the scheduler --------------------------------------------------------------------------


class Scheduler:
    def __init__(self):
        self.lock = threading.Lock()
        self.holder = threading.get_ident()  # the main thread starts with the baton
        self.ready = collections.deque()  # (ident, Event)
        self.seen = 0  # replies received from the simulator
        self.now_ms = 0.0

    def _dispatch(self):
        # Called with self.lock held.
        if self.holder is not None:
            return
        if self.ready:
            ident, ev = self.ready.popleft()
            self.holder = ident
            ev.set()
        else:
            send({'t': 'idle', 'seen': self.seen})

    def make_ready(self, ident, ev):
        with self.lock:
            self.ready.append((ident, ev))
            self._dispatch()

    def give_up(self):
        """The current thread blocks: pass the baton on (or report idle)."""
        with self.lock:
            self.holder = None
            self._dispatch()


SCHED = Scheduler()


class Pending:
    __slots__ = ('ev', 'reply', 'yields', 'ident')

    def __init__(self, yields):
        self.ev = threading.Event()
        self.reply = None
        self.yields = yields
        self.ident = threading.get_ident()


_pending = {}
_next_id = [0]


def call(op, yields=False, **args):
    """One request to the simulator. ``yields``: it takes virtual time, so other threads run."""
    p = Pending(yields)
    with SCHED.lock:
        _next_id[0] += 1
        cid = _next_id[0]
        _pending[cid] = p
    send(dict(t='call', id=cid, op=op, **args))
    if yields:
        SCHED.give_up()
    p.ev.wait()
    return p.reply


def reader():
    for line in sys.stdin:
        msg = json.loads(line)
        if msg.get('t') != 'ret':
            continue
        with SCHED.lock:
            SCHED.seen += 1
            if msg.get('now') is not None:
                SCHED.now_ms = max(SCHED.now_ms, msg['now'])
            p = _pending.pop(msg['id'])
            p.reply = msg
            if p.yields:
                # Runnable again: wait for the baton like everybody else.
                SCHED.ready.append((p.ident, p.ev))
                SCHED._dispatch()
            else:
                p.ev.set()  # an instant call: the caller kept the baton
    os._exit(3)  # the simulator went away


# --- virtual time ---------------------------------------------------------------------------


def vsleep(secs):
    call('sleep', yields=True, ms=max(0.0, float(secs)) * 1000.0)


def vtime():
    return EPOCH + SCHED.now_ms / 1000.0


def vmonotonic():
    return SCHED.now_ms / 1000.0


fake_time = types.ModuleType('time')
for _k in dir(real_time):
    if not _k.startswith('__'):
        setattr(fake_time, _k, getattr(real_time, _k))
fake_time.sleep = vsleep
fake_time.time = vtime
fake_time.monotonic = vmonotonic


# --- threads and locks under the baton ------------------------------------------------------


class SimThread(threading.Thread):
    """os-brick's executor.Thread, scheduled under the baton."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._turn = threading.Event()
        self._done = False
        self._joiners = []

    def start(self):
        super().start()
        # The new thread is runnable; the starter keeps the baton.
        SCHED.make_ready(self.ident, self._turn)

    def run(self):
        self._turn.wait()
        try:
            super().run()
        finally:
            with SCHED.lock:
                self._done = True
                for ident, ev in self._joiners:
                    SCHED.ready.append((ident, ev))
                SCHED.holder = None
                SCHED._dispatch()

    def join(self, timeout=None):
        with SCHED.lock:
            if self._done:
                return
            ev = threading.Event()
            self._joiners.append((threading.get_ident(), ev))
            SCHED.holder = None
            SCHED._dispatch()
        ev.wait()
        super().join()


class VirtualLock:
    """A FIFO lock whose waiters give the baton up; the release hands ownership over."""

    def __init__(self):
        self.owner = None
        self.waiters = collections.deque()

    def acquire(self):
        me = threading.get_ident()
        with SCHED.lock:
            if self.owner is None:
                self.owner = me
                return
            ev = threading.Event()
            self.waiters.append((me, ev))
            SCHED.holder = None
            SCHED._dispatch()
        ev.wait()  # woken holding the baton and the lock

    def release(self):
        with SCHED.lock:
            if self.waiters:
                ident, ev = self.waiters.popleft()
                self.owner = ident
                SCHED.ready.append((ident, ev))
            else:
                self.owner = None


_locks = collections.defaultdict(VirtualLock)
LOCK_WAITS = []


def synchronized(name, lock_file_prefix='os-brick-', external=False, lock_path=None,
                 semaphores=None, delay=0.01, fair=False, blocking=True):
    """Stand-in for os_brick.initiator.connectors.base.synchronized: same names, same scope
    (one host: external file locks and internal semaphores are the same thing here)."""
    import functools

    def wrap(f):
        @functools.wraps(f)
        def inner(*args, **kwargs):
            lock = _locks[lock_file_prefix + name]
            t0 = SCHED.now_ms
            lock.acquire()
            LOCK_WAITS.append({'lock': name, 'waitedMs': SCHED.now_ms - t0})
            try:
                return f(*args, **kwargs)
            finally:
                lock.release()
        return inner
    return wrap


# --- the file system ------------------------------------------------------------------------


def _sim_path(path):
    if isinstance(path, bytes):
        path = path.decode()
    if not isinstance(path, str):
        return None
    p = os.path.normpath(path) if path.startswith('/') else None
    if p and any(p == r or p.startswith(r + '/') for r in SIM_ROOTS):
        return p
    return None


def _fs(op, path, **kw):
    r = call(op, path=path, **kw)
    err = r.get('error')
    if err == 'ENOENT':
        raise FileNotFoundError(2, 'No such file or directory', path)
    if err == 'ENOTDIR':
        raise NotADirectoryError(20, 'Not a directory', path)
    if err == 'EISDIR':
        raise IsADirectoryError(21, 'Is a directory', path)
    if err:
        raise OSError(5, err, path)
    return r.get('value')


class FakePath(types.ModuleType):
    def __getattr__(self, k):
        return getattr(os.path, k)

    @staticmethod
    def exists(p):
        s = _sim_path(p)
        return _fs('exists', s) if s else os.path.exists(p)

    @staticmethod
    def isdir(p):
        s = _sim_path(p)
        return _fs('isdir', s) if s else os.path.isdir(p)

    @staticmethod
    def islink(p):
        s = _sim_path(p)
        return _fs('islink', s) if s else os.path.islink(p)

    @staticmethod
    def isfile(p):
        s = _sim_path(p)
        return _fs('isfile', s) if s else os.path.isfile(p)

    @staticmethod
    def realpath(p, *a, **k):
        s = _sim_path(p)
        return _fs('realpath', s) if s else os.path.realpath(p, *a, **k)


def _refuse(name):
    def f(p, *a, **k):
        s = _sim_path(p)
        if s and name == 'unlink':
            return _fs('unlink', s)
        raise PermissionError(1, 'the os-brick harness refuses %s outside the simulator' % name, p)
    return f


class FakeOs(types.ModuleType):
    path = FakePath('os.path')

    def __getattr__(self, k):
        return getattr(os, k)

    @staticmethod
    def listdir(p='.'):
        s = _sim_path(p)
        return _fs('listdir', s) if s else os.listdir(p)

    @staticmethod
    def readlink(p, *a, **k):
        s = _sim_path(p)
        return _fs('readlink', s) if s else os.readlink(p, *a, **k)

    @staticmethod
    def stat(p, *a, **k):
        s = _sim_path(p)
        if not s:
            return os.stat(p, *a, **k)
        v = _fs('stat', s)
        return os.stat_result((v['mode'], 0, 0, 1, 0, 0, v['size'], 0, 0, 0))

    unlink = staticmethod(_refuse('unlink'))
    remove = staticmethod(_refuse('unlink'))
    symlink = staticmethod(_refuse('symlink'))
    makedirs = staticmethod(_refuse('makedirs'))
    mkdir = staticmethod(_refuse('mkdir'))
    rename = staticmethod(_refuse('rename'))
    chmod = staticmethod(_refuse('chmod'))


class FakeGlob(types.ModuleType):
    @staticmethod
    def glob(pattern, **kw):
        s = _sim_path(pattern)
        if s:
            return _fs('glob', s)
        import glob as g
        return g.glob(pattern, **kw)

    @staticmethod
    def iglob(pattern, **kw):
        return iter(FakeGlob.glob(pattern, **kw))

    def __getattr__(self, k):
        import glob as g
        return getattr(g, k)


def fake_open(file, mode='r', *args, **kwargs):
    s = _sim_path(file)
    if not s:
        if any(c in mode for c in 'wax+'):
            raise PermissionError(1, 'the os-brick harness refuses writes outside the simulator', file)
        return builtins.open(file, mode, *args, **kwargs)
    if any(c in mode for c in 'wax+'):
        return _SimWriter(s)
    text = _fs('read', s)
    return io.BytesIO(text.encode()) if 'b' in mode else io.StringIO(text)


class _SimWriter(io.StringIO):
    def __init__(self, path):
        super().__init__()
        self._path = path

    def close(self):
        if not self.closed:
            r = call('write', yields=True, path=self._path, data=self.getvalue())
            if r.get('error'):
                raise OSError(5, r['error'], self._path)
        super().close()


# --- execute --------------------------------------------------------------------------------

_rng = random.Random(1)
TRACE = []


def _ok_codes(check):
    if check is False:
        return None
    if check is True or check is None:
        return [0]
    if isinstance(check, int):
        return [check]
    return list(check)


def connector_execute(*cmd, **kwargs):
    """The ``execute=`` callable handed to the connector (what the fixture traces record)."""
    return sim_execute('execute', *cmd, **kwargs)


def rootwrap_execute(*cmd, **kwargs):
    """os-brick's privsep/rootwrap entrypoint, used by helpers that ignore ``execute=``."""
    return sim_execute('rootwrap', *cmd, **kwargs)


def sim_execute(via, *cmd, **kwargs):
    """processutils.execute + os-brick's rootwrap wrapper, answered by the simulated host."""
    from oslo_concurrency import processutils as putils

    cmd = [str(c) for c in cmd]
    opts = {k: v for k, v in kwargs.items() if k in ('run_as_root', 'root_helper', 'check_exit_code', 'process_input', 'attempts')}
    if isinstance(opts.get('check_exit_code'), tuple):
        opts['check_exit_code'] = list(opts['check_exit_code'])
    TRACE.append([via, ' '.join(cmd), opts])
    ok = _ok_codes(kwargs.get('check_exit_code', True))
    attempts = int(kwargs.get('attempts', 1))
    delay = kwargs.get('delay_on_retry', True)
    timeout_s = kwargs.get('timeout', 600)
    data = kwargs.get('process_input')
    if isinstance(data, bytes):
        data = data.decode()
    while True:
        attempts -= 1
        r = call('exec', yields=True, argv=cmd, input=data, timeoutMs=float(timeout_s) * 1000.0)
        code, out, err = r['code'], r['stdout'], r['stderr']
        if ok is None or code in ok:
            return out, err
        if attempts <= 0:
            raise putils.ProcessExecutionError(exit_code=code, stdout=out, stderr=err, cmd=' '.join(cmd))
        if delay:
            vsleep(_rng.randint(20, 200) / 100.0)


# --- wiring os-brick to the simulator -------------------------------------------------------


def patch_os_brick():
    # oslo.privsep: run entrypoints in this process (through the patched modules below) - never
    # start a root daemon.
    from os_brick import privileged
    privileged.default.set_client_mode(False)
    from os_brick import utils as brick_utils
    brick_utils._time_sleep = vsleep  # os-brick routes every time.sleep (tenacity's too) here
    from os_brick.initiator.connectors import base
    base.synchronized = synchronized  # before iscsi.py applies it
    from os_brick import executor
    executor.Thread = SimThread
    from os_brick.privileged import rootwrap
    rootwrap.execute = rootwrap_execute
    # At import, os_brick.initiator.utils greps the host's /sbin/iscsiadm for manual-scan
    # support (a real subprocess). Answer it as a current open-iscsi would, without running it.
    from oslo_concurrency import processutils as putils
    real_putils_execute = putils.execute

    def import_probe(*cmd, **kwargs):
        if list(cmd[:2]) == ['grep', '-F']:
            return 'node.session.scan', ''
        raise PermissionError(1, 'the os-brick harness refuses to run %s on the real host' % (cmd,))
    putils.execute = import_probe
    rootwrap.execute_root = rootwrap_execute
    rootwrap.custom_execute = rootwrap_execute
    import os_brick.initiator.connector  # noqa: F401  (imports every connector module)
    import os_brick.initiator.connectors.iscsi  # noqa: F401
    putils.execute = real_putils_execute
    fake_os, fake_glob = FakeOs('os'), FakeGlob('glob')
    for name, mod in list(sys.modules.items()):
        if not name.startswith('os_brick') or mod is None:
            continue
        d = vars(mod)
        if d.get('os') is os:
            mod.os = fake_os
        if 'glob' in d and getattr(d['glob'], '__name__', '') == 'glob':
            mod.glob = fake_glob
        if d.get('time') is real_time:
            mod.time = fake_time
        mod.open = fake_open
    rootwrap.unlink_root = lambda *links, **kw: [_fs('unlink', _sim_path(lk)) for lk in links if _sim_path(lk)]


def _now():
    return SCHED.now_ms


def run_job(job):
    from os_brick.initiator import connector as brick_connector
    from os_brick.initiator.connectors.iscsi import ISCSIConnector

    result = {}
    multipath = bool(job.get('multipath'))
    if job.get('connectorProperties', True):
        props = brick_connector.get_connector_properties('sudo', job.get('ip', '127.0.0.1'), multipath, False,
                                                         host=job.get('host'), execute=connector_execute)
        result['connectorProperties'] = props
        multipath = bool(props.get('multipath', False)) and multipath
    conn = ISCSIConnector('sudo', execute=connector_execute, use_multipath=multipath,
                          device_scan_attempts=int(job.get('deviceScanAttempts', 3)))
    volumes = job['volumes']
    outcomes = [None] * len(volumes)

    def connect(i):
        t0 = _now()
        try:
            dev = conn.connect_volume(volumes[i])
            outcomes[i] = {'ok': True, 'device': dev, 'startMs': t0, 'endMs': _now()}
        except Exception as e:  # noqa: BLE001 - every outcome is reported
            outcomes[i] = {'ok': False, 'error': '%s: %s' % (type(e).__name__, e), 'startMs': t0, 'endMs': _now()}

    if len(volumes) == 1:
        connect(0)
    else:
        # Nova runs one greenthread per attach request; here one thread each, all at t=0.
        threads = [SimThread(target=connect, args=(i,)) for i in range(len(volumes))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    result['connects'] = outcomes
    if job.get('disconnect'):
        disc = []
        for i, v in enumerate(volumes):
            if not outcomes[i]['ok']:
                continue
            if job.get('volumePaths'):
                conn.get_volume_paths(v)
            t0 = _now()
            try:
                conn.disconnect_volume(v, outcomes[i]['device'])
                disc.append({'ok': True, 'startMs': t0, 'endMs': _now()})
            except Exception as e:  # noqa: BLE001
                disc.append({'ok': False, 'error': '%s: %s' % (type(e).__name__, e), 'startMs': t0, 'endMs': _now()})
        result['disconnects'] = disc
    result['lockWaits'] = LOCK_WAITS
    result['trace'] = TRACE
    return result


def main():
    job = json.loads(sys.argv[1])
    import logging
    logging.basicConfig(level=logging.ERROR if not job.get('verbose') else logging.DEBUG, stream=sys.stderr)
    patch_os_brick()
    threading.Thread(target=reader, daemon=True).start()
    try:
        result = run_job(job)
        send({'t': 'done', 'result': result})
    except BaseException as e:  # noqa: BLE001 - reported to the caller
        import traceback
        send({'t': 'done', 'error': '%s: %s' % (type(e).__name__, e), 'traceback': traceback.format_exc()})
    _out.flush()
    os._exit(0)


if __name__ == '__main__':
    main()
