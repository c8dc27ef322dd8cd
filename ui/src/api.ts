// The panel's only door to the app: every Tauri command and event it uses, typed.
// The Rust side is src-tauri/src/commands.rs; names and shapes must match it.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

export type Severity = "low" | "medium" | "high" | "critical";
export type AlertStatus = "open" | "acknowledged" | "false_positive" | "suppressed";

export interface Location {
  ip: string;
  country_code: string | null;
  country: string | null;
  region: string | null;
  city: string | null;
  asn: number | null;
  network: string | null;
  hosting: boolean | null;
  proxy: boolean | null;
  source: string;
}

export interface Origin {
  location: Location | null;
  familiarity: "unknown" | "known_address" | "known_network" | "new_network" | "new_country";
}

/** One alert as the list shows it. Every string may come from an attacker. */
export interface AlertSummary {
  id: number;
  tenant_id: string;
  tenant_name: string;
  rule: string;
  severity: Severity;
  operation: string;
  target: string;
  actor: string;
  client_ip: string | null;
  summary: string;
  event_time: string | null;
  detected_at: string | null;
  status: AlertStatus;
  status_note: string | null;
  suppressed_by: string | null;
  origin: Origin | null;
}

export interface AlertDetail extends AlertSummary {
  record_id: string;
  details: unknown;
  /** Every top-level field of the audit record, and each entry of Parameters, as text. */
  parameters: { name: string; value: string }[];
  /** The audit record as Microsoft served it, pretty-printed. */
  raw_record: string;
  /** Other alerts about the same mailbox, newest first. */
  related: AlertSummary[];
}

export type TenantState = "not_scanned" | "ok" | "partial" | "error";

export interface TenantStatus {
  tenant_id: string;
  name: string;
  state: TenantState;
  problem: string | null;
  message: string | null;
  last_attempt_at: string | null;
  last_success_at: string | null;
  data_complete_until: string | null;
  open_alerts: number;
}

export interface Overview {
  /** The embedded sandbox tenant is being watched instead of real tenants. */
  sandbox: boolean;
  tenants: number;
  open_alerts: number;
  scanning: { done: number; total: number } | null;
  last_scan_at: string | null;
  next_scan_at: string | null;
  paused_until: string | null;
  /** A tenant could not be scanned at the last scan. */
  error: boolean;
}

export interface NewTenant {
  tenant_id: string;
  name: string;
  client_id: string;
  /** Exactly one of the two. Sent once, straight to the OS keychain; never returned. */
  client_secret: string | null;
  certificate_pem: string | null;
}

export interface ConnectionStep {
  step: "token" | "subscription" | "domains";
  ok: boolean;
  detail: string;
}

export type GeoSetting =
  | { provider: "off" }
  | { provider: "ipstack"; key_stored: boolean }
  | { provider: "mmdb"; city: string; asn: string | null };

export interface Settings {
  scan_interval_minutes: number;
  backfill_hours: number;
  notify: Record<Severity, boolean>;
  start_at_login: boolean;
  sign_ins: boolean;
  geo: GeoSetting;
}

/** What the Settings page sends: the ipstack key only when the user typed a new one. */
export interface SettingsUpdate extends Omit<Settings, "geo"> {
  geo: { provider: "off" } | { provider: "ipstack"; key: string | null } | { provider: "mmdb"; city: string; asn: string | null };
}

export const api = {
  overview: () => invoke<Overview>("overview"),
  listAlerts: () => invoke<AlertSummary[]>("list_alerts"),
  getAlert: (id: number) => invoke<AlertDetail>("get_alert", { id }),
  setAlertStatus: (id: number, status: Exclude<AlertStatus, "suppressed">, note: string | null, trustDestination: boolean) =>
    invoke<void>("set_alert_status", { id, status, note, trustDestination }),
  scanNow: () => invoke<void>("scan_now"),
  listTenants: () => invoke<TenantStatus[]>("list_tenants"),
  addTenant: (tenant: NewTenant) => invoke<void>("add_tenant", { tenant }),
  testConnection: (tenantId: string) => invoke<ConnectionStep[]>("test_connection", { tenantId }),
  removeTenant: (tenantId: string) => invoke<void>("remove_tenant", { tenantId }),
  getSettings: () => invoke<Settings>("get_settings"),
  saveSettings: (settings: SettingsUpdate) => invoke<void>("save_settings", { settings }),
  startSandbox: () => invoke<void>("start_sandbox"),
  leaveSandbox: () => invoke<void>("leave_sandbox"),
};

/** Something stored changed (alerts, tenants, scan state): refresh what is shown. */
export const onChanged = (f: () => void): Promise<UnlistenFn> => listen("rulewatch://changed", () => f());
/** A notification (or the tray) asks to show one alert. */
export const onOpenAlert = (f: (id: number) => void): Promise<UnlistenFn> =>
  listen<number>("rulewatch://open-alert", (e) => f(e.payload));
