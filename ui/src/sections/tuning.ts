// Settings → Rules and allowlist: the severity each rule's alerts get, for every tenant
// or one, and the allowlist: what is trusted, where, until when and why, with removing
// and adding entries. Core checks and normalises every entry; the form only says what
// is missing. Values, reasons and names may come from audit data or colleagues: text via h().
import { api, type RuleInfo, type Severity, type SeverityOverride, type TenantStatus, type TrustEntry, type TrustKind } from "../api";
import type { Ctx } from "../ctx";
import { h, replace, setText } from "../h";
import { SEVERITIES, SEVERITY_LABEL, localDateTime, shortDateTime } from "../format";
import { labelled } from "../fields";

export interface TuningSection {
  readonly el: HTMLElement;
  /** Re-reads rules, tenants and the MSP's settings; the add form keeps what is typed. */
  refresh(): Promise<void>;
}

const KIND_LABEL: Record<TrustKind, string> = {
  destination: "Forwarding destination",
  rule_name: "Inbox rule name",
  application: "Application (by its id)",
  rule: "A whole rule",
};

const VALUE_HINT: Record<Exclude<TrustKind, "rule">, string> = {
  destination: "An address (accountant@partner.example) or a whole domain (partner.example). Public mail domains are refused.",
  rule_name: "Quiets deleting, moving or marking read; never forwarding outside.",
  application: "The application (client) id, a GUID: its name is whatever its publisher, or an attacker, chose.",
};

/** "Client 01" for a known tenant id, the id itself otherwise; "every tenant" for null. */
function tenantLabel(tenants: TenantStatus[], id: string | null): string {
  if (id === null) return "Every tenant";
  return tenants.find((t) => t.tenant_id === id)?.name ?? id;
}

export function createTuningSection(ctx: Ctx): TuningSection {
  let rules: RuleInfo[] = [];
  let tenants: TenantStatus[] = [];
  const severities = h("div", { id: "rule-severities", class: "table-wrap" });
  const entries = h("div", { id: "allowlist-entries", class: "table-wrap" });
  const message = h("p", { id: "tuning-message", role: "status", class: "wrap" });

  const kind = h(
    "select",
    { id: "trust-kind" },
    (Object.keys(KIND_LABEL) as TrustKind[]).map((k) => h("option", { value: k }, KIND_LABEL[k])),
  );
  const value = h("input", { id: "trust-value", type: "text", autocomplete: "off", spellcheck: "false" });
  const valueHint = h("span", null);
  const rule = h("select", { id: "trust-rule" });
  const tenant = h("select", { id: "trust-tenant" });
  const account = h("input", {
    id: "trust-account",
    type: "text",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "every account",
  });
  const reason = h("input", { id: "trust-reason", type: "text", autocomplete: "off", maxlength: 500 });
  const expires = h("input", {
    id: "trust-expires",
    type: "text",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "until removed",
  });
  const valueField = labelled("Value", value, valueHint);
  const ruleField = labelled("Rule", rule, "Every alert of the rule in the entry's scope. Rules about mail leaving the organisation are not listed: trust the destination instead.");
  const addBtn = h("button", { id: "trust-add", type: "submit", class: "primary" }, "Add to the allowlist");
  const form = h(
    "form",
    { id: "trust-form", novalidate: true },
    h("h4", null, "Trust something"),
    labelled("What", kind),
    valueField,
    ruleField,
    labelled("Tenant", tenant),
    labelled("Only for the account", account, "The mailbox or user an alert is about, e.g. scanner@contoso.example; blank for every account."),
    labelled("Why it is safe", reason, "Required: whoever reads the allowlist later needs it."),
    labelled("Until", expires, "A date (2027-01-31, the whole day, UTC), a time (2027-01-31T18:00:00Z) or a span from now (12h, 30d, 2w); blank until removed."),
    h("div", { class: "actions" }, addBtn),
  );
  kind.addEventListener("change", () => showKind());
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void add();
  });

  const el = h(
    "section",
    { id: "tuning", class: "card", "aria-labelledby": "tuning-title" },
    h("h3", { id: "tuning-title" }, "Rules and allowlist"),
    h(
      "p",
      { class: "hint" },
      "Shared by every workstation of a team. Changes apply to alerts found from now on; alerts already stored keep what they were given.",
    ),
    h("h4", null, "Severity of each rule's alerts"),
    severities,
    h("h4", null, "Allowlist"),
    h("p", { class: "hint" }, "Alerts an entry covers are stored as suppressed and never notified. Expired entries stay listed and quiet nothing."),
    entries,
    form,
    message,
  );

  function say(text: string, error = false): void {
    setText(message, text);
    message.classList.toggle("field-error", error);
  }

  function showKind(): void {
    const k = kind.value as TrustKind;
    ruleField.hidden = k !== "rule";
    valueField.hidden = k === "rule";
    if (k !== "rule") setText(valueHint, VALUE_HINT[k]);
  }

  function fillChoices(): void {
    const keptRule = rule.value;
    replace(
      rule,
      rules.filter((r) => r.quieted_by.includes("rule")).map((r) => h("option", { value: r.id }, `${r.title} (${r.id})`)),
    );
    if (keptRule) rule.value = keptRule;
    const keptTenant = tenant.value;
    replace(
      tenant,
      h("option", { value: "" }, "Every tenant"),
      tenants.map((t) => h("option", { value: t.tenant_id }, t.name)),
    );
    if (keptTenant) tenant.value = keptTenant;
  }

  function severitySelect(r: RuleInfo, set: SeverityOverride[]): HTMLSelectElement {
    const every = set.find((o) => o.rule === r.id && o.tenant_id === null);
    const select = h(
      "select",
      { id: `severity-${r.id}`, "aria-label": `Severity of ${r.title} for every tenant` },
      h("option", { value: "" }, "The rule's own"),
      SEVERITIES.map((s) => h("option", { value: s }, SEVERITY_LABEL[s])),
    );
    select.value = every?.severity ?? "";
    select.addEventListener("change", () => void setSeverity(r, null, (select.value || null) as Severity | null));
    return select;
  }

  function showSeverities(set: SeverityOverride[]): void {
    replace(
      severities,
      h(
        "table",
        null,
        h("thead", null, h("tr", null, ["Rule", "How it chooses", "Every tenant", "Set for one tenant"].map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          null,
          rules.map((r) =>
            h(
              "tr",
              { "data-rule": r.id },
              h("td", null, r.title, h("div", { class: "hint" }, h("code", null, r.id))),
              h("td", { class: "wrap hint" }, r.severity),
              h("td", null, severitySelect(r, set)),
              h(
                "td",
                { class: "wrap" },
                set
                  .filter((o) => o.rule === r.id && o.tenant_id !== null)
                  .map((o) =>
                    h(
                      "div",
                      null,
                      `${tenantLabel(tenants, o.tenant_id)}: ${SEVERITY_LABEL[o.severity]} `,
                      h(
                        "button",
                        {
                          type: "button",
                          class: "link",
                          "aria-label": `Give ${r.title} its own severity again for ${tenantLabel(tenants, o.tenant_id)}`,
                          on: { click: () => void setSeverity(r, o.tenant_id, null) },
                        },
                        "clear",
                      ),
                    ),
                  ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  function until(e: TrustEntry, now: number): HTMLElement {
    if (e.expires_at === null) return h("td", null, "until removed");
    const expired = Date.parse(e.expires_at) <= now;
    return h(
      "td",
      { title: localDateTime(e.expires_at), class: expired ? "expired" : null },
      expired ? `expired ${shortDateTime(e.expires_at)}` : `until ${shortDateTime(e.expires_at)}`,
    );
  }

  function showEntries(list: TrustEntry[]): void {
    if (list.length === 0) {
      replace(entries, h("p", { id: "allowlist-empty" }, "Nothing is trusted yet."));
      return;
    }
    const now = Date.now();
    replace(
      entries,
      h(
        "table",
        null,
        h("thead", null, h("tr", null, ["Trusts", "Where", "How long", "Why", ""].map((c) => h("th", { scope: "col" }, c)))),
        h(
          "tbody",
          null,
          list.map((e) =>
            h(
              "tr",
              { id: `trust-${e.id}` },
              h("td", { class: "wrap" }, `${KIND_LABEL[e.kind]}: `, h("code", null, e.value)),
              h("td", { class: "wrap" }, tenantLabel(tenants, e.tenant_id), e.account === null ? null : h("div", { class: "hint" }, `only ${e.account}`)),
              until(e, now),
              h("td", { class: "wrap" }, e.reason ?? "", e.added_by === null ? null : h("div", { class: "hint" }, `added by ${e.added_by}`)),
              h(
                "td",
                null,
                h("button", { id: `untrust-${e.id}`, type: "button", on: { click: () => void remove(e) } }, "Remove"),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async function refresh(): Promise<void> {
    const read = await ctx.run(Promise.all([api.rules(), api.listTenants(), api.tuning()]));
    if (read === undefined) return;
    const [r, t, tuning] = read;
    rules = r;
    tenants = t;
    fillChoices();
    showKind();
    showSeverities(tuning.severities);
    showEntries(tuning.allowlist);
  }

  async function setSeverity(r: RuleInfo, tenantId: string | null, severity: Severity | null): Promise<void> {
    ctx.clearError();
    const set = await ctx.run(api.setRuleSeverity(r.id, tenantId, severity));
    if (set === undefined) {
      await refresh();
      return;
    }
    showSeverities(set);
    const where = tenantId === null ? "every tenant" : tenantLabel(tenants, tenantId);
    say(`${r.title}: ${severity === null ? "its own severity" : SEVERITY_LABEL[severity]} for ${where}, on alerts found from now on.`);
  }

  async function add(): Promise<void> {
    ctx.clearError();
    const k = kind.value as TrustKind;
    const v = k === "rule" ? rule.value : value.value.trim();
    if (!v) {
      say(k === "rule" ? "Choose the rule to trust." : "Enter what to trust.", true);
      (k === "rule" ? rule : value).focus();
      return;
    }
    if (!reason.value.trim()) {
      say("Say why it is safe: whoever reads the allowlist later needs it.", true);
      reason.focus();
      return;
    }
    addBtn.disabled = true;
    const entry = await ctx.run(
      api.trust({
        tenant_id: tenant.value || null,
        account: account.value.trim() || null,
        kind: k,
        value: v,
        reason: reason.value.trim(),
        expires: expires.value.trim() || null,
      }),
    );
    addBtn.disabled = false;
    if (entry === undefined) {
      say("Not added: nothing was stored.", true);
      return;
    }
    value.value = "";
    account.value = "";
    reason.value = "";
    expires.value = "";
    say(`Allowlist entry ${entry.id} added: alerts it covers from now on are stored as suppressed.`);
    await refresh();
  }

  async function remove(e: TrustEntry): Promise<void> {
    ctx.clearError();
    const gone = await ctx.run(api.untrust(e.id));
    if (gone === undefined) return;
    say(`Allowlist entry ${e.id} removed; the alerts it kept quiet stay so.`);
    await refresh();
  }

  return { el, refresh };
}
