// Words and times as a technician reads them. Pure functions, no DOM.
import type { AlertStatus, Location, Origin, Outcome, Overview, RemediationAction, Severity, TenantState } from "./api";

/**
 * Characters that reorder or hide text: bidi embeddings, overrides, isolates and marks,
 * zero-width characters, the BOM, and the line and paragraph separators. Mirrors
 * `rulewatch_core::shown::is_invisible`.
 */
export function isInvisible(cp: number): boolean {
  return (
    (cp >= 0x202a && cp <= 0x202e) ||
    (cp >= 0x2066 && cp <= 0x2069) ||
    cp === 0x200e ||
    cp === 0x200f ||
    cp === 0x061c ||
    (cp >= 0x200b && cp <= 0x200d) ||
    cp === 0x2060 ||
    cp === 0xfeff ||
    cp === 0x2028 ||
    cp === 0x2029
  );
}

/** C0, DEL and C1 control characters (Rust's `char::is_control`). */
const isControl = (cp: number): boolean => cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f);

function showChars(text: string, controls: boolean): string {
  let out = "";
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (controls && isControl(cp)) out += `\\u{${cp.toString(16)}}`;
    else if (isInvisible(cp)) out += `<U+${cp.toString(16).toUpperCase().padStart(4, "0")}>`;
    else out += ch;
  }
  return out;
}

/**
 * Attacker-written text as it is safe to show, exactly as `rulewatch_core::shown::shown`
 * shows it: control characters escaped (`\u{1b}`), invisible characters named (`<U+202E>`).
 */
export const shown = (text: string): string => showChars(text, true);

/** Only the invisible characters named: for a `<pre>`, whose line breaks stay (h.ts). */
export const markInvisible = (text: string): string => showChars(text, false);

/** A tenant or client id as Entra shows it. */
export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const SEVERITIES: Severity[] = ["low", "medium", "high", "critical"];
export const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);

export const STATUS_LABEL: Record<AlertStatus, string> = {
  open: "Open",
  acknowledged: "Acknowledged",
  false_positive: "False positive",
  suppressed: "Suppressed",
  resolved: "Resolved",
};

// A Map, not an object: a stored action such as "constructor" must not find a prototype's member.
const REVIEW_ACTIONS = new Map<string, string>([
  ["took", "took it"],
  ["released", "released it"],
  ["note", "added a note"],
  ["open", "reopened it"],
  ["acknowledged", "acknowledged it"],
  ["false_positive", "marked it a false positive"],
  ["resolved", "resolved it"],
]);

/** A review step's action in words; one not known here ("took over from NAME") as stored. */
export const reviewActionWords = (action: string): string => REVIEW_ACTIONS.get(action) ?? action;

export const SEVERITY_LABEL: Record<Severity, string> = {
  low: "Low",
  medium: "Medium",
  high: "High",
  critical: "Critical",
};

/** Microsoft's clouds as technicians name them. */
export const CLOUD_LABEL: Record<string, string> = {
  global: "Commercial",
  gcc: "GCC",
  gcchigh: "GCC High",
  dod: "DoD",
};

export const TENANT_STATE_LABEL: Record<TenantState, string> = {
  ok: "OK",
  partial: "Partial",
  error: "Error",
  not_scanned: "Not scanned",
};

function parse(iso: string | null | undefined): Date | null {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Date and time in the user's local time zone, e.g. "27 Nov 2026, 10:42:05". */
export function localDateTime(iso: string | null | undefined): string {
  const d = parse(iso);
  if (!d) return iso ? iso : "—";
  return d.toLocaleString(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** Compact local date and time for lists, e.g. "27 Nov, 10:42". */
export function shortDateTime(iso: string | null | undefined): string {
  const d = parse(iso);
  if (!d) return iso ? iso : "—";
  return d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}

/** Hours and minutes in local time, e.g. "10:42". */
export function localTime(iso: string | null | undefined): string {
  const d = parse(iso);
  if (!d) return iso ? iso : "—";
  return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** Hours, minutes and seconds in local time, e.g. "10:42:07". */
function localSeconds(iso: string): string {
  const d = parse(iso);
  return d ? d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : iso;
}

export function scanStateText(o: Overview): { text: string; error: boolean } {
  if (o.offline) return { text: o.offline, error: true };
  if (o.scanning) {
    const { done, total, throttled_until } = o.scanning;
    const wait = throttled_until ? ` Microsoft is throttling: waiting until ${localSeconds(throttled_until)}.` : "";
    return { text: `Scanning ${done}/${total} tenants…${wait}`, error: false };
  }
  if (o.paused_until) return { text: `Paused until ${localTime(o.paused_until)}`, error: false };
  if (o.error) return { text: "Error: a tenant cannot be scanned", error: true };
  if (o.last_scan_at) {
    const next = o.next_scan_at ? ` · next ${localTime(o.next_scan_at)}` : "";
    const left = o.elsewhere > 0 ? ` · ${o.elsewhere} tenant(s) left to colleagues` : "";
    return { text: `Last scan ${localTime(o.last_scan_at)}${next}${left}`, error: false };
  }
  if (o.next_scan_at) return { text: `First scan ${localTime(o.next_scan_at)}`, error: false };
  return { text: "Not scanned yet", error: false };
}

/** "Lyon, Auvergne-Rhône-Alpes, France (FR) · AS16276 OVH SAS · VPN/proxy" */
export function locationText(l: Location): string {
  const parts: string[] = [];
  const place = [l.city, l.region, l.country].filter((x): x is string => !!x);
  let where = place.join(", ");
  if (l.country_code) where = where ? `${where} (${l.country_code})` : l.country_code;
  if (where) parts.push(where);
  const net = [l.asn !== null ? `AS${l.asn}` : null, l.network].filter((x): x is string => !!x).join(" ");
  if (net) parts.push(net);
  if (l.proxy) parts.push("VPN/proxy");
  if (l.hosting) parts.push("hosting provider");
  return parts.length ? parts.join(" · ") : "location unknown";
}

export const FAMILIARITY_TEXT: Record<Origin["familiarity"], string> = {
  unknown: "no sign-in history to compare with",
  known_address: "signed in from this address before",
  known_network: "signed in from this network before, not this address",
  new_network: "never signed in from this network before",
  new_country: "never signed in from this country before",
};

/** In the order the steps run. */
export const REMEDIATION_ACTIONS: RemediationAction[] = [
  "block-sign-in",
  "revoke-sessions",
  "reset-password",
  "disable-rule",
  "remove-rule",
  "clear-forwarding",
];

export const REMEDIATION_ACTION_LABEL: Record<RemediationAction, { text: string; hint: string }> = {
  "block-sign-in": { text: "Block sign-in", hint: "Of the alert's mailbox account; undoable" },
  "revoke-sessions": { text: "Revoke every session", hint: "Signs the account out everywhere" },
  "reset-password": { text: "Reset the password", hint: "A new random password, shown once, to be changed at next sign-in" },
  "disable-rule": { text: "Disable the alert's inbox rule", hint: "Keeps it as evidence; undoable" },
  "remove-rule": { text: "Remove the alert's inbox rule", hint: "Deletes evidence; off unless you choose it" },
  "clear-forwarding": { text: "Clear mailbox forwarding", hint: "When the mailbox forwards mail; undoable" },
};

export const OUTCOME_WORDS: Record<Outcome, string> = {
  done: "done ✓",
  already_so: "already so",
  skipped: "skipped",
  failed: "failed ✗",
  sent_not_visible: "sent, not yet visible — check again",
};
