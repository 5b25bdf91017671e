// web/src/api.ts
var KEY = "hitch.session";
var ApiError = class extends Error {
  constructor(status, message2) {
    super(message2);
    this.status = status;
  }
  status;
};
var session = null;
var clockMs = null;
function currentSession() {
  if (session) return session;
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  try {
    session = JSON.parse(raw);
  } catch {
    sessionStorage.removeItem(KEY);
  }
  return session;
}
function logout() {
  session = null;
  sessionStorage.removeItem(KEY);
}
function messageOf(status, body) {
  if (body && typeof body === "object") {
    for (const v of Object.values(body)) {
      if (v && typeof v === "object" && typeof v.message === "string") return v.message;
    }
  }
  return `HTTP ${status}`;
}
async function send(method, url, body, headers = {}) {
  const h2 = { accept: "application/json", ...headers };
  if (body !== void 0) h2["content-type"] = "application/json";
  const r = await fetch(url, { method, headers: h2, ...body !== void 0 ? { body: JSON.stringify(body) } : {} });
  const clock = r.headers.get("x-hitch-clock-ms");
  if (clock) clockMs = Number(clock);
  const text = await r.text();
  const parsed = text ? JSON.parse(text) : null;
  if (r.status === 401 && session) logout();
  if (r.status >= 400) throw new ApiError(r.status, messageOf(r.status, parsed));
  return { body: parsed, headers: r.headers };
}
async function login(user, password, project) {
  const r = await send("POST", "/identity/v3/auth/tokens", {
    auth: {
      identity: { methods: ["password"], password: { user: { name: user, domain: { id: "default" }, password } } },
      scope: { project: { name: project, domain: { id: "default" } } }
    }
  });
  const token = r.headers.get("x-subject-token");
  if (!token) throw new ApiError(500, "no token issued");
  session = { token, user, project, projectId: r.body.token.project.id };
  sessionStorage.setItem(KEY, JSON.stringify(session));
  return session;
}
async function api(method, path, body) {
  const s = currentSession();
  if (!s) throw new ApiError(401, "not logged in");
  const service = path.startsWith("/volume") ? { "openstack-api-version": "volume 3.70" } : { "openstack-api-version": "compute 2.79" };
  return send(method, path, body, { "x-auth-token": s.token, ...service });
}

// web/src/dom.ts
function h(tag, attrs = {}, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === void 0 || v === false) continue;
    if (typeof v === "function") e.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) e.setAttribute(k, "");
    else e.setAttribute(k, String(v));
  }
  for (const k of kids) if (k !== null && k !== void 0 && k !== false) e.append(k);
  return e;
}
function replace(parent, ...kids) {
  parent.replaceChildren(...kids);
}

// web/src/labels.ts
function middleEllipsis(text, max) {
  if (text.length <= max || max < 5) return text;
  const keep = max - 1;
  const head = Math.ceil(keep / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (keep - head))}`;
}
var shortId = (id) => id.split("-")[0] ?? id;
function when(iso) {
  if (!iso) return "—";
  const d = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

// web/src/app.ts
var message = (e) => e instanceof ApiError ? `${e.message} (HTTP ${e.status})` : e instanceof Error ? e.message : String(e);
function link(hash, text, max = 40, title = text) {
  return h("a", { href: hash, title }, middleEllipsis(text, max));
}
function fields(rows) {
  return h("dl", { class: "fields" }, ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

// src/trace/explain.ts
function formatMs(ms2) {
  if (ms2 >= 1e4) return `${(ms2 / 1e3).toFixed(0)} s`;
  if (ms2 >= 1e3) return `${(ms2 / 1e3).toFixed(1)} s`;
  return `${Math.round(ms2)} ms`;
}
function shortCommand(cmd) {
  return cmd.replace(/ -T \S{33,}/, "").split(" ").map((t) => t.length > 32 ? `${t.slice(0, 12)}…${t.slice(-10)}` : t).join(" ");
}
function spanLabel(s) {
  const a = s.attrs;
  const pick = (k) => {
    const v = a[k];
    return typeof v === "string" && v.length > 0 ? v : null;
  };
  if (s.name.startsWith("exec ")) {
    const c = pick("command");
    return c ? `exec ${shortCommand(c)}` : s.name;
  }
  for (const k of ["portal", "path", "device", "target", "source"]) {
    const v = pick(k);
    if (v) return `${s.name} ${v.length > 90 ? `${v.slice(0, 87)}...` : v}`;
  }
  return s.name;
}
var isNoise = (s) => s.name === "log";
var endOf = (s, now) => s.endMs ?? now;
function criticalIds(spans, kids, opEnd, now) {
  const ids = /* @__PURE__ */ new Set();
  const walk = (parent, from, until) => {
    const children = (kids.get(parent) ?? []).filter((k) => !isNoise(k) && endOf(k, now) > k.startMs);
    let cursor = until;
    for (; ; ) {
      const cands = children.filter((k) => !ids.has(k.id) && endOf(k, now) <= cursor && k.startMs >= from);
      if (cands.length === 0) return;
      const pick = cands.reduce((a, b) => endOf(b, now) > endOf(a, now) || endOf(b, now) === endOf(a, now) && b.startMs < a.startMs ? b : a);
      ids.add(pick.id);
      walk(pick.id, pick.startMs, endOf(pick, now));
      cursor = pick.startMs;
    }
  };
  walk(null, Math.min(...spans.map((s) => s.startMs)), opEnd);
  return ids;
}
function depthOf(s, byId) {
  let d = 0;
  let p = s.parentId;
  while (p !== null && d < 64) {
    d++;
    p = byId.get(p)?.parentId ?? null;
  }
  return d;
}
function exitCodeOf(s, spans) {
  const login2 = spans.find((c) => c.parentId === s.id && c.name === "exec iscsiadm" && String(c.attrs["command"] ?? "").includes("--login") && c.outcome === "error");
  const rc = login2?.attrs["exitCode"];
  if (typeof rc === "number") return rc;
  const m = /exit(?: code)? (\d+)/.exec(s.error?.message ?? "");
  return m ? Number(m[1]) : null;
}
function pathFailure(p, spans) {
  if (p.endMs === null) return "not answering";
  const exit = exitCodeOf(p, spans);
  if (p.error?.code === "HITCH_ISCSI_LOGIN_TIMEOUT" || exit === 8) return "unreachable";
  if (p.error?.code === "HITCH_ISCSI_AUTH_FAILED" || exit === 24) return "refused the login (authentication)";
  return "failed";
}
function redundancy(connect, allPaths, spans) {
  const usableAt = connect?.outcome === "ok" ? connect.endMs : null;
  const byPortal = /* @__PURE__ */ new Map();
  for (const p of allPaths) byPortal.set(String(p.attrs["portal"]), p);
  const paths = [...byPortal.values()];
  if (usableAt == null || paths.length < 2) return [];
  const upAtConnect = paths.filter((p) => p.outcome === "ok" && p.endMs !== null && p.endMs <= usableAt);
  const down = paths.filter((p) => !upAtConnect.includes(p));
  if (down.length === 0 || upAtConnect.length === 0) return [];
  const later = down.filter((p) => p.outcome === "ok");
  const lost = down.filter((p) => p.outcome !== "ok");
  const out = [
    `attached on ${upAtConnect.length} of ${paths.length} paths; ${down.map((p) => `${String(p.attrs["portal"])} ${p.outcome === "ok" ? "came up only after the attach" : pathFailure(p, spans)}`).join(", ")}`
  ];
  if (later.length > 0 && lost.length === 0) out[0] += ": redundancy was restored in the background";
  for (const p of lost) {
    const portal = String(p.attrs["portal"]);
    const why = pathFailure(p, spans);
    out.push(
      why === "refused the login (authentication)" ? `next step: check the CHAP account of this volume on the target at ${portal}: the other paths logged in with the same credentials` : `next step: check the network path or the target at ${portal}: every attach to this array will try it`
    );
  }
  return out;
}
function diagnose(spans, t0, opEnd, running, now, crit) {
  const out = [];
  const totalMs = opEnd - t0;
  const connect = spans.find((s) => s.name === "connect-volume" && s.parentId === null);
  const paths = spans.filter((s) => s.name === "connect_path");
  const okPaths = paths.filter((p) => p.outcome === "ok");
  const byPortal = /* @__PURE__ */ new Map();
  for (const p of paths.filter((x) => x.outcome === "error")) {
    const key = String(p.attrs["portal"]);
    byPortal.set(key, [...byPortal.get(key) ?? [], p]);
  }
  for (const [portal, list] of byPortal) {
    const tries = list.map((p) => {
      const login2 = spans.find((c) => c.parentId === p.id && c.name === "exec iscsiadm" && String(c.attrs["command"] ?? "").includes("--login"));
      const dur2 = login2?.endMs != null ? login2.endMs - login2.startMs : (p.endMs ?? p.startMs) - p.startMs;
      const exit = exitCodeOf(p, spans);
      return { p, dur: dur2, exit, timedOut: p.error?.code === "HITCH_ISCSI_LOGIN_TIMEOUT" || exit === 8 };
    });
    const exits = [...new Set(tries.map((t) => t.exit).filter((x) => x !== null))];
    const exitText = exits.length ? ` (iscsiadm exit ${exits.join(", ")})` : "";
    const allTimedOut = tries.every((t) => t.timedOut);
    const last = tries[tries.length - 1];
    let line;
    if (tries.length === 1) {
      const after = last.p.attrs["startUnknown"] === true ? "" : ` after ${formatMs(last.dur)}`;
      line = `login to ${portal} ${allTimedOut ? `timed out${after}${exitText}` : `failed${after}${exitText}: ${last.p.error?.message ?? last.p.error?.code ?? "error"}`}`;
    } else {
      const durs = tries.map((t) => formatMs(t.dur));
      const each = durs.every((d) => d === durs[0]) ? `after ${durs[0]} each` : `after ${durs.join(", ")}`;
      line = `login to ${portal} ${allTimedOut ? "timed out" : "failed"} ${tries.length} times, ${each}${exitText}${allTimedOut ? "" : `: ${last.p.error?.message ?? last.p.error?.code ?? "error"}`}`;
    }
    if (connect?.endMs != null && connect.outcome === "ok" && okPaths.length > 0) {
      const usableAtOf = (p) => p.endMs !== null && (typeof p.attrs["device"] === "string" || spans.some((c) => c.parentId === p.id && c.name === "wait device" && c.outcome === "ok")) ? p.endMs : connect.endMs;
      const first = okPaths.reduce((a, b) => usableAtOf(b) < usableAtOf(a) ? b : a);
      const usable = Math.min(usableAtOf(first), connect.endMs);
      line += `; the volume was usable at ${formatMs(usable - t0)} through ${String(first.attrs["portal"])}`;
      if (connect.endMs - usable >= 1e3) line += `, the attach returned at ${formatMs(connect.endMs - t0)}`;
    }
    out.push(line);
    const held = tries.filter((t) => crit.has(t.p.id));
    if (held.length > 0) {
      const ms2 = held.reduce((a, t) => a + t.dur, 0);
      out.push(`the attach waited for the dead portal ${portal}: ${held.length > 1 ? `${held.length} failed logins, ` : ""}${formatMs(ms2)} of the ${formatMs(totalMs)}${totalMs > 0 ? ` (${Math.round(100 * ms2 / totalMs)}%)` : ""}`);
    } else if (connect?.endMs != null && tries.some((t) => t.p.endMs === null || t.p.endMs > connect.endMs)) {
      out.push(`${portal} was left to fail in the background: it did not hold the attach`);
    }
  }
  if (connect?.endMs != null && connect.outcome === "ok") {
    for (const p of paths.filter((x) => x.endMs === null)) {
      out.push(`login to ${String(p.attrs["portal"])} had not answered after ${formatMs(now - p.startMs)}; the attach went on without it (usable at ${formatMs(connect.endMs - t0)} through ${okPaths.map((o) => String(o.attrs["portal"])).join(", ") || "another portal"})`);
    }
  }
  out.push(...redundancy(connect, paths, spans));
  const mp = spans.find((s) => s.name === "wait multipath" && (s.attrs["found"] === false || s.outcome === "error"));
  const noMap = spans.find((s) => s.name === "log" && /multipath/i.test(String(s.attrs["message"] ?? "")) && /(single path|not find|Unable to find)/i.test(String(s.attrs["message"] ?? "")));
  if (mp || noMap) {
    const wwnAttr = spans.find((s) => typeof s.attrs["scsi_wwn"] === "string")?.attrs["scsi_wwn"];
    const wwn = typeof wwnAttr === "string" ? wwnAttr : String(mp?.attrs["path"] ?? "").replace(/^.*dm-uuid-mpath-/, "");
    const dev2 = connect ? String(connect.attrs["path"] ?? "") : "";
    const waited = mp?.endMs != null ? ` (waited ${formatMs(mp.endMs - mp.startMs)})` : "";
    out.push(`multipathd did not create a map for WWN ${wwn}${waited}${dev2 && !dev2.includes("mpath") ? `; fell back to single path ${dev2}` : ""}`);
  }
  const dev = spans.filter((s) => s.name === "wait device" && s.endMs !== null && s.endMs - s.startMs >= 1e3);
  for (const d of dev) {
    out.push(`${d.outcome === "error" ? "the device never appeared" : "the device took"} ${formatMs(d.endMs - d.startMs)} to appear at ${String(d.attrs["path"] ?? "?")}${d.outcome === "error" ? "" : " (udev)"}`);
  }
  if (totalMs > 0) {
    for (const s of spans) {
      if (typeof s.attrs["method"] !== "string" || s.endMs === null) continue;
      const d = s.endMs - s.startMs;
      if (d >= 1e3 && d > 0.3 * totalMs) {
        const inner = spans.filter((c) => c.parentId === s.id && typeof c.attrs["backend"] === "string" && c.endMs !== null);
        const of = inner.map((c) => `the ${String(c.attrs["backend"])} backend's ${c.name.split(" ").slice(2).join(" ")} ${formatMs(c.endMs - c.startMs)}`).join(", ");
        out.push(`the storage API call ${s.name.replace(/^block-storage /, "")} took ${formatMs(d)} of ${formatMs(totalMs)} (${Math.round(100 * d / totalMs)}%)${of ? `, of which ${of}` : ""}`);
      }
    }
  }
  const plug = spans.find((s) => s.name === "hotplug" && s.outcome === "error");
  if (plug) out.push(`the hypervisor refused the disk: ${plug.error?.message ?? "unknown error"}`);
  const firstFail = spans.find((s) => s.parentId === null && s.outcome === "error");
  if (firstFail && !plug) out.push(`step ${firstFail.name} failed: ${firstFail.error?.code ? `${firstFail.error.code}: ` : ""}${firstFail.error?.message ?? "error"}`);
  const rollback = spans.find((s) => s.parentId === null && s.name === "rollback");
  if (rollback) {
    const undone = spans.filter((s) => s.parentId === rollback.id).map((s) => s.name.replace(/^rollback\./, ""));
    out.push(
      rollback.outcome === "error" ? `the rollback failed: ${rollback.error?.code ? `${rollback.error.code}: ` : ""}${rollback.error?.message ?? "error"}` : `rolled back${undone.length ? `: ${undone.join(", ")}` : ""}`
    );
  }
  if (running) out.push("the operation is still running");
  if (out.length === 0) {
    const steps = spans.filter((s) => s.parentId === null && s.endMs !== null);
    const top = steps.reduce((a, b) => !a || b.endMs - b.startMs > a.endMs - a.startMs ? b : a, void 0);
    if (top && totalMs > 0) {
      const d = top.endMs - top.startMs;
      out.push(`no fault seen; ${top.name} took the most time: ${formatMs(d)} of ${formatMs(totalMs)} (${Math.round(100 * d / totalMs)}%)`);
    }
  }
  return out;
}
function explain(spans, nowMs) {
  if (spans.length === 0) return { totalMs: 0, spanMs: 0, background: { state: "none" }, rows: [], criticalPath: [], diagnosis: ["no spans recorded"] };
  const t0 = Math.min(...spans.map((s) => s.startMs));
  const latest = Math.max(...spans.map((s) => s.endMs ?? s.startMs));
  const now = Math.max(nowMs ?? latest, latest);
  const top = spans.filter((s) => s.parentId === null);
  const running = top.some((s) => s.endMs === null);
  const opEnd = running ? now : Math.max(...top.map((s) => s.endMs ?? s.startMs));
  const byId = new Map(spans.map((s) => [s.id, s]));
  const kids = /* @__PURE__ */ new Map();
  for (const s of spans) {
    const parent = s.parentId !== null && byId.has(s.parentId) ? s.parentId : null;
    kids.set(parent, [...kids.get(parent) ?? [], s]);
  }
  for (const list of kids.values()) list.sort((a, b) => a.startMs - b.startMs || a.id - b.id);
  const crit = criticalIds(spans, kids, opEnd, now);
  const rows = [];
  const visit = (parent) => {
    for (const s of kids.get(parent) ?? []) {
      if (isNoise(s)) continue;
      rows.push({
        id: s.id,
        parentId: s.parentId,
        depth: depthOf(s, byId),
        name: s.name,
        label: spanLabel(s),
        startMs: s.startMs - t0,
        durationMs: s.endMs === null ? null : s.endMs - s.startMs,
        outcome: s.outcome,
        critical: crit.has(s.id),
        background: !running && endOf(s, now) > opEnd,
        error: s.error ? `${s.error.code}: ${s.error.message}` : null
      });
      visit(s.id);
    }
  };
  visit(null);
  const total = opEnd - t0;
  const criticalPath = rows.filter((r) => r.critical && (r.depth <= 1 || (r.durationMs ?? total) >= 0.02 * total)).map((r) => `${"  ".repeat(r.depth)}${r.label} (${r.durationMs === null ? "running" : formatMs(r.durationMs)})`);
  const stillRunning = spans.some((s) => s.endMs === null);
  const background = running ? { state: "none" } : stillRunning ? { state: "running" } : latest > opEnd ? { state: "ended", endMs: latest - t0 } : { state: "none" };
  return { totalMs: total, spanMs: (stillRunning ? now : latest) - t0, background, rows, criticalPath, diagnosis: diagnose(spans, t0, opEnd, running, now, crit) };
}
function backgroundText(b) {
  if (b.state === "ended") return ` (background work went on until ${formatMs(b.endMs)})`;
  if (b.state === "running") return " (background work still running)";
  return "";
}

// src/trace/oslog/mask.ts
var MASK = "***";
var KEYS = [
  "adminpass",
  "admin_pass",
  "password",
  "admin_password",
  "auth_token",
  "new_pass",
  "auth_password",
  "secret_uuid",
  "secret",
  "sys_pswd",
  "token",
  "configdrive",
  "chappassword",
  "encrypted_key",
  "private_key",
  "fernetkey",
  "sslkey",
  "passphrase",
  "passwd",
  "credential"
];
var KEY2 = `(?:${KEYS.join("|")})`;
var HINT = /pass|secret|token|key|cred|pswd|configdrive|authorization|:\/\/[^\s/]*:[^\s/]*@/i;
var PATTERNS = [
  // 'auth_password': 'x' / "discovery_auth_password": u"x" (key names containing a secret word);
  // a cut line may end before the closing quote
  [new RegExp(`(['"][^'"\\s]*${KEY2}[0-9]*['"]\\s*:\\s*u?['"])[^'"]*(['"]|$)`, "gim"), `$1${MASK}$2`],
  // ('-n', 'node.session.auth.password', '-v', 'x') — os-brick's argument tuples
  [new RegExp(`(['"][^'"]*${KEY2}[0-9]*['"]\\s*,\\s*u?'--?[A-Za-z]+'\\s*,\\s*u?['"])[^'"]*(['"]|$)`, "gim"), `$1${MASK}$2`],
  // node.session.auth.password -v x / --password x (command lines)
  [new RegExp(`(${KEY2}[0-9]*(?:_in)?\\s+--?[A-Za-z]+\\s+)(?!\\*\\*\\*)[^\\s'"]+`, "gi"), `$1${MASK}`],
  [new RegExp(`(--[\\w-]*${KEY2}[0-9]*[ =])(?!\\*\\*\\*)[^\\s'"]+`, "gi"), `$1${MASK}`],
  // key = "x" / key='x' / key=x
  [new RegExp(`(${KEY2}[0-9]*\\s*=\\s*["'])[^"']*(["']|$)`, "gim"), `$1${MASK}$2`],
  [new RegExp(`(${KEY2}[0-9]*\\s*=\\s*)(?!\\*\\*\\*)[^\\s'"&,;)}\\]]+`, "gi"), `$1${MASK}`],
  // <password>x</password>
  [new RegExp(`(<${KEY2}[0-9]*>)[^<]*(</${KEY2}[0-9]*>)`, "gi"), `$1${MASK}$2`],
  // X-Auth-Token: x / Authorization: Bearer x — but not a {SHA1}/{SHA256} fingerprint
  [/((?:X-Auth-Token|X-Subject-Token|X-Service-Token|X-Auth-Key)["']?\s*[:=]\s*["']?)(?!\{SHA)(?!\*\*\*)[^\s"',}]+/gi, `$1${MASK}`],
  [/(Authorization["']?\s*[:=]\s*["']?(?:Bearer |Basic |Token )?)(?!\{SHA)(?!\*\*\*)[^\s"',}]+/gi, `$1${MASK}`],
  // scheme://user:password@host
  [/(\b[a-z][\w+.-]*:\/\/[^\s:/@'"]+:)(?!\*\*\*@)[^\s@/'"]+(@)/gi, `$1${MASK}$2`]
];
function maskLogText(text) {
  if (!HINT.test(text)) return text;
  let out = text;
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  return out;
}

// src/trace/oslog/parse/os-brick.ts
var CALL = /^==> (\w+): call (.*)$/s;
var RETURN = /^<== (\w+): return \((\d+)ms\) ?(.*)$/s;
var RAISE = /^<== (\w+): exception \((\d+)ms\) ?(.*)$/s;
var TRY = /^Trying to connect to iSCSI portal (\S+?)\.?$/;
var RETRY = /^Retrying to connect to iSCSI portal (\S+)$/;
var CONNECTED_DEV = /^Connected to (\S+) using (.*)$/s;
var CONNECTED = /^Connected to (\S+)$/;
var LOGIN_FAILED = /^Failed to login iSCSI target (\S+) on portal (\S+) \(exit code (-?\d+|None)\)\.$/;
var PORTAL_FAILED = /^Failed to connect to iSCSI portal (\S+?)\.$/;
var NO_LUN = /^LUN (\S+) on iSCSI portal (\S+) not found on sysfs after logging in\.$/;
var NOT_YET = /^ISCSI volume not yet found at: (.*)\. Will rescan & retry\. {1,2}Try number: (\d+)\.?$/s;
var FOUND_NODE = /^Found iSCSI node (.*) \(after (\d+) rescans\)$/s;
var WWN = /^Device WWN = '([^']*)'$/;
var FIND_MPATH = /^Find Multipath device file for volume WWN (\S+)$/;
var NO_MPATH = /^couldn't find a valid multipath device path for (\S+)$/;
var FALLBACK = /^Unable to find multipath device name for volume\. Using path (\S+) for volume\.$/;
var CHECKING = /^Checking to see if (\S+) exists yet\.$/;
var SHOWN_UP = /^(\S+) has shown up\.$/;
var FOUND_MPATH = /^Found multipath device = (\S+)$/;
var SCANNING = /^Scanning host (\d+) c: (\S+), t: (\S+), l: (\S+)\)$/;
var TENACITY = /^(Retrying \S+ in [\d.]+ seconds as it raised .*|Finished call to '\S+' after [\d.]+\(s\), this was the \w+ time calling it\.)$/s;
function reprValue(text, key) {
  const m = new RegExp(`'${key}': u?'([^']*)'`).exec(text);
  return m ? m[1] ?? null : null;
}
function parseOsBrick(message2) {
  const c = message2.charCodeAt(0);
  let m;
  if (c === 61) {
    m = CALL.exec(message2);
    return m ? [{ kind: "brick.call", fn: m[1] ?? "", args: m[2] ?? "" }] : [];
  }
  if (c === 60) {
    m = RETURN.exec(message2);
    if (m) return [{ kind: "brick.return", fn: m[1] ?? "", ms: Number(m[2]), result: m[3] ?? "" }];
    m = RAISE.exec(message2);
    return m ? [{ kind: "brick.raise", fn: m[1] ?? "", ms: Number(m[2]), exception: m[3] ?? "" }] : [];
  }
  if (m = TRY.exec(message2)) return [{ kind: "portal.try", portal: m[1] ?? "" }];
  if (m = RETRY.exec(message2)) return [{ kind: "portal.retry", portal: m[1] ?? "" }];
  if (m = CONNECTED_DEV.exec(message2)) return [{ kind: "portal.device", device: m[1] ?? "", portal: reprValue(m[2] ?? "", "target_portal") }];
  if (m = CONNECTED.exec(message2)) return [{ kind: "portal.logged-in", portal: m[1] ?? "" }];
  if (m = LOGIN_FAILED.exec(message2)) return [{ kind: "portal.login-failed", iqn: m[1] ?? "", portal: m[2] ?? "", exitCode: m[3] === "None" ? null : Number(m[3]) }];
  if (m = PORTAL_FAILED.exec(message2)) return [{ kind: "portal.failed", portal: m[1] ?? "" }];
  if (m = NO_LUN.exec(message2)) return [{ kind: "portal.no-lun", lun: m[1] ?? "", portal: m[2] ?? "" }];
  if (message2 === "Could not login to any iSCSI portal." || message2 === "Failed to login to any of the iSCSI targets.") return [{ kind: "portal.none" }];
  if (message2 === "Multipath discovery for iSCSI enabled") return [{ kind: "multipath.discovery", enabled: true }];
  if (message2 === "Multipath discovery for iSCSI not enabled.") return [{ kind: "multipath.discovery", enabled: false }];
  if (message2 === "All connection threads finished, giving 10 seconds for dm to appear.") return [{ kind: "multipath.wait", wwn: null }];
  if (message2 === "No dm was created, connection to volume is probably bad and will perform poorly.") return [{ kind: "multipath.none", wwn: null }];
  if (m = NOT_YET.exec(message2)) return [{ kind: "device.missing", paths: m[1] ?? "", attempt: Number(m[2]) }];
  if (m = FOUND_NODE.exec(message2)) return [{ kind: "device.found", paths: m[1] ?? "", rescans: Number(m[2]) }];
  if (m = WWN.exec(message2)) return [{ kind: "device.wwn", wwn: m[1] ?? "" }];
  if (m = FIND_MPATH.exec(message2)) return [{ kind: "multipath.wait", wwn: m[1] ?? null }];
  if (m = NO_MPATH.exec(message2)) return [{ kind: "multipath.none", wwn: m[1] ?? null }];
  if (m = FALLBACK.exec(message2)) return [{ kind: "multipath.fallback", path: m[1] ?? "" }];
  if (m = CHECKING.exec(message2)) return [{ kind: "path.check", path: m[1] ?? "" }];
  if (m = SHOWN_UP.exec(message2)) return [{ kind: "path.appeared", path: m[1] ?? "" }];
  if (m = FOUND_MPATH.exec(message2)) return [{ kind: "multipath.found", path: m[1] ?? "" }];
  if (m = SCANNING.exec(message2)) return [{ kind: "rescan", what: `host${m[1]} ${m[2]}:${m[3]}:${m[4]}` }];
  if (m = TENACITY.exec(message2)) return [{ kind: "brick.retry", what: m[1] ?? "" }];
  if (message2.startsWith("Running privsep helper: ")) return [{ kind: "privsep.starting" }];
  if (message2 === "Spawned new privsep daemon via rootwrap") return [{ kind: "privsep.started" }];
  return [];
}

// src/trace/oslog/parse/processutils.ts
var START = /^Running cmd \((?:subprocess|SSH)\): (.+)$/s;
var END = /^CMD "(.+)" returned: (-?\d+) in ([\d.]+)s$/s;
var TIMEOUT = /^CMD "(.+)" reached timeout in ([\d.]+)s$/s;
var FAILED = /^u?(['"])(.+)\1 failed\. (Not )?Retrying\.$/s;
var ERROR = /^'[^']*'\ncommand: u?(['"])(.*)\1\nexit code: (-?\d+|None)\nstdout: .*\nstderr: u?(['"])(.*)\4$/s;
function parseProcessutils(message2) {
  const c = message2.charCodeAt(0);
  if (c === 82) {
    const m = START.exec(message2);
    return m ? [{ kind: "cmd.start", command: m[1] ?? "" }] : [];
  }
  if (c === 67) {
    let m = END.exec(message2);
    if (m) return [{ kind: "cmd.end", command: m[1] ?? "", exitCode: Number(m[2]), ms: Math.round(Number(m[3]) * 1e3) }];
    m = TIMEOUT.exec(message2);
    if (m) return [{ kind: "cmd.end", command: m[1] ?? "", exitCode: null, ms: Math.round(Number(m[2]) * 1e3) }];
    return [];
  }
  if (message2.endsWith("Retrying.")) {
    const m = FAILED.exec(message2);
    return m ? [{ kind: "cmd.failed", command: m[2] ?? "", retrying: m[3] === void 0 }] : [];
  }
  if (c === 39 && message2.includes("\ncommand: ")) {
    const m = ERROR.exec(message2);
    if (m) return [{ kind: "cmd.error", command: m[2] ?? "", exitCode: m[3] === "None" ? null : Number(m[3]), stderr: (m[5] ?? "").replace(/\\n/g, "\n").trim() }];
  }
  return [];
}
function programOf(command) {
  const words = command.split(/\s+/);
  let i = 0;
  for (; ; ) {
    const w = words[i] ?? "";
    if (w === "sudo" || w === "env" || /=/.test(w)) i++;
    else if (/-rootwrap$/.test(w)) i += 2;
    else if (w === "privsep-helper") return w;
    else break;
    if (i >= words.length) break;
  }
  return (words[i] ?? words[0] ?? "").replace(/^.*\//, "");
}

// src/trace/oslog/parse/rest.ts
var REQ = /^(?:REQ: )?curl -g -i(?: --insecure| --cacert "[^"]*")? -X (\w+) "?(\S+?)"?(?: -H .*?)?(?: -d '(.*)')?$/s;
var REQ_OLD = /^(?:REQ: )?curl -i (\S+) -X (GET|POST|PUT|DELETE)(?:-H .*?)?(?: -d '(.*)')?$/s;
var RESP = /^(?:RESP: )?\[(\d{3})\](.*)$/s;
var REQUEST_ID = /^(\w+) call to (?:\S+ for )?(\S+) used request id (req-[0-9a-f-]{36})$/;
var RESP_REQ_ID = /x-(?:openstack|compute)-request-id['"]?:\s*['"]?(req-[0-9a-f-]{36})/i;
function parseRest(message2, logger) {
  const msg = message2.startsWith("\n") ? message2.trim() : message2;
  const c = msg.charCodeAt(0);
  let m;
  if (c === 82 || c === 99) {
    if (c === 99 && !logger.endsWith(".request")) return [];
    const req = REQ.exec(msg);
    const old = req ? null : REQ_OLD.exec(msg);
    if (req || old) {
      const body = (req ? req[3] : old?.[3]) ?? "";
      const action = /^\{\s*"([\w-]+)"/.exec(body)?.[1] ?? null;
      return [{ kind: "rest.req", method: (req ? req[1] : old?.[2]) ?? "", url: (req ? req[2] : old?.[1]) ?? "", action }];
    }
    if (msg.startsWith("RESP BODY")) return [];
    if (msg.startsWith("RESP: ") && (m = RESP.exec(msg))) {
      return [{ kind: "rest.resp", status: Number(m[1]), requestId: RESP_REQ_ID.exec(m[2] ?? "")?.[1] ?? null }];
    }
    return [];
  }
  if (c === 91 && logger.endsWith(".response") && (m = RESP.exec(msg))) {
    return [{ kind: "rest.resp", status: Number(m[1]), requestId: RESP_REQ_ID.exec(m[2] ?? "")?.[1] ?? null }];
  }
  if (m = REQUEST_ID.exec(msg)) return [{ kind: "rest.request-id", method: m[1] ?? "", url: m[2] ?? "", requestId: m[3] ?? "" }];
  return [];
}
function templatePath(url) {
  let path = url.replace(/^[a-z]+:\/\/[^/]+/i, "").replace(/\?.*$/, "");
  path = path.replace(/\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?=\/|$)/gi, "/{id}");
  path = path.replace(/\/(v[23](?:\.\d+)?)\/[0-9a-f]{32}(?=\/|$)/i, "/$1/{project_id}");
  return path;
}
function urlSubject(url) {
  const m = /\/(volumes|attachments)\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/i.exec(url);
  if (!m) return { kind: /\/attachments(?:\?|$)/.test(url) ? "attachments" : "other", id: null };
  return { kind: m[1] === "attachments" ? "attachments" : "volumes", id: m[2] ?? null };
}

// src/trace/oslog/assemble.ts
var UnionFind = class {
  #parent = /* @__PURE__ */ new Map();
  find(x) {
    let p = this.#parent.get(x) ?? x;
    if (p === x) return x;
    p = this.find(p);
    this.#parent.set(x, p);
    return p;
  }
  union(a, b) {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra !== rb) this.#parent.set(rb, ra);
  }
};
var BRICK_FNS = /* @__PURE__ */ new Set(["connect_volume", "disconnect_volume", "get_connector_properties", "extend_volume", "get_volume_paths"]);
var VOLUME_PROGRAMS = /* @__PURE__ */ new Set(["iscsiadm", "multipath", "multipathd", "scsi_id", "blockdev", "lsblk", "systool", "sg_scan", "nvme", "dmsetup", "tee", "cat", "findmnt"]);
function isInstanceLockOp(by) {
  return by !== null && /\b(do_reserve|do_attach_volume|do_detach_volume|attach_volume|detach_volume|reserve_block_device_name)\b/.test(by);
}
function aboutVolumes(r) {
  for (const e of r.events) {
    switch (e.kind) {
      case "lock.acquiring":
      case "lock.acquired":
      case "lock.released":
        if (e.lock === "connect_volume" || isInstanceLockOp(e.by) || (e.by ?? "").startsWith("os_brick")) return true;
        break;
      case "cmd.start":
      case "cmd.end":
      case "cmd.failed":
      case "cmd.error":
        if (VOLUME_PROGRAMS.has(programOf(e.command))) return true;
        break;
      case "rest.req":
      case "rest.request-id":
        if (urlSubject(e.url).kind !== "other") return true;
        break;
      case "api.request":
        if (urlSubject(e.path).kind !== "other" || e.path.includes("os-volume_attachments")) return true;
        break;
      case "rest.resp":
      case "traceback":
        break;
      case "exception":
        if (/volume|iscsi|brick|multipath|attach/i.test(e.summary)) return true;
        break;
      default:
        return true;
    }
  }
  return r.logger.startsWith("os_brick") && r.events.length > 0;
}
function pairCommands(recs) {
  const pairs = [];
  const open = /* @__PURE__ */ new Map();
  const lastEnded = /* @__PURE__ */ new Map();
  const key = (source, command) => `${source}\0${command}`;
  for (const r of recs) {
    for (const e of r.events) {
      if (e.kind === "cmd.start") {
        const p = { command: e.command, program: programOf(e.command), start: r, end: null, exitCode: null, ms: null, failed: false, stderr: null };
        pairs.push(p);
        const k = key(r.source, e.command);
        open.set(k, [...open.get(k) ?? [], p]);
        r.cmd = p;
      } else if (e.kind === "cmd.end") {
        const k = key(r.source, e.command);
        const q = open.get(k) ?? [];
        let p = q.shift();
        if (q.length === 0) open.delete(k);
        if (!p) {
          p = { command: e.command, program: programOf(e.command), start: null, end: null, exitCode: null, ms: null, failed: false, stderr: null };
          pairs.push(p);
        }
        p.end = r;
        p.exitCode = e.exitCode;
        p.ms = e.ms;
        r.cmd = p;
        lastEnded.set(k, p);
      } else if (e.kind === "cmd.failed" || e.kind === "cmd.error") {
        const k = key(r.source, e.command);
        let p = lastEnded.get(k);
        const q = open.get(k);
        if (e.kind === "cmd.failed" && q?.length && (!p || (q[0]?.start?.seq ?? 0) > (p.end?.seq ?? 0))) {
          p = q.shift();
          if (q.length === 0) open.delete(k);
          p.end = r;
          p.ms = p.start ? r.ts - p.start.ts : 0;
          p.notRun = true;
          lastEnded.set(k, p);
        }
        if (p) {
          if (e.kind === "cmd.failed") p.failed = true;
          else p.stderr = e.stderr;
          r.cmd = p;
        }
      }
    }
  }
  return pairs;
}
function volumeFromArgs(args) {
  return reprValue(args, "volume_id");
}
function assemble(records, orphans) {
  const recs = records;
  const uf = new UnionFind();
  for (const r of recs) {
    if (r.requestId && r.globalRequestId) uf.union(r.globalRequestId, r.requestId);
    if (!r.requestId) continue;
    for (const e of r.events) {
      if (e.kind === "rest.request-id") uf.union(r.requestId, e.requestId);
      if (e.kind === "rest.resp" && e.requestId) uf.union(r.requestId, e.requestId);
    }
  }
  for (const r of recs) r.group = r.requestId ? uf.find(r.requestId) : null;
  const cmds = pairCommands(recs);
  const operations = [];
  const novaByGroup = /* @__PURE__ */ new Map();
  const newOp = (seed, kind, via) => {
    const op = { id: operations.length + 1, kind, via, volume: null, server: seed.instance, mountpoint: null, group: seed.group, sources: /* @__PURE__ */ new Set([seed.source]), recs: [], seed, brickWindows: [], lockWindows: [] };
    operations.push(op);
    return op;
  };
  for (const r of recs) {
    for (const e of r.events) {
      const failedAttach = e.kind === "nova.attach-failed" && e.volume !== null && !novaByGroup.has(r.group ?? "");
      if ((e.kind === "nova.attaching" || e.kind === "nova.detaching" || failedAttach) && r.group) {
        const kind = e.kind === "nova.detaching" ? "detach" : "attach";
        const list = novaByGroup.get(r.group) ?? [];
        if (list.some((o) => o.kind === kind && o.volume === e.volume)) continue;
        const op = newOp(r, kind, "nova");
        op.volume = e.volume;
        op.mountpoint = e.mountpoint;
        novaByGroup.set(r.group, [...list, op]);
      }
    }
  }
  const brickByGroup = /* @__PURE__ */ new Map();
  const ungrouped = [];
  for (const r of recs) {
    for (const e of r.events) {
      if (e.kind !== "brick.call" || e.fn !== "connect_volume" && e.fn !== "disconnect_volume") continue;
      if (r.group && novaByGroup.has(r.group)) continue;
      const op = newOp(r, e.fn === "connect_volume" ? "attach" : "detach", "os-brick");
      op.volume = volumeFromArgs(e.args);
      if (r.group) brickByGroup.set(r.group, [...brickByGroup.get(r.group) ?? [], op]);
      else ungrouped.push(op);
    }
  }
  for (const r of recs) {
    if (!r.group || novaByGroup.has(r.group) || brickByGroup.has(r.group)) continue;
    if (r.events.some((e) => e.kind === "portal.try" || e.kind === "portal.login-failed")) brickByGroup.set(r.group, [newOp(r, "attach", "os-brick")]);
  }
  const place = (r, op) => {
    r.op = op;
    op.recs.push(r);
    op.sources.add(r.source);
  };
  const latestBefore = (ops, r) => {
    let pick = ops[0];
    for (const o of ops) if (o.seed.seq <= r.seq || o.seed.ts <= r.ts) pick = o;
    return pick;
  };
  for (const r of recs) {
    if (!r.group) continue;
    const ops = novaByGroup.get(r.group) ?? brickByGroup.get(r.group);
    if (ops) place(r, latestBefore(ops, r));
  }
  for (const op of ungrouped) place(op.seed, op);
  const computeWindows = (op) => {
    op.brickWindows.length = 0;
    op.lockWindows.length = 0;
    const openCalls = [];
    let lockFrom = null;
    const sorted = [...op.recs].sort((a, b) => a.ts - b.ts || a.seq - b.seq);
    for (const r of sorted) {
      for (const e of r.events) {
        if (e.kind === "brick.call" && BRICK_FNS.has(e.fn)) openCalls.push({ fn: e.fn, ts: r.ts });
        if ((e.kind === "brick.return" || e.kind === "brick.raise") && BRICK_FNS.has(e.fn)) {
          const i = openCalls.map((c) => c.fn).lastIndexOf(e.fn);
          const call = i >= 0 ? openCalls.splice(i, 1)[0] : void 0;
          op.brickWindows.push([call?.ts ?? r.ts - e.ms, r.ts]);
        }
        if (e.kind === "lock.acquired" && e.lock === "connect_volume") lockFrom = r.ts;
        if (e.kind === "lock.released" && e.lock === "connect_volume") {
          op.lockWindows.push([lockFrom ?? r.ts - (e.heldMs ?? 0), r.ts]);
          lockFrom = null;
        }
      }
    }
    for (const c of openCalls) op.brickWindows.push([c.ts, Infinity]);
    if (lockFrom !== null) op.lockWindows.push([lockFrom, Infinity]);
  };
  for (const op of operations) computeWindows(op);
  const inside = (w, ts) => w.some(([a, b]) => a <= ts && ts <= b);
  const index = /* @__PURE__ */ new Map();
  for (const o of operations) {
    for (const [a, b] of o.brickWindows) {
      for (const src of o.sources) {
        const e = index.get(src) ?? { starts: [], ops: [], longest: 0 };
        e.starts.push(a);
        e.ops.push(o);
        e.longest = Math.max(e.longest, b - a);
        index.set(src, e);
      }
    }
  }
  for (const e of index.values()) {
    const order = e.starts.map((_, i) => i).sort((i, j) => e.starts[i] - e.starts[j]);
    e.starts = order.map((i) => e.starts[i]);
    e.ops = order.map((i) => e.ops[i]);
  }
  const candidatesAt = (source, ts) => {
    const e = index.get(source);
    if (!e) return [];
    let lo = 0;
    let hi = e.starts.length;
    while (lo < hi) {
      const mid = lo + hi >> 1;
      if (e.starts[mid] <= ts) lo = mid + 1;
      else hi = mid;
    }
    const out = /* @__PURE__ */ new Set();
    for (let i = lo - 1; i >= 0 && e.starts[i] >= ts - e.longest; i--) {
      const o = e.ops[i];
      if (inside(o.brickWindows, ts)) out.add(o);
    }
    return [...out];
  };
  const chooseFor = (r) => {
    const cands = candidatesAt(r.source, r.ts);
    if (cands.length === 0) return null;
    if (cands.length === 1) return cands[0] ?? null;
    const locked = cands.filter((o) => inside(o.lockWindows, r.ts));
    if (locked.length === 1) return locked[0] ?? null;
    const pool = locked.length > 1 ? locked : cands;
    return pool.reduce((a, b) => latestCall(b, r.ts) > latestCall(a, r.ts) ? b : a);
  };
  const latestCall = (o, ts) => Math.max(...o.brickWindows.filter(([a]) => a <= ts).map(([a]) => a), -Infinity);
  for (const p of cmds) {
    const first = p.start ?? p.end;
    if (!first || first.op || first.group) continue;
    const op = chooseFor(first);
    if (!op) continue;
    for (const r of [p.start, p.end]) if (r && !r.op) place(r, op);
  }
  const NEAR_MS = 1e4;
  const byServer = /* @__PURE__ */ new Map();
  for (const o of operations) {
    if (!o.server || o.recs.length === 0) continue;
    let first = Infinity;
    let last = -Infinity;
    for (const x of o.recs) {
      first = Math.min(first, x.ts);
      last = Math.max(last, x.ts);
    }
    byServer.set(o.server, [...byServer.get(o.server) ?? [], { o, first, last }]);
  }
  for (const r of recs) {
    if (r.op || r.group || !r.instance) continue;
    let best = null;
    let bestGap = Infinity;
    for (const { o, first, last } of byServer.get(r.instance) ?? []) {
      if (!o.sources.has(r.source)) continue;
      const gap = r.ts < first ? first - r.ts : r.ts > last ? r.ts - last : 0;
      if (gap <= NEAR_MS && gap < bestGap) {
        best = o;
        bestGap = gap;
      }
    }
    if (best) place(r, best);
  }
  for (const r of recs) {
    if (r.op || r.group) continue;
    if (r.cmd) {
      const other2 = r.cmd.start?.op ?? r.cmd.end?.op;
      if (other2) {
        place(r, other2);
        continue;
      }
    }
    const op = chooseFor(r);
    if (op) place(r, op);
  }
  for (const op of operations) {
    op.recs.sort((a, b) => a.ts - b.ts || a.seq - b.seq);
    for (const r of op.recs) {
      if (!op.server && r.instance) op.server = r.instance;
      for (const e of r.events) {
        if (!op.volume && e.kind === "brick.call") op.volume = volumeFromArgs(e.args);
        if (!op.volume && e.kind === "libvirt.attach" && e.serial) op.volume = e.serial;
        if (!op.volume && e.kind === "rest.req" && urlSubject(e.url).kind === "volumes") op.volume = urlSubject(e.url).id;
        if (!op.volume && e.kind === "nova.api-attach") op.volume = e.volume;
        if (!op.server && e.kind === "nova.api-attach") op.server = e.server;
      }
    }
  }
  const unplaced = [];
  let placed = 0;
  let other = 0;
  for (const l of orphans) unplaced.push({ source: l.source, lineNo: l.lineNo, text: l.text });
  for (const r of recs) {
    if (r.op) placed += r.lineCount;
    else if (aboutVolumes(r)) r.lines.forEach((text, i) => unplaced.push({ source: r.source, lineNo: r.lineNo + i, text }));
    else other += r.lineCount;
  }
  unplaced.sort((a, b) => a.source === b.source ? a.lineNo - b.lineNo : a.source < b.source ? -1 : 1);
  const kept = operations.filter((o) => o.recs.length > 0);
  kept.forEach((o, i) => o.id = i + 1);
  return { operations: kept, unplaced, lines: { total: placed + unplaced.length + other, placed, unplaced: unplaced.length, other } };
}

// src/trace/oslog/diagnose.ts
var dur = (s) => s.endMs === null ? null : s.endMs - s.startMs;
function childrenOf(spans, id) {
  return spans.filter((s) => s.parentId === id);
}
function floorOf(spans) {
  const paths = spans.filter((s) => s.name === "connect_path" && s.outcome === "ok" && s.endMs !== null);
  if (paths.length === 0) return null;
  const parts = [];
  const stepCalls = (step, label) => {
    for (const top of spans.filter((s) => s.parentId === null && s.name === step)) {
      for (const c of childrenOf(spans, top.id)) {
        const d = dur(c);
        if (c.name.startsWith("block-storage ") && d !== null && c.outcome === "ok") parts.push({ what: label(c), ms: d });
      }
    }
  };
  stepCalls("get-volume", () => "get volume");
  stepCalls("initialize-connection", (c) => typeof c.attrs["action"] === "string" ? String(c.attrs["action"]).replace(/^os-/, "") : "attachment update");
  let best = null;
  for (const p of paths) {
    const kids = childrenOf(spans, p.id);
    const login2 = kids.find((k) => k.name === "exec iscsiadm" && / --login\b/.test(String(k.attrs["command"] ?? "")) && k.outcome === "ok");
    const wait = kids.find((k) => k.name === "wait device" && k.outcome === "ok");
    const l = login2 ? dur(login2) ?? 0 : 0;
    const d = wait ? dur(wait) ?? 0 : 0;
    const total = login2 || wait ? l + d : dur(p) ?? 0;
    if (!best || total < best.login + best.device) best = { portal: String(p.attrs["portal"] ?? "?"), login: login2 || wait ? l : total, device: d };
  }
  if (best) {
    parts.push({ what: `login to ${best.portal}`, ms: best.login });
    if (best.device > 0) parts.push({ what: "device", ms: best.device });
  }
  const hotplug = spans.find((s) => s.parentId === null && s.name === "hotplug");
  if (hotplug && dur(hotplug) !== null) parts.push({ what: "hot-plug", ms: dur(hotplug) });
  stepCalls("complete", (c) => typeof c.attrs["action"] === "string" ? String(c.attrs["action"]).replace(/^os-/, "") : "attachment complete");
  return parts;
}
function diagnoseLog(op, spans, totalMs, all) {
  const out = [];
  const pct = (ms2) => totalMs > 0 ? `${Math.round(100 * ms2 / totalMs)}%` : "-";
  const init = spans.find((s) => s.parentId === null && s.name === "initialize-connection");
  if (init && init.endMs !== null) {
    const d = init.endMs - init.startMs;
    out.push(`initialize_connection (the storage side) took ${formatMs(d)} of the ${formatMs(totalMs)} (${pct(d)})`);
  }
  for (const w of spans.filter((s) => s.name === "lock connect_volume" || s.name === "lock-instance" || s.name === "lock" && s.attrs["lock"])) {
    const d = dur(w);
    if (d === null || d < 1e3) continue;
    const lockName = w.name === "lock connect_volume" ? "connect_volume" : String(w.attrs["lock"] ?? op.server ?? "");
    const what = w.name === "lock connect_volume" ? "os-brick's host-wide connect_volume lock" : `the instance lock ${lockName}`;
    const holders = all.filter((o) => o.op !== op).filter((o) => w.name === "lock connect_volume" ? o.op.lockWindows.some(([a, b]) => a <= w.startMs + 1 && b >= w.startMs) : instanceLockHeld(o.spans, w.startMs)).map((o) => `the ${o.op.kind} of volume ${o.op.volume ?? "?"}${o.op.seed.requestId ? ` (${o.op.seed.requestId})` : ""}`);
    out.push(`waited ${formatMs(d)} (${pct(d)}) for ${what}${holders.length ? `, held by ${holders.join(", ")}` : ""}`);
  }
  for (const p of spans.filter((s) => s.name === "privsep daemon start" && s.endMs !== null)) {
    const d = p.endMs === null ? 0 : p.endMs - p.startMs;
    if (d >= 1e3) out.push(`os-brick started its privsep daemon during this ${op.kind}: ${formatMs(d)} (${pct(d)}), once per nova-compute process`);
  }
  const connect = spans.find((s) => s.parentId === null && s.name === "connect-volume");
  if (connect && connect.outcome === "error") {
    const under = /* @__PURE__ */ new Set([connect.id]);
    for (const s of spans) if (s.parentId !== null && under.has(s.parentId)) under.add(s.id);
    const lastPath = Math.max(...spans.filter((s) => s.name === "connect_path" && under.has(s.id)).map((s) => s.endMs ?? s.startMs), -Infinity);
    const cleanup = spans.filter((s) => under.has(s.id) && s.name === "exec iscsiadm" && s.startMs >= lastPath && /--logout|--op delete/.test(String(s.attrs["command"] ?? "")));
    if (cleanup.length > 0) {
      const portals = [...new Set(cleanup.map((s) => String(s.attrs["portal"] ?? "")).filter(Boolean))];
      const from = Math.min(...cleanup.map((s) => s.startMs));
      const to = Math.max(...cleanup.map((s) => s.endMs ?? s.startMs));
      out.push(`os-brick rolled the connect back: logged out of and deleted the node records of ${portals.join(", ") || "its portals"} (${formatMs(to - from)})`);
    }
  }
  const floor = floorOf(spans);
  if (floor && connect) {
    const f = floor.reduce((a, p) => a + p.ms, 0);
    const ratio = f > 0 ? totalMs / f : 0;
    out.push(
      `Hitch would have taken about ${formatMs(f)} for the same data plane: the floor from this log's own timings (${floor.map((p) => `${p.what} ${formatMs(p.ms)}`).join(" + ")}); this ${op.kind} took ${formatMs(totalMs)}${ratio >= 1.05 ? `, ${ratio >= 10 ? Math.round(ratio) : ratio.toFixed(1)}× the floor` : ""}`
    );
  } else if (connect && connect.outcome === "error") {
    out.push("no floor: no portal gave a usable path, so no attach could have been quick on this data plane");
  }
  return out;
}
function instanceLockHeld(spans, at) {
  const lock = spans.find((s) => s.parentId === null && s.name === "lock-instance" && s.endMs !== null);
  const unlock = spans.find((s) => s.parentId === null && s.name === "unlock-instance");
  return !!lock && lock.endMs !== null && lock.endMs <= at && (!unlock || unlock.startMs >= at);
}

// src/trace/oslog/parse/cinder.ts
var WSGI = /"(GET|POST|PUT|DELETE|PATCH) (\S+) HTTP\/1\.[01]" status: (\d{3})\s+len: \d+\s+time: ([\d.]+)/;
var DONE = /^(Initialize volume connection|attachment_update|Terminate volume connection|Attach volume|Detach volume|Remove volume export|Create attachment|Delete attachment|attachment_complete|Unreserve volume|Reserve volume) completed successfully\.$/;
var FAILED2 = /^(Driver initialize connection failed|Unable to update attachment|Unable to create attachment|Unable to terminate volume connection|Failed to attach volume|Failed to detach volume)[ .:(](.*)$/s;
var TARGET = /^(Creating iscsi_target for volume|Removing iscsi_target): (\S+)$/;
function parseCinder(message2) {
  let m;
  if (message2.includes('" status: ') && (m = WSGI.exec(message2))) {
    return [{ kind: "api.request", method: m[1] ?? "", path: m[2] ?? "", status: Number(m[3]), seconds: Number(m[4]) }];
  }
  if (m = DONE.exec(message2)) return [{ kind: "cinder.step", what: m[1] ?? "", ok: true, detail: null }];
  if (m = FAILED2.exec(message2)) return [{ kind: "cinder.step", what: m[1] ?? "", ok: false, detail: (m[2] ?? "").trim() }];
  if (m = TARGET.exec(message2)) return [{ kind: "cinder.step", what: m[1] ?? "", ok: true, detail: m[2] ?? null }];
  return [];
}

// src/trace/oslog/parse/exception.ts
var FRAME = /^(?:Traceback \(most recent call last\):|\s+File "|\s{4}\S|\s*\^+\s*$|During handling of the above exception|The above exception was the direct cause)/;
var EXC = /^((?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception|NotFound|Failed|Failure|Timeout|Busy|Invalid\w*|Unavailable|Conflict)\w*)(?:: (.*))?$/s;
function parseException(message2, level2) {
  if (level2 !== "ERROR" && level2 !== "CRITICAL" && level2 !== "TRACE") return [];
  const lines = message2.split("\n");
  const first = lines[0] ?? "";
  if (lines.length > 1 && lines.some((l) => l.startsWith("Traceback (most recent call last):"))) {
    const last = [...lines].reverse().find((l) => l.trim() !== "" && !FRAME.test(l)) ?? "";
    const m = EXC.exec(last.trim());
    return m ? [{ kind: "exception", summary: last.trim() }] : [{ kind: "traceback" }];
  }
  if (FRAME.test(first)) return [{ kind: "traceback" }];
  if (EXC.exec(first.trim())) return [{ kind: "exception", summary: message2.trim() }];
  return [];
}

// src/trace/oslog/parse/lockutils.ts
var ACQUIRING = /^Acquiring lock "([^"]+)"(?: by "([^"]+)")?$/;
var ACQUIRED = /^(?:Lock "([^"]+)" acquired by "([^"]+)" :: waited ([\d.]+)s|Acquired lock "([^"]+)")$/;
var RELEASED = /^(?:Lock "([^"]+)" "?(released|unacquired)"? by "([^"]+)" :: held (N\/A|[\d.]+s)|Releasing lock "([^"]+)")$/;
var secs = (s) => s && s !== "N/A" ? Math.round(Number(s.replace(/s$/, "")) * 1e3) : null;
function parseLockutils(message2) {
  if (!message2.includes('ock "')) return [];
  let m = ACQUIRING.exec(message2);
  if (m) return [{ kind: "lock.acquiring", lock: m[1] ?? "", by: m[2] ?? null }];
  m = ACQUIRED.exec(message2);
  if (m) return [{ kind: "lock.acquired", lock: m[1] ?? m[4] ?? "", by: m[2] ?? null, waitedMs: secs(m[3]) }];
  m = RELEASED.exec(message2);
  if (m) {
    if (m[2] === "unacquired") return [];
    return [{ kind: "lock.released", lock: m[1] ?? m[5] ?? "", by: m[3] ?? null, heldMs: secs(m[4]) }];
  }
  return [];
}

// src/trace/oslog/parse/nova.ts
var UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
var ATTACHING = new RegExp(`^Attaching volume (${UUID}) to (\\S+)$`);
var DETACHING = new RegExp(`^(?:Detaching volume (${UUID})|Detach volume (${UUID}) from mountpoint (\\S+)|Attempting to driver detach volume (${UUID}) from mountpoint (\\S+))$`);
var ATTACH_FAILED = new RegExp(`^(?:Driver )?[Ff]ailed to attach (?:volume )?(${UUID})? ?at (?:mountpoint: )?(\\S+?)(?::.*)?$`, "s");
var DETACH_FAILED = new RegExp(`^(?:Failed to detach volume (${UUID}) from \\S+|Guest refused to detach volume (${UUID})|Driver failed to detach volume (${UUID}) at \\S+?\\.)`);
var DETACHED = /^Successfully detached device (\S+) from instance \S+ from the (persistent|live) domain config\.$/;
var ATTACHMENT_UPDATE = new RegExp(`^Updating existing volume attachment record: (${UUID})$`);
var CINDER_FAILED = /^((?:Create|Show|Update|Delete|Complete) attachment|Initialize connection|Terminate connection|Reserve|Attach|Detach) failed (?:for|on) (?:attachment|volume) (.*)$/s;
var API_ATTACH = new RegExp(`^Attach volume (${UUID}) to instance (${UUID}) at (\\S+)$`);
var XML_ATTR = (xml, tag, attr) => new RegExp(`<${tag}\\b[^>]*\\b${attr}=["']([^"']+)["']`).exec(xml)?.[1] ?? null;
function parseNova(message2) {
  let m;
  switch (message2.charCodeAt(0)) {
    case 65:
      if (m = ATTACHING.exec(message2)) return [{ kind: "nova.attaching", volume: m[1] ?? "", mountpoint: m[2] ?? "" }];
      if (m = DETACHING.exec(message2)) return [{ kind: "nova.detaching", volume: m[4] ?? "", mountpoint: m[5] ?? null }];
      if (m = API_ATTACH.exec(message2)) return [{ kind: "nova.api-attach", volume: m[1] ?? "", server: m[2] ?? "", device: m[3] ?? null }];
      if (message2.startsWith("Attached iSCSI volume")) return [{ kind: "nova.brick", what: "connected" }];
      break;
    case 68:
      if (m = DETACHING.exec(message2)) return [{ kind: "nova.detaching", volume: m[1] ?? m[2] ?? "", mountpoint: m[3] ?? null }];
      if (m = DETACH_FAILED.exec(message2)) return [{ kind: "nova.detach-failed", volume: m[3] ?? null }];
      if (m = ATTACH_FAILED.exec(message2)) return [{ kind: "nova.attach-failed", volume: m[1] ?? null, mountpoint: m[2] ?? null }];
      if (message2.startsWith("Disconnected iSCSI Volume")) return [{ kind: "nova.brick", what: "disconnected" }];
      break;
    case 70:
      if (m = ATTACH_FAILED.exec(message2)) return [{ kind: "nova.attach-failed", volume: m[1] ?? null, mountpoint: m[2] ?? null }];
      if (m = DETACH_FAILED.exec(message2)) return [{ kind: "nova.detach-failed", volume: m[1] ?? null }];
      break;
    case 71:
      if (m = DETACH_FAILED.exec(message2)) return [{ kind: "nova.detach-failed", volume: m[2] ?? null }];
      break;
    case 83:
      if (m = DETACHED.exec(message2)) return [{ kind: "libvirt.detached", target: m[1] ?? "", config: m[2] === "live" ? "live" : "persistent" }];
      break;
    case 85:
      if (m = ATTACHMENT_UPDATE.exec(message2)) return [{ kind: "nova.attachment-update", attachment: m[1] ?? "" }];
      break;
    case 97:
      if (message2.startsWith("attach device xml: ")) {
        const xml = message2.slice(19);
        return [{ kind: "libvirt.attach", source: XML_ATTR(xml, "source", "dev") ?? XML_ATTR(xml, "source", "name") ?? XML_ATTR(xml, "source", "file"), target: XML_ATTR(xml, "target", "dev"), serial: /<serial>([^<]+)<\/serial>/.exec(xml)?.[1] ?? null }];
      }
      break;
    case 99:
      if (message2 === "calling os-brick to detach iSCSI Volume") return [{ kind: "nova.brick", what: "disconnect" }];
      break;
    case 67:
      if (message2 === "Calling os-brick to attach iSCSI Volume") return [{ kind: "nova.brick", what: "connect" }];
      if (m = CINDER_FAILED.exec(message2)) return [{ kind: "nova.cinder-failed", what: m[1] ?? "", detail: m[2] ?? "" }];
      break;
    case 100:
      if (message2.startsWith("detach device xml: ")) {
        const xml = message2.slice(19);
        return [{ kind: "libvirt.detach", target: XML_ATTR(xml, "target", "dev"), serial: /<serial>([^<]+)<\/serial>/.exec(xml)?.[1] ?? null }];
      }
      break;
  }
  if (m = CINDER_FAILED.exec(message2)) return [{ kind: "nova.cinder-failed", what: m[1] ?? "", detail: m[2] ?? "" }];
  return [];
}

// src/trace/oslog/parse/index.ts
function eventsOf(r) {
  const msg = r.message;
  const out = [];
  const add = (e) => {
    for (const x of e) out.push(x);
  };
  add(parseLockutils(msg));
  if (out.length) return out;
  add(parseProcessutils(msg));
  if (out.length) return out;
  add(parseOsBrick(msg));
  if (out.length) return out;
  add(parseRest(msg, r.logger));
  if (out.length) return out;
  add(parseNova(msg));
  if (out.length) return out;
  add(parseCinder(msg));
  if (out.length) return out;
  add(parseException(msg, r.level));
  return out;
}

// src/trace/oslog/record.ts
var LEVELS = "DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|TRACE|AUDIT";
var MONTHS = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };
var OSLO = new RegExp(`^(\\d{4})-(\\d\\d)-(\\d\\d)[ T](\\d\\d):(\\d\\d):(\\d\\d)(?:[.,](\\d{1,6}))?(?:[+-]\\d\\d:?\\d\\d|Z)? +(?:(\\d+) +)?(${LEVELS}) +(\\S+)(?: (.*))?$`);
var SYSLOG = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))? \S+ [\w.@/-]+(?:\[(\d+)\])?: +(.*)$/;
var RFC3339 = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(?:[+-]\d\d:\d\d|Z) \S+ [\w.@/-]+(?:\[(\d+)\])?: +(.*)$/;
var BARE = new RegExp(`^(${LEVELS}) +(\\S+)(?: (.*))?$`);
var REQ2 = /req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
var INSTANCE = /^\[instance: ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\] ?/;
var SUFFIX = /(?: \{\{\(pid=\d+\) (\S+ \S+:\d+)\}\}| ([\w<>.]+ \/\S+\.py:\d+))$/;
function ms(frac) {
  return frac ? Math.floor(Number(frac.padEnd(3, "0").slice(0, 3))) : 0;
}
function level(l) {
  return l === "WARN" ? "WARNING" : l;
}
function parseHeader(line) {
  const c = line.charCodeAt(0);
  if (c >= 48 && c <= 57) {
    const m = OSLO.exec(line);
    if (m) {
      const [, y2, mo2, d2, h3, mi2, s2, frac2, pid2, lvl, logger, rest] = m;
      const ts = Date.UTC(Number(y2), Number(mo2) - 1, Number(d2), Number(h3), Number(mi2), Number(s2), ms(frac2));
      if (Number.isNaN(ts)) return null;
      return { ts, time: `${y2}-${mo2}-${d2} ${h3}:${mi2}:${s2}.${String(ms(frac2)).padStart(3, "0")}`, pid: pid2 ? Number(pid2) : null, level: level(lvl ?? ""), logger: logger ?? "", rest: rest ?? "" };
    }
    const r = RFC3339.exec(line);
    if (!r) return null;
    const [, y, mo, d, h2, mi, s, frac, pid, body] = r;
    return fromPrefixed(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h2), Number(mi), Number(s), ms(frac)), `${y}-${mo}-${d} ${h2}:${mi}:${s}.${String(ms(frac)).padStart(3, "0")}`, pid, body ?? "");
  }
  if (c >= 65 && c <= 90) {
    const m = SYSLOG.exec(line);
    if (!m) return null;
    const [, mon, d, h2, mi, s, frac, pid, body] = m;
    const month = MONTHS[mon ?? ""];
    if (month === void 0) return null;
    const ts = Date.UTC(2e3, month, Number(d), Number(h2), Number(mi), Number(s), ms(frac));
    return fromPrefixed(ts, `${mon} ${(d ?? "").padStart(2, "0")} ${h2}:${mi}:${s}.${String(ms(frac)).padStart(3, "0")}`, pid, body ?? "");
  }
  return null;
}
function fromPrefixed(ts, time, pid, body) {
  if (Number.isNaN(ts)) return null;
  const inner = OSLO.exec(body) ? parseHeader(body) : null;
  if (inner) return inner;
  const b = BARE.exec(body);
  if (!b) return null;
  const [, lvl, logger, rest] = b;
  return { ts, time, pid: pid ? Number(pid) : null, level: level(lvl ?? ""), logger: logger ?? "", rest: rest ?? "" };
}
function parseContext(rest) {
  let requestId = null;
  let globalRequestId = null;
  let body = rest;
  if (body.startsWith("[") && !INSTANCE.test(body)) {
    const close = body.indexOf("]");
    if (close > 0) {
      const ctx = body.slice(1, close);
      const ids = ctx.match(REQ2) ?? [];
      if (ids.length >= 2) {
        globalRequestId = ids[0] ?? null;
        requestId = ids[1] ?? null;
      } else if (ids.length === 1) {
        requestId = ids[0] ?? null;
      }
      body = body.slice(close + 1).replace(/^ /, "");
    }
  }
  let instance = null;
  const im = INSTANCE.exec(body);
  if (im) {
    instance = im[1] ?? null;
    body = body.slice(im[0].length);
  }
  return { requestId, globalRequestId, instance, message: body };
}
function splitOrigin(message2) {
  const m = SUFFIX.exec(message2);
  if (!m) return { message: message2, origin: null };
  return { message: message2.slice(0, m.index).replace(/\s+$/, ""), origin: m[1] ?? m[2] ?? null };
}
var RecordAssembler = class {
  #seq = 0;
  #open = null;
  #openRaw = [];
  #emit;
  #orphan;
  constructor(emit, orphan) {
    this.#emit = emit;
    this.#orphan = orphan;
  }
  push(l) {
    const h2 = parseHeader(l.text);
    if (h2) {
      this.flush();
      const ctx = parseContext(h2.rest);
      this.#open = {
        seq: this.#seq++,
        source: l.source,
        lineNo: l.lineNo,
        lineCount: 1,
        ts: h2.ts,
        time: h2.time,
        pid: h2.pid,
        level: h2.level,
        logger: h2.logger,
        requestId: ctx.requestId,
        globalRequestId: ctx.globalRequestId,
        instance: ctx.instance,
        message: ctx.message,
        origin: null,
        lines: [l.text],
        events: [],
        group: null,
        op: null,
        cmd: null
      };
      this.#openRaw = [ctx.message];
      return;
    }
    if (!this.#open || this.#open.source !== l.source) {
      this.#orphan(l);
      return;
    }
    this.#open.lineCount++;
    this.#open.lines.push(l.text);
    this.#openRaw.push(l.text);
  }
  /**
   * A record that says nothing keeps only what the assembler reads of it: its time, request,
   * instance and size (and its message when it is a warning or an error, shown in a trace). Its
   * strings are copied out of the line (a slice would keep the whole line alive), through a
   * table so each request id is held once: a day of periodic tasks costs little.
   */
  #compact(r) {
    r.lines = [];
    if (r.level === "DEBUG" || r.level === "INFO" || r.level === "AUDIT") {
      r.message = "";
      r.origin = null;
      r.time = "";
    }
    const mut = r;
    mut.logger = this.#intern(r.logger) ?? "";
    mut.requestId = this.#intern(r.requestId);
    mut.globalRequestId = this.#intern(r.globalRequestId);
    mut.instance = this.#intern(r.instance);
  }
  #strings = /* @__PURE__ */ new Map();
  #intern(s) {
    if (s === null) return null;
    let v = this.#strings.get(s);
    if (v === void 0) {
      v = [...s].join("");
      this.#strings.set(v, v);
    }
    return v;
  }
  /** End the record being read (end of a file). */
  flush() {
    const r = this.#open;
    if (!r) return;
    const { message: message2, origin } = splitOrigin(this.#openRaw.join("\n").replace(/\s+$/, ""));
    r.message = message2;
    r.origin = origin;
    r.events = eventsOf(r).filter(worthKeeping);
    if (r.events.length === 0) this.#compact(r);
    this.#open = null;
    this.#openRaw = [];
    this.#emit(r);
  }
};
function timeOf(r) {
  return r.time || new Date(r.ts).toISOString().replace("T", " ").replace(/Z$/, "");
}
function worthKeeping(e) {
  if (e.kind !== "lock.acquiring" && e.kind !== "lock.acquired" && e.kind !== "lock.released") return true;
  return e.lock === "connect_volume" || e.by !== null && (/^os_brick\./.test(e.by) || /\b(do_reserve|do_attach_volume|do_detach_volume|reserve_block_device_name)\b/.test(e.by));
}

// src/trace/oslog/spans.ts
var ATTACH_STEPS = ["reserve", "lock-instance", "get-volume", "connector-properties", "initialize-connection", "connect-volume", "hotplug", "complete", "unlock-instance"];
var DETACH_STEPS = ["begin-detaching", "unplug", "connector-properties", "disconnect-volume", "detach-volume", "unlock-instance"];
var IMPLICIT = /* @__PURE__ */ new Set(["reserve", "get-volume", "initialize-connection", "hotplug", "complete", "begin-detaching", "detach-volume", "rollback", "unplug"]);
var EXCEPTION_CODES = {
  VolumeDeviceNotFound: "HITCH_DEVICE_NOT_FOUND",
  VolumePathsNotFound: "HITCH_DEVICE_NOT_FOUND",
  TargetPortalNotFound: "HITCH_ISCSI_LOGIN_FAILED",
  TargetPortalsNotFound: "HITCH_ISCSI_LOGIN_FAILED",
  FailedISCSITargetPortalLogin: "HITCH_ISCSI_LOGIN_FAILED",
  ProcessExecutionError: "HITCH_EXEC_FAILED",
  ExecutionTimeout: "HITCH_EXEC_TIMEOUT",
  VolumePathNotRemoved: "HITCH_DISCONNECT_FAILED",
  BlockDeviceReadOnly: "HITCH_DEVICE_READ_ONLY",
  ClientException: "HITCH_UPSTREAM_ERROR"
};
function codeOfException(text) {
  const name = /([A-Za-z]\w*)(?:\(|:|$)/.exec(text.replace(/^(?:[a-z_]+\.)+/, ""))?.[1] ?? "";
  return EXCEPTION_CODES[name] ?? "HITCH_INTERNAL";
}
function loginError(portal, exit) {
  if (exit === 8) return { code: "HITCH_ISCSI_LOGIN_TIMEOUT", message: `iSCSI login to ${portal} timed out (iscsiadm exit 8)` };
  if (exit === 24) return { code: "HITCH_ISCSI_AUTH_FAILED", message: `iSCSI login to ${portal} was refused: authentication failed (iscsiadm exit 24)` };
  return { code: "HITCH_ISCSI_LOGIN_FAILED", message: `iSCSI login to ${portal} failed${exit !== null ? ` (iscsiadm exit ${exit})` : ""}` };
}
var PORTAL_ARG = /(?:^|\s)(?:-p|--portal)\s+(\S+)/;
var Builder = class {
  spans = [];
  #next = 1;
  open(name, parent, startMs, attrs = {}) {
    const s = { id: this.#next++, parentId: parent?.id ?? null, name, startMs, endMs: null, outcome: "running", attrs: { ...attrs } };
    this.spans.push(s);
    return s;
  }
  close(s, endMs, outcome = "ok", error) {
    if (s.endMs !== null) return;
    s.endMs = Math.max(endMs, s.startMs);
    s.outcome = outcome;
    if (error) s.error = error;
  }
  event(name, parent, ts, attrs = {}) {
    const s = this.open(name, parent, ts, attrs);
    this.close(s, ts);
    return s;
  }
  /** The latest end among a span's descendants (or null when it has none that ended). */
  lastChildEnd(s) {
    let best = null;
    const ids = /* @__PURE__ */ new Set([s.id]);
    for (const x of this.spans) {
      if (x.parentId !== null && ids.has(x.parentId)) {
        ids.add(x.id);
        if (x.endMs !== null && (best === null || x.endMs > best)) best = x.endMs;
      }
    }
    return best;
  }
  /** Close a span whose end no line states: at its last child's end, else at `fallback`. */
  settle(s, fallback, outcome = "ok", error) {
    const last = this.lastChildEnd(s);
    this.close(s, last ?? fallback, outcome, error);
  }
  isOpen(s) {
    return !!s && s.endMs === null;
  }
};
function buildTrace(op) {
  const b = new Builder();
  const steps = op.kind === "attach" ? ATTACH_STEPS : DETACH_STEPS;
  const tops = [];
  const brick = [];
  const paths = /* @__PURE__ */ new Map();
  const pathErrors = /* @__PURE__ */ new Map();
  const waitDev = /* @__PURE__ */ new Map();
  const rest = [];
  const lockWaits = /* @__PURE__ */ new Map();
  const cmdSpans = /* @__PURE__ */ new Set();
  let devWait = null;
  let mpWait = null;
  let privsep = null;
  let failure = null;
  const failedSpans = [];
  let exceptionAfterFailure = null;
  let done = false;
  let lastException = null;
  let lastMs = op.recs[0]?.ts ?? 0;
  const openTop = () => [...tops].reverse().find((t) => t.endMs === null) ?? null;
  const current2 = () => brick[brick.length - 1]?.span ?? openTop();
  const connectSpan = () => [...brick].reverse().find((x) => x.fn === "connect_volume" || x.fn === "disconnect_volume")?.span ?? null;
  const step = (name, ts) => {
    const target = failure && name !== "unlock-instance" ? "rollback" : name;
    const open = tops.find((t) => t.name === target && t.endMs === null);
    if (open) return open;
    for (const t of tops) if (t.endMs === null && IMPLICIT.has(t.name)) b.settle(t, ts);
    const n = steps.indexOf(target);
    const s = b.open(target, null, ts, n >= 0 ? { step: n + 1 } : {});
    tops.push(s);
    return s;
  };
  const fail = (at, message2, code = "HITCH_INTERNAL") => {
    if (!failure) failure = { at, message: message2, code };
  };
  const failOpenSteps = (ts, message2, code) => {
    const open = tops.filter((t) => t.endMs === null && t.name !== "rollback");
    for (const t of open) {
      b.settle(t, ts, "error", { code, message: message2 });
      failedSpans.push(t);
    }
    if (open.length === 0 && !tops.some((t) => t.outcome === "error")) {
      const s = b.open(op.kind === "attach" ? "nova attach" : "nova detach", null, op.recs[0]?.ts ?? ts);
      b.close(s, ts, "error", { code, message: message2 });
      tops.push(s);
      failedSpans.push(s);
    }
  };
  const portalParent = (ts) => connectSpan() ?? (op.kind === "attach" && !failure ? step("connect-volume", ts) : current2());
  const restStep = (method, url, action) => {
    const subj = urlSubject(url);
    if (subj.kind === "volumes") {
      if (method === "GET" && !url.includes("/action")) return op.kind === "attach" ? "get-volume" : null;
      switch (action) {
        case "os-reserve":
          return "reserve";
        case "os-initialize_connection":
          return op.kind === "attach" ? "initialize-connection" : "connector-properties";
        case "os-attach":
          return "complete";
        case "os-begin_detaching":
          return "begin-detaching";
        case "os-terminate_connection":
        case "os-detach":
          return op.kind === "detach" ? "detach-volume" : "rollback";
        case "os-unreserve":
        case "os-roll_detaching":
          return "rollback";
        default:
          return null;
      }
    }
    if (subj.kind === "attachments") {
      if (method === "POST" && !subj.id) return op.kind === "attach" ? "reserve" : null;
      if (method === "PUT") return op.kind === "attach" ? "initialize-connection" : null;
      if (method === "POST" && action === "os-complete") return "complete";
      if (method === "DELETE") return op.kind === "detach" ? "detach-volume" : "rollback";
    }
    return null;
  };
  const enclosingRest = (from, to) => {
    let best = null;
    for (const s of b.spans) {
      if (!s.name.startsWith("block-storage ")) continue;
      const end2 = s.endMs ?? Infinity;
      if (s.startMs <= from + 1 && to <= end2 + 1 && (!best || end2 - s.startMs < (best.endMs ?? Infinity) - best.startMs)) best = s;
    }
    return best;
  };
  const addCommand = (r) => {
    const p = r.cmd;
    if (!p || cmdSpans.has(p)) return;
    cmdSpans.add(p);
    const start = p.start?.ts ?? (p.end && p.ms !== null ? p.end.ts - p.ms : r.ts);
    const portal = PORTAL_ARG.exec(p.command)?.[1] ?? null;
    const parent = (portal && b.isOpen(paths.get(portal)) ? paths.get(portal) : null) ?? current2();
    const attrs = { command: p.command, exitCode: p.exitCode };
    if (portal) attrs["portal"] = portal;
    if (/--rescan|\/scan$/.test(p.command)) attrs["rescan"] = true;
    const s = b.open(`exec ${p.program}`, parent, start, attrs);
    if (!p.end) return;
    if (p.notRun) {
      b.close(s, p.end.ts, "error", { code: "HITCH_EXEC_FAILED", message: `${p.program} could not be run` });
    } else if (p.exitCode === null) {
      b.close(s, p.end.ts, "error", { code: "HITCH_EXEC_TIMEOUT", message: `${p.program} reached its timeout after ${p.ms ?? "?"} ms` });
    } else if (p.failed) {
      const login2 = / --login\b/.test(p.command) && portal;
      const err = login2 ? loginError(portal, p.exitCode) : { code: "HITCH_EXEC_FAILED", message: `exit code ${p.exitCode}${p.stderr ? `: ${p.stderr.split("\n")[0]}` : ""}` };
      b.close(s, p.end.ts, "error", err);
    } else {
      b.close(s, p.end.ts, "ok");
    }
  };
  const closePath = (portal, ts, outcome2, error2) => {
    const s = paths.get(portal);
    if (!b.isOpen(s)) return;
    const w = waitDev.get(portal);
    if (b.isOpen(w)) b.close(w, ts, outcome2 === "ok" ? "ok" : "error", outcome2 === "ok" ? void 0 : { code: "HITCH_DEVICE_NOT_FOUND", message: `no device for the LUN behind ${portal}` });
    b.close(s, ts, outcome2, error2);
  };
  const settleUnder = (parent, ts) => {
    for (const [portal, s] of paths) {
      if (!b.isOpen(s)) continue;
      const err = pathErrors.get(s);
      if (err) closePath(portal, Math.max(err.at, b.lastChildEnd(s) ?? err.at), "error", err);
      else b.settle(s, ts);
    }
    for (const w of [devWait, mpWait]) if (b.isOpen(w)) b.close(w, ts);
    for (const s of b.spans) if (s.endMs === null && s.parentId === parent.id && !s.name.startsWith("exec ")) b.settle(s, ts);
  };
  for (const r of op.recs) {
    lastMs = Math.max(lastMs, r.ts);
    if (r.cmd) addCommand(r);
    for (const e of r.events) handle(e, r);
    if (r.events.length === 0 && (r.level === "WARNING" || r.level === "ERROR")) b.event("log", current2(), r.ts, { level: r.level.toLowerCase(), message: r.message.split("\n")[0] ?? "" });
  }
  function handle(e, r) {
    const ts = r.ts;
    switch (e.kind) {
      case "lock.acquiring": {
        if (e.by && /do_reserve|reserve_block_device_name/.test(e.by)) lockWaits.set(e.lock, b.open("lock", step("reserve", ts), ts, { lock: e.lock }));
        else if (e.by && /do_(attach|detach)_volume/.test(e.by)) lockWaits.set(e.lock, step("lock-instance", ts));
        else if (e.lock === "connect_volume") lockWaits.set(e.lock, b.open("lock connect_volume", current2(), ts, { lock: e.lock }));
        break;
      }
      case "lock.acquired": {
        const w = lockWaits.get(e.lock);
        if (b.isOpen(w)) {
          w.attrs["waitedMs"] = e.waitedMs;
          b.close(w, ts);
        } else if (e.by && /do_reserve|reserve_block_device_name/.test(e.by)) {
          const s = step("reserve", ts - (e.waitedMs ?? 0));
          if (e.waitedMs) b.close(b.open("lock", s, ts - e.waitedMs, { lock: e.lock, waitedMs: e.waitedMs }), ts);
        } else if (e.by && /do_(attach|detach)_volume/.test(e.by) && e.waitedMs !== null) {
          const s = step("lock-instance", ts - e.waitedMs);
          s.attrs["waitedMs"] = e.waitedMs;
          b.close(s, ts);
        } else if (e.lock === "connect_volume" && e.waitedMs) {
          const s = b.open("lock connect_volume", current2(), ts - e.waitedMs, { lock: e.lock, waitedMs: e.waitedMs });
          b.close(s, ts);
        }
        lockWaits.delete(e.lock);
        break;
      }
      case "lock.released": {
        if (e.by && /do_reserve|reserve_block_device_name/.test(e.by)) {
          const s = tops.find((t) => t.name === "reserve" && t.endMs === null);
          if (s) b.close(s, ts);
        } else if (e.by && /do_(attach|detach)_volume/.test(e.by)) {
          for (const t of tops) if (t.endMs === null && IMPLICIT.has(t.name)) b.settle(t, ts);
          const s = b.event("unlock-instance", null, ts, { step: steps.indexOf("unlock-instance") + 1, heldMs: e.heldMs });
          tops.push(s);
          done = true;
        } else if (e.lock === "connect_volume") {
          const c = connectSpan();
          if (c) c.attrs["lockHeldMs"] = e.heldMs;
        }
        break;
      }
      case "brick.call": {
        let span;
        if (e.fn === "get_connector_properties") {
          span = failure ? b.open("get_connector_properties", step("rollback", ts), ts) : step("connector-properties", ts);
        } else if (e.fn === "connect_volume" && op.kind === "attach" && !failure) {
          const outer = tops.find((t) => t.name === "connect-volume" && t.endMs === null);
          span = outer ? b.open("connect_volume", outer, ts) : step("connect-volume", ts);
        } else if (e.fn === "disconnect_volume" && op.kind === "detach") {
          const outer = tops.find((t) => t.name === "disconnect-volume" && t.endMs === null);
          span = outer ? b.open("disconnect_volume", outer, ts) : step("disconnect-volume", ts);
        } else {
          span = b.open(e.fn, current2() ?? (failure ? step("rollback", ts) : null), ts);
        }
        const vol = reprValue(e.args, "volume_id");
        if (vol) span.attrs["volume"] = vol;
        brick.push({ fn: e.fn, span });
        break;
      }
      case "brick.return":
      case "brick.raise": {
        const i = brick.map((x) => x.fn).lastIndexOf(e.fn);
        if (i < 0) break;
        const [{ span }] = brick.splice(i, 1);
        settleUnder(span, ts);
        span.attrs["reportedMs"] = e.ms;
        if (e.kind === "brick.return") {
          for (const k of ["path", "scsi_wwn", "multipath_id", "type"]) {
            const v = reprValue(e.result, k);
            if (v !== null) {
              span.attrs[k] = v;
              const top = tops.find((t) => t.name === "connect-volume");
              if (top && top !== span && e.fn === "connect_volume") top.attrs[k] = v;
            }
          }
          if (mpWait && mpWait.attrs["found"] === void 0) mpWait.attrs["found"] = reprValue(e.result, "multipath_id") !== null;
          b.close(span, ts);
          if (e.fn === "connect_volume" && op.kind === "attach" || e.fn === "disconnect_volume" && op.kind === "detach") done = true;
        } else {
          const err = { code: codeOfException(e.exception), message: `${e.fn} raised ${e.exception}` };
          b.close(span, ts, "error", err);
          if (e.fn === "connect_volume" || e.fn === "disconnect_volume") fail(ts, err.message, err.code);
        }
        break;
      }
      case "portal.try": {
        const prev = paths.get(e.portal);
        if (b.isOpen(prev)) {
          const err = pathErrors.get(prev);
          if (err) closePath(e.portal, err.at, "error", err);
          else b.settle(prev, ts);
        }
        paths.set(e.portal, b.open("connect_path", b.isOpen(devWait) ? devWait : portalParent(ts), ts, { portal: e.portal }));
        break;
      }
      case "privsep.starting":
        privsep = b.open("privsep daemon start", current2(), ts);
        break;
      case "privsep.started":
        if (b.isOpen(privsep)) b.close(privsep, ts);
        break;
      case "portal.retry": {
        const p = paths.get(e.portal);
        if (b.isOpen(p)) pathErrors.set(p, { code: "HITCH_ISCSI_LOGIN_FAILED", message: `iscsiadm could not create the node record for ${e.portal}; os-brick tries again`, at: ts });
        break;
      }
      case "portal.logged-in": {
        const p = paths.get(e.portal);
        if (b.isOpen(p)) waitDev.set(e.portal, b.open("wait device", p, ts, { portal: e.portal }));
        break;
      }
      case "portal.device": {
        const portal = e.portal ?? [...paths].find(([, s]) => b.isOpen(s))?.[0] ?? null;
        if (!portal) break;
        const w = waitDev.get(portal);
        if (b.isOpen(w)) {
          w.attrs["path"] = `/dev/${e.device}`;
          b.close(w, ts);
        }
        const p = paths.get(portal);
        if (p) p.attrs["device"] = `/dev/${e.device}`;
        closePath(portal, ts, "ok");
        break;
      }
      case "portal.login-failed": {
        let p = paths.get(e.portal);
        if (!b.isOpen(p)) {
          p = b.open("connect_path", portalParent(ts), ts, { portal: e.portal, startUnknown: true });
          paths.set(e.portal, p);
        }
        p.attrs["iqn"] = e.iqn;
        p.attrs["exitCode"] = e.exitCode;
        pathErrors.set(p, { ...loginError(e.portal, e.exitCode), at: ts });
        break;
      }
      case "portal.failed":
      case "portal.no-lun": {
        const p = paths.get(e.portal);
        if (!b.isOpen(p)) break;
        const err = pathErrors.get(p) ?? (e.kind === "portal.no-lun" ? { code: "HITCH_DEVICE_NOT_FOUND", message: `LUN ${e.lun} behind ${e.portal} did not appear after the login` } : { code: "HITCH_ISCSI_LOGIN_FAILED", message: `could not connect to ${e.portal}` });
        closePath(e.portal, ts, "error", { code: err.code, message: err.message });
        break;
      }
      case "portal.none":
        b.event("log", current2(), ts, { level: "error", message: r.message });
        fail(ts, r.message, "HITCH_ISCSI_LOGIN_FAILED");
        break;
      case "device.missing": {
        if (!b.isOpen(devWait)) devWait = b.open("rescan and retry", connectSpan() ?? current2(), ts, { path: /'(\/dev\/[^']+)'/.exec(e.paths)?.[1] ?? e.paths });
        devWait.attrs["attempts"] = e.attempt + 1;
        break;
      }
      case "device.found": {
        if (b.isOpen(devWait)) {
          devWait.attrs["rescans"] = e.rescans;
          b.close(devWait, ts);
        }
        break;
      }
      case "device.wwn": {
        const c = connectSpan();
        if (c) c.attrs["scsi_wwn"] = e.wwn;
        break;
      }
      case "multipath.wait": {
        if (!b.isOpen(mpWait)) mpWait = b.open("wait multipath", connectSpan() ?? current2(), ts, e.wwn ? { wwn: e.wwn, path: `/dev/disk/by-id/dm-uuid-mpath-${e.wwn}` } : {});
        break;
      }
      case "path.check": {
        if (!b.isOpen(mpWait) && /dm-uuid-mpath-|\/dev\/mapper\//.test(e.path)) mpWait = b.open("wait multipath", connectSpan() ?? current2(), ts, { path: e.path });
        break;
      }
      case "path.appeared":
      case "multipath.found": {
        if (b.isOpen(mpWait) && (e.kind === "multipath.found" || /dm-uuid-mpath-|\/dev\/mapper\//.test(e.path))) {
          mpWait.attrs["found"] = true;
          mpWait.attrs["path"] = e.path;
          b.close(mpWait, ts);
        }
        break;
      }
      case "multipath.none":
      case "multipath.fallback": {
        const w = mpWait;
        if (w) {
          if (w.attrs["found"] === void 0 || w.endMs === null) w.attrs["found"] = false;
          b.close(w, ts);
        }
        if (e.kind === "multipath.fallback") {
          b.event("log", current2(), ts, { level: "debug", message: r.message });
          const top = tops.find((t) => t.name === "connect-volume");
          if (top) top.attrs["path"] = e.path;
        } else {
          b.event("log", current2(), ts, { level: "warning", message: r.message });
        }
        break;
      }
      case "nova.attaching":
      case "nova.detaching":
        b.event("log", openTop(), ts, { level: "info", message: r.message });
        if (e.kind === "nova.detaching" && e.mountpoint) step("unplug", ts);
        break;
      case "nova.brick": {
        if (e.what === "connect") step("connect-volume", ts);
        else if (e.what === "disconnect") step("disconnect-volume", ts);
        else {
          const t = tops.find((x) => x.name === (e.what === "connected" ? "connect-volume" : "disconnect-volume") && x.endMs === null);
          if (t) b.close(t, ts);
          done = true;
        }
        break;
      }
      case "nova.attachment-update":
        step("initialize-connection", ts).attrs["attachment"] = e.attachment;
        break;
      case "libvirt.attach": {
        done = true;
        const s = step("hotplug", ts);
        if (e.target) s.attrs["target"] = e.target;
        if (e.source) s.attrs["source"] = e.source;
        break;
      }
      case "libvirt.detach": {
        const s = step("unplug", ts);
        if (e.target) s.attrs["target"] = e.target;
        break;
      }
      case "libvirt.detached": {
        const s = tops.find((t) => t.name === "unplug" && t.endMs === null);
        if (s) {
          s.attrs[`detached_${e.config}`] = true;
          if (e.config === "live") {
            b.close(s, ts);
            done = true;
          }
        }
        break;
      }
      case "nova.attach-failed":
      case "nova.detach-failed":
      case "nova.cinder-failed": {
        if (failure) break;
        const message2 = r.message.split("\n")[0] ?? "";
        const code = e.kind === "nova.cinder-failed" ? "HITCH_UPSTREAM_ERROR" : "HITCH_INTERNAL";
        failOpenSteps(ts, message2, code);
        fail(ts, message2, code);
        break;
      }
      case "rest.req": {
        const name = restStep(e.method, e.url, e.action);
        const parent = name ? step(name, ts) : current2();
        const path = templatePath(e.url);
        const s = b.open(`block-storage ${e.method} ${path}${e.action ? ` ${e.action}` : ""}`, parent, ts, { method: e.method, url: path, ...e.action ? { action: e.action } : {} });
        rest.push(s);
        break;
      }
      case "rest.resp": {
        const s = rest.pop();
        if (!s) break;
        s.attrs["status"] = e.status;
        if (e.requestId) s.attrs["requestId"] = e.requestId;
        if (e.status >= 400) {
          b.close(s, ts, "error", { code: "HITCH_UPSTREAM_ERROR", message: `HTTP ${e.status} from ${s.name.replace(/^block-storage /, "")}` });
          if (s.parentId !== null && !b.spans.some((x) => x.id === s.parentId && x.name === "rollback")) fail(ts, `HTTP ${e.status} from ${s.name.replace(/^block-storage /, "")}`, "HITCH_UPSTREAM_ERROR");
        } else {
          b.close(s, ts);
          const parent = b.spans.find((x) => x.id === s.parentId);
          if (parent && (op.kind === "attach" && parent.name === "complete" || op.kind === "detach" && parent.name === "detach-volume")) done = true;
        }
        break;
      }
      case "rest.request-id": {
        const s = [...b.spans].reverse().find((x) => x.name.startsWith("block-storage ") && x.attrs["method"] === e.method);
        if (s) s.attrs["requestId"] = e.requestId;
        break;
      }
      case "api.request": {
        const from = ts - Math.round(e.seconds * 1e3);
        const service = /os-volume_attachments|\/servers\//.test(e.path) ? "compute-api" : "cinder-api";
        const s = b.open(`${service} ${e.method} ${templatePath(e.path)}`, service === "cinder-api" ? enclosingRest(from, ts) : null, from, { status: e.status });
        b.close(s, ts, e.status >= 400 ? "error" : "ok", e.status >= 400 ? { code: "HITCH_UPSTREAM_ERROR", message: `HTTP ${e.status}` } : void 0);
        break;
      }
      case "cinder.step": {
        const s = b.event(`cinder-volume ${e.what}`, enclosingRest(ts, ts) ?? current2(), ts, e.detail ? { detail: e.detail } : {});
        if (!e.ok) {
          s.outcome = "error";
          s.error = { code: "HITCH_UPSTREAM_ERROR", message: `${e.what}: ${e.detail ?? ""}`.trim() };
        }
        break;
      }
      case "exception":
        lastException = e.summary.split("\n").pop() ?? e.summary;
        if (failure && !exceptionAfterFailure) exceptionAfterFailure = lastException;
        break;
      default:
        break;
    }
  }
  const end = lastMs;
  const failed = failure;
  for (const [s, err] of pathErrors) if (s.endMs === null) b.close(s, Math.max(err.at, b.lastChildEnd(s) ?? err.at), "error", { code: err.code, message: err.message });
  if (failed) {
    for (const s of [...b.spans].reverse()) {
      if (s.endMs !== null || s.name.startsWith("exec ")) continue;
      if (s.name === "rollback") b.settle(s, Math.max(failed.at, s.startMs));
      else b.close(s, Math.max(failed.at, b.lastChildEnd(s) ?? failed.at), "error", { code: failed.code, message: failed.message });
    }
  }
  for (const t of tops) if (t.endMs === null && IMPLICIT.has(t.name)) b.settle(t, end);
  const running = tops.some((t) => t.endMs === null);
  const outcome = failed ? "failed" : running || !done ? "incomplete" : "ok";
  const why = exceptionAfterFailure;
  if (failed && why && !failed.message.includes(why)) {
    failed.message = `${failed.message}: ${why}`;
    for (const s of failedSpans) if (s.error) s.error = { ...s.error, message: `${s.error.message}: ${why}` };
  }
  const error = failed ? failed.message : null;
  return { spans: b.spans, outcome, error, lastMs: end };
}

// src/trace/oslog/reading.ts
function readLogText(text, source = "pasted") {
  const records = [];
  const orphans = [];
  const asm = new RecordAssembler((r) => records.push(r), (l) => orphans.push(l));
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === "") lines.pop();
  lines.forEach((t, i) => asm.push({ source, lineNo: i + 1, text: maskLogText(t) }));
  asm.flush();
  return fromRecords(records.sort((a, b) => a.ts - b.ts || a.seq - b.seq), orphans, [source]);
}
function fromRecords(records, orphans, sources) {
  const asm = assemble(records, orphans);
  const built = asm.operations.map((op) => ({ op, trace: buildTrace(op) }));
  const all = built.map((x) => ({ op: x.op, spans: x.trace.spans }));
  const operations = built.map(({ op, trace }) => {
    const base = explain(trace.spans, trace.lastMs);
    const extra = diagnoseLog(op, trace.spans, base.totalMs, all);
    const diagnosis = [...base.diagnosis.filter((d) => !(extra.some((x) => x.startsWith("initialize_connection")) && /^the storage API call .*(initialize_connection|attachments\/\{id\}) /.test(d))), ...extra];
    const report2 = { ...base, diagnosis };
    return { summary: summarize(op, trace.outcome, trace.error, report2), report: report2 };
  });
  return { operations, lines: asm.lines, unplaced: asm.unplaced, sources };
}
function summarize(op, outcome, error, report2) {
  const first = op.recs[0] ?? op.seed;
  const ids = /* @__PURE__ */ new Set();
  for (const r of op.recs) {
    if (r.requestId) ids.add(r.requestId);
    if (r.globalRequestId) ids.add(r.globalRequestId);
  }
  return {
    id: op.id,
    kind: op.kind,
    outcome,
    via: op.via,
    volume: op.volume,
    server: op.server,
    mountpoint: op.mountpoint,
    requestId: op.seed.requestId ?? first.requestId,
    requestIds: [...ids],
    start: timeOf(first),
    startMs: first.ts,
    end: logTime(first.ts + report2.totalMs),
    endMs: first.ts + report2.totalMs,
    durationMs: report2.totalMs,
    error,
    sources: [...op.sources],
    lines: op.recs.reduce((a, r) => a + r.lineCount, 0)
  };
}
function logTime(ms2) {
  return new Date(ms2).toISOString().replace("T", " ").replace(/Z$/, "");
}
function exactTotal(s) {
  const sameDay = logTime(s.startMs).slice(0, 10) === s.end.slice(0, 10);
  return `${s.durationMs} ms: ${s.start} to ${sameDay ? s.end.slice(11) : s.end}`;
}
function selectOperations(r, f = {}) {
  const pre = (v, want) => want === void 0 || v !== null && v.toLowerCase().startsWith(want.toLowerCase());
  return r.operations.filter((o) => pre(o.summary.volume, f.volume) && pre(o.summary.server, f.server)).filter((o) => f.requestId === void 0 || o.summary.requestIds.some((id) => id === f.requestId || id === `req-${f.requestId}`)).filter((o) => (f.sinceMs === void 0 || o.summary.endMs >= f.sinceMs) && (f.untilMs === void 0 || o.summary.startMs <= f.untilMs)).sort((a, b) => b.summary.durationMs - a.summary.durationMs || a.summary.startMs - b.summary.startMs);
}

// web/src/waterfall.ts
var NS = "http://www.w3.org/2000/svg";
var CHAR_PX = 7.6;
function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== void 0) e.textContent = text;
  return e;
}
function timeText(r, row) {
  const fail = row.outcome === "error" ? " ✗" : "";
  if (row.durationMs === null) return `running${fail}`;
  const end = row.startMs + row.durationMs;
  return end > r.totalMs && row.background ? `${formatMs(row.durationMs)}, to +${formatMs(end)}${fail}` : `${formatMs(row.durationMs)}${fail}`;
}
function waterfallSvg(r, maxDepth = 2, width = Math.min(1100, Math.max(300, window.innerWidth - 32))) {
  const rows = r.rows.filter((x) => x.depth <= maxDepth);
  const narrow = width < 640;
  const timeW = narrow ? 136 : 150;
  const labelW = narrow ? width : Math.min(360, Math.round(width * 0.36));
  const barX = narrow ? 0 : labelW;
  const barW = width - barX - timeW - 8;
  const rowH = narrow ? 36 : 20;
  const top = 24;
  const height = top + rows.length * rowH + 8;
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: `waterfall${narrow ? " narrow" : ""}`, role: "img", "aria-label": "trace waterfall" });
  const scale = r.totalMs > 0 ? barW / r.totalMs : 0;
  svg.append(el("text", { x: barX, y: 14, class: "axis" }, "0"));
  svg.append(el("text", { x: barX + barW, y: 14, class: "axis", "text-anchor": "end" }, formatMs(r.totalMs)));
  svg.append(el("line", { x1: barX + barW, x2: barX + barW, y1: 18, y2: height, class: "end" }));
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    const running = row.durationMs === null;
    const cls = ["row", `depth-${row.depth}`, row.critical ? "critical" : "", row.outcome === "error" ? "error" : "", row.background ? "background" : "", running ? "running" : ""].filter(Boolean).join(" ");
    const g = el("g", { class: cls, "data-name": row.name });
    const indent = row.depth * (narrow ? 10 : 14);
    const fit = Math.floor((labelW - indent - 14) / CHAR_PX);
    const shown = middleEllipsis(row.label, fit);
    const t = el("text", { x: 4 + indent, y: y + 14, class: "label" }, shown);
    t.append(el("title", {}, row.label));
    g.append(t);
    const barY = narrow ? y + 18 : y + 4;
    const x = barX + Math.min(barW - 2, row.startMs * scale);
    const dur2 = row.durationMs ?? r.spanMs - row.startMs;
    const w = Math.max(2, Math.min(dur2 * scale, barX + barW - x));
    const bar = el("rect", { x, y: barY, width: w, height: narrow ? 12 : rowH - 8, rx: 2, class: "bar" });
    bar.append(el("title", {}, `${row.label}
+${formatMs(row.startMs)}, ${timeText(r, row)}${row.error ? `
${row.error}` : ""}`));
    g.append(bar);
    if (running) g.append(el("text", { x: Math.min(barX + barW + 2, x + w + 2), y: barY + 10, class: "more" }, "›"));
    g.append(el("text", { x: width - 4, y: (narrow ? barY : y) + (narrow ? 10 : 14), class: "time", "text-anchor": "end" }, timeText(r, row)));
    svg.append(g);
  });
  return svg;
}
function legend() {
  const item = (cls, text, mark) => h("li", {}, h("span", { class: `swatch ${cls}`, "aria-hidden": "true" }, mark ?? ""), text);
  return h(
    "ul",
    { class: "legend", "aria-label": "legend" },
    item("critical", "critical path (bold): the chain that decided when it ended"),
    item("other", "other work, in parallel or off the path"),
    item("failed", "failed (✗)"),
    item("background", "background: ran on after the operation ended and did not hold it; its real end in the time column"),
    item("running", "still running", "›")
  );
}

// web/src/log-view.ts
async function fileText(f) {
  const head = new Uint8Array(await f.slice(0, 2).arrayBuffer());
  if (head[0] === 31 && head[1] === 139) {
    const stream = f.stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text();
  }
  return f.text();
}
function opTitle(o) {
  const s = o.summary;
  return `${s.kind} of volume ${s.volume ?? "(unknown)"}${s.server ? ` ${s.kind === "attach" ? "to" : "from"} server ${s.server}` : ""}: ${s.outcome}, ${formatMs(s.durationMs)}`;
}
function report(o) {
  const r = o.report;
  return h(
    "section",
    { id: "log-report" },
    h("h2", {}, opTitle(o)),
    h("p", { class: "log-extent" }, `${exactTotal(o.summary)}${o.summary.requestId ? ` (${o.summary.requestId})` : ""}`),
    o.summary.error ? h("p", { class: "error" }, o.summary.error) : null,
    waterfallSvg(r, 3),
    h("h3", {}, "Diagnosis"),
    h("ul", { id: "log-diagnosis" }, ...r.diagnosis.map((d) => h("li", {}, d))),
    h("h3", {}, "Critical path"),
    h("pre", { class: "critical-path" }, r.criticalPath.join("\n"))
  );
}
function summaryTable(reading, pick) {
  const ops = selectOperations(reading);
  const l = reading.lines;
  const rows = ops.map(
    (o) => h(
      "tr",
      { class: "log-op", "data-volume": o.summary.volume ?? "", "data-outcome": o.summary.outcome },
      h("td", {}, formatMs(o.summary.durationMs)),
      h("td", {}, o.summary.kind),
      h("td", { class: `outcome ${o.summary.outcome}` }, o.summary.outcome),
      h("td", {}, o.summary.volume ?? "-"),
      h("td", {}, o.summary.server ?? "-"),
      h("td", {}, o.summary.start),
      h("td", {}, h("button", { class: "small", onclick: () => pick(o) }, "waterfall"))
    )
  );
  return h(
    "section",
    { id: "log-summary" },
    h("p", {}, `${ops.length === 1 ? "1 attach or detach" : `${ops.length} attaches and detaches`} — ${l.total} lines: ${l.placed} in them, ${l.other} about other work, ${l.unplaced} unplaced`),
    h("table", {}, h("tr", {}, ...["duration", "kind", "outcome", "volume", "server", "start", ""].map((t) => h("th", {}, t))), ...rows),
    l.unplaced > 0 ? h("details", {}, h("summary", {}, `unplaced lines (${l.unplaced})`), h("pre", { class: "unplaced" }, reading.unplaced.map((u) => `${u.lineNo}: ${u.text}`).join("\n"))) : null
  );
}
function showLogView(container) {
  const text = h("textarea", { id: "log-text", rows: 12, cols: 120, spellcheck: "false", placeholder: "Paste nova-compute.log (with os-brick at DEBUG for the full picture), and cinder logs if you have them" });
  const file = h("input", { id: "log-file", type: "file", multiple: true });
  const out = h("div", { id: "log-out" });
  const detail = h("div", { id: "log-detail" });
  const run = (source, body) => {
    let reading;
    try {
      reading = readLogText(body, source);
    } catch (e) {
      replace(out, h("p", { class: "error", role: "alert" }, e instanceof Error ? e.message : String(e)));
      return;
    }
    replace(detail);
    const pick = (o) => replace(detail, report(o));
    replace(out, summaryTable(reading, pick));
    const first = selectOperations(reading)[0];
    if (first && selectOperations(reading).length === 1) pick(first);
  };
  file.addEventListener("change", () => {
    const files = [...file.files ?? []];
    if (files.length === 0) return;
    Promise.all(files.map(fileText)).then(
      (texts) => run(files.map((f) => f.name).join(", "), texts.join("\n")),
      (e) => replace(out, h("p", { class: "error", role: "alert" }, `cannot read ${files.map((f) => f.name).join(", ")}: ${e instanceof Error ? e.message : String(e)}`))
    );
  });
  const form = h("form", { id: "log-form" }, text, h("div", {}, h("button", { type: "submit" }, "Explain"), " or upload ", file));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    run("pasted", text.value);
    text.value = text.value.split("\n").map(maskLogText).join("\n");
  });
  replace(
    container,
    h(
      "section",
      { id: "log-view" },
      h("h1", {}, "Explain an OpenStack log"),
      h("p", {}, "Every volume attach and detach in the log, slowest first; for one of them, where its time went. Read in this page only; passwords and tokens are masked."),
      form,
      out,
      detail
    )
  );
}

// src/cli/progress.ts
var STEP_TEXT = {
  reserve: "reserve a device name and the volume",
  "lock-instance": "lock the instance",
  "get-volume": "get the volume from block storage",
  "connector-properties": "gather the host's connector properties",
  "initialize-connection": "initialize the connection (the array exports the LUN)",
  "connect-volume": "connect the volume on the host (iSCSI, multipath)",
  hotplug: "hot-plug the disk into the guest",
  complete: "complete the attachment (volume in-use)",
  "unlock-instance": "unlock the instance",
  "begin-detaching": "mark the volume detaching",
  unplug: "unplug the disk from the guest",
  "disconnect-volume": "disconnect the volume on the host",
  "detach-volume": "finish the detach in block storage",
  "bdm.destroy": "forget the block device mapping",
  rollback: "roll back"
};
var ATTACH_STEPS2 = ["reserve", "lock-instance", "get-volume", "connector-properties", "initialize-connection", "connect-volume", "hotplug", "complete", "unlock-instance"];
var DETACH_STEPS2 = ["lock-instance", "begin-detaching", "unplug", "connector-properties", "disconnect-volume", "detach-volume", "bdm.destroy", "unlock-instance"];
function doing(s, spans) {
  const a = s.attrs;
  const cmd = typeof a["command"] === "string" ? a["command"] : "";
  const portal = typeof a["portal"] === "string" ? a["portal"] : /-p (\S+)/.exec(cmd)?.[1];
  if (s.name === "exec iscsiadm" && cmd.includes("--login")) return `logging in to ${portal ?? "the portal"}`;
  if (s.name === "connect_path") {
    const sub = spans.find((c) => c.parent_id === s.id && c.end_ms === null);
    return sub ? doing(sub, spans) : `connecting through ${portal}`;
  }
  if (s.name.startsWith("exec ")) return `running ${cmd.split(" ").slice(0, 4).join(" ") || s.name.slice(5)}`;
  if (s.name === "wait device") {
    const via = /\/ip-([^/]+?)-iscsi-/.exec(String(a["path"] ?? ""))?.[1];
    return `waiting for the device${via ? ` through ${via}` : ""} (udev)`;
  }
  if (s.name === "wait multipath") return "waiting for the multipath map";
  if (s.name.startsWith("block-storage ")) return `block storage: ${s.name.slice("block-storage ".length)}`;
  if (typeof a["backend"] === "string") {
    const call = spans.find((p) => p.id === s.parent_id);
    return `${call ? `${doing(call, spans)}: ` : ""}the ${a["backend"]} backend's ${s.name.split(" ").slice(2).join(" ")}`;
  }
  if (s.name === "virt.attach_disk") return `hot-plugging ${String(a["target"] ?? "the disk")}`;
  return s.name;
}
function runningLeaves(root2, spans) {
  const running = spans.filter((s) => s.end_ms === null && s.name !== "log");
  const under = (s) => {
    let p = s.parent_id;
    for (let i = 0; p !== null && i < 64; i++) {
      if (p === root2.id) return true;
      p = spans.find((x) => x.id === p)?.parent_id ?? null;
    }
    return false;
  };
  const mine = running.filter(under);
  return mine.filter((s) => !mine.some((c) => c.parent_id === s.id)).sort((a, b) => a.start_ms - b.start_ms);
}
function stepLines(op, nowMs) {
  const plan = op.kind === "detach" ? DETACH_STEPS2 : ATTACH_STEPS2;
  const top = op.spans.filter((s) => s.parent_id === null);
  const names2 = [...plan, ...top.map((s) => s.name).filter((n) => !plan.includes(n))];
  const ended = op.state !== "running";
  return [...new Set(names2)].flatMap((name) => {
    const s = [...top].reverse().find((x) => x.name === name);
    if (!s) return ended && !plan.includes(name) ? [] : [{ name, state: "pending", ms: null, detail: null }];
    if (s.end_ms === null) {
      const leaves = runningLeaves(s, op.spans);
      const first = leaves[0];
      const detail = first ? `${doing(first, op.spans)} (${formatMs(Math.max(0, nowMs - first.start_ms))})${leaves.length > 1 ? ` +${leaves.length - 1} more` : ""}` : null;
      return [{ name, state: "running", ms: Math.max(0, nowMs - s.start_ms), detail }];
    }
    return [{ name, state: s.outcome === "error" ? "failed" : "done", ms: s.end_ms - s.start_ms, detail: s.outcome === "error" ? s.error?.code ?? null : null }];
  });
}
var MARK = { pending: "·", running: "›", done: "✓", failed: "✗" };
function frame(op, nowMs) {
  const lines = stepLines(op, nowMs);
  const w = Math.max(...lines.map((l) => l.name.length));
  return lines.flatMap((l) => {
    const time = l.ms === null ? "" : formatMs(l.ms);
    const main = `  ${MARK[l.state]} ${l.name.padEnd(w)}  ${time.padStart(7)}  ${STEP_TEXT[l.name] ?? ""}`.trimEnd();
    return l.detail && l.state === "running" ? [main, `      ${l.detail}`] : l.detail ? [`${main}  ${l.detail}`] : [main];
  });
}

// src/cli/resources.ts
function toSpanRecords(spans) {
  return spans.map((s) => ({
    id: s.id,
    parentId: s.parent_id,
    name: s.name,
    startMs: s.start_ms,
    endMs: s.end_ms,
    outcome: s.outcome,
    attrs: s.attrs,
    ...s.error ? { error: s.error } : {}
  }));
}

// web/src/data.ts
var qs = (params) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== void 0 && v !== "") p.set(k, String(v));
  return p.toString();
};
async function volumePage(q) {
  const r = await api("GET", `/volume/v3/volumes/detail?${qs({ "name~": q.search, status: q.filter, limit: q.limit, marker: q.marker, sort: "created_at:desc" })}`);
  for (const v of r.body.volumes) names.volumes.set(v.id, v.name);
  return r.body.volumes;
}
async function serverPage(q) {
  const r = await api("GET", `/compute/v2.1/servers/detail?${qs({ name: q.search ? `^${q.search}` : "", status: q.filter, limit: q.limit, marker: q.marker })}`);
  for (const s of r.body.servers) names.servers.set(s.id, s.name);
  return r.body.servers;
}
var getVolume = async (id) => (await api("GET", `/volume/v3/volumes/${id}`)).body.volume;
var getServer = async (id) => (await api("GET", `/compute/v2.1/servers/${id}`)).body.server;
var serverAttachments = async (id) => (await api("GET", `/compute/v2.1/servers/${id}/os-volume_attachments`)).body.volumeAttachments;
var names = { volumes: /* @__PURE__ */ new Map(), servers: /* @__PURE__ */ new Map() };
async function learnNames(kind, ids) {
  const missing = [...new Set(ids)].filter((id) => !names[kind].has(id));
  await Promise.all(
    missing.map(async (id) => {
      try {
        if (kind === "volumes") names.volumes.set(id, (await getVolume(id)).name);
        else names.servers.set(id, (await getServer(id)).name);
      } catch {
      }
    })
  );
}
function maxVolumeSizeGiB() {
  const v = document.querySelector('meta[name="hitch-max-volume-size-gib"]')?.getAttribute("content") ?? "";
  return /^\d+$/.test(v) ? Number(v) : null;
}

// web/src/ops-data.ts
async function operationPage(q, scope = {}) {
  const p = new URLSearchParams({ limit: String(q.limit) });
  if (q.filter) p.set("status", q.filter);
  if (q.marker) p.set("marker", q.marker);
  if (scope.serverId) p.set("server_id", scope.serverId);
  if (scope.volumeId) p.set("volume_id", scope.volumeId);
  return (await api("GET", `/compute/v2.1/os-hitch-operations?${p.toString()}`)).body.operations;
}
var getOperation = async (id) => (await api("GET", `/compute/v2.1/os-hitch-operations/${id}`)).body.operation;

// web/src/pages/operation.ts
function operationPage2(app2, id) {
  const body = h("div", {});
  let timer;
  let disposed = false;
  const draw = async () => {
    window.clearTimeout(timer);
    let op;
    try {
      op = await getOperation(id);
      await Promise.all([learnNames("volumes", [op.volume_id]), learnNames("servers", [op.server_id])]);
    } catch (e) {
      app2.error(e);
      return;
    }
    if (disposed) return;
    const spans = toSpanRecords(op.spans);
    const report2 = explain(spans, clockMs ?? void 0);
    const running = op.state === "running";
    const volume = names.volumes.get(op.volume_id) ?? "(unnamed)";
    const server = names.servers.get(op.server_id) ?? op.server_id;
    const width = Math.min(1100, Math.max(300, body.clientWidth || window.innerWidth - 32));
    replace(
      body,
      h("h1", {}, `${op.kind === "attach" ? "Attach" : "Detach"} of ${volume} ${op.kind === "attach" ? "to" : "from"} ${server}: `, h("span", { class: `state ${op.state}`, id: "op-state" }, op.state.replace("_", " "))),
      fields([
        ["operation", h("span", { class: "mono" }, op.id)],
        ["request id", h("span", { class: "mono", id: "request-id" }, op.request_id)],
        ["volume", link(`#/volumes/${op.volume_id}`, `${volume} (${op.volume_id})`, 80)],
        ["server", link(`#/servers/${op.server_id}`, `${server} (${op.server_id})`, 80)],
        ["asked at", when(op.created_at)],
        ["took", running ? `running (${formatMs(report2.totalMs)} so far)` : `${formatMs(report2.totalMs)}${backgroundText(report2.background)}`],
        ["step", op.step ?? ""]
      ]),
      op.error ? h("p", { class: "error", id: "op-error" }, `${op.error.code}: ${op.error.message}`) : "",
      running ? h("pre", { class: "progress", id: "progress" }, frame(op, clockMs ?? op.started_ms).join("\n")) : "",
      h("h2", {}, "Waterfall"),
      h("div", { class: "waterfall-wrap" }, waterfallSvg(report2, 2, width)),
      legend(),
      h("h2", {}, "Diagnosis"),
      h("ul", { id: "diagnosis" }, ...report2.diagnosis.map((d) => h("li", {}, d))),
      h("h2", {}, "Critical path"),
      h("pre", { class: "critical-path" }, report2.criticalPath.join("\n"))
    );
    if (running) timer = window.setTimeout(() => void draw(), 250);
    else if (spans.some((s) => s.endMs === null)) timer = window.setTimeout(() => void draw(), 1e3);
  };
  void draw();
  return {
    element: h("section", { id: "operation-page" }, body),
    // The page follows itself; the periodic refresh would only redraw it twice.
    refresh: async () => void 0,
    dispose: () => {
      disposed = true;
      window.clearTimeout(timer);
    }
  };
}

// web/src/list.ts
var PagedList = class {
  element;
  #o;
  #body = h("tbody");
  #pager = h("nav", { class: "pager", "aria-label": "pages" });
  #search;
  #filter;
  /** Markers of the pages before this one (null: the first page). */
  #markers = [];
  #marker = null;
  #next = null;
  #seq = 0;
  constructor(o) {
    this.#o = o;
    const tools = h("div", { class: "list-tools" });
    this.#search = o.searchLabel === void 0 ? null : h("input", { type: "search", name: `${o.id}-search`, placeholder: o.searchLabel, "aria-label": o.searchLabel });
    if (this.#search) {
      let timer;
      this.#search.addEventListener("input", () => {
        window.clearTimeout(timer);
        timer = window.setTimeout(() => void this.first(), 250);
      });
      tools.append(this.#search);
    }
    this.#filter = o.filter ? h("select", { name: `${o.id}-filter`, "aria-label": o.filter.label }, h("option", { value: "" }, `${o.filter.label}: any`), ...o.filter.options.map(([v, l]) => h("option", { value: v }, l))) : null;
    if (this.#filter) {
      this.#filter.addEventListener("change", () => void this.first());
      tools.append(this.#filter);
    }
    const head = h("thead", {}, h("tr", {}, ...o.columns.map((c) => h("th", { class: c.class ?? "" }, c.title))));
    this.element = h("div", { class: "list" }, tools, h("div", { class: "table-wrap" }, h("table", { id: o.id }, head, this.#body)), this.#pager);
  }
  /** Back to the first page (after a search or filter change). */
  async first() {
    this.#markers = [];
    this.#marker = null;
    await this.reload();
  }
  /** Fetch the current page again (after a change, or to follow the fleet). */
  async reload() {
    const seq = ++this.#seq;
    const size = this.#o.pageSize ?? 25;
    let got;
    try {
      got = await this.#o.fetchPage({ search: this.#search?.value.trim() ?? "", filter: this.#filter?.value ?? "", limit: size + 1, marker: this.#marker });
    } catch (e) {
      this.#o.onError(e);
      return;
    }
    if (seq !== this.#seq) return;
    if (got.length === 0 && this.#markers.length > 0) {
      this.#marker = this.#markers.pop() ?? null;
      return this.reload();
    }
    const shown = got.slice(0, size);
    const last = shown[shown.length - 1];
    this.#next = got.length > size && last !== void 0 ? this.#o.idOf(last) : null;
    const rows = shown.map((r) => h("tr", this.#o.rowAttrs?.(r) ?? {}, ...this.#o.columns.map((c) => h("td", { class: c.class ?? "" }, c.cell(r)))));
    replace(this.#body, ...rows.length > 0 ? rows : [h("tr", {}, h("td", { colspan: this.#o.columns.length, class: "empty" }, this.#o.empty))]);
    const n = this.#markers.length + 1;
    replace(
      this.#pager,
      h("button", { type: "button", class: "small prev", disabled: this.#markers.length === 0, onclick: () => void this.#go(-1) }, "‹ Previous"),
      h("span", { class: "page-no" }, `page ${n}`),
      h("button", { type: "button", class: "small next", disabled: this.#next === null, onclick: () => void this.#go(1) }, "Next ›")
    );
  }
  async #go(dir) {
    if (dir === 1 && this.#next !== null) {
      this.#markers.push(this.#marker);
      this.#marker = this.#next;
    } else if (dir === -1 && this.#markers.length > 0) {
      this.#marker = this.#markers.pop() ?? null;
    }
    await this.reload();
  }
};

// web/src/pages/operations.ts
function operationList(app2, scope = {}, id = "operations") {
  return new PagedList({
    id,
    filter: { label: "status", options: [["running", "running"], ["done", "done"], ["failed", "failed (rolled back)"]] },
    idOf: (o) => o.id,
    fetchPage: async (q) => {
      const rows = await operationPage(q, scope);
      await Promise.all([learnNames("volumes", rows.map((o) => o.volume_id)), learnNames("servers", rows.map((o) => o.server_id))]);
      return rows;
    },
    rowAttrs: (o) => ({ "data-operation": o.id, "data-state": o.state }),
    columns: [
      { title: "asked at", cell: (o) => link(`#/operations/${o.id}`, when(o.created_at), 40, `${o.kind} ${o.id}`) },
      { title: "kind", cell: (o) => o.kind },
      { title: "volume", cell: (o) => link(`#/volumes/${o.volume_id}`, names.volumes.get(o.volume_id) ?? shortId(o.volume_id), 24, `${names.volumes.get(o.volume_id) ?? ""} (${o.volume_id})`) },
      { title: "server", cell: (o) => link(`#/servers/${o.server_id}`, names.servers.get(o.server_id) ?? shortId(o.server_id), 24, `${names.servers.get(o.server_id) ?? ""} (${o.server_id})`) },
      { title: "state", cell: (o) => h("span", { class: `state ${o.state}`, title: o.error ? `${o.error.code}: ${o.error.message}` : "" }, o.state === "rolled_back" && o.step ? `rolled back at ${o.step}` : o.state.replace("_", " ")) },
      { title: "took", class: "num", cell: (o) => o.duration_ms === null ? "running" : formatMs(o.duration_ms) },
      { title: "request id", class: "optional mono", cell: (o) => h("span", { title: o.request_id }, o.request_id) }
    ],
    empty: "No operation matches.",
    onError: (e) => app2.error(e)
  });
}
function operationsPage(app2) {
  const list = operationList(app2);
  void list.first();
  return {
    element: h("section", { id: "operations-page" }, h("h1", {}, "Operations"), h("p", { class: "hint" }, "Every attach and detach, failed and rolled-back ones too, with its trace. Times are when it was asked for; durations on the compute host's clock."), list.element),
    refresh: () => list.reload()
  };
}

// web/src/confirm.ts
function confirmAction(title, body, action) {
  return new Promise((resolve) => {
    const yes = h("button", { type: "button", class: "danger", id: "confirm-yes" }, action);
    const no = h("button", { type: "button", id: "confirm-no", autofocus: true }, "Cancel");
    const dialog = h("dialog", { id: "confirm", "aria-labelledby": "confirm-title" }, h("h2", { id: "confirm-title" }, title), h("p", {}, body), h("div", { class: "actions" }, no, yes));
    let answer = false;
    yes.addEventListener("click", () => {
      answer = true;
      dialog.close();
    });
    no.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

// web/src/picker.ts
function picker(opts) {
  const input = h("input", { type: "search", name: `${opts.name}-search`, placeholder: `search ${opts.label}`, "aria-label": `search ${opts.label}` });
  const select = h("select", { name: opts.name, "aria-label": opts.label, required: true });
  let seq = 0;
  const reload = async () => {
    const n = ++seq;
    let found;
    try {
      found = await opts.search(input.value.trim());
    } catch (e) {
      opts.onError(e);
      return;
    }
    if (n !== seq) return;
    const keep = select.value;
    replace(select, ...found.length ? found.map((c) => h("option", { value: c.value, title: c.title }, c.label)) : [h("option", { value: "", disabled: true }, `no ${opts.label} matches`)]);
    if (found.some((c) => c.value === keep)) select.value = keep;
  };
  let timer;
  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => void reload(), 250);
  });
  return { element: h("span", { class: "picker" }, input, select), select, reload };
}

// web/src/pages/attach-form.ts
function attachForm(app2, fixedServer) {
  const volumes = picker({
    name: "volume",
    label: "volumes",
    onError: (e) => app2.error(e),
    search: async (text) => (await volumePage({ search: text, filter: "available", limit: 50, marker: null })).map((v) => ({
      value: v.id,
      label: `${v.name ?? "(unnamed)"} · ${v.size} GiB · ${shortId(v.id)}`,
      title: `${v.name ?? "(unnamed)"}, ${v.size} GiB, ${v.id}`
    }))
  });
  const servers = fixedServer ? null : picker({
    name: "server",
    label: "servers",
    onError: (e) => app2.error(e),
    search: async (text) => (await serverPage({ search: text, filter: "ACTIVE", limit: 50, marker: null })).map((s) => ({ value: s.id, label: `${s.name} · ${shortId(s.id)}`, title: `${s.name} (${s.id})` }))
  });
  const device = h("input", { name: "device", placeholder: "/dev/vdX (optional)", pattern: "(/dev/)?[a-z]+[a-z0-9]*" });
  const form = h("form", { id: "attach", class: "inline" }, servers?.element ?? null, volumes.element, device, h("button", { type: "submit" }, "Attach"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const serverId = fixedServer?.id ?? servers?.select.value ?? "";
    const volumeId = volumes.select.value;
    if (!serverId || !volumeId) return app2.error(new Error("Pick a server and a volume to attach."));
    api("POST", `/compute/v2.1/servers/${serverId}/os-volume_attachments`, { volumeAttachment: { volumeId, ...device.value ? { device: device.value } : {} } }).then(
      (r) => {
        app2.ok();
        const op = r.headers.get("x-hitch-operation-id");
        if (op) app2.go(`#/operations/${op}`);
      },
      (err) => app2.error(err)
    );
  });
  void volumes.reload();
  void servers?.reload();
  return form;
}

// src/compute/images.ts
var TINY_IMAGE_ID = "8a3a1d5e-8c2b-4b6e-9a43-3b0f4c1f2a10";
var IMAGES = Object.freeze([{ id: TINY_IMAGE_ID, name: "hitch-tiny", disk_format: "raw", container_format: "bare", size: 0 }]);

// web/src/pages/servers.ts
async function deleteServer(app2, s) {
  const vols = s["os-extended-volumes:volumes_attached"]?.length ?? 0;
  const body = `Delete server ${s.name} (${s.id})?${vols > 0 ? ` Its ${vols} volume${vols === 1 ? "" : "s"} will be detached first (the volumes are kept).` : ""}`;
  if (!await confirmAction("Delete server?", body, "Delete server")) return false;
  try {
    await api("DELETE", `/compute/v2.1/servers/${s.id}`);
    app2.ok();
    return true;
  } catch (e) {
    app2.error(e);
    return false;
  }
}
function serversPage(app2) {
  const list = new PagedList({
    id: "servers",
    searchLabel: "server names beginning with…",
    filter: { label: "status", options: [["ACTIVE", "ACTIVE"], ["BUILD", "BUILD"], ["ERROR", "ERROR"]] },
    idOf: (s) => s.id,
    fetchPage: serverPage,
    rowAttrs: (s) => ({ "data-server": s.name, "data-id": s.id }),
    columns: [
      { title: "name", cell: (s) => link(`#/servers/${s.id}`, s.name, 32, `${s.name} (${s.id})`) },
      { title: "id", class: "optional mono", cell: (s) => h("span", { title: s.id }, shortId(s.id)) },
      { title: "status", cell: (s) => h("span", { class: `status ${s.status}` }, s.status) },
      { title: "volumes", class: "num", cell: (s) => String(s["os-extended-volumes:volumes_attached"]?.length ?? 0) },
      { title: "created", class: "optional", cell: (s) => when(s.created) },
      { title: "", cell: (s) => h("button", { type: "button", class: "small danger", onclick: () => void deleteServer(app2, s).then((done) => done ? list.reload() : void 0) }, "delete") }
    ],
    empty: "No server matches.",
    onError: (e) => app2.error(e)
  });
  const name = h("input", { name: "server-name", placeholder: "name", required: true, maxlength: 255 });
  const create = h("form", { id: "create-server", class: "inline" }, name, h("button", { type: "submit" }, "Create server"));
  create.addEventListener("submit", (e) => {
    e.preventDefault();
    api("POST", "/compute/v2.1/servers", { server: { name: name.value, flavorRef: "1", imageRef: TINY_IMAGE_ID, networks: "none" } }).then(
      () => {
        app2.ok();
        name.value = "";
        void list.first();
      },
      (err) => app2.error(err)
    );
  });
  void list.first();
  return {
    element: h("section", { id: "servers-page" }, h("h1", {}, "Servers"), list.element, h("h2", {}, "Attach a volume"), attachForm(app2), h("h2", {}, "New server"), create),
    refresh: () => list.reload()
  };
}

// web/src/pages/server.ts
async function detach(app2, server, volume, device) {
  const body = `Detach volume ${volume.name ?? "unnamed"} (${volume.id}) from server ${server.name} (${server.id})${device ? ` at ${device}` : ""}? The guest loses the disk; the volume and its data stay.`;
  if (!await confirmAction("Detach volume?", body, "Detach")) return;
  try {
    const r = await api("DELETE", `/compute/v2.1/servers/${server.id}/os-volume_attachments/${volume.id}`);
    app2.ok();
    const op = r.headers.get("x-hitch-operation-id");
    if (op) app2.go(`#/operations/${op}`);
  } catch (e) {
    app2.error(e);
  }
}
function serverPage2(app2, id) {
  const head = h("div", {});
  const vols = h("div", {});
  const attach = h("div", {});
  const history = operationList(app2, { serverId: id }, "server-operations");
  let drawnFor = null;
  const draw = (s, atts) => {
    replace(
      head,
      h("h1", {}, `Server ${s.name}`),
      fields([
        ["id", h("span", { class: "mono" }, s.id)],
        ["name", s.name],
        ["status", h("span", { class: `status ${s.status}` }, s.status)],
        ["created", when(s.created)],
        ["updated", when(s.updated)]
      ]),
      h("button", { type: "button", class: "danger", id: "delete-server", onclick: () => void deleteServer(app2, s).then((done) => done ? app2.go("#/servers") : void 0) }, "Delete server")
    );
    replace(
      vols,
      h("h2", {}, "Volumes"),
      atts.length === 0 ? h("p", {}, "No volume attached.") : h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "server-attachments" },
          h("tr", {}, h("th", {}, "volume"), h("th", {}, "device"), h("th", { class: "optional" }, "volume id"), h("th", {})),
          ...atts.map((a) => {
            const name = names.volumes.get(a.volumeId) ?? null;
            return h(
              "tr",
              { "data-attachment": `${s.name}/${name ?? a.volumeId}` },
              h("td", {}, link(`#/volumes/${a.volumeId}`, name ?? "(unnamed)", 32, `${name ?? "(unnamed)"} (${a.volumeId})`)),
              h("td", {}, a.device ?? ""),
              h("td", { class: "optional mono" }, a.volumeId),
              h("td", {}, h("button", { type: "button", class: "small danger", onclick: () => void detach(app2, s, { id: a.volumeId, name }, a.device) }, "detach"))
            );
          })
        )
      )
    );
    if (drawnFor !== s.id && s.status === "ACTIVE") {
      drawnFor = s.id;
      replace(attach, h("h2", {}, "Attach a volume"), attachForm(app2, { id: s.id, name: s.name }));
    }
  };
  const refresh = async () => {
    try {
      const [s, atts] = await Promise.all([getServer(id), serverAttachments(id)]);
      await learnNames("volumes", atts.map((a) => a.volumeId));
      draw(s, atts);
    } catch (e) {
      app2.error(e);
    }
    await history.reload();
  };
  void refresh();
  return { element: h("section", { id: "server-page" }, head, vols, attach, h("h2", {}, "History"), history.element), refresh };
}

// web/src/pages/volumes.ts
var VOLUME_STATUSES = ["available", "in-use", "reserved", "attaching", "detaching", "creating", "deleting", "error"];
async function deleteVolume(app2, v) {
  const what = `${v.name ?? "unnamed"} (${v.id})`;
  if (!await confirmAction("Delete volume?", `Delete volume ${what}, ${v.size} GiB? Its data is gone for good.`, "Delete volume")) return false;
  try {
    await api("DELETE", `/volume/v3/volumes/${v.id}`);
    app2.ok();
    return true;
  } catch (e) {
    app2.error(e);
    return false;
  }
}
function volumesPage(app2) {
  const list = new PagedList({
    id: "volumes",
    searchLabel: "search volume names",
    filter: { label: "status", options: VOLUME_STATUSES.map((s) => [s, s]) },
    idOf: (v) => v.id,
    fetchPage: async (q) => {
      const rows = await volumePage(q);
      await learnNames("servers", rows.flatMap((v) => v.attachments.map((a) => a.server_id)));
      return rows;
    },
    rowAttrs: (v) => ({ "data-volume": v.name ?? v.id, "data-id": v.id }),
    columns: [
      { title: "name", cell: (v) => link(`#/volumes/${v.id}`, v.name ?? "(unnamed)", 32, `${v.name ?? "(unnamed)"} (${v.id})`) },
      { title: "id", class: "optional mono", cell: (v) => h("span", { title: v.id }, shortId(v.id)) },
      { title: "status", cell: (v) => h("span", { class: `status ${v.status}` }, v.status) },
      { title: "size", class: "num", cell: (v) => `${v.size} GiB` },
      {
        title: "attached to",
        cell: (v) => h("span", {}, ...v.attachments.flatMap((a, i) => [i > 0 ? ", " : "", link(`#/servers/${a.server_id}`, names.servers.get(a.server_id) ?? shortId(a.server_id), 24), a.device ? ` ${a.device}` : ""]))
      },
      { title: "created", class: "optional", cell: (v) => when(v.created_at) },
      {
        title: "",
        cell: (v) => v.status === "available" || v.status === "error" ? h("button", { type: "button", class: "small danger", onclick: () => void deleteVolume(app2, v).then((done) => done ? list.reload() : void 0) }, "delete") : ""
      }
    ],
    empty: "No volume matches.",
    onError: (e) => app2.error(e)
  });
  const name = h("input", { name: "volume-name", placeholder: "name", required: true, maxlength: 255 });
  const max = maxVolumeSizeGiB();
  const size = h("input", { name: "volume-size", type: "number", min: 1, ...max !== null ? { max } : {}, value: 1, required: true, "aria-label": "size in GiB" });
  const form = h("form", { id: "create-volume", class: "inline" }, name, size, h("span", {}, `GiB${max !== null ? ` (at most ${max})` : ""}`), h("button", { type: "submit" }, "Create volume"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    api("POST", "/volume/v3/volumes", { volume: { name: name.value, size: Number(size.value) } }).then(
      () => {
        app2.ok();
        name.value = "";
        void list.first();
      },
      (err) => app2.error(err)
    );
  });
  void list.first();
  return {
    element: h("section", { id: "volumes-page" }, h("h1", {}, "Volumes"), list.element, h("h2", {}, "New volume"), form),
    refresh: () => list.reload()
  };
}

// web/src/pages/volume.ts
function volumePage2(app2, id) {
  const head = h("div", {});
  const atts = h("div", {});
  const history = operationList(app2, { volumeId: id }, "volume-operations");
  const draw = (v) => {
    replace(
      head,
      h("h1", {}, `Volume ${v.name ?? "(unnamed)"}`),
      fields([
        ["id", h("span", { class: "mono" }, v.id)],
        ["name", v.name ?? "(unnamed)"],
        ["status", h("span", { class: `status ${v.status}` }, v.status)],
        ["size", `${v.size} GiB`],
        ["description", v.description ?? ""],
        ["created", when(v.created_at)],
        ["updated", when(v.updated_at)]
      ]),
      v.status === "available" || v.status === "error" ? h("button", { type: "button", class: "danger", id: "delete-volume", onclick: () => void deleteVolume(app2, v).then((done) => done ? app2.go("#/volumes") : void 0) }, "Delete volume") : ""
    );
    replace(
      atts,
      h("h2", {}, "Attached to"),
      v.attachments.length === 0 ? h("p", {}, "Not attached.") : h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "volume-attachments" },
          h("tr", {}, h("th", {}, "server"), h("th", {}, "device"), h("th", { class: "optional" }, "attached"), h("th", { class: "optional" }, "attachment id"), h("th", {})),
          ...v.attachments.map((a) => {
            const server = names.servers.get(a.server_id) ?? a.server_id;
            return h(
              "tr",
              {},
              h("td", {}, link(`#/servers/${a.server_id}`, server, 32, `${server} (${a.server_id})`)),
              h("td", {}, a.device ?? ""),
              h("td", { class: "optional" }, when(a.attached_at)),
              h("td", { class: "optional mono" }, a.attachment_id),
              h("td", {}, h("button", { type: "button", class: "small danger", onclick: () => void detach(app2, { id: a.server_id, name: server }, { id: v.id, name: v.name }, a.device) }, "detach"))
            );
          })
        )
      )
    );
  };
  const refresh = async () => {
    try {
      const v = await getVolume(id);
      await learnNames("servers", v.attachments.map((a) => a.server_id));
      draw(v);
    } catch (e) {
      app2.error(e);
    }
    await history.reload();
  };
  void refresh();
  return { element: h("section", { id: "volume-page" }, head, atts, h("h2", {}, "History"), history.element), refresh };
}

// web/src/main.ts
var root = document.getElementById("app");
var errorLine = h("p", { class: "error", role: "alert", id: "error", hidden: true });
var content = h("div", { id: "content", role: "main" });
var current = null;
var app = {
  error(e) {
    errorLine.textContent = message(e);
    errorLine.hidden = false;
    if (!currentSession()) showLogin("Session expired; log in again.");
  },
  ok() {
    errorLine.hidden = true;
    errorLine.textContent = "";
  },
  go(hash) {
    if (location.hash === hash) void route();
    else location.hash = hash;
  }
};
function showLogin(error = "") {
  current?.dispose?.();
  current = null;
  const user = h("input", { name: "username", value: "demo", autocomplete: "username", required: true });
  const pass = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const project = h("input", { name: "project", value: "demo", required: true });
  const form = h(
    "form",
    { class: "login", id: "login" },
    h("h1", {}, "Hitch"),
    h("p", {}, "Log in with the credentials `hitch serve` printed on first start (also in the data directory's credentials.json)."),
    h("label", {}, "User ", user),
    h("label", {}, "Password ", pass),
    h("label", {}, "Project ", project),
    h("button", { type: "submit" }, "Log in"),
    error ? h("p", { class: "error", role: "alert" }, error) : null,
    h("p", {}, "Or, without logging in: ", h("a", { href: "#/log", id: "to-log" }, "explain an OpenStack log"))
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    login(user.value, pass.value, project.value).then(
      () => {
        if (!location.hash) location.hash = "#/volumes";
        void route();
      },
      (err) => showLogin(message(err))
    );
  });
  replace(root, form);
}
var NAV = [
  ["#/volumes", "Volumes"],
  ["#/servers", "Servers"],
  ["#/operations", "Operations"],
  ["#/log", "Explain a log"]
];
function frame2() {
  const s = currentSession();
  const section = `#/${location.hash.split("/")[1] ?? ""}`;
  const nav = h("nav", { class: "top", "aria-label": "pages" }, ...NAV.map(([href, text]) => h("a", { href, class: href === section ? "current" : "" }, text)));
  const who = s ? h("span", { class: "who" }, `${s.user}@${s.project} `, h("button", { type: "button", class: "small", id: "logout", onclick: () => (logout(), showLogin()) }, "log out")) : null;
  replace(root, h("header", {}, h("strong", {}, "Hitch"), nav, who), errorLine, content);
}
async function route() {
  current?.dispose?.();
  current = null;
  app.ok();
  const [, section = "volumes", id] = (location.hash || "#/volumes").split("/");
  if (section === "log") return frame2(), showLogView(content);
  if (!currentSession()) return showLogin();
  frame2();
  current = section === "volumes" ? id ? volumePage2(app, id) : volumesPage(app) : section === "servers" ? id ? serverPage2(app, id) : serversPage(app) : section === "operations" ? id ? operationPage2(app, id) : operationsPage(app) : volumesPage(app);
  replace(content, current.element);
}
function busy() {
  const a = document.activeElement;
  if (a instanceof HTMLInputElement || a instanceof HTMLSelectElement || a instanceof HTMLTextAreaElement) return true;
  if (document.querySelector("dialog[open]")) return true;
  return [...content.querySelectorAll("form input")].some((i) => i instanceof HTMLInputElement && i.type !== "number" && i.type !== "search" && i.value !== "");
}
window.addEventListener("hashchange", () => void route());
window.setInterval(() => {
  if (current && currentSession() && !document.hidden && !busy()) void current.refresh();
}, 3e3);
if (currentSession() || location.hash === "#/log") void route();
else showLogin();
