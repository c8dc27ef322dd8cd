// Settings: scan interval, backfill, notifications, start at login, sign-ins and the
// geolocation provider, rule severities and the allowlist, the team, and the steps Secure and Remediate checks by default. The form is filled when the page is entered, never while the
// user edits it. The ipstack key is sent only when a new one was typed.
import {
  api,
  type ChannelKind,
  type ChannelRoute,
  type CompanyMatch,
  type EmailChannel,
  type PsaAccount,
  type PsaConfig,
  type PsaVendor,
  type RemediationAction,
  type Settings,
  type SettingsUpdate,
  type Severity,
} from "../api";
import type { Ctx, Page } from "../ctx";
import { h, replace, setText, type Child } from "../h";
import {
  REMEDIATION_ACTIONS,
  REMEDIATION_ACTION_LABEL,
  SEVERITIES,
  SEVERITY_LABEL,
  localDateTime,
  shortDateTime,
} from "../format";
import { labelled } from "../fields";
import { createTeamSection } from "../sections/team";
import { createTuningSection } from "../sections/tuning";

/** A table's header: one column heading per label, in order. */
const columnHeads = (...labels: Child[]): HTMLElement =>
  h("thead", null, h("tr", null, labels.map((label) => h("th", { scope: "col" }, label))));

export function createSettingsPage(ctx: Ctx): Page {
  const interval = h("input", { id: "scan-interval", type: "number", step: 1, required: true });
  const backfill = h("input", { id: "backfill-hours", type: "number", step: 1, required: true });
  const rawDays = h("input", { id: "raw-retention-days", type: "number", step: 1, required: true });
  const rawDaysHint = h("span", null);
  const intervalHint = h("span", null);
  const backfillHint = h("span", null);
  // Core's bounds, from the last settings read; the form is saved only after one.
  let bounds: Settings["bounds"] = { scan_interval_minutes: [1, 1], backfill_hours: [1, 1], raw_retention_days: [1, 1] };
  const notify = Object.fromEntries(
    SEVERITIES.map((s) => [s, h("input", { id: `notify-${s}`, type: "checkbox" })]),
  ) as Record<Severity, HTMLInputElement>;
  const remediationDefaults = Object.fromEntries(
    REMEDIATION_ACTIONS.map((a) => [a, h("input", { id: `remediation-default-${a}`, type: "checkbox" })]),
  ) as Record<RemediationAction, HTMLInputElement>;
  const colleaguesTaken = h("input", { id: "notify-colleagues-taken", type: "checkbox" });
  const startAtLogin = h("input", { id: "start-at-login", type: "checkbox" });
  const signIns = h("input", { id: "sign-ins", type: "checkbox" });
  const provider = h(
    "select",
    { id: "geo-provider" },
    h("option", { value: "off" }, "Off"),
    h("option", { value: "ipstack" }, "ipstack (online, needs a key)"),
    h("option", { value: "mmdb" }, "MaxMind database files (offline)"),
  );
  const ipstackKey = h("input", { id: "ipstack-key", type: "password", autocomplete: "off" });
  const mmdbCity = h("input", { id: "mmdb-city", type: "text", spellcheck: "false", placeholder: "/path/to/GeoLite2-City.mmdb" });
  const mmdbAsn = h("input", { id: "mmdb-asn", type: "text", spellcheck: "false", placeholder: "/path/to/GeoLite2-ASN.mmdb (optional)" });
  const message = h("p", { id: "settings-message", role: "status" });
  const saveBtn = h("button", { id: "save-settings", type: "submit", class: "primary" }, "Save settings");
  let keyStored = false;

  const check = (input: HTMLInputElement, label: string, hint?: string) =>
    h("div", { class: "field check-field" }, h("label", { class: "check" }, input, " ", label), hint ? h("div", { class: "hint" }, hint) : null);

  const ipstackBox = h("div", { id: "ipstack-fields", hidden: true }, labelled("ipstack access key", ipstackKey));
  const mmdbBox = h(
    "div",
    { id: "mmdb-fields", hidden: true },
    labelled("City database (.mmdb)", mmdbCity),
    labelled("ASN database (.mmdb, optional)", mmdbAsn),
  );
  provider.addEventListener("change", () => showProvider());
  function showProvider(): void {
    ipstackBox.hidden = provider.value !== "ipstack";
    mmdbBox.hidden = provider.value !== "mmdb";
  }

  const form = h(
    "form",
    { id: "settings-form", class: "card settings", novalidate: true },
    h(
      "fieldset",
      null,
      h("legend", null, "Scanning"),
      labelled("Scan every (minutes)", interval, intervalHint),
      labelled("On a new tenant, look back (hours)", backfill, backfillHint),
      check(signIns, "Read Entra sign-ins", "Tells whether an address is new for a mailbox; needs the sign-in audit content"),
      labelled("Keep each alert's raw audit record (days)", rawDays, rawDaysHint),
    ),
    h(
      "fieldset",
      null,
      h("legend", null, "Notify me about"),
      SEVERITIES.map((s) => check(notify[s], `${SEVERITY_LABEL[s]} alerts`)),
      check(colleaguesTaken, "Alerts a colleague has already taken", "By default what a colleague holds is theirs and rings no other desktop"),
    ),
    h("fieldset", null, h("legend", null, "Desktop"), check(startAtLogin, "Start Rulewatch when I sign in")),
    h("fieldset", null, h("legend", null, "IP geolocation"), labelled("Provider", provider), ipstackBox, mmdbBox),
    h(
      "fieldset",
      { id: "remediation-defaults" },
      h("legend", null, "Secure and Remediate"),
      h("p", { class: "hint" }, "The steps checked when a remediation plan opens. You still confirm every run."),
      REMEDIATION_ACTIONS.map((a) => check(remediationDefaults[a], REMEDIATION_ACTION_LABEL[a].text, REMEDIATION_ACTION_LABEL[a].hint)),
    ),
    h("div", { class: "actions" }, saveBtn),
    message,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void save();
  });

  function fill(s: Settings): void {
    bounds = s.bounds;
    const [iMin, iMax] = bounds.scan_interval_minutes;
    const [bMin, bMax] = bounds.backfill_hours;
    interval.min = String(iMin);
    interval.max = String(iMax);
    backfill.min = String(bMin);
    backfill.max = String(bMax);
    intervalHint.textContent = `${iMin} to ${iMax}`;
    backfillHint.textContent = `${bMin} to ${bMax}; Microsoft keeps 7 days of audit content`;
    interval.value = String(s.scan_interval_minutes);
    backfill.value = String(s.backfill_hours);
    const [rMin, rMax] = bounds.raw_retention_days;
    rawDays.min = String(rMin);
    rawDays.max = String(rMax);
    rawDaysHint.textContent = `${rMin} to ${rMax}; alerts, incidents and the remediation record are kept for ever`;
    rawDays.value = String(s.raw_retention_days);
    for (const sev of SEVERITIES) notify[sev].checked = !!s.notify[sev];
    colleaguesTaken.checked = !!s.notify.colleagues_taken;
    startAtLogin.checked = s.start_at_login;
    signIns.checked = s.sign_ins;
    const defaults = Array.isArray(s.remediation_defaults) ? s.remediation_defaults : [];
    for (const a of REMEDIATION_ACTIONS) remediationDefaults[a].checked = defaults.includes(a);
    provider.value = s.geo.provider;
    ipstackKey.value = "";
    keyStored = s.geo.provider === "ipstack" && s.geo.key_stored;
    ipstackKey.placeholder = keyStored ? "stored in the keychain; type a new key to replace it" : "paste your ipstack key";
    mmdbCity.value = s.geo.provider === "mmdb" ? s.geo.city : "";
    mmdbAsn.value = s.geo.provider === "mmdb" ? s.geo.asn ?? "" : "";
    showProvider();
  }

  function intIn(input: HTMLInputElement, min: number, max: number): number | null {
    const v = input.value.trim();
    if (!/^\d+$/.test(v)) return null;
    const n = Number(v);
    return n >= min && n <= max ? n : null;
  }

  async function save(): Promise<void> {
    ctx.clearError();
    message.textContent = "";
    message.classList.remove("field-error");
    const fail = (text: string, focus: HTMLElement) => {
      message.textContent = text;
      message.classList.add("field-error");
      focus.focus();
    };
    const [iMin, iMax] = bounds.scan_interval_minutes;
    const minutes = intIn(interval, iMin, iMax);
    if (minutes === null) return fail(`Scan every: a whole number of minutes from ${iMin} to ${iMax}.`, interval);
    const [bMin, bMax] = bounds.backfill_hours;
    const hours = intIn(backfill, bMin, bMax);
    if (hours === null) return fail(`Look back: a whole number of hours from ${bMin} to ${bMax}.`, backfill);
    const [rMin, rMax] = bounds.raw_retention_days;
    const days = intIn(rawDays, rMin, rMax);
    if (days === null) return fail(`Raw audit records: a whole number of days from ${rMin} to ${rMax}.`, rawDays);
    let geo: SettingsUpdate["geo"];
    if (provider.value === "ipstack") {
      const key = ipstackKey.value.trim();
      if (!key && !keyStored) return fail("Enter the ipstack access key.", ipstackKey);
      geo = { provider: "ipstack", key: key || null };
    } else if (provider.value === "mmdb") {
      const city = mmdbCity.value.trim();
      if (!city) return fail("Enter the path of the City .mmdb file.", mmdbCity);
      geo = { provider: "mmdb", city, asn: mmdbAsn.value.trim() || null };
    } else geo = { provider: "off" };
    const update: SettingsUpdate = {
      scan_interval_minutes: minutes,
      backfill_hours: hours,
      raw_retention_days: days,
      notify: {
        ...(Object.fromEntries(SEVERITIES.map((s) => [s, notify[s].checked])) as Record<Severity, boolean>),
        colleagues_taken: colleaguesTaken.checked,
      },
      start_at_login: startAtLogin.checked,
      sign_ins: signIns.checked,
      geo,
      remediation_defaults: REMEDIATION_ACTIONS.filter((a) => remediationDefaults[a].checked),
    };
    saveBtn.disabled = true;
    const ok = await ctx.run(api.saveSettings(update).then(() => true));
    saveBtn.disabled = false;
    if (!ok) return;
    ipstackKey.value = "";
    await load();
    message.textContent = "Settings saved.";
  }

  async function load(): Promise<void> {
    const s = await ctx.run(api.getSettings());
    if (s) fill(s);
  }

  // How each channel's queue stands, refreshed with the rest of the panel; the add form
  // below it is never redrawn, so a refresh keeps what is being typed.
  const channels = h("tbody", { id: "delivery-channels" });
  const hookName = h("input", { id: "webhook-name", type: "text", spellcheck: "false", placeholder: "psa-bridge", autocomplete: "off" });
  const hookUrl = h("input", { id: "webhook-url", type: "url", spellcheck: "false", placeholder: "https://hooks.example.com/rulewatch" });
  const hookSecret = h("input", { id: "webhook-secret", type: "password", autocomplete: "off" });
  const hookKind = h(
    "select",
    { id: "channel-kind" },
    h("option", { value: "webhook" }, "Webhook (signed JSON)"),
    h("option", { value: "teams" }, "Microsoft Teams (Workflows webhook)"),
    h("option", { value: "slack" }, "Slack (incoming webhook)"),
    h("option", { value: "email" }, "E-mail (SMTP)"),
    h("option", { value: "connectwise" }, "ConnectWise PSA"),
    h("option", { value: "autotask" }, "Autotask"),
    h("option", { value: "halo" }, "HaloPSA"),
  );
  const hookMin = h(
    "select",
    { id: "channel-min-severity" },
    h("option", { value: "" }, "Every incident"),
    ...SEVERITIES.map((s) => h("option", { value: s }, `${SEVERITY_LABEL[s]} or worse`)),
  );
  const hookTenants = h("input", { id: "channel-tenants", type: "text", spellcheck: "false", placeholder: "tenant ids, comma-separated (empty: all)" });
  const hookExclude = h("input", { id: "channel-exclude-tenants", type: "text", spellcheck: "false", placeholder: "tenant ids, comma-separated" });
  const secretField = labelled("Shared secret (signs each delivery; kept in the keychain)", hookSecret);
  const urlField = labelled("URL (https://, or http:// on this machine; Teams' and Slack's go to the keychain)", hookUrl);
  const quietStart = h("input", { id: "channel-quiet-start", type: "time" });
  const quietEnd = h("input", { id: "channel-quiet-end", type: "time" });
  // E-mail: the relay, the addresses, and a message per change or a daily digest.
  const mailHost = h("input", { id: "email-host", type: "text", spellcheck: "false", placeholder: "smtp.office365.com" });
  const mailSecurity = h(
    "select",
    { id: "email-security" },
    h("option", { value: "starttls" }, "STARTTLS (port 587)"),
    h("option", { value: "tls" }, "TLS (port 465)"),
    h("option", { value: "none" }, "None (a relay on this machine only)"),
  );
  const mailPort = h("input", { id: "email-port", type: "number", min: "1", max: "65535", placeholder: "587" });
  const mailUser = h("input", { id: "email-username", type: "text", spellcheck: "false", autocomplete: "off" });
  const mailPassword = h("input", { id: "email-password", type: "password", autocomplete: "off" });
  const mailFrom = h("input", { id: "email-from", type: "text", spellcheck: "false", placeholder: "Rulewatch <alerts@msp.example>" });
  const mailTo = h("input", { id: "email-to", type: "text", spellcheck: "false", placeholder: "soc@msp.example, oncall@msp.example" });
  const mailDigest = h("input", { id: "email-digest-at", type: "time" });
  const mailCa = h("textarea", { id: "email-ca", rows: "3", spellcheck: "false", placeholder: "-----BEGIN CERTIFICATE-----" });
  const mailFields = h(
    "div",
    { id: "email-fields", hidden: true },
    labelled("SMTP relay", mailHost),
    labelled("Encryption", mailSecurity),
    labelled("Port (empty: the encryption's usual port)", mailPort),
    labelled("User name (empty: the relay takes mail without signing in)", mailUser),
    labelled("Password (kept in the keychain)", mailPassword),
    labelled("From", mailFrom),
    labelled("To (comma-separated)", mailTo),
    labelled("Daily digest at (empty: a message per change)", mailDigest),
    labelled("CA certificate for an in-house relay (PEM, optional)", mailCa),
  );
  // A PSA (ConnectWise, Autotask, HaloPSA): where and how to sign in, and the PSA's own ids
  // for the default company, the board, the priorities and the rest. The secret goes to the
  // keychain and leaves the form after every attempt.
  const psaUrl = h("input", { id: "psa-url", type: "url", spellcheck: "false" });
  const psaCompanyId = h("input", { id: "psa-company-id", type: "text", spellcheck: "false", autocomplete: "off" });
  const psaPublicKey = h("input", { id: "psa-public-key", type: "text", spellcheck: "false", autocomplete: "off" });
  const psaClientId = h("input", { id: "psa-client-id", type: "text", spellcheck: "false", autocomplete: "off" });
  const psaUsername = h("input", { id: "psa-username", type: "text", spellcheck: "false", autocomplete: "off" });
  const psaIntegrationCode = h("input", { id: "psa-integration-code", type: "text", spellcheck: "false", autocomplete: "off" });
  const psaHaloTenant = h("input", { id: "psa-halo-tenant", type: "text", spellcheck: "false", autocomplete: "off" });
  const psaSecret = h("input", { id: "psa-secret", type: "password", autocomplete: "off" });
  const psaId = (id: string) => h("input", { id, type: "number", min: "0", step: "1" });
  const psaDefaultCompany = psaId("psa-default-company");
  const psaBoard = psaId("psa-board");
  const psaPriority = Object.fromEntries(SEVERITIES.map((s) => [s, psaId(`psa-priority-${s}`)])) as Record<Severity, HTMLInputElement>;
  const psaTicketType = psaId("psa-ticket-type");
  const psaStatus = psaId("psa-status");
  const psaNoteType = psaId("psa-note-type");
  const psaNotePublish = psaId("psa-note-publish");
  const psaNoteOutcome = psaId("psa-note-outcome");
  const PSA: Record<PsaVendor, { name: string; url: string; placeholder: string; secret: string; board: string; clientId: string }> = {
    connectwise: {
      name: "ConnectWise PSA",
      url: "ConnectWise site",
      placeholder: "https://api-na.myconnectwise.net",
      secret: "Private key of the API member's key (kept in the keychain)",
      board: "Board",
      clientId: "Client id (from developer.connectwise.com)",
    },
    autotask: {
      name: "Autotask",
      url: "Zone look-up address (empty: https://webservices.autotask.net)",
      placeholder: "https://webservices.autotask.net",
      secret: "API user's secret (kept in the keychain)",
      board: "Queue",
      clientId: "",
    },
    halo: {
      name: "HaloPSA",
      url: "HaloPSA address",
      placeholder: "https://msp.halopsa.com",
      secret: "Client secret of the API application (kept in the keychain)",
      board: "Team",
      clientId: "Client id of the API application",
    },
  };
  const AUTOTASK_ZONES = PSA.autotask.placeholder;
  const isPsa = (kind: string): kind is PsaVendor => Object.hasOwn(PSA, kind);
  const psaUrlField = labelled("", psaUrl);
  const psaSecretField = labelled("", psaSecret);
  const psaBoardField = labelled("", psaBoard, "Its id in the PSA; new tickets go there");
  const psaClientIdField = labelled("", psaClientId);
  const psaIdsHint = h("p", { class: "hint" });
  const vendorOnly: [HTMLElement, PsaVendor[]][] = [
    [labelled("Company id (typed at ConnectWise's login)", psaCompanyId), ["connectwise"]],
    [labelled("Public key of the API member's key", psaPublicKey), ["connectwise"]],
    [psaClientIdField, ["connectwise", "halo"]],
    [labelled("API user name", psaUsername), ["autotask"]],
    [labelled("Integration code (the API tracking identifier)", psaIntegrationCode), ["autotask"]],
    [labelled("Tenant (hosted HaloPSA only; empty: none)", psaHaloTenant), ["halo"]],
    [labelled("New ticket status", psaStatus, "Its id in Autotask; empty: 1 (New)"), ["autotask"]],
    [labelled("Note type", psaNoteType, "Its id in Autotask; required"), ["autotask"]],
    [labelled("Note publish", psaNotePublish, "Its value in Autotask; required"), ["autotask"]],
    [labelled("Action outcome for notes", psaNoteOutcome, "Its id in HaloPSA; required"), ["halo"]],
  ];
  const psaFields = h(
    "div",
    { id: "psa-fields", hidden: true },
    psaIdsHint,
    psaUrlField,
    vendorOnly.slice(0, 6).map(([field]) => field),
    psaSecretField,
    labelled("Default company", psaDefaultCompany, "Its id in the PSA; tickets of a tenant without a confirmed company go there"),
    psaBoardField,
    h(
      "fieldset",
      { id: "psa-priorities" },
      h("legend", null, "Ticket priority per severity"),
      h("p", { class: "hint" }, "Each the priority's id in the PSA; give at least one. A severity left empty takes the nearest graver one's."),
      [...SEVERITIES].reverse().map((s) => labelled(SEVERITY_LABEL[s], psaPriority[s])),
    ),
    labelled("Ticket type (optional)", psaTicketType, "Its id in the PSA; empty: the PSA's default"),
    vendorOnly.slice(6).map(([field]) => field),
  );
  const setLabel = (field: HTMLElement, text: string) => {
    field.querySelector("label")!.textContent = text;
  };
  function showPsa(vendor: PsaVendor): void {
    const v = PSA[vendor];
    psaIdsHint.textContent = `Every number below is ${v.name}'s own id (a company, a ${v.board.toLowerCase()}, a priority), as its setup screens show it.`;
    setLabel(psaUrlField, v.url);
    psaUrl.placeholder = v.placeholder;
    setLabel(psaSecretField, v.secret);
    setLabel(psaBoardField, v.board);
    setLabel(psaClientIdField, v.clientId);
    for (const [field, vendors] of vendorOnly) field.hidden = !vendors.includes(vendor);
  }
  showPsa("connectwise");
  const DEFAULT_PORT = { starttls: 587, tls: 465, none: 25 } as const;
  const ids = (text: string): string[] =>
    text
      .split(",")
      .map((t) => t.trim())
      .filter((t) => t.length > 0);
  // Teams and Slack URLs are the credential themselves: no separate secret.
  hookKind.addEventListener("change", () => {
    const kind = hookKind.value;
    secretField.hidden = kind !== "webhook";
    urlField.hidden = kind === "email" || isPsa(kind);
    mailFields.hidden = kind !== "email";
    psaFields.hidden = !isPsa(kind);
    if (isPsa(kind)) showPsa(kind);
  });
  const channelMessage = h("p", { id: "channel-message", role: "status" });
  const webhookForm = h(
    "form",
    { id: "webhook-form", novalidate: true },
    h("h4", null, "Add a channel"),
    labelled("Kind", hookKind),
    labelled("Name", hookName),
    urlField,
    secretField,
    mailFields,
    psaFields,
    labelled("Send", hookMin),
    labelled("Only these tenants", hookTenants),
    labelled("Never these tenants", hookExclude),
    labelled("Quiet hours from (only critical incidents are sent; the rest when they end)", quietStart),
    labelled("Quiet hours to", quietEnd),
    h("div", { class: "actions" }, h("button", { id: "add-webhook", type: "submit" }, "Add channel")),
  );
  /** The PSA's settings from the form, or null when a field was refused (said in #channel-message). */
  function psaConfig(vendor: PsaVendor): PsaConfig | null {
    const v = PSA[vendor];
    const fail = (text: string, focus: HTMLElement): null => {
      channelMessage.textContent = text;
      channelMessage.classList.add("field-error");
      focus.focus();
      return null;
    };
    // A whole number, null when empty; undefined when it is not one (a number input holding
    // what the browser could not read is empty but `badInput`).
    const wholeOrEmpty = (input: HTMLInputElement): number | null | undefined => {
      const text = input.value.trim();
      if (!text) return input.validity.badInput ? undefined : null;
      const n = Number(text);
      return /^\d+$/.test(text) && Number.isSafeInteger(n) ? n : undefined;
    };
    const defaultCompany = wholeOrEmpty(psaDefaultCompany);
    if (defaultCompany == null) return fail(`Default company: the company's id in ${v.name}, a whole number.`, psaDefaultCompany);
    const board = wholeOrEmpty(psaBoard);
    if (board == null) return fail(`${v.board}: its id in ${v.name}, a whole number.`, psaBoard);
    const priorities: PsaConfig["priorities"] = {};
    for (const s of [...SEVERITIES].reverse()) {
      const p = wholeOrEmpty(psaPriority[s]);
      if (p === undefined) return fail(`${SEVERITY_LABEL[s]} priority: its id in ${v.name}, a whole number (or empty).`, psaPriority[s]);
      if (p !== null) priorities[s] = p;
    }
    if (Object.keys(priorities).length === 0) return fail("Give the ticket priority for at least one severity.", psaPriority.critical);
    const optional: [HTMLInputElement, string][] = [[psaTicketType, "Ticket type"]];
    if (vendor === "autotask") optional.push([psaStatus, "New ticket status"], [psaNoteType, "Note type"], [psaNotePublish, "Note publish"]);
    if (vendor === "halo") optional.push([psaNoteOutcome, "Action outcome for notes"]);
    const got = new Map<HTMLInputElement, number | null>();
    for (const [input, label] of optional) {
      const n = wholeOrEmpty(input);
      if (n === undefined) return fail(`${label}: its id in ${v.name}, a whole number (or empty).`, input);
      got.set(input, n);
    }
    const account: PsaAccount =
      vendor === "connectwise"
        ? { vendor, company_id: psaCompanyId.value.trim(), public_key: psaPublicKey.value.trim(), client_id: psaClientId.value.trim() }
        : vendor === "autotask"
          ? { vendor, username: psaUsername.value.trim(), integration_code: psaIntegrationCode.value.trim() }
          : { vendor, client_id: psaClientId.value.trim(), tenant: psaHaloTenant.value.trim() || null };
    return {
      base_url: psaUrl.value.trim() || (vendor === "autotask" ? AUTOTASK_ZONES : ""),
      account,
      default_company: defaultCompany,
      board,
      priorities,
      ticket_type: got.get(psaTicketType) ?? null,
      status: got.get(psaStatus) ?? null,
      note_kind: (vendor === "autotask" ? got.get(psaNoteType) : got.get(psaNoteOutcome)) ?? null,
      note_publish: got.get(psaNotePublish) ?? null,
    };
  }
  const psaInputs = [
    psaUrl,
    psaCompanyId,
    psaPublicKey,
    psaClientId,
    psaUsername,
    psaIntegrationCode,
    psaHaloTenant,
    psaDefaultCompany,
    psaBoard,
    ...Object.values(psaPriority),
    psaTicketType,
    psaStatus,
    psaNoteType,
    psaNotePublish,
    psaNoteOutcome,
  ];
  webhookForm.addEventListener("submit", (e) => {
    e.preventDefault();
    ctx.clearError();
    channelMessage.textContent = "";
    channelMessage.classList.remove("field-error");
    const name = hookName.value.trim();
    const route: ChannelRoute = { tenants: ids(hookTenants.value), exclude_tenants: ids(hookExclude.value) };
    if (hookMin.value) route.min_severity = hookMin.value as Severity;
    if (quietStart.value || quietEnd.value) route.quiet_hours = { start: quietStart.value, end: quietEnd.value };
    let added: Promise<null>;
    let done = `${name} added: new alerts are posted to it.`;
    const kind = hookKind.value;
    let psa = false;
    if (isPsa(kind)) {
      // Refused here: nothing was sent, so the secret stays for the corrected attempt.
      const config = psaConfig(kind);
      if (!config) return;
      added = api.addPsaChannel(name, config, psaSecret.value, route);
      done = `${name} added: each incident opens a ticket. Confirm each tenant's company below.`;
      psa = true;
    } else if (kind === "email") {
      const security = mailSecurity.value as EmailChannel["security"];
      const port = mailPort.value.trim();
      const config: EmailChannel = {
        host: mailHost.value.trim(),
        port: port ? Number(port) : DEFAULT_PORT[security],
        security,
        username: mailUser.value.trim() || null,
        from: mailFrom.value.trim(),
        to: ids(mailTo.value),
        digest_at: mailDigest.value || null,
      };
      if (mailCa.value.trim()) config.ca_pem = mailCa.value.trim();
      added = api.addEmailChannel(name, config, mailPassword.value || null, route);
      done = config.digest_at ? `${name} added: a digest is mailed daily at ${config.digest_at}.` : `${name} added: new alerts are mailed to it.`;
    } else {
      const chat = kind as ChannelKind;
      added = api.addChannel(chat, name, hookUrl.value.trim(), chat === "webhook" ? hookSecret.value : null, route);
    }
    // Every secret leaves the form once sent, whatever the answer.
    hookSecret.value = "";
    mailPassword.value = "";
    psaSecret.value = "";
    void channelAction(done, added).then(() => {
      if (channelMessage.textContent) {
        for (const input of [hookName, hookUrl, hookTenants, hookExclude, quietStart, quietEnd, mailHost, mailPort, mailUser, mailFrom, mailTo, mailDigest, mailCa, ...psaInputs]) input.value = "";
        hookMin.value = "";
        // Its tenants' companies, read from the PSA, to confirm right away.
        if (psa) void showCompanies(name);
      }
    });
  });
  // A PSA channel's tenants and the company each files under: the confirmed one, else the
  // default, with the company its name suggests to confirm. Tenant names come from Microsoft,
  // company names from the PSA: both are shown as text only.
  const companiesTitle = h("h4", { id: "psa-companies-title" });
  const companiesList = h("div", { id: "psa-companies-list", class: "table-wrap" });
  const companiesMessage = h("p", { id: "psa-companies-message", role: "status" });
  const confirmAll = h("button", { id: "confirm-all-companies", type: "button", disabled: true }, "Confirm every suggestion");
  const closeCompanies = h("button", { id: "close-companies", type: "button" }, "Close");
  const companiesBox = h(
    "section",
    { id: "psa-companies", hidden: true, "aria-labelledby": "psa-companies-title" },
    companiesTitle,
    h(
      "p",
      { class: "hint" },
      "A tenant's tickets go to its confirmed company, else to the channel's default company. A suggestion only matches names: confirm it when it is the right customer.",
    ),
    companiesList,
    h("div", { class: "actions" }, confirmAll, closeCompanies),
    companiesMessage,
  );
  /** The channel whose companies are shown, and a count that drops answers to earlier reads. */
  let companiesOf: string | null = null;
  let companiesRead = 0;
  let suggestions: [string, number][] = [];
  function hideCompanies(): void {
    companiesOf = null;
    companiesRead++;
    companiesBox.hidden = true;
    companiesList.replaceChildren();
    companiesMessage.textContent = "";
  }
  closeCompanies.addEventListener("click", hideCompanies);
  confirmAll.addEventListener("click", () => {
    const name = companiesOf;
    const pairs = suggestions;
    if (name === null || pairs.length === 0) return;
    void mapCompanies(name, pairs, pairs.length === 1 ? "1 tenant confirmed." : `${pairs.length} tenants confirmed.`);
  });
  async function showCompanies(name: string): Promise<void> {
    const read = ++companiesRead;
    companiesOf = name;
    suggestions = [];
    confirmAll.disabled = true;
    confirmAll.textContent = "Confirm every suggestion";
    companiesBox.hidden = false;
    setText(companiesTitle, `Companies in ${name}`);
    companiesMessage.textContent = "";
    companiesMessage.classList.remove("field-error");
    replace(companiesList, h("p", { class: "muted" }, "Signing in to the PSA and reading its companies…"));
    const list = await ctx.run(api.psaCompanies(name));
    if (read !== companiesRead) return;
    if (!list) {
      replace(companiesList, h("p", { class: "muted" }, "The companies could not be read."));
      return;
    }
    suggestions = list.flatMap((m): [string, number][] => (!m.mapped && m.suggested ? [[m.tenant_id, m.suggested.id]] : []));
    confirmAll.disabled = suggestions.length === 0;
    confirmAll.textContent = `Confirm every suggestion (${suggestions.length})`;
    if (list.length === 0) {
      replace(companiesList, h("p", { class: "muted" }, "No tenant is watched yet."));
      return;
    }
    replace(
      companiesList,
      h(
        "table",
        null,
        columnHeads("Tenant", "Tickets", "Suggested company", "Another company"),
        h("tbody", null, list.map((m) => companyRow(name, m))),
      ),
    );
  }
  function companyRow(name: string, m: CompanyMatch): HTMLElement {
    const manual = h("input", { type: "number", min: "0", step: "1", "data-testid": "company-id", "aria-label": `Company id for ${m.tenant_name}` });
    const map = () => {
      const text = manual.value.trim();
      const id = Number(text);
      if (!/^\d+$/.test(text) || !Number.isSafeInteger(id)) {
        setText(companiesMessage, `${m.tenant_name}: the company's id in the PSA, a whole number.`);
        companiesMessage.classList.add("field-error");
        manual.focus();
        return;
      }
      void mapCompanies(name, [[m.tenant_id, id]], `${m.tenant_name} files under company ${id}.`);
    };
    let suggestion: HTMLElement | null = null;
    if (!m.mapped && m.suggested) {
      const company = m.suggested;
      suggestion = h(
        "span",
        null,
        `${company.name} (id ${company.id}) `,
        h(
          "button",
          {
            type: "button",
            "data-testid": "confirm-company",
            on: { click: () => void mapCompanies(name, [[m.tenant_id, company.id]], `${m.tenant_name} files under ${company.name}.`) },
          },
          "Confirm",
        ),
      );
    } else if (!m.mapped) {
      suggestion = h(
        "span",
        { class: "hint" },
        "No company has its name: give the company's id, or map it with ",
        h("code", null, `rulewatch channel map ${name} --tenant ${m.tenant_id} --company ID`),
      );
    }
    return h(
      "tr",
      { "data-testid": "company-row", "data-tenant": m.tenant_id },
      h("td", null, m.tenant_name),
      h(
        "td",
        { "data-testid": "company-mapped", class: m.mapped ? null : "muted" },
        m.mapped ? `files under ${m.mapped.name} (id ${m.mapped.id})` : "default company",
      ),
      h("td", { "data-testid": "company-suggestion" }, suggestion),
      h(
        "td",
        null,
        manual,
        " ",
        h("button", { type: "button", "data-testid": "map-company", on: { click: map } }, "Map"),
      ),
    );
  }
  /** Confirms `pairs` in channel `name`, then reads the list again; `done` is said after. */
  async function mapCompanies(name: string, pairs: [string, number][], done: string): Promise<void> {
    ctx.clearError();
    companiesMessage.textContent = "";
    companiesMessage.classList.remove("field-error");
    const buttons = Array.from(companiesBox.querySelectorAll<HTMLButtonElement>("button")).filter((b) => !b.disabled && b !== closeCompanies);
    for (const b of buttons) b.disabled = true;
    const ok = await ctx.run(api.mapCompanies(name, pairs).then(() => true));
    if (!ok) {
      for (const b of buttons) b.disabled = false;
      return;
    }
    if (companiesOf !== name) return;
    await showCompanies(name);
    if (companiesOf === name) setText(companiesMessage, done);
  }

  const delivery = h(
    "section",
    { class: "card", "aria-labelledby": "delivery-title" },
    h("h3", { id: "delivery-title" }, "Delivery"),
    h(
      "p",
      { class: "hint" },
      "Each channel receives every alert on its own: what this desktop notifies and what `rulewatch scan` prints never take alerts from each other.",
    ),
    h(
      "table",
      null,
      columnHeads("Channel", "Waiting", "Last delivered", "Last error", h("span", { class: "visually-hidden" }, "Actions")),
      channels,
    ),
    companiesBox,
    webhookForm,
    channelMessage,
  );
  const CHANNEL_LABEL: Record<string, string> = { desktop: "This desktop's notifications", scan: "rulewatch scan", watch: "rulewatch watch" };
  const BUILT_IN = new Set(["desktop", "scan", "watch"]);
  async function channelAction(done: string, action: Promise<null>): Promise<void> {
    channelMessage.textContent = "";
    channelMessage.classList.remove("field-error");
    if ((await ctx.run(action.then(() => true))) === true) channelMessage.textContent = done;
    await loadChannels();
  }
  async function loadChannels(): Promise<void> {
    const list = await ctx.run(api.deliveryChannels());
    if (!list) return;
    if (companiesOf !== null && !list.some((c) => c.name === companiesOf)) hideCompanies();
    channels.replaceChildren(
      ...list.map((c) =>
        h(
          "tr",
          { "data-testid": "channel-row", "data-channel": c.name },
          h("td", null, CHANNEL_LABEL[c.kind] ?? c.name),
          h("td", null, String(c.queued)),
          h("td", { title: localDateTime(c.last_delivered_at) }, c.last_delivered_at ? shortDateTime(c.last_delivered_at) : "never"),
          h("td", { class: c.last_error ? "state-error" : "muted" }, c.last_error ?? "none"),
          h(
            "td",
            null,
            BUILT_IN.has(c.kind)
              ? null
              : [
                  h(
                    "button",
                    { type: "button", "data-testid": "test-channel", on: { click: () => void channelAction(`${c.name} took the test delivery.`, api.testChannel(c.name)) } },
                    "Send a test",
                  ),
                  " ",
                  h(
                    "button",
                    { type: "button", "data-testid": "remove-channel", on: { click: () => void channelAction(`${c.name} removed.`, api.removeChannel(c.name)) } },
                    "Remove",
                  ),
                  isPsa(c.kind)
                    ? [
                        " ",
                        h(
                          "button",
                          { type: "button", "data-testid": "psa-companies", on: { click: () => void showCompanies(c.name) } },
                          "Companies",
                        ),
                      ]
                    : null,
                ],
          ),
        ),
      ),
    );
  }

  const logDir = h("code", { id: "log-dir" });
  const logs = h("p", { id: "log-file", class: "card hint" }, "Log files (one a day, a week kept): ", logDir);
  const team = createTeamSection(ctx);
  const tuning = createTuningSection(ctx);
  const el = h("div", { id: "settings-page" }, h("h2", null, "Settings"), form, tuning.el, team.el, delivery, logs);
  function showLogDir(): void {
    const dir = ctx.overview()?.log_dir ?? null;
    logs.hidden = dir === null;
    logDir.textContent = dir ?? "";
  }
  return {
    el,
    // Changes elsewhere (alerts, scans) do not touch the form being edited; only the
    // delivery queues are read again.
    refresh: async () => {
      await Promise.all([loadChannels(), team.refresh()]);
    },
    enter: async () => {
      message.textContent = "";
      showLogDir();
      await Promise.all([load(), loadChannels(), team.refresh(), tuning.refresh()]);
    },
  };
}
