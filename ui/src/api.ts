// The panel's only door to the app: every Tauri command and event it uses, typed.
// The Rust side is src-tauri/src/commands.rs; names and shapes must match it.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

export type Severity = "low" | "medium" | "high" | "critical";
export type AlertStatus = "open" | "acknowledged" | "false_positive" | "suppressed" | "resolved";

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

export type ChannelKind = "webhook" | "teams" | "slack";

/** An e-mail channel's relay and addresses; its password travels apart and goes to the keychain. */
export interface EmailChannel {
  host: string;
  port: number;
  security: "starttls" | "tls" | "none";
  username: string | null;
  from: string;
  to: string[];
  /** Local time of day ("07:30") for one digest a day; null: a message per change. */
  digest_at: string | null;
  /** A CA certificate (PEM) trusted for this relay besides the system's. */
  ca_pem?: string;
}

/** How Rulewatch signs in to a PSA, less the secret (which goes to the keychain). */
export type PsaAccount =
  | { vendor: "connectwise"; company_id: string; public_key: string; client_id: string }
  | { vendor: "autotask"; username: string; integration_code: string }
  | { vendor: "halo"; client_id: string; tenant: string | null };

/** The PSA a channel files tickets in; also its channel kind. */
export type PsaVendor = PsaAccount["vendor"];

/** A PSA channel's settings; every id is the PSA's own. */
export interface PsaConfig {
  /** ConnectWise's site (https://api-na.myconnectwise.net), Autotask's zone look-up
   * (https://webservices.autotask.net), Halo's address (https://msp.halopsa.com). */
  base_url: string;
  account: PsaAccount;
  /** The company a tenant without a confirmed one files under. */
  default_company: number;
  /** ConnectWise's board, Autotask's queue, Halo's team. */
  board: number;
  /** At least one; a severity without one takes the nearest graver one's. */
  priorities: Partial<Record<Severity, number>>;
  ticket_type: number | null;
  /** Autotask only: a new ticket's status (null: 1, New). */
  status: number | null;
  /** Autotask's note type / Halo's action outcome (required by both). */
  note_kind: number | null;
  /** Autotask only: the note publish value (required there). */
  note_publish: number | null;
}

/** A company as the PSA lists it. Its name is the PSA's text, shown as text. */
export interface PsaCompany {
  id: number;
  name: string;
}

/** A tenant's company in a PSA channel: the confirmed one, and the one its name suggests. */
export interface CompanyMatch {
  tenant_id: string;
  tenant_name: string;
  mapped: PsaCompany | null;
  suggested: PsaCompany | null;
}

/** Which incidents a channel receives; empty lists mean every tenant. */
export interface ChannelRoute {
  min_severity?: Severity;
  tenants: string[];
  exclude_tenants: string[];
  /** Local hours when only critical incidents are sent ("22:00" to "07:00"). */
  quiet_hours?: { start: string; end: string };
}

/** One delivery channel's queue (this desktop's notifications, `rulewatch scan`'s output). */
export interface ChannelHealth {
  name: string;
  kind: "desktop" | "scan" | "watch" | ChannelKind | "email" | PsaVendor;
  /** Alerts waiting for it. */
  queued: number;
  last_delivered_at: string | null;
  /** Its latest failure, when it came after its last success. */
  last_error: string | null;
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
  /** The incident it belongs to: one mailbox's alerts within a day (null when suppressed). */
  incident_id: number | null;
  status: AlertStatus;
  status_note: string | null;
  suppressed_by: string | null;
  origin: Origin | null;
  /** The technician who took it, while they hold it. */
  assignee: string | null;
  /** The UPN Exchange gave when the record named the mailbox by GUID or alias. */
  mailbox: string | null;
}

/** Which statuses the alert list shows: "active" is open or acknowledged. */
export type StatusFilter = "active" | "all" | AlertStatus;
/** Whose alerts the list shows: "mine" is what this workstation's technician holds (the desktop knows who). */
export type HeldBy = "anyone" | "mine" | "nobody";

/** One page of the alert list and its filters, as alert_page takes it. */
export interface AlertQuery {
  status: StatusFilter;
  /** This severity or graver; null: any. */
  severity: Severity | null;
  /** One tenant's id; null: every tenant. */
  tenant: string | null;
  /** Found in the summary, mailbox, actor, tenant name, rule id or IP address, ASCII letters in any case;
   * `%` and `_` are themselves. Blank: no search. */
  search: string;
  held_by: HeldBy;
  /** How many matching alerts come before the page. */
  offset: number;
  /** How many alerts the page holds (the desktop gives at most 500). */
  limit: number;
}

/** A page of the alert list, as alert_page answers it. */
export interface AlertPage {
  /** Newest event first. */
  alerts: AlertSummary[];
  /** How many alerts match the filters, on every page. */
  total: number;
  /** Where the page starts: the offset asked for, or the last page's when fewer alerts match now. */
  offset: number;
  /** Every alert's tenant, whatever the filters: the tenant filter's options. Names come from alerts: text. */
  tenants: { tenant_id: string; tenant_name: string }[];
}

/** One mailbox's alerts within 24 hours, as list_incidents answers it. */
/** When an incident began, how grave it is and whose, as recent_incidents answers it. */
export interface IncidentStart {
  id: number;
  tenant_id: string;
  tenant_name: string;
  /** The gravest of its alerts'. */
  severity: Severity;
  /** When its first alert's change was made. */
  first_event: string;
}

export interface Incident {
  /** The incident's number: an alert's `incident_id`. */
  id: number;
  /** Its stable key (a UUID): what resolve_incident takes. */
  key: string;
  tenant_id: string;
  tenant_name: string;
  /** The mailbox (lower-case), or a fan-in's outside address. */
  subject: string;
  /** One line about its gravest alert. Attacker-influenced: shown as text. */
  title: string;
  severity: Severity;
  status: "open" | "resolved";
  first_event: string | null;
  last_event: string | null;
  resolved_at: string | null;
  /** What the technician said on resolving it; shown as text. */
  resolution_note: string | null;
  /** Its alerts, oldest first: the detail's timeline reads these fields of core's shape. */
  alerts: IncidentAlert[];
}

/** An incident's alert, as its timeline shows it. Summary is attacker-influenced: shown as text. */
export interface IncidentAlert {
  id: number;
  rule: string;
  severity: Severity;
  status: AlertStatus;
  summary: string;
  event_time: string | null;
  detected_at: string | null;
}

export interface AlertDetail extends AlertSummary {
  record_id: string;
  details: unknown;
  /** The outside addresses its evidence names: what a false positive can trust. */
  destinations: string[];
  /** Every top-level field of the audit record, and each entry of Parameters, as text. */
  parameters: { name: string; value: string }[];
  /** The audit record as Microsoft served it, pretty-printed. */
  raw_record: string;
  /** Other alerts about the same mailbox, newest first. */
  related: AlertSummary[];
  /** Its incident with its alerts oldest first (null when suppressed): the timeline. */
  incident: Incident | null;
}

/** One step of an alert's review. Names, actions and notes come from a database colleagues
 * share: shown as text. */
export interface HistoryEntry {
  /** RFC 3339, UTC. */
  at: string;
  technician: string;
  /** "took", "took over from NAME", "released", "note", or the status given ("resolved", …). */
  action: string;
  note: string | null;
}

/** Who is at this workstation, who holds the alert, and its review, oldest step first. */
export interface Review {
  technician: string;
  assignee: string | null;
  history: HistoryEntry[];
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
  /** Reached through the partner account: removing it excludes the customer. */
  partner: boolean;
  /** The tenant's Microsoft cloud; null when none was recorded (the installation's). */
  cloud: Cloud | null;
}

export type Cloud = "global" | "gcc" | "gcchigh" | "dod";

export interface Overview {
  /** The embedded sandbox tenant is being watched instead of real tenants. */
  sandbox: boolean;
  tenants: number;
  open_alerts: number;
  /** `throttled_until`: Microsoft is throttling and the scan waits until then. */
  scanning: { done: number; total: number; throttled_until?: string | null } | null;
  last_scan_at: string | null;
  next_scan_at: string | null;
  paused_until: string | null;
  /** A tenant could not be scanned at the last scan. */
  error: boolean;
  /** RULEWATCH_ENDPOINTS's host when set: every call goes there, not to Microsoft. */
  endpoints_override: string | null;
  /** The folder of the daily log file, when one is written. */
  log_dir: string | null;
  /** Why the store is not open (the team's database cannot be reached); the app keeps trying. */
  offline: string | null;
  /** Tenants the last scan left to colleagues' workstations: this one holds no credentials for them. */
  elsewhere: number;
}

/** The team this workstation is in, as `team_state` answers it. */
export interface TeamStatus {
  /** The team's database, without its password. */
  url: string;
  sslmode: "disable" | "require" | "verify-ca" | "verify-full";
  workstation: string;
  joined_at: string;
  technicians: { technician: string; on_duty: boolean; since: string }[];
  leases: { key: string; holder: string; until: string }[];
  tenants: { tenant_id: string; name: string; last_success_at: string | null }[];
}

/** What copying this computer's records into the team added (what it had already is not counted). */
export interface Migrated {
  tenants: number;
  allowlist: number;
  alerts: number;
  steps: number;
}

export interface NewTenant {
  tenant_id: string;
  name: string;
  client_id: string;
  /** Exactly one of the two. Sent once, straight to the OS keychain; never returned. */
  client_secret: string | null;
  certificate_pem: string | null;
  /** The MSP's own tenant id, sent only while `mspTenant()` asks for it; stored once. */
  msp_tenant_id?: string;
  /** The tenant's cloud; absent: Rulewatch asks Microsoft. */
  cloud?: Cloud;
}

/** Whether the add form asks for the MSP's own tenant id (Microsoft's PublisherIdentifier). */
export interface MspTenant {
  msp_tenant_id: string | null;
  /** True while none is known: not stored, not set by the environment, no partner sign-in. */
  ask: boolean;
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
  /** Days an alert keeps its raw audit record; the alert itself is kept for ever. */
  raw_retention_days: number;
  /** What saving accepts, lowest and highest: the form offers and checks the same. */
  bounds: { scan_interval_minutes: [number, number]; backfill_hours: [number, number]; raw_retention_days: [number, number] };
  /** Which severities notify, and whether an alert a colleague has taken does too. */
  notify: Record<Severity, boolean> & { colleagues_taken: boolean };
  start_at_login: boolean;
  sign_ins: boolean;
  geo: GeoSetting;
  /** Steps Secure and Remediate checks by default. */
  remediation_defaults: RemediationAction[];
}

/** What the Settings page sends: the ipstack key only when the user typed a new one. */
export interface SettingsUpdate extends Omit<Settings, "geo" | "bounds"> {
  geo: { provider: "off" } | { provider: "ipstack"; key: string | null } | { provider: "mmdb"; city: string; asn: string | null };
}

export type RemediationAction =
  | "block-sign-in"
  | "revoke-sessions"
  | "reset-password"
  | "disable-rule"
  | "remove-rule"
  | "clear-forwarding";

export interface Forwarding {
  forwarding_smtp_address: string | null;
  forwarding_address: string | null;
  deliver_to_mailbox_and_forward: boolean;
}

/** A rule in the mailbox now. Name and description may come from an attacker. */
export interface LiveRule {
  identity: string;
  name: string;
  enabled: boolean;
  /** What the rule does, in Rulewatch's words. */
  description: string;
  /** What detection finds in it ("inbox-rule-external-forward: …"). */
  marks: string[];
  /** The rule the alert is about. */
  about_alert: boolean;
  /** Exchange's own rule (junk mail, out of office): never offered. */
  system: boolean;
}

export interface PlannedStep {
  /** Names the step in `remediate`. */
  key: string;
  action: RemediationAction;
  /** The account or mailbox the step changes. */
  account: string;
  rule_identity: string | null;
  rule_name: string | null;
  label: string;
  /** The state read live, in words. */
  current: string;
  /** Checked by default (configurable in Settings). */
  selected: boolean;
  warning: string | null;
}

export interface Plan {
  alert_id: number;
  tenant_id: string;
  tenant_name: string;
  /** The mailbox's UPN, as Microsoft resolved the alert's target. */
  mailbox: string;
  /** The alert's own name for the mailbox (GUID, alias or another address), when not the UPN. */
  resolved_from: string | null;
  /** The owner's Entra object id, when Microsoft gave it. */
  mailbox_id: string | null;
  actor: string;
  /** The change was made by another account; its steps are offered unchecked. */
  actor_differs: boolean;
  /** Why the account that made the change is not offered (another tenant's: GDAP, guest). */
  actor_not_offered: string | null;
  account_enabled: boolean | null;
  synced_from_on_premises: boolean;
  forwarding: Forwarding | null;
  rules: LiveRule[];
  /** Reads that failed, in words. */
  problems: string[];
  steps: PlannedStep[];
}

/** `sent_not_visible`: Microsoft accepted the change, but reading it back did not show it yet. */
export type Outcome = "done" | "already_so" | "skipped" | "failed" | "sent_not_visible";

export interface StepResult {
  /** The remediation-log row; `undoStep` takes it. */
  action_id: number;
  key: string;
  /** An action, or "undo-<action>". */
  action: string;
  account: string;
  rule_name: string | null;
  outcome: Outcome;
  detail: string;
  warning: string | null;
  reversible: boolean;
  /** Only on a done reset-password step, once: show it, offer copy, never keep it. */
  password: string | null;
}

/** What undoing a step puts back, read from its verified record. */
export interface UndoPreview {
  action_id: number;
  mailbox: string;
  /** e.g. "forward all mail from … to x@evil.example again". */
  restores: string;
  /** Outside addresses mail goes to again: asked a second time. */
  outside: string[];
}

/** One row of the hash-chained remediation log. */
export interface LogEntry {
  id: number;
  at: string;
  os_user: string;
  machine: string;
  /** The partner account used, when not the app's own sign-in. */
  operator: string | null;
  tenant_id: string;
  mailbox: string;
  alert_id: number | null;
  action: string;
  request: string;
  before: unknown;
  after: unknown;
  result: Outcome;
  detail: string;
  undoes: number | null;
  prev_hash: string;
  hash: string;
}

/** The signed-in partner (GDAP) account; never its tokens. */
export interface PartnerAccount {
  tenant_id: string;
  client_id: string;
  /** Who signed in. */
  upn: string;
  signed_in_at: string;
  refreshed_at: string;
  refresh_expires_at: string | null;
}

/** One customer the partner account reaches. Names come from Microsoft, shown as text. */
export interface Customer {
  tenant_id: string;
  name: string;
  /** Scanned by Rulewatch. */
  watched: boolean;
  /** Kept out of "watch all" by the technician. */
  excluded: boolean;
  /** The roles the partner's GDAP relationships grant in it; null when they could not be read. */
  gdap_roles: string[] | null;
  /** The last scan's state, null before the first. */
  access: TenantState | null;
  /** e.g. "consent_missing", "sign_in_needed", "permission_missing". */
  problem: string | null;
  /** What is missing and how to grant it. */
  message: string | null;
}

export interface PartnerState {
  account: PartnerAccount | null;
  /** New customers are watched automatically (on by default). */
  watch_all: boolean;
  customers: Customer[];
  /** Why the customers could not be listed last time, or the sign-in lapsed. */
  problem: string | null;
  /** The problem's kind; "sign_in_needed" when only a new sign-in helps. */
  problem_kind: string | null;
}

/** A detection rule as it describes itself (the registry in crates/detect). */
export interface RuleInfo {
  id: string;
  title: string;
  notification: string;
  description: string;
  false_positives: string;
  /** MITRE ATT&CK technique id, e.g. T1114.003. */
  attack: string;
  severity: string;
  quieted_by: string[];
  references: string[];
}

/** What an allowlist entry trusts. */
export type TrustKind = "destination" | "rule_name" | "application" | "rule";

/** One allowlist entry, as stored. */
export interface TrustEntry {
  id: number;
  /** Null: every tenant. */
  tenant_id: string | null;
  /** The one account (mailbox or user) it applies to; null: every account. */
  account: string | null;
  kind: TrustKind;
  value: string;
  reason: string | null;
  added_at: string | null;
  added_by: string | null;
  /** Null: until it is removed. */
  expires_at: string | null;
}

/** An allowlist entry as the technician asks for it; core checks and normalises it. */
export interface TrustRequest {
  tenant_id: string | null;
  account: string | null;
  kind: TrustKind;
  value: string;
  reason: string;
  /** A date (2027-01-31), a time (RFC 3339) or a span from now (12h, 30d, 2w); null: until removed. */
  expires: string | null;
}

/** A rule's severity as the MSP set it, for one tenant or (null) every tenant. */
export interface SeverityOverride {
  rule: string;
  tenant_id: string | null;
  severity: Severity;
}

/** Settings → Rules and allowlist. */
export interface Tuning {
  allowlist: TrustEntry[];
  severities: SeverityOverride[];
}

export const api = {
  rules: () => invoke<RuleInfo[]>("rules"),
  tuning: () => invoke<Tuning>("tuning"),
  /** `tenantId` null: every tenant; `severity` null: back to the rule's own. Answers every severity set. */
  setRuleSeverity: (rule: string, tenantId: string | null, severity: Severity | null) =>
    invoke<SeverityOverride[]>("set_rule_severity", { rule, tenantId, severity }),
  trust: (request: TrustRequest) => invoke<TrustEntry>("trust", { request }),
  untrust: (id: number) => invoke<TrustEntry>("untrust", { id }),
  overview: () => invoke<Overview>("overview"),
  /** The incidents begun at or after `since` (an ISO instant), oldest first: the overview's chart. */
  recentIncidents: (since: string) => invoke<IncidentStart[]>("recent_incidents", { since }),
  /** One page of the alert list, filtered in the desktop's store. */
  alertPage: (query: AlertQuery) => invoke<AlertPage>("alert_page", { query }),
  deliveryChannels: () => invoke<ChannelHealth[]>("delivery_channels"),
  addChannel: (kind: ChannelKind, name: string, url: string, secret: string | null, route: ChannelRoute) =>
    invoke<null>("add_channel", { kind, name, url, secret, route }),
  addEmailChannel: (name: string, config: EmailChannel, password: string | null, route: ChannelRoute) =>
    invoke<null>("add_email_channel", { name, config, password, route }),
  /** `secret`: ConnectWise's private key, Autotask's API user secret, Halo's client secret. */
  addPsaChannel: (name: string, config: PsaConfig, secret: string, route: ChannelRoute) =>
    invoke<null>("add_psa_channel", { name, config, secret, route }),
  /** Signs in to the PSA and lists its companies against each tenant; can fail. */
  psaCompanies: (name: string) => invoke<CompanyMatch[]>("psa_companies", { name }),
  /** Confirms (tenant id, company id) pairs in PSA channel `name`. */
  mapCompanies: (name: string, pairs: [string, number][]) => invoke<null>("map_companies", { name, pairs }),
  testChannel: (name: string) => invoke<null>("test_channel", { name }),
  removeChannel: (name: string) => invoke<null>("remove_channel", { name }),
  getAlert: (id: number) => invoke<AlertDetail>("get_alert", { id }),
  /** The incidents of `ids` (those that exist) with their alerts, the most recently active first. */
  listIncidents: (ids: number[]) => invoke<Incident[]>("list_incidents", { ids }),
  /** Resolves the open incident `key`; every channel told of it hears so at its next delivery.
   * Refused (rejects) when no open incident has that key. */
  resolveIncident: (key: string, note: string | null) => invoke<Incident>("resolve_incident", { key, note }),
  setAlertStatus: (id: number, status: Exclude<AlertStatus, "suppressed">, note: string | null, trustDestination: boolean) =>
    invoke<void>("set_alert_status", { id, status, note, trustDestination }),
  alertReview: (id: number) => invoke<Review>("alert_review", { id }),
  /** Refused (kind `held_by_colleague`, the message naming them) when a colleague holds it, unless `force`. */
  takeAlert: (id: number, force: boolean) => invoke<void>("take_alert", { id, force }),
  /** Refused like `takeAlert` when a colleague holds it; one nobody holds is left as it is. */
  releaseAlert: (id: number, force: boolean) => invoke<void>("release_alert", { id, force }),
  /** Refused (kind `invalid_input`) when the note is empty. */
  noteAlert: (id: number, note: string) => invoke<void>("note_alert", { id, note }),
  scanNow: () => invoke<void>("scan_now"),
  listTenants: () => invoke<TenantStatus[]>("list_tenants"),
  /** Answers where the tenant is read, in words ("in the GCC cloud"). */
  addTenant: (tenant: NewTenant) => invoke<string>("add_tenant", { tenant }),
  mspTenant: () => invoke<MspTenant>("msp_tenant"),
  testConnection: (tenantId: string) => invoke<ConnectionStep[]>("test_connection", { tenantId }),
  removeTenant: (tenantId: string) => invoke<void>("remove_tenant", { tenantId }),
  getSettings: () => invoke<Settings>("get_settings"),
  saveSettings: (settings: SettingsUpdate) => invoke<void>("save_settings", { settings }),
  startSandbox: () => invoke<void>("start_sandbox"),
  /** Reads the live state of the alert's mailbox and account; takes a few seconds. */
  remediationPlan: (alertId: number) => invoke<Plan>("remediation_plan", { alertId }),
  /** Runs the chosen steps in order; each also arrives as an `onRemediationStep` event. */
  remediate: (alertId: number, keys: string[]) => invoke<StepResult[]>("remediate", { alertId, keys }),
  /** Refused (rejects) when the step's record was changed. */
  undoPreview: (actionId: number) => invoke<UndoPreview>("undo_preview", { actionId }),
  undoStep: (actionId: number) => invoke<StepResult>("undo_step", { actionId }),
  /** Every remediation step recorded for the alert, oldest first. */
  alertHistory: (alertId: number) => invoke<LogEntry[]>("alert_history", { alertId }),
  /** Writes the HTML incident report; answers the file's path. */
  /** One report per customer the alert concerns (a fan-in across tenants has several). */
  exportReport: (alertId: number) => invoke<string[]>("export_report", { alertId }),
  partnerState: () => invoke<PartnerState>("partner_state"),
  /** Opens Microsoft's sign-in in the default browser; resolves once signed in (up to 5 minutes). */
  partnerSignIn: (tenantId: string, clientId: string) => invoke<PartnerAccount>("partner_sign_in", { tenantId, clientId }),
  partnerSignOut: () => invoke<void>("partner_sign_out"),
  /** Lists the customers now; new ones are watched when watch-all is on. */
  refreshCustomers: () => invoke<PartnerState>("refresh_customers"),
  setWatchAll: (on: boolean) => invoke<void>("set_watch_all", { on }),
  watchCustomer: (tenantId: string) => invoke<void>("watch_customer", { tenantId }),
  excludeCustomer: (tenantId: string) => invoke<void>("exclude_customer", { tenantId }),
  leaveSandbox: () => invoke<void>("leave_sandbox"),
  /** null when this computer keeps its own file. */
  teamState: () => invoke<TeamStatus | null>("team_state"),
  /** Connects, signs in and brings the schema up to date before recording anything; `password` empty: the URL's own. */
  joinTeam: (url: string, password: string) => invoke<TeamStatus | null>("join_team", { url, password }),
  leaveTeam: () => invoke<void>("leave_team"),
  copyToTeam: () => invoke<Migrated>("copy_to_team"),
  /** The first page since the panel opened is drawn (the desktop times its opening). */
  panelDrawn: () => invoke<null>("panel_drawn"),
};

/** Something stored changed (alerts, tenants, scan state): refresh what is shown. */
export const onChanged = (f: () => void): Promise<UnlistenFn> => listen("rulewatch://changed", () => f());
/** One remediation step finished (never carries the password). */
export const onRemediationStep = (f: (step: { alert_id: number; result: StepResult }) => void): Promise<UnlistenFn> =>
  listen<{ alert_id: number; result: StepResult }>("rulewatch://remediation-step", (e) => f(e.payload));
/** A notification asks to show a page (e.g. "tenants" after the partner sign-in lapsed). */
export const onOpenPage = (f: (page: string) => void): Promise<UnlistenFn> =>
  listen<string>("rulewatch://open-page", (e) => f(e.payload));
/** A notification (or the tray) asks to show one alert. */
export const onOpenAlert = (f: (id: number) => void): Promise<UnlistenFn> =>
  listen<number>("rulewatch://open-alert", (e) => f(e.payload));
