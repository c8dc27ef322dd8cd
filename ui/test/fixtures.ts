import type { AlertDetail, AlertSummary, Overview, Settings, TenantStatus } from "../src/api";
import { startApp, type App } from "../src/app";
import { resetMock, state } from "./tauri-mock";

export const HOSTILE_RULE = "<img src=x onerror=alert(1)>";
export const HOSTILE_SUMMARY = '<script>alert("summary")</script> forwards mail to evil@example.net';
export const HOSTILE_RAW = '{\n  "Name": "</pre><img src=x onerror=alert(2)>"\n}';

export const T1 = "11111111-1111-1111-1111-111111111111";
export const T2 = "22222222-2222-2222-2222-222222222222";

export function overview(over: Partial<Overview> = {}): Overview {
  return {
    sandbox: false,
    tenants: 2,
    open_alerts: 2,
    scanning: null,
    last_scan_at: "2026-11-27T10:42:00Z",
    next_scan_at: "2026-11-27T10:47:00Z",
    paused_until: null,
    error: false,
    ...over,
  };
}

export function alert(over: Partial<AlertSummary> & { id: number }): AlertSummary {
  return {
    tenant_id: T1,
    tenant_name: "Contoso",
    rule: "forward_external",
    severity: "high",
    operation: "New-InboxRule",
    target: "ceo@contoso.com",
    actor: "ceo@contoso.com",
    client_ip: "203.0.113.9",
    summary: "A rule forwards mail outside the company",
    event_time: "2026-11-27T10:40:00Z",
    detected_at: "2026-11-27T10:42:00Z",
    status: "open",
    status_note: null,
    suppressed_by: null,
    origin: null,
    ...over,
  };
}

/** Newest first, as list_alerts returns them. */
export function alerts(): AlertSummary[] {
  return [
    alert({ id: 5, severity: "critical", rule: HOSTILE_RULE, summary: HOSTILE_SUMMARY, target: "cfo@contoso.com" }),
    alert({ id: 4, severity: "medium", tenant_id: T2, tenant_name: "Fabrikam", target: "ap@fabrikam.com", client_ip: "198.51.100.7", rule: "delete_rule" }),
    alert({ id: 3, severity: "low", status: "acknowledged", target: "hr@contoso.com", rule: "mark_read_rule" }),
    alert({ id: 2, severity: "high", status: "false_positive", target: "sales@contoso.com" }),
    alert({ id: 1, severity: "critical", status: "suppressed", suppressed_by: "destination partner.example", target: "ceo@contoso.com" }),
  ];
}

export function detail(over: Partial<AlertDetail> & { id: number }): AlertDetail {
  const base = alerts().find((a) => a.id === over.id) ?? alert({ id: over.id });
  return {
    ...base,
    record_id: `rec-${over.id}`,
    details: { destinations: ["evil@example.net"] },
    parameters: [
      { name: "Name", value: HOSTILE_RULE },
      { name: "ForwardTo", value: "evil@example.net" },
    ],
    raw_record: HOSTILE_RAW,
    related: [],
    origin: {
      location: {
        ip: "203.0.113.9",
        country_code: "NL",
        country: "Netherlands",
        region: "North Holland",
        city: "Amsterdam",
        asn: 64500,
        network: "Example Hosting BV",
        hosting: false,
        proxy: true,
        source: "ipstack",
      },
      familiarity: "new_country",
    },
    ...over,
  };
}

export function tenants(): TenantStatus[] {
  return [
    {
      tenant_id: T1,
      name: "Contoso",
      state: "ok",
      problem: null,
      message: null,
      last_attempt_at: "2026-11-27T10:42:00Z",
      last_success_at: "2026-11-27T10:42:00Z",
      data_complete_until: "2026-11-27T10:30:00Z",
      open_alerts: 1,
    },
    {
      tenant_id: T2,
      name: "Fabrikam",
      state: "error",
      problem: "consent",
      message: "Admin consent was revoked",
      last_attempt_at: "2026-11-27T10:42:00Z",
      last_success_at: null,
      data_complete_until: null,
      open_alerts: 1,
    },
  ];
}

export function settings(over: Partial<Settings> = {}): Settings {
  return {
    scan_interval_minutes: 5,
    backfill_hours: 24,
    notify: { low: false, medium: true, high: true, critical: true },
    start_at_login: true,
    sign_ins: false,
    geo: { provider: "ipstack", key_stored: true },
    ...over,
  };
}

/** Default answers for every command; tests override what they look at. */
export function defaultHandlers(): void {
  state.handlers = {
    overview: () => overview(),
    list_alerts: () => alerts(),
    get_alert: (a) => detail({ id: a!.id as number }),
    set_alert_status: () => null,
    scan_now: () => null,
    list_tenants: () => tenants(),
    add_tenant: () => null,
    test_connection: () => [],
    remove_tenant: () => null,
    get_settings: () => settings(),
    save_settings: () => null,
    start_sandbox: () => null,
    leave_sandbox: () => null,
  };
}

/** Lets every pending promise and zero-delay timer run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
}

let current: App | null = null;
/** A fresh panel on default answers; `configure` changes answers before it starts. */
export async function mount(configure?: () => void): Promise<App> {
  current?.destroy();
  resetMock();
  defaultHandlers();
  configure?.();
  document.body.replaceChildren();
  const root = document.createElement("div");
  root.id = "app";
  document.body.appendChild(root);
  current = startApp(root);
  await flush();
  return current;
}

export function unmount(): void {
  current?.destroy();
  current = null;
}

export const $ = <T extends HTMLElement = HTMLElement>(sel: string): T => {
  const el = document.querySelector<T>(sel);
  if (!el) throw new Error(`no element ${sel}`);
  return el;
};
export const $$ = <T extends HTMLElement = HTMLElement>(sel: string): T[] => Array.from(document.querySelectorAll<T>(sel));

/** Is the element shown (itself and no ancestor hidden)? */
export function visible(el: Element | null): boolean {
  for (let e: Element | null = el; e; e = e.parentElement) if ((e as HTMLElement).hidden) return false;
  return !!el && el.isConnected;
}

export function rowIds(): number[] {
  return $$("[data-testid=alert-row]").map((r) => Number(r.dataset.alertId));
}

export function setValue(el: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, value: string): void {
  el.value = value;
  el.dispatchEvent(new Event(el instanceof HTMLSelectElement ? "change" : "input", { bubbles: true }));
}
