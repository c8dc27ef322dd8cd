import { afterEach, describe, expect, it } from "vitest";
import { $, alerts, flush, mount, openAlerts, overview, rowIds, unmount, visible } from "./fixtures";
import { callsOf, state } from "./tauri-mock";
import { scanStateText, locationText } from "../src/format";

afterEach(() => unmount());

describe("first run", () => {
  it("explains Rulewatch and starts the sandbox when no tenant is set up", async () => {
    let started = false;
    await mount(() => {
      state.handlers.overview = () => (started ? overview({ sandbox: true, tenants: 2 }) : overview({ tenants: 0, open_alerts: 0, last_scan_at: null, next_scan_at: null }));
      state.handlers.stored_alerts = () => (started ? alerts() : []);
      state.handlers.start_sandbox = () => {
        started = true;
        return null;
      };
    });
    expect(visible($("#first-run"))).toBe(true);
    expect(visible($("#alert-list"))).toBe(false);
    expect(visible($("#sandbox-banner"))).toBe(false);
    const text = $("#first-run").textContent!;
    expect(text).toMatch(/Nothing real is touched/);
    expect(text).toMatch(/ActivityFeed\.Read/);
    expect(text).toMatch(/Domain\.Read\.All/);
    expect(text).toMatch(/admin consent/);
    expect($("#start-sandbox").textContent).toBe("Watch the sandbox tenant");

    $("#start-sandbox").click();
    await flush();
    expect(callsOf("start_sandbox")).toHaveLength(1);
    expect(visible($("#first-run"))).toBe(false);
    expect(visible($("#sandbox-banner"))).toBe(true);
    expect($("#sandbox-banner").textContent).toMatch(/SANDBOX/);
    expect(rowIds()).toEqual([5, 4, 3]);
  });

  it("leads to the Tenants page to add a real tenant", async () => {
    await mount(() => (state.handlers.overview = () => overview({ tenants: 0 })));
    $("#first-run-tenants").click();
    await flush();
    expect($("#nav-tenants").getAttribute("aria-current")).toBe("page");
    expect(visible($("#add-tenant-form"))).toBe(true);
  });

  it("is not shown in sandbox mode or once a tenant exists", async () => {
    await openAlerts(() => (state.handlers.overview = () => overview({ tenants: 0, sandbox: true })));
    expect(visible($("#first-run"))).toBe(false);
    await openAlerts();
    expect(visible($("#first-run"))).toBe(false);
  });
});

describe("header", () => {
  it("names the endpoint override's host in a banner that stays while it is set", async () => {
    await mount();
    expect(visible($("#endpoints-banner"))).toBe(false);
    await mount(() => (state.handlers.overview = () => overview({ endpoints_override: "sandbox.example:8443" })));
    expect(visible($("#endpoints-banner"))).toBe(true);
    expect($("#endpoints-banner").textContent).toMatch(/NOT MICROSOFT.*sandbox\.example:8443/);
    for (const page of ["#nav-tenants", "#nav-settings", "#nav-alerts"]) {
      $(page).click();
      await flush();
      expect(visible($("#endpoints-banner"))).toBe(true);
    }
  });

  it("shows the scan state in words", async () => {
    await mount(() => (state.handlers.overview = () => overview({ scanning: { done: 2, total: 5 } })));
    expect($("#scan-state").textContent).toBe("Scanning 2/5 tenants…");
    const throttled = scanStateText(overview({ scanning: { done: 2, total: 5, throttled_until: "2026-11-27T11:42:07Z" } }));
    expect(throttled.text).toMatch(/^Scanning 2\/5 tenants… Microsoft is throttling: waiting until \d\d?[:.]\d\d[:.]07/);
    expect($<HTMLButtonElement>("#scan-now").disabled).toBe(true);
    expect(scanStateText(overview()).text).toMatch(/^Last scan \d\d?[:.]\d\d.*· next \d\d?[:.]\d\d/);
    expect(scanStateText(overview({ paused_until: "2026-11-27T11:42:00Z" })).text).toMatch(/^Paused until /);
    expect(scanStateText(overview({ error: true }))).toEqual({ text: "Error: a tenant cannot be scanned", error: true });
  });

  it("Scan now asks for a scan", async () => {
    await mount();
    expect($<HTMLButtonElement>("#scan-now").disabled).toBe(false);
    $("#scan-now").click();
    await flush();
    expect(callsOf("scan_now")).toHaveLength(1);
  });

  it("shows a rejected command's message in #error, as text", async () => {
    await mount(() => {
      state.handlers.scan_now = () => {
        throw "A scan is already running <b>now</b>";
      };
    });
    expect(visible($("#error"))).toBe(false);
    $("#scan-now").click();
    await flush();
    expect(visible($("#error"))).toBe(true);
    expect($("#error-text").textContent).toBe("A scan is already running <b>now</b>");
    expect($("#error").querySelector("b")).toBeNull();
    $("#error-dismiss").click();
    expect(visible($("#error"))).toBe(false);
  });

  it("shows a failed status change in #error", async () => {
    await openAlerts(() => {
      state.handlers.set_alert_status = () => Promise.reject("The alert no longer exists");
    });
    $(`[data-testid=alert-row][data-alert-id="5"]`).click();
    await flush();
    $("#mark-acknowledged").click();
    await flush();
    expect($("#error-text").textContent).toBe("The alert no longer exists");
  });

  it("keeps a desktop error's kind on the box and shows only its message", async () => {
    await mount(() => {
      state.handlers.scan_now = () => Promise.reject({ kind: "local_database", message: "the local database failed: disk full" });
    });
    $("#scan-now").click();
    await flush();
    expect($("#error-text").textContent).toBe("the local database failed: disk full");
    expect($("#error").dataset.kind).toBe("local_database");
    $("#error-dismiss").click();
    expect($("#error").dataset.kind).toBeUndefined();
  });

  it("shows a failed load in #error", async () => {
    await openAlerts(() => (state.handlers.stored_alerts = () => Promise.reject("The database is locked")));
    expect($("#error-text").textContent).toBe("The database is locked");
  });
});

describe("words", () => {
  it("writes a location with only what is known", () => {
    const base = { ip: "1", country_code: null, country: null, region: null, city: null, asn: null, network: null, hosting: null, proxy: null, source: "x" };
    expect(locationText(base)).toBe("location unknown");
    expect(locationText({ ...base, country: "France", country_code: "FR", asn: 16276, network: "OVH SAS", hosting: true })).toBe(
      "France (FR) · AS16276 OVH SAS · hosting provider",
    );
  });
});

describe("a panel the desktop makes to open somewhere", () => {
  const start = (value: unknown) => ((window as { __RULEWATCH_START__?: unknown }).__RULEWATCH_START__ = value);
  afterEach(() => delete (window as { __RULEWATCH_START__?: unknown }).__RULEWATCH_START__);

  it("opens on the alert a notification named, then says it is drawn", async () => {
    start({ alert: 4 });
    await mount();
    expect(visible($("#alert-detail"))).toBe(true);
    expect(callsOf("get_alert")[0].args).toEqual({ id: 4 });
    expect(rowIds()).toEqual([5, 4, 3]);
    // The alert and its list, read together, share one read of the rules' titles.
    expect(callsOf("rules")).toHaveLength(1);
    expect(callsOf("panel_drawn")).toHaveLength(1);
  });

  it("opens on a page by its name", async () => {
    start({ page: "settings" });
    await mount();
    expect(visible($("#settings-form"))).toBe(true);
    expect(callsOf("panel_drawn")).toHaveLength(1);
  });

  it("ignores what is not an alert id or a page's name", async () => {
    for (const odd of [{ alert: "4" }, { alert: -1 }, { alert: 1.5 }, { page: "constructor" }, { page: "__proto__" }, "alerts", 7]) {
      start(odd);
      await mount();
      expect($("#nav-overview").getAttribute("aria-current")).toBe("page");
      expect(callsOf("get_alert")).toHaveLength(0);
      unmount();
    }
  });
});
