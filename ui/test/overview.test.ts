import { afterEach, describe, expect, it, vi } from "vitest";
import { $, $$, alert, changed, flush, HOSTILE_RULE, mount, overview, settings, T1, T2, tenants, unmount, visible } from "./fixtures";
import { callsOf, emit, state } from "./tauri-mock";
import type { AlertSummary, TenantStatus } from "../src/api";

afterEach(() => {
  unmount();
  vi.useRealTimers();
});

/** Local time on a day of November 2026 (the chart counts local days). */
const nov = (day: number, hour = 12, minute = 0): string => new Date(2026, 10, day, hour, minute).toISOString();
/** "Now" for the test: only Date is faked, timers stay real for flush(). */
function clockAt(iso: string): void {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(new Date(iso));
}

function tenant(over: Partial<TenantStatus> & { tenant_id: string; name: string }): TenantStatus {
  return {
    state: "ok",
    problem: null,
    message: null,
    last_attempt_at: nov(30, 11, 58),
    last_success_at: nov(30, 11, 58),
    data_complete_until: nov(30, 11, 45),
    open_alerts: 0,
    partner: false,
    cloud: null,
    ...over,
  };
}

const tile = (id: string): HTMLElement => $(`[data-testid=tenant-tile][data-tenant-id="${id}"]`);
const segments = () =>
  $$("[data-testid=chart-segment]").map((s) => `${s.dataset.day} ${s.dataset.severity} ${s.dataset.count}`);
const noMarkup = () => expect(document.querySelector("img, script, iframe, object, foreignObject")).toBeNull();

describe("overview: the panel's start page", () => {
  it("is the page the panel opens on, first in the navigation", async () => {
    await mount();
    expect($("#nav-overview").getAttribute("aria-current")).toBe("page");
    expect($("#nav-alerts").getAttribute("aria-current")).toBeNull();
    expect($$(".nav button").map((b) => b.id)).toEqual(["nav-overview", "nav-alerts", "nav-tenants", "nav-settings"]);
    expect(visible($("#overview-page"))).toBe(true);
    expect(document.querySelector("#alert-list")).toBeNull();
    expect($$("[data-testid=tenant-tile]")).toHaveLength(2);
    // Read once, after the header: not again for the first-run decision.
    expect(callsOf("list_tenants")).toHaveLength(1);
  });

  it("still opens on the welcome screen on a first run", async () => {
    await mount(() => (state.handlers.overview = () => overview({ tenants: 0 })));
    expect($("#nav-alerts").getAttribute("aria-current")).toBe("page");
    expect(visible($("#first-run"))).toBe(true);
  });

  it("a notification still opens its alert", async () => {
    await mount();
    emit("rulewatch://open-alert", 4);
    await flush();
    expect($("#nav-alerts").getAttribute("aria-current")).toBe("page");
    expect(visible($("#alert-detail"))).toBe(true);
    expect($("#alert-detail").dataset.alertId).toBe("4");
    // The list was never shown, yet the rule is named by the registry's title.
    expect($("#alert-rule").textContent).toBe("Inbox rule hides mail (inbox-rule-hides-mail)");
  });
});

describe("tenant health", () => {
  const five = () => [
    tenant({ tenant_id: "a", name: "Alpha", last_success_at: nov(30, 11, 46), open_alerts: 2 }),
    tenant({ tenant_id: "b", name: "Bravo", last_success_at: nov(30, 11, 30) }),
    tenant({ tenant_id: "c", name: "Charlie", state: "error", problem: "consent", message: "Admin consent was revoked", last_success_at: null }),
    tenant({ tenant_id: "d", name: "Delta", state: "partial", problem: "content", message: "Audit.Exchange could not be read" }),
    tenant({ tenant_id: "e", name: "Echo", state: "not_scanned", last_attempt_at: null, last_success_at: null }),
  ];

  it("shows a tile per tenant, broken and late first, with the reason, and the counts", async () => {
    clockAt(nov(30, 12));
    await mount(() => (state.handlers.list_tenants = five));
    expect($("#health-counts").textContent).toBe("1 scanning, 1 late, 2 broken, 1 not scanned yet");
    expect($$("[data-testid=tenant-tile]").map((t) => `${t.dataset.tenantId}:${t.dataset.health}`)).toEqual([
      "c:broken",
      "d:broken",
      "b:late",
      "e:waiting",
      "a:scanning",
    ]);
    expect(tile("c").querySelector("[data-testid=tile-state]")!.textContent).toBe("Error");
    expect(tile("c").querySelector("[data-testid=tile-reason]")!.textContent).toBe("Admin consent was revoked");
    expect(tile("d").querySelector("[data-testid=tile-state]")!.textContent).toBe("Partial");
    expect(tile("d").querySelector("[data-testid=tile-reason]")!.textContent).toBe("Audit.Exchange could not be read");
    // 5-minute scans: 30 minutes without a successful one is late, 14 is not.
    expect(tile("b").querySelector("[data-testid=tile-state]")!.textContent).toBe("Late");
    expect(tile("b").querySelector("[data-testid=tile-reason]")!.textContent).toBe("No successful scan for over 15 minutes.");
    expect(tile("a").querySelector("[data-testid=tile-state]")!.textContent).toBe("OK");
    expect(tile("a").querySelector("[data-testid=tile-reason]")).toBeNull();
    expect(tile("a").textContent).toContain("2 open alerts");
    expect(tile("e").textContent).toContain("Waiting for its first scan");
    expect(tile("a").tagName).toBe("BUTTON");
  });

  it("counts late against the scan interval from Settings", async () => {
    clockAt(nov(30, 12));
    await mount(() => {
      state.handlers.list_tenants = five;
      state.handlers.get_settings = () => settings({ scan_interval_minutes: 60 });
    });
    expect(tile("b").dataset.health).toBe("scanning");
    expect($("#health-counts").textContent).toBe("2 scanning, 0 late, 2 broken, 1 not scanned yet");
  });

  it("shows a hostile tenant name and reason as text", async () => {
    await mount(() => {
      state.handlers.list_tenants = () => [
        tenant({ tenant_id: T1, name: HOSTILE_RULE, state: "error", message: `${HOSTILE_RULE} <b>x</b>` }),
      ];
    });
    noMarkup();
    expect(tile(T1).querySelector("[data-testid=tile-name]")!.textContent).toBe(HOSTILE_RULE);
    expect(tile(T1).querySelector("[data-testid=tile-reason]")!.textContent).toBe(`${HOSTILE_RULE} <b>x</b>`);
    expect(tile(T1).querySelector("b")).toBeNull();
  });

  it("opens the Tenants page from a tile", async () => {
    await mount();
    const listed = callsOf("list_tenants").length;
    tile(T2).click();
    await flush();
    expect($("#nav-tenants").getAttribute("aria-current")).toBe("page");
    expect(visible($("#tenants-page"))).toBe(true);
    expect(document.querySelector("#overview-page")).toBeNull();
    expect(callsOf("list_tenants").length).toBeGreaterThan(listed);
  });

  it("points to the Tenants page when no tenant is watched", async () => {
    await mount(() => {
      state.handlers.overview = () => overview({ tenants: 0, sandbox: true });
      state.handlers.list_tenants = () => [];
    });
    expect($$("[data-testid=tenant-tile]")).toEqual([]);
    expect(visible($("#overview-no-tenants"))).toBe(true);
    expect(visible($("#health-counts"))).toBe(false);
    $("#overview-go-tenants").click();
    await flush();
    expect($("#nav-tenants").getAttribute("aria-current")).toBe("page");
  });

  it("keeps the tiles shown when reading them again fails", async () => {
    let fail = false;
    await mount(() => {
      state.handlers.list_tenants = () => (fail ? Promise.reject("The database is locked") : tenants());
    });
    expect($$("[data-testid=tenant-tile]")).toHaveLength(2);
    fail = true;
    await changed();
    expect($("#error-text").textContent).toBe("The database is locked");
    expect($$("[data-testid=tenant-tile]")).toHaveLength(2);
    expect(visible($("#overview-no-tenants"))).toBe(false);
  });

  it("is read again on a change", async () => {
    await mount();
    state.handlers.list_tenants = () => [...tenants(), tenant({ tenant_id: "n", name: "Northwind", state: "error", message: "Sign-in needed" })];
    await changed();
    expect($$("[data-testid=tenant-tile]")).toHaveLength(3);
    expect(tile("n").querySelector("[data-testid=tile-reason]")!.textContent).toBe("Sign-in needed");
  });
});

describe("incidents in the last 30 days", () => {
  /** Five incidents in the window, and what must be left out. */
  const incidents = (): AlertSummary[] => [
    // Incident 10: three alerts, counted once, critical, on the day of its first (28 Nov).
    alert({ id: 1, incident_id: 10, severity: "medium", event_time: nov(28, 10) }),
    alert({ id: 2, incident_id: 10, severity: "critical", event_time: nov(29, 8) }),
    alert({ id: 3, incident_id: 10, severity: "low", event_time: nov(28, 9) }),
    alert({ id: 4, incident_id: 11, severity: "high", tenant_id: T2, tenant_name: "Fabrikam", event_time: nov(30, 8) }),
    alert({ id: 5, incident_id: 12, severity: "medium", status: "false_positive", event_time: nov(30, 7) }),
    // No event time: when it was detected.
    alert({ id: 6, incident_id: 15, severity: "low", event_time: null, detected_at: nov(29, 10) }),
    // The first day of the window, just after local midnight.
    alert({ id: 7, incident_id: 16, severity: "low", event_time: nov(1, 0, 30) }),
    // Left out: suppressed (no incident), before the window, and an incident that began before it.
    alert({ id: 8, incident_id: null, severity: "critical", status: "suppressed", event_time: nov(30, 9) }),
    alert({ id: 9, incident_id: 13, severity: "critical", event_time: new Date(2026, 9, 31, 23, 30).toISOString() }),
    alert({ id: 20, incident_id: 14, severity: "critical", event_time: nov(2, 9) }),
    alert({ id: 21, incident_id: 14, severity: "high", event_time: new Date(2026, 9, 26, 9).toISOString() }),
  ];

  it("counts each incident once, at its gravest, on the day of its first alert", async () => {
    clockAt(nov(30, 12));
    await mount(() => (state.handlers.stored_alerts = incidents));
    const days = $$("[data-testid=chart-day]");
    expect(days).toHaveLength(30);
    expect(days[0].dataset.day).toBe("2026-11-01");
    expect(days[29].dataset.day).toBe("2026-11-30");
    expect(segments()).toEqual([
      "2026-11-01 low 1",
      "2026-11-28 critical 1",
      "2026-11-29 low 1",
      "2026-11-30 high 1",
      "2026-11-30 medium 1",
    ]);
    expect(days.reduce((n, d) => n + Number(d.dataset.total), 0)).toBe(5);
    // The chart asks for the incidents begun since its first local day, never every alert.
    expect(callsOf("recent_incidents").at(-1)!.args!.since).toBe(new Date(2026, 10, 1).toISOString());
    const critical = $(`[data-testid=chart-segment][data-day="2026-11-28"]`);
    expect(critical.querySelector("title")!.textContent).toBe("2026-11-28: 1 critical");
    // Critical at the bottom of a stacked bar: the high segment sits below the medium one.
    const [high, medium] = $$(`[data-testid=chart-segment][data-day="2026-11-30"]`);
    expect(high.dataset.severity).toBe("high");
    expect(Number(high.getAttribute("y"))).toBeGreaterThan(Number(medium.getAttribute("y")));
    const summary = "5 incidents in the last 30 days: 1 critical, 1 high, 1 medium, 2 low.";
    expect($("#incident-chart-svg").getAttribute("aria-label")).toBe(summary);
    expect($("#incident-chart-svg").getAttribute("role")).toBe("img");
    expect($("#incident-summary").textContent).toBe(summary);
    expect($$("[data-testid=legend-item]").map((l) => l.textContent)).toEqual(["Critical 1", "High 1", "Medium 1", "Low 2"]);
    // The screen-reader table lists the days with incidents.
    expect($$("[data-testid=chart-table] tbody tr").map((r) => Array.from(r.children, (c) => c.textContent).join(" "))).toEqual([
      "2026-11-01 0 0 0 1 1",
      "2026-11-28 1 0 0 0 1",
      "2026-11-29 0 0 0 1 1",
      "2026-11-30 0 1 1 0 2",
    ]);
    expect(visible($("#incidents-empty"))).toBe(false);
  });

  it("counts local days, not UTC ones", async () => {
    // Auckland is 13 hours ahead in November: 08:00 there on 30 Nov is 29 Nov in UTC.
    vi.stubEnv("TZ", "Pacific/Auckland");
    try {
      expect(new Date(nov(30, 8)).getUTCDate()).toBe(29);
      clockAt(nov(30, 12));
      await mount(() => (state.handlers.stored_alerts = () => [alert({ id: 1, event_time: nov(30, 8) })]));
      expect(segments()).toEqual(["2026-11-30 high 1"]);
      expect($$("[data-testid=chart-day]").at(-1)!.dataset.day).toBe("2026-11-30");
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("breaks them down by tenant, most first", async () => {
    clockAt(nov(30, 12));
    await mount(() => (state.handlers.stored_alerts = incidents));
    const rows = $$("[data-testid=tenant-incidents]");
    expect(rows.map((r) => r.dataset.tenantId)).toEqual([T1, T2]);
    expect(rows.map((r) => r.querySelector("[data-testid=tenant-incidents-name]")!.textContent)).toEqual(["Contoso", "Fabrikam"]);
    expect(rows.map((r) => r.querySelector("[data-testid=tenant-incidents-count]")!.textContent)).toEqual(["4", "1"]);
    expect(rows[0].querySelector("[data-testid=tenant-incidents-count]")!.getAttribute("aria-label")).toBe(
      "4 incidents: 1 critical, 1 medium, 2 low",
    );
    // The bar is as long as the count allows: the top tenant's fills it.
    const widths = Array.from(rows[0].querySelectorAll("rect"), (r) => Number(r.getAttribute("width")));
    expect(widths.reduce((a, b) => a + b, 0)).toBeCloseTo(100);
    expect(Number(rows[1].querySelector("rect")!.getAttribute("width"))).toBeCloseTo(25);
  });

  it("lists only the top 8 tenants", async () => {
    clockAt(nov(30, 12));
    await mount(() => {
      state.handlers.stored_alerts = () =>
        Array.from({ length: 10 }, (_, i) =>
          Array.from({ length: i + 1 }, (_, j) =>
            alert({ id: i * 100 + j, incident_id: i * 100 + j, tenant_id: `t${i}`, tenant_name: `Tenant ${i}`, event_time: nov(20) }),
          ),
        ).flat();
    });
    const rows = $$("[data-testid=tenant-incidents]");
    expect(rows.map((r) => r.dataset.tenantId)).toEqual(["t9", "t8", "t7", "t6", "t5", "t4", "t3", "t2"]);
    expect($("#by-tenant-title").textContent).toBe("Tenants with the most incidents (top 8)");
  });

  it("shows hostile tenant names in the breakdown and tooltips as text", async () => {
    clockAt(nov(30, 12));
    await mount(() => (state.handlers.stored_alerts = () => [alert({ id: 1, tenant_name: HOSTILE_RULE, event_time: nov(30, 9) })]));
    noMarkup();
    expect($("[data-testid=tenant-incidents-name]").textContent).toBe(HOSTILE_RULE);
    expect($("[data-testid=tenant-incidents] rect title").textContent).toBe(`${HOSTILE_RULE}: 1 high`);
  });

  it("says so when there is no incident in the last 30 days", async () => {
    clockAt(nov(30, 12));
    await mount(() => (state.handlers.stored_alerts = () => incidents().filter((a) => [8, 9, 20, 21].includes(a.id))));
    expect(visible($("#incidents-empty"))).toBe(true);
    expect($("#incidents-empty").textContent).toBe("No incidents in the last 30 days.");
    expect(visible($("#incident-chart"))).toBe(false);
    expect($$("[data-testid=chart-segment]")).toEqual([]);
    expect($$("[data-testid=tenant-incidents]")).toEqual([]);
  });

  it("says so with no alerts at all", async () => {
    await mount(() => (state.handlers.stored_alerts = () => []));
    expect(visible($("#incidents-empty"))).toBe(true);
    expect(visible($("#incidents-by-tenant"))).toBe(false);
  });
});
