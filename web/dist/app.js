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
  const names = [...plan, ...top.map((s) => s.name).filter((n) => !plan.includes(n))];
  const ended = op.state !== "running";
  return [...new Set(names)].flatMap((name) => {
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

// web/src/api.ts
var KEY = "hitch.session";
var ApiError = class extends Error {
  constructor(status, message) {
    super(message);
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

// web/src/waterfall.ts
var NS = "http://www.w3.org/2000/svg";
function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== void 0) e.textContent = text;
  return e;
}
function waterfallSvg(r, maxDepth = 2) {
  const rows = r.rows.filter((x) => x.depth <= maxDepth);
  const labelW = 330;
  const barW = 520;
  const rowH = 20;
  const top = 24;
  const timeW = 130;
  const width = labelW + barW + timeW;
  const height = top + rows.length * rowH + 8;
  const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "waterfall", role: "img", "aria-label": "trace waterfall" });
  const scale = r.totalMs > 0 ? barW / r.totalMs : 0;
  svg.append(el("text", { x: labelW, y: 14, class: "axis" }, "0"));
  svg.append(el("text", { x: labelW + barW, y: 14, class: "axis", "text-anchor": "end" }, formatMs(r.totalMs)));
  svg.append(el("line", { x1: labelW + barW, x2: labelW + barW, y1: 18, y2: height, class: "end" }));
  rows.forEach((row, i) => {
    const y = top + i * rowH;
    const g = el("g", { class: `row depth-${row.depth}${row.critical ? " critical" : ""}${row.outcome === "error" ? " error" : ""}${row.background ? " background" : ""}`, "data-name": row.name });
    const label = row.label.length > 44 - row.depth * 2 ? `${row.label.slice(0, 43 - row.depth * 2)}…` : row.label;
    const t = el("text", { x: 4 + row.depth * 14, y: y + 14, class: "label" }, label);
    t.append(el("title", {}, row.label));
    g.append(t);
    const x = labelW + Math.min(barW - 2, row.startMs * scale);
    const dur = row.durationMs ?? r.spanMs - row.startMs;
    const w = Math.max(2, Math.min(dur * scale, labelW + barW - x));
    const bar = el("rect", { x, y: y + 4, width: w, height: rowH - 8, rx: 2, class: "bar" });
    bar.append(el("title", {}, `${row.label}
+${formatMs(row.startMs)}, ${row.durationMs === null ? "running" : formatMs(row.durationMs)}${row.error ? `
${row.error}` : ""}`));
    g.append(bar);
    if (dur * scale > labelW + barW - x) g.append(el("text", { x: labelW + barW + 2, y: y + 14, class: "more" }, "›"));
    g.append(el("text", { x: labelW + barW + timeW - 4, y: y + 14, class: "time", "text-anchor": "end" }, `${row.durationMs === null ? "running" : formatMs(row.durationMs)}${row.outcome === "error" ? " ✗" : ""}`));
    svg.append(g);
  });
  return svg;
}

// src/compute/images.ts
var TINY_IMAGE_ID = "8a3a1d5e-8c2b-4b6e-9a43-3b0f4c1f2a10";
var IMAGES = Object.freeze([{ id: TINY_IMAGE_ID, name: "hitch-tiny", disk_format: "raw", container_format: "bare", size: 0 }]);

// web/src/main.ts
var root = document.getElementById("app");
var state = {
  volumes: [],
  servers: [],
  attachments: /* @__PURE__ */ new Map(),
  selected: null,
  followOp: null,
  error: ""
};
var msg = (e) => e instanceof ApiError ? `${e.message} (HTTP ${e.status})` : e instanceof Error ? e.message : String(e);
function showLogin(error = "") {
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
    login(user.value, pass.value, project.value).then(() => void start(), (err) => showLogin(msg(err)));
  });
  replace(root, form);
}
async function refresh() {
  const [v, s] = await Promise.all([api("GET", "/volume/v3/volumes/detail"), api("GET", "/compute/v2.1/servers/detail")]);
  state.volumes = v.body.volumes;
  state.servers = s.body.servers.filter((x) => x.status !== "DELETED");
  const atts = await Promise.all(state.servers.map((x) => api("GET", `/compute/v2.1/servers/${x.id}/os-volume_attachments`)));
  state.attachments = new Map(state.servers.map((x, i) => [x.id, atts[i]?.body.volumeAttachments ?? []]));
}
var volName = (id) => state.volumes.find((v) => v.id === id)?.name ?? id.slice(0, 8);
var srvName = (id) => state.servers.find((s) => s.id === id)?.name ?? id.slice(0, 8);
function act(fn) {
  return () => {
    state.error = "";
    fn().then(
      () => void rerender(),
      (e) => {
        state.error = msg(e);
        void rerender();
      }
    );
  };
}
function volumesPanel() {
  const name = h("input", { name: "volume-name", placeholder: "name", required: true });
  const size = h("input", { name: "volume-size", type: "number", min: 1, value: 1, required: true });
  const form = h("form", { id: "create-volume", class: "inline" }, name, size, h("span", {}, "GiB "), h("button", { type: "submit" }, "Create volume"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    act(() => api("POST", "/volume/v3/volumes", { volume: { name: name.value, size: Number(size.value) } }))();
  });
  const rows = state.volumes.map(
    (v) => h(
      "tr",
      { "data-volume": v.name ?? v.id },
      h("td", {}, v.name ?? ""),
      h("td", { class: `status ${v.status}` }, v.status),
      h("td", {}, `${v.size} GiB`),
      h("td", {}, v.attachments.map((a) => `${srvName(a.server_id)} ${a.device ?? ""}`).join(", ")),
      h("td", {}, v.status === "available" ? h("button", { class: "small", onclick: act(() => api("DELETE", `/volume/v3/volumes/${v.id}`)) }, "delete") : "")
    )
  );
  return h("section", {}, h("h2", {}, "Volumes"), h("table", { id: "volumes" }, h("tr", {}, h("th", {}, "name"), h("th", {}, "status"), h("th", {}, "size"), h("th", {}, "attached to"), h("th", {})), ...rows), form);
}
function serversPanel() {
  const name = h("input", { name: "server-name", placeholder: "name", required: true });
  const form = h("form", { id: "create-server", class: "inline" }, name, h("button", { type: "submit" }, "Create server"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    act(() => api("POST", "/compute/v2.1/servers", { server: { name: name.value, flavorRef: "1", imageRef: TINY_IMAGE_ID, networks: "none" } }))();
  });
  const rows = state.servers.flatMap((s) => {
    const atts = state.attachments.get(s.id) ?? [];
    return [
      h("tr", { "data-server": s.name }, h("td", {}, s.name), h("td", { class: `status ${s.status}` }, s.status), h("td", {}, String(atts.length))),
      ...atts.map(
        (a) => h(
          "tr",
          { class: "attachment", "data-attachment": `${s.name}/${volName(a.volumeId)}` },
          h("td", {}, `↳ ${volName(a.volumeId)}`),
          h("td", {}, a.device ?? ""),
          h(
            "td",
            {},
            h("button", { class: "small", onclick: () => select(s.id, a.volumeId, null) }, "trace"),
            " ",
            h("button", { class: "small", onclick: act(async () => {
              const r = await api("DELETE", `/compute/v2.1/servers/${s.id}/os-volume_attachments/${a.volumeId}`);
              select(s.id, a.volumeId, r.headers.get("x-hitch-operation-id"));
            }) }, "detach")
          )
        )
      )
    ];
  });
  return h("section", {}, h("h2", {}, "Servers"), h("table", { id: "servers" }, h("tr", {}, h("th", {}, "name"), h("th", {}, "status / device"), h("th", {}, "volumes")), ...rows), form);
}
function attachPanel() {
  const server = h("select", { name: "server" }, ...state.servers.filter((s) => s.status === "ACTIVE").map((s) => h("option", { value: s.id }, s.name)));
  const volume = h("select", { name: "volume" }, ...state.volumes.filter((v) => v.status === "available").map((v) => h("option", { value: v.id }, v.name ?? v.id)));
  const device = h("input", { name: "device", placeholder: "/dev/vdX (optional)" });
  const form = h("form", { id: "attach", class: "inline" }, server, volume, device, h("button", { type: "submit" }, "Attach"));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    act(async () => {
      const r = await api("POST", `/compute/v2.1/servers/${server.value}/os-volume_attachments`, { volumeAttachment: { volumeId: volume.value, ...device.value ? { device: device.value } : {} } });
      select(server.value, volume.value, r.headers.get("x-hitch-operation-id"));
    })();
  });
  return h("section", {}, h("h2", {}, "Attach a volume"), form);
}
var tracePanel = h("section", { id: "trace" });
var followTimer;
function select(serverId, volumeId, opId) {
  state.selected = { serverId, volumeId };
  state.followOp = opId;
  void drawTrace();
}
async function drawTrace() {
  window.clearTimeout(followTimer);
  const sel = state.selected;
  if (!sel) return replace(tracePanel);
  let op;
  try {
    if (state.followOp) op = (await api("GET", `/compute/v2.1/os-hitch-operations/${state.followOp}`)).body.operation;
    else op = (await api("GET", `/compute/v2.1/servers/${sel.serverId}/os-volume_attachments/${sel.volumeId}/trace`)).body.operations[0];
  } catch (e) {
    return replace(tracePanel, h("p", { class: "error" }, msg(e)));
  }
  if (!op) return replace(tracePanel, h("p", {}, "No operation recorded for this attachment."));
  const spans = op.spans.map((s) => ({ id: s.id, parentId: s.parent_id, name: s.name, startMs: s.start_ms, endMs: s.end_ms, outcome: s.outcome, attrs: s.attrs, ...s.error ? { error: s.error } : {} }));
  const running = op.state === "running";
  const report = explain(spans, clockMs ?? void 0);
  const head = h("h2", {}, `${op.kind} of ${volName(op.volume_id)} on ${srvName(op.server_id)}: `, h("span", { class: `state ${op.state}`, id: "op-state" }, op.state), ` — ${formatMs(report.totalMs)}`);
  const parts = [head];
  if (op.error) parts.push(h("p", { class: "error" }, `${op.error.code}: ${op.error.message}`));
  if (running) parts.push(h("pre", { class: "progress", id: "progress" }, frame(op, clockMs ?? op.started_ms).join("\n")));
  parts.push(waterfallSvg(report));
  parts.push(h("h3", {}, "Diagnosis"), h("ul", { id: "diagnosis" }, ...report.diagnosis.map((d) => h("li", {}, d))));
  parts.push(h("h3", {}, "Critical path"), h("pre", { class: "critical-path" }, report.criticalPath.join("\n")));
  replace(tracePanel, ...parts);
  if (running) {
    followTimer = window.setTimeout(() => void drawTrace(), 250);
    return;
  }
  if (state.followOp) {
    state.followOp = null;
    await refresh().catch(() => void 0);
    drawMain();
  }
  if (spans.some((x) => x.endMs === null)) followTimer = window.setTimeout(() => void drawTrace(), 1e3);
}
function drawMain() {
  const s = currentSession();
  const bar = h("header", {}, h("strong", {}, "Hitch"), ` ${s?.user ?? ""}@${s?.project ?? ""} `, h("button", { class: "small", id: "logout", onclick: () => {
    logout();
    showLogin();
  } }, "log out"));
  const main = h("main", {}, volumesPanel(), serversPanel(), attachPanel(), state.error ? h("p", { class: "error", role: "alert" }, state.error) : null);
  replace(root, bar, main, tracePanel);
}
async function rerender() {
  try {
    await refresh();
  } catch (e) {
    if (!currentSession()) return showLogin("Session expired; log in again.");
    state.error = msg(e);
  }
  drawMain();
}
async function start() {
  await rerender();
  const busy = () => {
    const a = document.activeElement;
    if (a instanceof HTMLInputElement || a instanceof HTMLSelectElement) return true;
    return [...root.querySelectorAll("main input")].some((i) => i instanceof HTMLInputElement && i.type !== "number" && i.value !== "");
  };
  window.setInterval(() => {
    if (currentSession() && !document.hidden && !state.followOp && !busy()) void rerender();
  }, 3e3);
}
if (currentSession()) void start();
else showLogin();
