// Alerts: the first-run screen (no tenant yet), the filtered list a page at a time (or
// grouped by incident, where an open incident can be resolved), and one alert's detail.
import {
  api,
  type AlertDetail,
  type AlertPage,
  type AlertQuery,
  type AlertStatus,
  type AlertSummary,
  type HeldBy,
  type Incident,
  type RuleInfo,
  type Severity,
  type StatusFilter,
} from "../api";
import { firstRunFor, type Ctx, type Page } from "../ctx";
import { h, replace, setText, type Child } from "../h";
import { SEVERITIES, SEVERITY_LABEL, localDateTime, shortDateTime, severityRank } from "../format";
import { aboutRule, evidenceFacts, parametersTable, incidentTimeline, relatedList, severityTag, statusTag } from "../sections/evidence";
import { createTriage, type Triage } from "../sections/triage";
import { createRemediation, type Remediation } from "./remediation";

/** Alerts a page of the list holds: a year's alerts are asked for and drawn a page at a time. */
export const PAGE_SIZE = 100;
/** The search box asks once typing pauses this long, not at every key. */
export const SEARCH_DEBOUNCE_MS = 200;

export interface Filters {
  /** One row per alert, or the alerts under a heading per incident. */
  group: "alerts" | "incidents";
  status: StatusFilter;
  severity: "any" | Severity;
  tenant: string; // "" = every tenant
  search: string;
}

/** An incident as the list shows it: its alerts that pass the filters, newest first. */
export interface IncidentGroup {
  /** The incident's number; null for an alert in none (a suppressed one). */
  id: number | null;
  alerts: AlertSummary[];
  /** The gravest of its alerts. */
  gravest: AlertSummary;
}

/** Groups `alerts` (in list order) by incident, each group where its newest alert sits. The list
 * groups one page's alerts, so an incident's older alerts may continue on the next page. */
export function byIncident(alerts: AlertSummary[]): IncidentGroup[] {
  const groups: IncidentGroup[] = [];
  const index = new Map<number, IncidentGroup>();
  for (const a of alerts) {
    const known = a.incident_id === null ? undefined : index.get(a.incident_id);
    if (known) {
      known.alerts.push(a);
      if (severityRank(a.severity) > severityRank(known.gravest.severity)) known.gravest = a;
      continue;
    }
    const group: IncidentGroup = { id: a.incident_id, alerts: [a], gravest: a };
    groups.push(group);
    if (a.incident_id !== null) index.set(a.incident_id, group);
  }
  return groups;
}

export interface AlertsPage extends Page {
  openDetail(id: number): Promise<void>;
  /** Re-reads the list (for when the detail was opened from outside the page). */
  reloadList(): Promise<void>;
  closeDetail(): void;
}

export function createAlertsPage(ctx: Ctx): AlertsPage {
  const filters: Filters = { group: "alerts", status: "active", severity: "any", tenant: "", search: "" };
  // Kept apart from `filters`: whose alerts are "mine" the desktop knows, not the panel.
  let assignee: HeldBy = "anyone";
  /** This workstation's technician, for the "you" badge. No other command names them (not
   * overview, not get_settings), so it is learned from alert_review: from the detail's triage
   * section, or asked once of a held alert when the list first shows one. The name is the
   * app's configuration, fixed while it runs, so once known it is kept. */
  let technician: string | null = null;
  /** The page shown, as the desktop last answered it; null until the first answer. */
  let page: AlertPage | null = null;
  /** Where the page asked for starts; the desktop's answer may move it back. */
  let offset = 0;
  /** Numbers each question for a page: an answer overtaken by a later question is dropped. */
  let pageSeq = 0;
  let searchTimer: ReturnType<typeof setTimeout> | undefined;
  /** The tenant filter's options as last drawn, to redraw them only when they change. */
  let tenantKey = "";
  /** The rules by id, read once: they change only with the app. */
  let rules: Map<string, RuleInfo> | null = null;
  let rulesRead: Promise<void> | null = null;
  const ruleTitle = (id: string): string => rules?.get(id)?.title ?? id;
  let detailId: number | null = null;
  let detailSeq = 0;
  /** Secure and Remediate and the remediation log of the alert shown; kept across re-renders. */
  let remediation: Remediation | null = null;
  /** The triage section of the alert shown; kept across re-renders, so a half-typed note stays. */
  let triage: Triage | null = null;
  /** The incidents by id, read only for the "By incident" view: the headings need their key and status. */
  let incidents = new Map<number, Incident>();
  /** The open resolve form. Built once and moved into each re-rendered list, so a change
   * event (which re-renders the rows) keeps a half-typed note. */
  let resolving: { id: number; form: HTMLElement; note: HTMLTextAreaElement } | null = null;

  function dropRemediation(): void {
    remediation?.dispose();
    remediation = null;
  }

  function dropTriage(): void {
    triage?.dispose();
    triage = null;
  }

  // ---- first run -------------------------------------------------------------------
  const firstRun = h(
    "section",
    { id: "first-run", class: "first-run", hidden: true, "aria-labelledby": "first-run-title" },
    h("h2", { id: "first-run-title" }, "Welcome to Rulewatch"),
    h(
      "p",
      null,
      "Rulewatch reads the Microsoft 365 audit logs of your client tenants and alerts you when someone " +
        "creates an inbox rule or mail forwarding that looks malicious: hiding, deleting or forwarding mail " +
        "is what an attacker usually does first with a stolen mailbox.",
    ),
    h(
      "div",
      { class: "card" },
      h("h3", null, "Try it first with the sandbox"),
      h(
        "p",
        null,
        "The sandbox is a stand-in for Microsoft built into Rulewatch. Planted attacks arrive in it over the " +
          "next minutes, so you can see alerts, notifications and the review panel at work. Nothing real is " +
          "touched: no tenant, no mailbox, no credentials.",
      ),
      h(
        "button",
        { id: "start-sandbox", type: "button", class: "primary", on: { click: () => void startSandbox() } },
        "Watch the sandbox tenant",
      ),
    ),
    h(
      "div",
      { class: "card" },
      h("h3", null, "Add a real tenant"),
      h(
        "ol",
        null,
        h("li", null, "In the client's Microsoft Entra admin center, register an app (App registrations → New registration)."),
        h(
          "li",
          null,
          "Give it the application permissions ActivityFeed.Read (Office 365 Management APIs) and Domain.Read.All (Microsoft Graph).",
        ),
        h("li", null, "Grant admin consent for the tenant."),
        h("li", null, "Create a client secret, or upload a certificate, for the app."),
        h("li", null, "Here, open Tenants → Add and enter the tenant id, the app's client id and the secret or certificate."),
      ),
      h(
        "button",
        { id: "first-run-tenants", type: "button", on: { click: () => ctx.navigate("tenants") } },
        "Go to Tenants",
      ),
    ),
  );

  async function startSandbox(): Promise<void> {
    ctx.clearError();
    const btn = firstRun.querySelector<HTMLButtonElement>("#start-sandbox");
    if (btn) btn.disabled = true;
    const ok = await ctx.run(api.startSandbox().then(() => true));
    if (btn) btn.disabled = false;
    if (ok) await ctx.refreshAll();
  }

  // ---- list ------------------------------------------------------------------------
  const statusSel = h(
    "select",
    { id: "filter-status" },
    h("option", { value: "active" }, "Open + acknowledged"),
    h("option", { value: "all" }, "All"),
    h("option", { value: "open" }, "Open"),
    h("option", { value: "acknowledged" }, "Acknowledged"),
    h("option", { value: "false_positive" }, "False positive"),
    h("option", { value: "resolved" }, "Resolved"),
    h("option", { value: "suppressed" }, "Suppressed"),
  );
  const severitySel = h(
    "select",
    { id: "filter-severity" },
    h("option", { value: "any" }, "Any"),
    ...SEVERITIES.map((s) => h("option", { value: s }, `${SEVERITY_LABEL[s]} or worse`)),
  );
  // The sibling filters are found by id; the desktop tests asked for a test id too.
  const assigneeSel = h(
    "select",
    { id: "filter-assignee", "data-testid": "filter-assignee" },
    h("option", { value: "anyone" }, "Anyone"),
    h("option", { value: "mine" }, "Mine"),
    h("option", { value: "nobody" }, "Nobody's"),
  );
  assigneeSel.addEventListener("change", () => {
    assignee = assigneeSel.value as HeldBy;
    refilter();
  });
  const tenantSel = h("select", { id: "filter-tenant" }, h("option", { value: "" }, "All tenants"));
  const groupSel = h(
    "select",
    { id: "filter-group" },
    h("option", { value: "alerts" }, "Each alert"),
    h("option", { value: "incidents" }, "By incident"),
  );
  groupSel.addEventListener("change", () => {
    filters.group = groupSel.value as Filters["group"];
    // The same page, grouped or not: only the incidents' headings need reading.
    renderList();
    // The flat view never reads incidents: read them now, they may be stale or not read yet.
    if (filters.group === "incidents") void loadIncidents();
  });
  const search = h("input", { id: "search", type: "search", placeholder: "Mailbox, rule, IP, tenant…", autocomplete: "off" });
  statusSel.value = filters.status;
  statusSel.addEventListener("change", () => {
    filters.status = statusSel.value as StatusFilter;
    refilter();
  });
  severitySel.addEventListener("change", () => {
    filters.severity = severitySel.value as Filters["severity"];
    refilter();
  });
  tenantSel.addEventListener("change", () => {
    filters.tenant = tenantSel.value;
    refilter();
  });
  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(takeSearch, SEARCH_DEBOUNCE_MS);
  });

  /** The search box's text as the filter; asks again when that changes what is searched. */
  function takeSearch(): void {
    searchTimer = undefined;
    const before = filters.search.trim();
    filters.search = search.value;
    if (filters.search.trim() !== before) refilter();
  }

  /** Other filters: their first page. */
  function refilter(): void {
    offset = 0;
    void loadPage();
  }

  const field = (label: string, control: HTMLElement): HTMLElement =>
    h("label", { class: "filter" }, h("span", null, label), control);
  const count = h("span", { id: "alerts-count", class: "muted" });
  const message = h("p", { id: "alerts-message", class: "ok-message", role: "status" });
  const groupNote = h(
    "p",
    { id: "alerts-group-note", class: "hint", hidden: true },
    "Incidents are grouped within this page: an incident's older alerts may continue on the next page.",
  );
  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "alerts", id: "alerts-table" },
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        h("th", { scope: "col" }, "Severity"),
        h("th", { scope: "col" }, "Tenant"),
        h("th", { scope: "col" }, "Mailbox"),
        h("th", { scope: "col" }, "Rule"),
        h("th", { scope: "col" }, "Event time"),
        h("th", { scope: "col" }, "Status"),
      ),
    ),
    tbody,
  );
  const empty = h("p", { id: "alerts-empty", class: "empty", hidden: true });
  const prev = h("button", { id: "alerts-prev", type: "button", "data-testid": "page-prev", on: { click: () => turn(-1) } }, "← Previous");
  const next = h("button", { id: "alerts-next", type: "button", "data-testid": "page-next", on: { click: () => turn(1) } }, "Next →");
  const pager = h("nav", { id: "alerts-pager", class: "actions", "aria-label": "Pages of alerts", hidden: true }, prev, next);
  const listView = h(
    "section",
    { id: "alert-list", class: "alert-list", "aria-label": "Alerts" },
    h(
      "div",
      { class: "filters" },
      field("Show", groupSel),
      field("Status", statusSel),
      field("Held by", assigneeSel),
      field("Severity", severitySel),
      field("Tenant", tenantSel),
      field("Search", search),
    ),
    count,
    message,
    groupNote,
    h("div", { class: "table-wrap" }, table),
    empty,
    pager,
  );

  /** The page before or after this one; the list's top comes into view with it. */
  async function turn(by: -1 | 1): Promise<void> {
    offset = Math.max(0, offset + by * PAGE_SIZE);
    if (await loadPage()) listView.scrollIntoView?.({ block: "start" });
  }

  function renderTenantOptions(): void {
    const names = new Map<string, string>((page?.tenants ?? []).map((t) => [t.tenant_id, t.tenant_name]));
    if (filters.tenant && !names.has(filters.tenant)) names.set(filters.tenant, filters.tenant);
    const sorted = [...names.entries()].sort((x, y) => x[1].localeCompare(y[1]));
    // Redrawn each second while alerts arrive: only when they changed, so an open select stays open.
    const key = JSON.stringify(sorted);
    if (key === tenantKey) return;
    tenantKey = key;
    replace(
      tenantSel,
      h("option", { value: "" }, "All tenants"),
      sorted.map(([id, name]) => h("option", { value: id }, name)),
    );
    tenantSel.value = filters.tenant;
  }

  function renderList(): void {
    const shown = page?.alerts ?? [];
    const focused = tbody.contains(document.activeElement)
      ? document.activeElement?.closest<HTMLElement>("[data-testid=alert-row]")?.dataset.alertId
      : undefined;
    const assigneeBadge = (who: string): HTMLElement => {
      const you = who === technician;
      return h("span", { class: "tag tag-assignee", "data-testid": "row-assignee", title: you ? "Held by you" : `Held by ${who}` }, you ? "you" : who);
    };
    const row = (a: AlertSummary, member: boolean): HTMLElement => {
      const open = h(
        "button",
        { type: "button", class: "row-open", "data-testid": "open-alert", title: a.summary, on: { click: (e) => { e.stopPropagation(); void openDetail(a.id); } } },
        ruleTitle(a.rule),
      );
      return h(
        "tr",
        {
          "data-testid": "alert-row",
          "data-alert-id": a.id,
          class: `status-row-${a.status}${member ? " incident-member" : ""}`,
          on: { click: () => void openDetail(a.id) },
        },
        h("td", null, severityTag(a.severity)),
        h("td", null, a.tenant_name),
        h("td", { class: "wrap" }, a.target),
        h("td", { class: "wrap" }, open),
        h("td", { class: "nowrap", title: localDateTime(a.event_time) }, shortDateTime(a.event_time)),
        h("td", null, statusTag(a.status), a.assignee === null ? null : [" ", assigneeBadge(a.assignee)]),
      );
    };
    const heading = (g: IncidentGroup): HTMLElement => {
      const n = g.alerts.length;
      const inc = g.id === null ? undefined : incidents.get(g.id);
      return h(
        "tr",
        { "data-testid": "incident-row", "data-incident-id": g.id ?? "", class: "incident-row" },
        h("td", null, severityTag(g.gravest.severity)),
        h("td", null, g.gravest.tenant_name),
        h("td", { class: "wrap" }, g.gravest.target),
        h("td", { class: "wrap" }, `${ruleTitle(g.gravest.rule)}: ${n} alert${n === 1 ? "" : "s"}`),
        h("td", { class: "nowrap", title: localDateTime(g.alerts[0].event_time) }, shortDateTime(g.alerts[0].event_time)),
        h("td", null, inc ? incidentState(inc) : null),
      );
    };
    // Under its heading, in a row of its own: the members' row clicks would open an alert.
    const formRow = (g: IncidentGroup): HTMLElement | null =>
      resolving && g.id === resolving.id ? h("tr", { class: "resolve-row" }, h("td", { colspan: 6 }, resolving.form)) : null;
    // Moving the form out of the document drops its focus: put it back after.
    const typing = resolving?.form.contains(document.activeElement) ? document.activeElement : null;
    replace(
      tbody,
      filters.group === "incidents"
        ? byIncident(shown).flatMap((g) => [heading(g), formRow(g), ...g.alerts.map((a) => row(a, true))])
        : shown.map((a) => row(a, false)),
    );
    if (typing instanceof HTMLElement && typing.isConnected) typing.focus();
    if (focused) {
      const again = Array.from(tbody.querySelectorAll<HTMLElement>("[data-testid=alert-row]")).find((r) => r.dataset.alertId === focused);
      again?.querySelector<HTMLButtonElement>(".row-open")?.focus();
    }
    table.hidden = shown.length === 0;
    const total = page?.total ?? 0;
    const n = (x: number): string => x.toLocaleString();
    count.textContent = !page
      ? "Loading…"
      : total === 0
        ? ""
        : `Showing ${n(page.offset + 1)}–${n(page.offset + shown.length)} of ${n(total)} alert${total === 1 ? "" : "s"}`;
    groupNote.hidden = filters.group !== "incidents" || total <= PAGE_SIZE;
    pager.hidden = !page || (page.offset === 0 && total <= shown.length);
    // A button that goes disabled loses the focus: hand it to the other one.
    const focusedTurn = document.activeElement === prev ? prev : document.activeElement === next ? next : null;
    prev.disabled = !page || page.offset === 0;
    next.disabled = !page || page.offset + shown.length >= total;
    if (focusedTurn?.disabled) (focusedTurn === prev ? next : prev).focus();
    empty.hidden = !page || shown.length > 0;
    empty.textContent =
      page?.tenants.length === 0
        ? "No alerts yet. Rulewatch checks each tenant's audit log on every scan and lists suspicious inbox rules and forwarding here."
        : "No alerts match these filters.";
  }

  // ---- resolving an incident --------------------------------------------------------
  /** A heading's status cell: open with its Resolve button, or resolved with the note. */
  function incidentState(inc: Incident): Child {
    if (inc.status !== "open")
      return [
        h("span", { class: "status", "data-testid": "incident-status" }, "Resolved"),
        inc.resolution_note ? h("div", { class: "incident-note muted wrap", "data-testid": "incident-note" }, inc.resolution_note) : null,
      ];
    return [
      h("span", { class: "status status-open", "data-testid": "incident-status" }, "Open"),
      " ",
      h(
        "button",
        {
          type: "button",
          "data-testid": "resolve-incident",
          "aria-expanded": resolving?.id === inc.id ? "true" : "false",
          on: { click: () => openResolve(inc) },
        },
        "Resolve…",
      ),
    ];
  }

  function openResolve(inc: Incident): void {
    message.textContent = "";
    // Clicked again: keep what was typed.
    if (resolving?.id !== inc.id) resolving = resolveForm(inc);
    renderList();
    resolving?.note.focus();
  }

  function closeResolve(): void {
    const id = resolving?.id;
    resolving = null;
    renderList();
    tbody.querySelector<HTMLElement>(`[data-testid=incident-row][data-incident-id="${id}"] [data-testid=resolve-incident]`)?.focus();
  }

  function resolveForm(inc: Incident): NonNullable<typeof resolving> {
    const note = h("textarea", { "data-testid": "resolve-note", rows: 2, placeholder: "e.g. rule removed, password reset, client informed" });
    const buttons = [
      h("button", { type: "button", class: "primary", "data-testid": "resolve-confirm", on: { click: () => void confirmResolve() } }, "Resolve incident"),
      h("button", { type: "button", "data-testid": "resolve-cancel", on: { click: () => closeResolve() } }, "Cancel"),
    ];
    const form = h(
      "div",
      { class: "fp-form", "data-testid": "resolve-form" },
      h("p", { class: "wrap", "data-testid": "resolve-title" }, inc.title),
      h("label", null, "What was done? (optional)", note),
      h("p", { class: "hint" }, "Every channel told of this incident hears that it is resolved; a later alert about the mailbox opens a new incident."),
      h("div", { class: "actions" }, buttons),
    );
    const id = inc.id;
    async function confirmResolve(): Promise<void> {
      // The key from the latest read (the incident as the form was opened, failing that).
      const key = incidents.get(id)?.key ?? inc.key;
      ctx.clearError();
      message.textContent = "";
      for (const b of buttons) b.disabled = true;
      const done = await ctx.run(api.resolveIncident(key, note.value.trim() || null));
      for (const b of buttons) b.disabled = false;
      // Refused (already resolved, say): the error shows in #error and the note stays.
      if (!done) return;
      incidents.set(done.id, done);
      if (resolving?.form === form) resolving = null;
      renderList();
      setText(message, "Incident resolved: the channels told of it hear so at their next delivery.");
      await reloadList();
    }
    return { id, form, note };
  }

  /** Takes a fresh read of the incidents; a form whose incident is no longer open goes. */
  function setIncidents(list: Incident[]): void {
    incidents = new Map(list.map((i) => [i.id, i]));
    if (resolving && incidents.get(resolving.id)?.status !== "open") resolving = null;
  }

  /** The incidents the alerts of a page belong to: all its headings need. */
  const incidentIdsOf = (alerts: AlertSummary[]): number[] => [
    ...new Set(alerts.flatMap((a) => (a.incident_id === null ? [] : [a.incident_id]))),
  ];

  async function loadIncidents(): Promise<void> {
    const list = await ctx.run(api.listIncidents(incidentIdsOf(page?.alerts ?? [])));
    if (list) {
      setIncidents(list);
      renderList();
    }
  }

  // ---- detail ----------------------------------------------------------------------
  const detailView = h("section", { id: "alert-detail", class: "alert-detail", hidden: true, "aria-label": "Alert" });
  detailView.addEventListener("keydown", (e) => {
    if (e.key === "Escape") closeDetail();
  });

  function closeDetail(): void {
    detailId = null;
    detailSeq++;
    dropRemediation();
    dropTriage();
    detailView.hidden = true;
    delete detailView.dataset.alertId;
    replace(detailView);
    listView.hidden = false;
    renderList();
  }

  async function openDetail(id: number): Promise<void> {
    detailId = id;
    const seq = ++detailSeq;
    showSection();
    // Opened from a notification or a link before the list was ever shown: the rule
    // titles are needed first.
    await loadRules();
    const a = await ctx.run(api.getAlert(id));
    if (a && seq === detailSeq) renderDetail(a);
  }

  function renderDetail(a: AlertDetail): void {
    const wasOpen = !detailView.hidden && detailView.dataset.alertId === String(a.id);
    const focused = wasOpen && detailView.contains(document.activeElement) ? document.activeElement : null;
    const hadFocus = focused?.id || null;
    // A change event re-renders the open alert; keep a half-typed false-positive note.
    const prevForm = wasOpen ? detailView.querySelector<HTMLElement>("#false-positive-form") : null;
    const prevNote = wasOpen ? detailView.querySelector<HTMLTextAreaElement>("#status-note") : null;
    const prevTrust = wasOpen ? detailView.querySelector<HTMLInputElement>("#trust-destination") : null;
    detailView.dataset.alertId = String(a.id);
    const destinations = a.destinations;
    if (remediation && remediation.alertId !== a.id) dropRemediation();
    const rem = remediation ?? (remediation = createRemediation(ctx, a.id));
    if (wasOpen) void rem.refreshHistory();
    if (triage && triage.alertId !== a.id) dropTriage();
    const tri = triage ?? (triage = createTriage(ctx, a.id, (name) => {
      technician = name;
    }));
    // A new section reads its review itself; a kept one re-reads it (taken, noted, a status given).
    if (wasOpen) void tri.refresh();

    const actions = h("div", { class: "actions", id: "status-actions" });
    const setStatus = async (status: Exclude<AlertStatus, "suppressed">, note: string | null, trust: boolean) => {
      ctx.clearError();
      // Only the status buttons: the remediation view keeps its own enabled states.
      const buttons = [...actions.querySelectorAll("button"), ...fpForm.querySelectorAll("button")];
      for (const b of buttons) b.disabled = true;
      const ok = await ctx.run(api.setAlertStatus(a.id, status, note, trust).then(() => true));
      for (const b of buttons) b.disabled = false;
      if (ok) await ctx.refreshAll();
    };
    const fpForm = h("div", { id: "false-positive-form", class: "fp-form", hidden: true });
    const note = h("textarea", { id: "status-note", rows: 3, placeholder: "e.g. the client confirmed this forwarding" });
    const trust = destinations.length ? h("input", { id: "trust-destination", type: "checkbox" }) : null;
    replace(
      fpForm,
      h("label", { for: "status-note" }, "Why is this a false positive? (optional)"),
      note,
      trust
        ? h(
            "div",
            { class: "trust" },
            h("label", { class: "check" }, trust, " Trust this destination for this tenant"),
            h(
              "ul",
              { id: "trust-destinations", class: "destinations" },
              destinations.map((d) => h("li", null, h("code", null, d))),
            ),
            h("p", { class: "muted" }, "Later alerts forwarding to a trusted destination are stored as suppressed, without a notification."),
          )
        : null,
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          {
            id: "confirm-status",
            type: "button",
            class: "primary",
            on: { click: () => void setStatus("false_positive", note.value.trim() || null, trust?.checked ?? false) },
          },
          "Mark as false positive",
        ),
        h("button", { id: "cancel-status", type: "button", on: { click: () => { fpForm.hidden = true; } } }, "Cancel"),
      ),
    );
    // Secure and Remediate contains a mailbox: offered when the alert is about one.
    if (a.target.includes("@")) {
      const secure = h(
        "button",
        {
          id: "secure-remediate",
          type: "button",
          class: "primary prominent",
          "aria-controls": "remediation",
          "aria-expanded": rem.panel.hidden ? "false" : "true",
          on: {
            click: () => {
              secure.setAttribute("aria-expanded", "true");
              void rem.open();
            },
          },
        },
        "Secure and Remediate…",
      );
      actions.append(secure);
    }
    if (a.status !== "acknowledged")
      actions.append(
        h("button", { id: "mark-acknowledged", type: "button", on: { click: () => void setStatus("acknowledged", null, false) } }, "Acknowledge"),
      );
    if (a.status !== "resolved")
      actions.append(h("button", { id: "mark-resolved", type: "button", on: { click: () => void setStatus("resolved", null, false) } }, "Resolve"));
    if (a.status !== "open")
      actions.append(h("button", { id: "mark-open", type: "button", on: { click: () => void setStatus("open", null, false) } }, "Reopen"));
    if (a.status !== "false_positive")
      actions.append(
        h(
          "button",
          {
            id: "mark-false-positive",
            type: "button",
            on: {
              click: () => {
                fpForm.hidden = false;
                note.focus();
              },
            },
          },
          "False positive…",
        ),
      );

    replace(
      detailView,
      h(
        "div",
        { class: "detail-top" },
        h("button", { id: "back-to-alerts", type: "button", on: { click: () => closeDetail() } }, "← All alerts"),
        severityTag(a.severity),
        statusTag(a.status),
      ),
      h("h2", { id: "alert-summary", class: "summary wrap" }, a.summary),
      actions,
      fpForm,
      rem.panel,
      tri.el,
      evidenceFacts(a, ruleTitle),
      aboutRule(rules?.get(a.rule)),
      rem.history,
      incidentTimeline(a, ruleTitle, (id) => void openDetail(id)),
      h("h3", null, "Other alerts for this mailbox"),
      relatedList(a, ruleTitle, (id) => void openDetail(id)),
      h("h3", null, "Parameters"),
      h("div", { class: "table-wrap" }, parametersTable(a)),
      h("h3", null, "Raw audit record"),
      h("pre", { id: "alert-raw", class: "raw", tabindex: 0 }, a.raw_record),
    );
    if (prevForm && !prevForm.hidden && a.status !== "false_positive") {
      fpForm.hidden = false;
      if (prevNote) {
        note.value = prevNote.value;
        note.setSelectionRange(prevNote.selectionStart, prevNote.selectionEnd);
      }
      if (prevTrust && trust) trust.checked = prevTrust.checked;
    }
    if (!wasOpen) detailView.querySelector<HTMLButtonElement>("#back-to-alerts")?.focus();
    else if (focused instanceof HTMLElement && focused.isConnected) focused.focus();
    else if (hadFocus) document.getElementById(hadFocus)?.focus();
  }

  // ---- page ------------------------------------------------------------------------
  const el = h("div", { id: "alerts-page" }, firstRun, listView, detailView);

  const isFirstRun = (): boolean => firstRunFor(ctx.overview());

  function showSection(): void {
    const fr = isFirstRun() && detailId === null;
    firstRun.hidden = !fr;
    listView.hidden = fr || detailId !== null;
    detailView.hidden = fr || detailId === null;
  }

  /** Reads the rules' titles once; callers at the same time share the one read. */
  function loadRules(): Promise<void> {
    if (rules !== null) return Promise.resolve();
    rulesRead ??= ctx
      .run(api.rules())
      .then((all) => {
        if (all) rules = new Map(all.map((r) => [r.id, r]));
      })
      .finally(() => (rulesRead = null));
    return rulesRead;
  }

  /** The page at `offset` with the filters, as asked now. */
  function query(): AlertQuery {
    return {
      status: filters.status,
      severity: filters.severity === "any" ? null : filters.severity,
      tenant: filters.tenant || null,
      search: filters.search,
      held_by: assignee,
      offset,
      limit: PAGE_SIZE,
    };
  }

  /** Asks for the page with the filters; answers whether it is shown (not overtaken by a later question). */
  async function loadPage(): Promise<boolean> {
    const seq = ++pageSeq;
    const answer = await ctx.run(api.alertPage(query()));
    if (!answer || seq !== pageSeq) return false;
    await showPage(answer);
    return true;
  }

  async function showPage(answer: AlertPage): Promise<void> {
    page = answer;
    offset = answer.offset;
    renderTenantOptions();
    renderList();
    if (await learnTechnician(answer.alerts)) renderList();
  }

  /** Re-reads the page shown, where it is, with the filters (and the incidents, grouped). */
  async function reloadList(): Promise<void> {
    await loadRules();
    const seq = ++pageSeq;
    const answer = await ctx.run(api.alertPage(query()));
    if (!answer || seq !== pageSeq) return;
    // The headings of the "By incident" view need the page's incidents; the flat view none.
    if (filters.group === "incidents") {
      const found = await ctx.run(api.listIncidents(incidentIdsOf(answer.alerts)));
      if (seq !== pageSeq) return;
      if (found) setIncidents(found);
    }
    await showPage(answer);
  }

  /** Reads the technician's name once a held alert needs it (the "you" badge); see `technician`.
   * Answers whether it was learned now. */
  async function learnTechnician(list: AlertSummary[]): Promise<boolean> {
    const held = technician === null ? list.find((a) => a.assignee !== null) : undefined;
    if (!held) return false;
    const review = await ctx.run(api.alertReview(held.id));
    if (!review) return false;
    technician = review.technician;
    return true;
  }

  async function refresh(): Promise<void> {
    showSection();
    if (isFirstRun() && detailId === null) return;
    await reloadList();
    if (detailId !== null) {
      const id = detailId;
      const seq = detailSeq;
      const a = await ctx.run(api.getAlert(id));
      if (a && seq === detailSeq && detailId === id) renderDetail(a);
    }
  }

  async function enter(): Promise<void> {
    message.textContent = "";
    if (detailId !== null) closeDetail();
    await refresh();
  }

  // Leaving the page forgets the remediation view (and any password it shows).
  function leave(): void {
    remediation?.close();
    // Typed just before leaving: the search is what the box shows when the page is entered again.
    if (searchTimer !== undefined) {
      clearTimeout(searchTimer);
      searchTimer = undefined;
      filters.search = search.value;
      offset = 0;
    }
  }

  renderList();
  return { el, refresh, enter, leave, openDetail, closeDetail, reloadList };
}
