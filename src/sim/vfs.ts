/**
 * A small in-memory file tree for one simulated host: `/sys`, `/dev`, `/etc`.
 *
 * Files are either plain text or attributes with read/write handlers (sysfs: reading
 * `/sys/block/sdb/ro` asks the model; writing `0 0 192` to `/sys/class/scsi_host/host2/scan`
 * scans a LUN). Symlinks are stored as written (`../../sdb`) and resolved like the kernel does,
 * in every component, so `/sys/class/iscsi_host/host2/device/session1/target2:0:0` walks
 * through links just as os-brick's globs do on a real host. Every change notifies listeners;
 * `SimHost.waitForPath` re-checks on those notifications instead of polling.
 */
import { posix } from 'node:path';

export interface FileNode {
  readonly kind: 'file';
  read: () => string;
  /** Permission bits of a plain file written with an explicit mode (a root-only node record: 0o600). */
  readonly mode?: number;
  /** Absent: the file is read-only (EACCES / EINVAL). Returns an errno name to fail a write. */
  write?: (data: string) => void | string;
}
export interface DirNode {
  readonly kind: 'dir';
  readonly children: Map<string, Node>;
}
export interface LinkNode {
  readonly kind: 'link';
  readonly target: string;
}
export type Node = FileNode | DirNode | LinkNode;

export class VfsError extends Error {
  constructor(
    readonly errno: 'ENOENT' | 'ENOTDIR' | 'EISDIR' | 'EINVAL' | 'EACCES' | 'ELOOP' | string,
    readonly path: string,
  ) {
    super(`${errno}: ${path}`);
  }
}

const MAX_LINKS = 40;

/** A symlink's stored text, relative like the kernel's and udev's. */
export function rel(linkPath: string, target: string): string {
  return posix.relative(posix.dirname(linkPath), target);
}

export class Vfs {
  readonly #root: DirNode = { kind: 'dir', children: new Map() };
  readonly #listeners = new Set<() => void>();
  #version = 0;

  /** Bumped on every change. */
  get version(): number {
    return this.#version;
  }

  /** Called after every change (create, remove). */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #changed(): void {
    this.#version++;
    for (const l of [...this.#listeners]) l();
  }

  mkdirp(path: string): DirNode {
    let dir = this.#root;
    const parts = split(path);
    let created = false;
    parts.forEach((part, i) => {
      const child = dir.children.get(part);
      if (child === undefined) {
        const d: DirNode = { kind: 'dir', children: new Map() };
        dir.children.set(part, d);
        created = true;
        dir = d;
      } else if (child.kind === 'dir') {
        dir = child;
      } else {
        const resolved = this.lookup('/' + parts.slice(0, i + 1).join('/'));
        if (resolved?.kind !== 'dir') throw new VfsError('ENOTDIR', path);
        dir = resolved;
      }
    });
    if (created) this.#changed();
    return dir;
  }

  /** Create or replace a plain text file (with `mode`, when given: shown by `lstat`). */
  writeText(path: string, text: string, mode?: number): void {
    this.#put(path, mode === undefined ? { kind: 'file', read: () => text } : { kind: 'file', read: () => text, mode });
  }

  /**
   * `rename(2)`: move a file or link over `to` (replacing what was there) in one step, so a
   * reader sees the old content or the new one, never a half-written file. Both names must be
   * in directories that exist; directories themselves are not moved.
   */
  rename(from: string, to: string): void {
    const src = this.lookup(posix.dirname(from));
    const dst = this.lookup(posix.dirname(to));
    if (src?.kind !== 'dir') throw new VfsError('ENOENT', from);
    if (dst?.kind !== 'dir') throw new VfsError('ENOENT', to);
    const node = src.children.get(posix.basename(from));
    if (node === undefined) throw new VfsError('ENOENT', from);
    if (node.kind === 'dir') throw new VfsError('EISDIR', from);
    if (dst.children.get(posix.basename(to))?.kind === 'dir') throw new VfsError('EISDIR', to);
    src.children.delete(posix.basename(from));
    dst.children.set(posix.basename(to), node);
    this.#changed();
  }

  /** Create or replace an attribute file with handlers. */
  attr(path: string, read: () => string, write?: (data: string) => void | string): void {
    this.#put(path, write ? { kind: 'file', read, write } : { kind: 'file', read });
  }

  symlink(path: string, target: string): void {
    this.#put(path, { kind: 'link', target });
  }

  #put(path: string, node: Node): void {
    const parent = this.mkdirp(posix.dirname(path));
    parent.children.set(posix.basename(path), node);
    this.#changed();
  }

  /** Remove a path (recursively); no error when absent. Links are removed, not followed. */
  remove(path: string): void {
    const parent = this.lookup(posix.dirname(path));
    if (parent?.kind !== 'dir') return;
    if (parent.children.delete(posix.basename(path))) this.#changed();
  }

  /** Resolve a path following every link; undefined when it does not resolve. */
  lookup(path: string): Node | undefined {
    try {
      return this.#resolve(path, true).node;
    } catch {
      return undefined;
    }
  }

  /** The node itself (a link is returned as a link). */
  lstat(path: string): Node | undefined {
    try {
      return this.#resolve(path, false).node;
    } catch {
      return undefined;
    }
  }

  exists(path: string): boolean {
    return this.lookup(path) !== undefined;
  }

  realpath(path: string): string {
    return this.#resolve(path, true).path;
  }

  readlink(path: string): string {
    const n = this.lstat(path);
    if (n === undefined) throw new VfsError('ENOENT', path);
    if (n.kind !== 'link') throw new VfsError('EINVAL', path);
    return n.target;
  }

  read(path: string): string {
    const n = this.lookup(path);
    if (n === undefined) throw new VfsError('ENOENT', path);
    if (n.kind === 'dir') throw new VfsError('EISDIR', path);
    if (n.kind !== 'file') throw new VfsError('EINVAL', path);
    return n.read();
  }

  /** Write to an existing attribute, or create a plain file when absent. */
  write(path: string, data: string): void {
    const n = this.lookup(path);
    if (n === undefined) {
      const parent = this.lookup(posix.dirname(path));
      if (parent?.kind !== 'dir') throw new VfsError('ENOENT', path);
      // sysfs has a fixed set of attributes: a write cannot create one.
      if (this.realpath(posix.dirname(path)).startsWith('/sys/')) throw new VfsError('EACCES', path);
      this.writeText(this.realpath(posix.dirname(path)) + '/' + posix.basename(path), data);
      return;
    }
    if (n.kind === 'dir') throw new VfsError('EISDIR', path);
    if (n.kind !== 'file') throw new VfsError('EINVAL', path);
    if (n.write === undefined) {
      // A plain text file (no handler) is replaced; a read-only attribute refuses.
      if (path.startsWith('/sys/')) throw new VfsError('EACCES', path);
      this.writeText(this.realpath(path), data);
      return;
    }
    const err = n.write(data);
    if (typeof err === 'string') throw new VfsError(err, path);
  }

  readdir(path: string): string[] {
    const n = this.lookup(path);
    if (n === undefined) throw new VfsError('ENOENT', path);
    if (n.kind !== 'dir') throw new VfsError('ENOTDIR', path);
    return [...n.children.keys()].sort();
  }

  /** Expand `*` and `?` in any component; returns unresolved paths, sorted. */
  glob(pattern: string): string[] {
    let current = ['/'];
    for (const part of split(pattern)) {
      const next: string[] = [];
      const wild = /[*?]/.test(part);
      const re = wild ? componentRegExp(part) : undefined;
      for (const dir of current) {
        if (re === undefined) {
          const p = posix.join(dir, part);
          if (this.exists(p)) next.push(p);
          continue;
        }
        const n = this.lookup(dir);
        if (n?.kind !== 'dir') continue;
        for (const name of [...n.children.keys()].sort()) {
          if (re.test(name) && this.exists(posix.join(dir, name))) next.push(posix.join(dir, name));
        }
      }
      current = next;
    }
    return current.sort();
  }

  #resolve(path: string, followLast: boolean): { node: Node; path: string } {
    let hops = 0;
    const pending = split(path);
    const walked: string[] = [];
    let node: Node = this.#root;
    while (pending.length > 0) {
      const part = pending.shift() as string;
      if (part === '.') continue;
      if (part === '..') {
        walked.pop();
        node = this.#at(walked);
        continue;
      }
      if (node.kind !== 'dir') throw new VfsError('ENOTDIR', path);
      const child = node.children.get(part);
      if (child === undefined) throw new VfsError('ENOENT', path);
      if (child.kind === 'link' && (followLast || pending.length > 0)) {
        if (++hops > MAX_LINKS) throw new VfsError('ELOOP', path);
        const target = child.target;
        if (target.startsWith('/')) {
          walked.length = 0;
          node = this.#root;
        } else {
          node = this.#at(walked);
        }
        pending.unshift(...split(target));
        continue;
      }
      walked.push(part);
      node = child;
    }
    return { node, path: '/' + walked.join('/') };
  }

  #at(parts: readonly string[]): Node {
    let n: Node = this.#root;
    for (const p of parts) {
      if (n.kind !== 'dir') throw new VfsError('ENOTDIR', parts.join('/'));
      const c = n.children.get(p);
      if (c === undefined) throw new VfsError('ENOENT', parts.join('/'));
      n = c;
    }
    return n;
  }
}

function split(path: string): string[] {
  return path.split('/').filter((s) => s.length > 0);
}

function componentRegExp(component: string): RegExp {
  const re = component.replace(/[.+^${}()|\\[\]]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${re}$`);
}
