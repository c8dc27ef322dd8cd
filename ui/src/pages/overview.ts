// Overview: the page the panel opens on. Every tenant's health at a glance (a tile each,
// broken and late first, with the reason) and the last 30 days of incidents: per day,
// stacked by severity, and the tenants with the most. The chart is plain SVG built with
// svg() (h.ts): every name and tooltip is a text node, as in the rest of the panel.
import { api, type IncidentStart, type Severity, type TenantStatus } from "../api";
import type { Ctx, Page } from "../ctx";
import { h, replace, svg, type Child } from "../h";
import { SEVERITIES, SEVERITY_LABEL, TENANT_STATE_LABEL, shortDateTime } from "../format";

/** The chart's span: today and the 29 days before it. */
export const DAYS = 30;
/** The tenants the "by tenant" breakdown lists. */
export const TOP_TENANTS = 8;
/**
 * The Tenants page has no notion of late, so the overview's: a tenant whose last
 * successful scan is older than this many scan intervals (Settings) has missed at least
 * two scans in a row without being marked broken (e.g. the scheduler stalled or is paused).
 */
export const LATE_INTERVALS = 3;

/** `waiting`: added, never scanned yet; counted apart from the three the issue names. */
export type Health = "broken" | "late" | "waiting" | "scanning";
const HEALTH_ORDER: Health[] = ["broken", "late", "waiting", "scanning"];
const HEALTH_COUNT_LABEL: Record<Health, string> = {
  scanning: "scanning",
  late: "late",
  broken: "broken",
  waiting: "not scanned yet",
};
/** Gravest first: the bottom of each bar and the order of the legend. */
const GRAVEST_FIRST: Severity[] = [...SEVERITIES].reverse();

const knownSeverity = (s: Severity): Severity => (SEVERITIES.includes(s) ? s : "low");

/**
 * Error: not scanned at all. Partial: scanned, but some content could not be read or was
 * lost, so alerts may be missing: broken too, its tile says "Partial" and why.
 */
export function tenantHealth(t: TenantStatus, intervalMinutes: number | null, now: number): Health {
  if (t.state === "error" || t.state === "partial") return "broken";
  if (t.state !== "ok") return "waiting";
  const last = t.last_success_at ? Date.parse(t.last_success_at) : NaN;
  if (intervalMinutes === null || Number.isNaN(last)) return "scanning";
  return now - last > LATE_INTERVALS * intervalMinutes * 60_000 ? "late" : "scanning";
}

/** "15 minutes", "3 hours", "1 hour 30 minutes". */
function duration(minutes: number): string {
  const hrs = Math.floor(minutes / 60);
  const min = minutes % 60;
  const part = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (hrs === 0) return part(min, "minute");
  return min === 0 ? part(hrs, "hour") : `${part(hrs, "hour")} ${part(min, "minute")}`;
}

/** The local calendar day, "2026-11-30". */
export function dayKey(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The chart's days, oldest first: local midnights (a DST day is still one day). */
export function lastDays(now: Date, days = DAYS): Date[] {
  return Array.from({ length: days }, (_, i) => new Date(now.getFullYear(), now.getMonth(), now.getDate() - (days - 1 - i)));
}

export interface IncidentPoint {
  id: number;
  /** The local day of its earliest alert. */
  day: string;
  /** The gravest of its alerts. */
  severity: Severity;
  tenant_id: string;
  tenant_name: string;
}

/**
 * The incidents whose first alert falls in the chart's local days (the desktop's store
 * answers from the first of them, in UTC; the chart's days are the technician's).
 */
export function incidentsOf(starts: IncidentStart[], now: Date, days = DAYS): IncidentPoint[] {
  const from = lastDays(now, days)[0].getTime();
  const until = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1).getTime();
  const out: IncidentPoint[] = [];
  for (const i of starts) {
    const at = Date.parse(i.first_event);
    if (Number.isNaN(at) || at < from || at >= until) continue;
    out.push({ id: i.id, day: dayKey(new Date(at)), severity: knownSeverity(i.severity), tenant_id: i.tenant_id, tenant_name: i.tenant_name });
  }
  return out;
}

type Counts = Record<Severity, number>;
const zero = (): Counts => ({ low: 0, medium: 0, high: 0, critical: 0 });
const total = (c: Counts): number => SEVERITIES.reduce((n, s) => n + c[s], 0);

/** "3 critical, 1 low": only the severities present, gravest first. */
function countsText(c: Counts): string {
  return GRAVEST_FIRST.filter((s) => c[s] > 0)
    .map((s) => `${c[s]} ${s}`)
    .join(", ");
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;

// Chart geometry, in viewBox units (the SVG scales to the page's width).
const BAR = 14;
const GAP = 6;
const LEFT = 26;
/** Room for the last day's label, centred under its bar. */
const RIGHT = 14;
const TOP = 8;
const PLOT_H = 120;
const BOTTOM = 18;

export function createOverviewPage(ctx: Ctx): Page {
  let tenants: TenantStatus[] = [];
  let incidents: IncidentStart[] = [];
  let interval: number | null = null;
  /** Until the first answer, the empty states say nothing: "none" is not yet known. */
  let tenantsLoaded = false;
  let incidentsLoaded = false;
  let loadSeq = 0;

  const counts = h("p", { id: "health-counts", class: "health-counts" }, "Loading…");
  const grid = h("div", { id: "health-grid", class: "health-grid" });
  const noTenants = h(
    "p",
    { id: "overview-no-tenants", class: "empty", hidden: true },
    "No tenant is watched yet. ",
    h("button", { id: "overview-go-tenants", type: "button", class: "link", on: { click: () => ctx.navigate("tenants") } }, "Add one on the Tenants page"),
    ".",
  );
  const noIncidents = h("p", { id: "incidents-empty", class: "empty", hidden: true }, "No incidents in the last 30 days.");
  const chart = h("div", { id: "incident-chart", class: "chart", hidden: true });
  const byTenant = h("div", { id: "incidents-by-tenant", class: "by-tenant", hidden: true });

  const el = h(
    "div",
    { id: "overview-page" },
    h("h2", null, "Overview"),
    h(
      "section",
      { id: "overview-health", "aria-labelledby": "overview-health-title" },
      h("h3", { id: "overview-health-title" }, "Tenant health"),
      counts,
      grid,
      noTenants,
    ),
    h(
      "section",
      { id: "overview-incidents", "aria-labelledby": "overview-incidents-title" },
      h("h3", { id: "overview-incidents-title" }, "Incidents in the last 30 days"),
      noIncidents,
      chart,
      byTenant,
    ),
  );

  // ---- tenant health -----------------------------------------------------------------
  function tile(t: TenantStatus, health: Health): HTMLElement {
    const reason: Child =
      health === "broken"
        ? t.message || t.problem || "No reason was recorded."
        : health === "late" && interval !== null
          ? `No successful scan for over ${duration(LATE_INTERVALS * interval)}.`
          : null;
    const n = t.open_alerts;
    return h(
      "button",
      {
        type: "button",
        class: `tile tile-${health}`,
        "data-testid": "tenant-tile",
        "data-tenant-id": t.tenant_id,
        "data-health": health,
        title: "Open the Tenants page",
        on: { click: () => ctx.navigate("tenants") },
      },
      h(
        "span",
        { class: "tile-head" },
        h("span", { class: "tile-name wrap", "data-testid": "tile-name" }, t.name),
        h(
          "span",
          { class: `state state-${health === "late" ? "late" : t.state}`, "data-testid": "tile-state" },
          health === "late" ? "Late" : (TENANT_STATE_LABEL[t.state] ?? t.state),
        ),
      ),
      reason !== null ? h("span", { class: "tile-reason wrap", "data-testid": "tile-reason" }, reason) : null,
      h(
        "span",
        { class: "tile-facts muted" },
        t.state === "not_scanned" ? "Waiting for its first scan" : `Last successful scan ${shortDateTime(t.last_success_at)}`,
        ` · ${plural(n, "open alert")}`,
      ),
    );
  }

  function renderHealth(): void {
    const now = Date.now();
    const sorted = tenants
      .map((t) => ({ t, health: tenantHealth(t, interval, now) }))
      .sort((x, y) => HEALTH_ORDER.indexOf(x.health) - HEALTH_ORDER.indexOf(y.health) || x.t.name.localeCompare(y.t.name));
    const n: Record<Health, number> = { scanning: 0, late: 0, broken: 0, waiting: 0 };
    for (const { health } of sorted) n[health]++;
    const shownHealth: Health[] = ["scanning", "late", "broken", ...(n.waiting ? (["waiting"] as Health[]) : [])];
    replace(
      counts,
      shownHealth.flatMap((k, i) => [
        i ? ", " : null,
        h("span", { class: `count count-${k}`, "data-testid": `count-${k}` }, `${n[k]} ${HEALTH_COUNT_LABEL[k]}`),
      ]),
    );
    counts.hidden = tenants.length === 0;
    noTenants.hidden = tenants.length > 0;
    replace(grid, sorted.map(({ t, health }) => tile(t, health)));
  }

  // ---- incidents -----------------------------------------------------------------------
  function renderChart(points: IncidentPoint[], days: Date[]): void {
    const perDay = new Map(days.map((d) => [dayKey(d), zero()]));
    const all = zero();
    for (const p of points) {
      perDay.get(p.day)![p.severity]++;
      all[p.severity]++;
    }
    const max = Math.max(1, ...[...perDay.values()].map(total));
    const y = (n: number) => (n / max) * PLOT_H;
    const width = LEFT + days.length * (BAR + GAP) + RIGHT;
    const label = (d: Date) => d.toLocaleDateString(undefined, { day: "numeric", month: "short" });

    const bars = days.map((d, i) => {
      const key = dayKey(d);
      const c = perDay.get(key)!;
      const x = LEFT + i * (BAR + GAP) + GAP / 2;
      let base = TOP + PLOT_H;
      const segments = GRAVEST_FIRST.filter((s) => c[s] > 0).map((s) => {
        const hgt = y(c[s]);
        base -= hgt;
        return svg(
          "rect",
          {
            class: `seg fill-${s}`,
            "data-testid": "chart-segment",
            "data-day": key,
            "data-severity": s,
            "data-count": c[s],
            x,
            y: base.toFixed(2),
            width: BAR,
            height: hgt.toFixed(2),
          },
          svg("title", null, `${key}: ${c[s]} ${s}`),
        );
      });
      // Every 7th day from today is named under the axis.
      const named = (days.length - 1 - i) % 7 === 0;
      return svg(
        "g",
        { "data-testid": "chart-day", "data-day": key, "data-total": total(c) },
        segments,
        named ? svg("text", { class: "chart-label", x: x + BAR / 2, y: TOP + PLOT_H + 13, "text-anchor": "middle" }, label(d)) : null,
      );
    });
    const n = total(all);
    const summary = `${plural(n, "incident")} in the last 30 days: ${countsText(all)}.`;
    const picture = svg(
      "svg",
      { id: "incident-chart-svg", viewBox: `0 0 ${width} ${TOP + PLOT_H + BOTTOM}`, role: "img", "aria-label": summary },
      svg("line", { class: "chart-axis", x1: LEFT, y1: TOP + PLOT_H, x2: width, y2: TOP + PLOT_H }),
      svg("line", { class: "chart-grid", x1: LEFT, y1: TOP, x2: width, y2: TOP }),
      svg("text", { class: "chart-label", x: LEFT - 4, y: TOP + 4, "text-anchor": "end" }, max),
      svg("text", { class: "chart-label", x: LEFT - 4, y: TOP + PLOT_H, "text-anchor": "end" }, 0),
      bars,
    );
    // The same numbers as a table, for screen readers: only the days with incidents.
    const withIncidents = days.map(dayKey).filter((k) => total(perDay.get(k)!) > 0);
    const table = h(
      "table",
      { class: "visually-hidden", "data-testid": "chart-table" },
      h("caption", null, "Incidents per day, by severity"),
      h(
        "thead",
        null,
        h("tr", null, h("th", { scope: "col" }, "Day"), GRAVEST_FIRST.map((s) => h("th", { scope: "col" }, SEVERITY_LABEL[s])), h("th", { scope: "col" }, "Total")),
      ),
      h(
        "tbody",
        null,
        withIncidents.map((k) => {
          const c = perDay.get(k)!;
          return h("tr", null, h("th", { scope: "row" }, k), GRAVEST_FIRST.map((s) => h("td", null, c[s])), h("td", null, total(c)));
        }),
      ),
    );
    const legend = h(
      "ul",
      { class: "legend", id: "incident-legend" },
      GRAVEST_FIRST.map((s) =>
        h(
          "li",
          { "data-testid": "legend-item", "data-severity": s },
          h("span", { class: `swatch sev-${s}`, "aria-hidden": "true" }),
          `${SEVERITY_LABEL[s]} ${all[s]}`,
        ),
      ),
    );
    replace(chart, h("p", { id: "incident-summary", class: "muted" }, summary), picture, legend, table);
  }

  function renderByTenant(points: IncidentPoint[]): void {
    const per = new Map<string, { name: string; c: Counts }>();
    for (const p of points) {
      const e = per.get(p.tenant_id) ?? { name: p.tenant_name, c: zero() };
      e.c[p.severity]++;
      per.set(p.tenant_id, e);
    }
    const top = [...per.entries()]
      .sort(([, x], [, y]) => total(y.c) - total(x.c) || x.name.localeCompare(y.name))
      .slice(0, TOP_TENANTS);
    const max = Math.max(1, ...top.map(([, e]) => total(e.c)));
    const bar = (name: string, c: Counts) => {
      let x = 0;
      return svg(
        "svg",
        { class: "tenant-bar", viewBox: "0 0 100 10", preserveAspectRatio: "none", "aria-hidden": "true" },
        GRAVEST_FIRST.filter((s) => c[s] > 0).map((s) => {
          const w = (c[s] / max) * 100;
          const r = svg(
            "rect",
            { class: `seg fill-${s}`, "data-severity": s, x: x.toFixed(2), y: 0, width: w.toFixed(2), height: 10 },
            svg("title", null, `${name}: ${c[s]} ${s}`),
          );
          x += w;
          return r;
        }),
      );
    };
    replace(
      byTenant,
      h("h4", { id: "by-tenant-title" }, top.length < per.size ? `Tenants with the most incidents (top ${TOP_TENANTS})` : "By tenant"),
      h(
        "table",
        { class: "by-tenant-table", "aria-labelledby": "by-tenant-title" },
        h(
          "thead",
          null,
          h("tr", null, h("th", { scope: "col" }, "Tenant"), h("th", { scope: "col" }, "Incidents"), h("th", { scope: "col", class: "num" }, "Count")),
        ),
        h(
          "tbody",
          null,
          top.map(([id, e]) =>
            h(
              "tr",
              { "data-testid": "tenant-incidents", "data-tenant-id": id },
              h("th", { scope: "row", class: "wrap", "data-testid": "tenant-incidents-name" }, e.name),
              h("td", { class: "bar-cell", title: countsText(e.c) }, bar(e.name, e.c)),
              h("td", { class: "num", "data-testid": "tenant-incidents-count", "aria-label": `${plural(total(e.c), "incident")}: ${countsText(e.c)}` }, total(e.c)),
            ),
          ),
        ),
      ),
    );
  }

  function renderIncidents(): void {
    const now = new Date();
    const points = incidentsOf(incidents, now);
    noIncidents.hidden = !incidentsLoaded || points.length > 0;
    chart.hidden = byTenant.hidden = points.length === 0;
    if (points.length === 0) {
      replace(chart);
      replace(byTenant);
      return;
    }
    renderChart(points, lastDays(now));
    renderByTenant(points);
  }

  async function refresh(): Promise<void> {
    const seq = ++loadSeq;
    const since = lastDays(new Date())[0].toISOString();
    const [ts, list, s] = await Promise.all([ctx.run(api.listTenants()), ctx.run(api.recentIncidents(since)), ctx.run(api.getSettings())]);
    // A later refresh answered meanwhile: its answers are the newer ones.
    if (seq !== loadSeq) return;
    // A failed read keeps what was shown (its error is in #error).
    if (s) interval = s.scan_interval_minutes;
    if (ts) {
      tenants = ts;
      tenantsLoaded = true;
    }
    if (list) {
      incidents = list;
      incidentsLoaded = true;
    }
    if (tenantsLoaded) renderHealth();
    if (incidentsLoaded) renderIncidents();
  }

  // Nothing to reset on entering: entering reloads, the Page default.
  return { el, refresh };
}
