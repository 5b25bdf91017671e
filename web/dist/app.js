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
function formatMs(ms) {
  if (ms >= 1e4) return `${(ms / 1e3).toFixed(0)} s`;
  if (ms >= 1e3) return `${(ms / 1e3).toFixed(1)} s`;
  return `${Math.round(ms)} ms`;
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
      const dur = login2?.endMs != null ? login2.endMs - login2.startMs : (p.endMs ?? p.startMs) - p.startMs;
      const exit = exitCodeOf(p, spans);
      return { p, dur, exit, timedOut: p.error?.code === "HITCH_ISCSI_LOGIN_TIMEOUT" || exit === 8 };
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
      const ms = held.reduce((a, t) => a + t.dur, 0);
      out.push(`the attach waited for the dead portal ${portal}: ${held.length > 1 ? `${held.length} failed logins, ` : ""}${formatMs(ms)} of the ${formatMs(totalMs)}${totalMs > 0 ? ` (${Math.round(100 * ms / totalMs)}%)` : ""}`);
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
        out.push(`the storage API call ${s.name.replace(/^block-storage /, "")} took ${formatMs(d)} of ${formatMs(totalMs)} (${Math.round(100 * d / totalMs)}%)`);
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
var ATTACH_STEPS = ["reserve", "lock-instance", "get-volume", "connector-properties", "initialize-connection", "connect-volume", "hotplug", "complete", "unlock-instance"];
var DETACH_STEPS = ["lock-instance", "begin-detaching", "unplug", "connector-properties", "disconnect-volume", "detach-volume", "bdm.destroy", "unlock-instance"];
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
  const plan = op.kind === "detach" ? DETACH_STEPS : ATTACH_STEPS;
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
    const dur = row.durationMs ?? r.spanMs - row.startMs;
    const w = Math.max(2, Math.min(dur * scale, barX + barW - x));
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
    const report = explain(spans, clockMs ?? void 0);
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
        ["took", running ? `running (${formatMs(report.totalMs)} so far)` : `${formatMs(report.totalMs)}${backgroundText(report.background)}`],
        ["step", op.step ?? ""]
      ]),
      op.error ? h("p", { class: "error", id: "op-error" }, `${op.error.code}: ${op.error.message}`) : "",
      running ? h("pre", { class: "progress", id: "progress" }, frame(op, clockMs ?? op.started_ms).join("\n")) : "",
      h("h2", {}, "Waterfall"),
      h("div", { class: "waterfall-wrap" }, waterfallSvg(report, 2, width)),
      legend(),
      h("h2", {}, "Diagnosis"),
      h("ul", { id: "diagnosis" }, ...report.diagnosis.map((d) => h("li", {}, d))),
      h("h2", {}, "Critical path"),
      h("pre", { class: "critical-path" }, report.criticalPath.join("\n"))
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
    error ? h("p", { class: "error", role: "alert" }, error) : null
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
  ["#/operations", "Operations"]
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
if (currentSession()) void route();
else showLogin();
