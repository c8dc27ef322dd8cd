// Tenants: each watched tenant's scan state, a connection test, removal with a confirm
// step, the add form (the secret goes straight to the command, then to the OS keychain),
// and leaving the sandbox.
import { api, type Cloud, type ConnectionStep, type NewTenant, type TenantStatus } from "../api";
import type { Ctx, Page } from "../ctx";
import { h, replace } from "../h";
import { CLOUD_LABEL, TENANT_STATE_LABEL, localDateTime } from "../format";
import { checkId, fieldErrors, idInput, labelled } from "../fields";
import { createPartnerSection } from "./partner";

const STEP_LABEL: Record<ConnectionStep["step"], string> = {
  token: "Sign in (token)",
  subscription: "Audit log subscription",
  domains: "Read domains",
};

export interface TenantFormInput {
  tenant_id: string;
  name: string;
  client_id: string;
  secret: string;
  hasCertificate: boolean;
  /** The MSP's own tenant id, when the form asks for it; empty skips it. */
  msp_tenant_id?: string;
}

/** Field id → message, for every problem in the add form. Empty when it can be sent. */
export function validateTenant(f: TenantFormInput): Record<string, string> {
  const errors: Record<string, string> = {};
  checkId(errors, "tenant-id", f.tenant_id, "tenant id", "Enter the tenant id (Directory (tenant) ID in Entra).");
  if (!f.name.trim()) errors["tenant-name"] = "Enter a name you will recognise, e.g. the client's company name.";
  checkId(errors, "client-id", f.client_id, "client id", "Enter the app's client id (Application (client) ID in Entra).");
  const hasSecret = f.secret.length > 0;
  if (hasSecret && f.hasCertificate) errors["credential"] = "Give either a client secret or a certificate, not both.";
  else if (!hasSecret && !f.hasCertificate) errors["credential"] = "Give the app's client secret or its certificate.";
  if (f.msp_tenant_id?.trim()) checkId(errors, "msp-tenant-id", f.msp_tenant_id, "tenant id", "");
  return errors;
}

function readText(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(typeof r.result === "string" ? r.result : "");
    r.onerror = () => reject(new Error(`Could not read ${file.name}`));
    r.readAsText(file);
  });
}

export function createTenantsPage(ctx: Ctx): Page {
  const partner = createPartnerSection(ctx);
  const list = h("div", { id: "tenant-list", class: "tenant-list" });
  const empty = h("p", { id: "tenants-empty", class: "empty", hidden: true }, "No tenant is watched yet. Add one below.");
  const sandboxBox = h(
    "div",
    { id: "sandbox-box", class: "card sandbox-card", hidden: true },
    h("h3", null, "Sandbox"),
    h(
      "p",
      null,
      "Rulewatch is watching its built-in sandbox tenant, a stand-in for Microsoft with planted attacks. Nothing real is touched.",
    ),
    h("button", { id: "leave-sandbox", type: "button", on: { click: () => void leaveSandbox() } }, "Leave the sandbox"),
  );

  function findRow(tenantId: string): HTMLElement | undefined {
    return Array.from(list.querySelectorAll<HTMLElement>("[data-testid=tenant-row]")).find((r) => r.dataset.tenantId === tenantId);
  }

  async function leaveSandbox(): Promise<void> {
    ctx.clearError();
    const ok = await ctx.run(api.leaveSandbox().then(() => true));
    if (ok) await ctx.refreshAll();
  }

  function renderTenant(t: TenantStatus): HTMLElement {
    const result = h("div", { "data-testid": "connection-result", class: "connection-result", hidden: true, "aria-live": "polite" });
    const testBtn: HTMLButtonElement = h(
      "button",
      {
        type: "button",
        "data-testid": "test-connection",
        on: {
          click: async () => {
            ctx.clearError();
            testBtn.disabled = true;
            result.hidden = false;
            replace(result, h("span", { class: "muted" }, "Testing…"));
            const steps = await ctx.run(api.testConnection(t.tenant_id));
            // A change event may have rebuilt the list meanwhile: answer in the row shown now.
            const live = findRow(t.tenant_id);
            const out = live?.querySelector<HTMLElement>("[data-testid=connection-result]") ?? result;
            const btn = live?.querySelector<HTMLButtonElement>("[data-testid=test-connection]") ?? testBtn;
            btn.disabled = false;
            if (!steps) {
              out.hidden = true;
              return;
            }
            replace(
              out,
              h(
                "ul",
                { class: "steps" },
                steps.map((s) =>
                  h(
                    "li",
                    { class: s.ok ? "step-ok" : "step-fail", "data-step": s.step },
                    h("span", { class: "mark", "aria-label": s.ok ? "passed" : "failed" }, s.ok ? "✓" : "✗"),
                    " ",
                    h("strong", null, STEP_LABEL[s.step] ?? s.step),
                    " ",
                    s.detail,
                  ),
                ),
              ),
            );
          },
        },
      },
      "Test connection",
    );
    const confirm = h(
      "div",
      { class: "confirm", hidden: true },
      h(
        "span",
        null,
        t.partner
          ? `Stop watching ${t.name}? It stays out of "watch all"; its alerts are kept.`
          : `Remove ${t.name}? Rulewatch stops watching it and deletes its keychain secret.`,
      ),
      h(
        "button",
        {
          type: "button",
          class: "danger",
          "data-testid": "confirm-remove",
          on: {
            click: async () => {
              ctx.clearError();
              const ok = await ctx.run(api.removeTenant(t.tenant_id).then(() => true));
              if (ok) await ctx.refreshAll();
            },
          },
        },
        t.partner ? "Stop watching" : "Remove",
      ),
      h("button", { type: "button", "data-testid": "cancel-remove", on: { click: () => { confirm.hidden = true; } } }, "Cancel"),
    );
    const removeBtn = h(
      "button",
      { type: "button", "data-testid": "remove-tenant", on: { click: () => { confirm.hidden = false; } } },
      t.partner ? "Stop watching…" : "Remove…",
    );
    const showMessage = (t.state === "error" || t.state === "partial") && t.message;
    return h(
      "article",
      { "data-testid": "tenant-row", "data-tenant-id": t.tenant_id, class: `card tenant tenant-${t.state}` },
      h(
        "div",
        { class: "tenant-head" },
        h("h3", { class: "wrap" }, t.name),
        h("span", { class: `state state-${t.state}`, "data-testid": "tenant-state" }, TENANT_STATE_LABEL[t.state] ?? t.state),
        t.cloud && t.cloud !== "global"
          ? h("span", { class: "tag", "data-testid": "tenant-cloud", "data-cloud": t.cloud }, CLOUD_LABEL[t.cloud] ?? t.cloud)
          : null,
      ),
      h("div", { class: "muted mono" }, t.tenant_id),
      showMessage ? h("p", { class: `tenant-message state-${t.state}`, "data-testid": "tenant-problem" }, t.message) : null,
      h(
        "dl",
        { class: "facts compact" },
        h("dt", null, "Last successful scan"),
        h("dd", null, localDateTime(t.last_success_at)),
        h("dt", null, "Data complete up to"),
        h("dd", null, localDateTime(t.data_complete_until)),
        h("dt", null, "Open alerts"),
        h("dd", { "data-testid": "tenant-open-alerts" }, String(t.open_alerts)),
      ),
      h("div", { class: "actions" }, testBtn, removeBtn),
      result,
      confirm,
    );
  }

  // ---- add form --------------------------------------------------------------------
  const tenantId = idInput("tenant-id");
  const tenantName = h("input", { id: "tenant-name", type: "text", autocomplete: "off", "aria-describedby": "tenant-name-error" });
  const clientId = idInput("client-id");
  const secret = h("input", { id: "client-secret", type: "password", autocomplete: "new-password", "aria-describedby": "credential-error" });
  const certFile = h("input", { id: "certificate-file", type: "file", accept: ".pem,.crt,.cer,.key,application/x-pem-file", "aria-describedby": "credential-error" });
  const mspTenant = idInput("msp-tenant-id");
  const cloud = h(
    "select",
    { id: "tenant-cloud" },
    h("option", { value: "" }, "Find out from Microsoft"),
    ...Object.entries(CLOUD_LABEL).map(([value, label]) => h("option", { value }, label)),
  ) as HTMLSelectElement;
  const mspField = h(
    "div",
    { id: "msp-tenant-field", hidden: true },
    labelled(
      "Your MSP's own tenant id (asked once)",
      mspTenant,
      "Microsoft counts the audit log calls against this tenant (PublisherIdentifier), not against each client's quota. Leave empty to skip.",
    ),
  );
  const message = h("p", { id: "tenant-message", class: "ok-message", role: "status" });
  const saveBtn = h("button", { id: "save-tenant", type: "submit", class: "primary" }, "Add tenant");
  const errs = fieldErrors({
    "tenant-id": [tenantId],
    "tenant-name": [tenantName],
    "client-id": [clientId],
    credential: [secret, certFile],
    "msp-tenant-id": [mspTenant],
  });

  const form = h(
    "form",
    { id: "add-tenant-form", class: "card add-tenant", novalidate: true, "aria-labelledby": "add-tenant-title" },
    h("h3", { id: "add-tenant-title" }, "Add a tenant"),
    h(
      "p",
      { class: "hint" },
      "Register an app in the client's Entra admin center with the application permissions ActivityFeed.Read " +
        "(Office 365 Management APIs) and Domain.Read.All (Microsoft Graph), grant admin consent, then enter its details here.",
    ),
    labelled("Tenant id", tenantId, "Directory (tenant) ID"),
    errs.boxes["tenant-id"],
    labelled("Name", tenantName, "How Rulewatch shows this tenant"),
    errs.boxes["tenant-name"],
    labelled("Client id", clientId, "Application (client) ID of the registered app"),
    errs.boxes["client-id"],
    h(
      "fieldset",
      { class: "credential" },
      h("legend", null, "Credential: a client secret or a certificate, not both"),
      labelled("Client secret", secret),
      h("div", { class: "or" }, "or"),
      labelled("Certificate (PEM file with the private key)", certFile),
      errs.boxes.credential,
    ),
    labelled("Cloud", cloud, "GCC, GCC High and DoD tenants are read at their own cloud's hosts."),
    mspField,
    errs.boxes["msp-tenant-id"],
    h("div", { class: "actions" }, saveBtn),
    message,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void submit();
  });

  async function submit(): Promise<void> {
    ctx.clearError();
    message.textContent = "";
    const file = certFile.files && certFile.files.length ? certFile.files[0] : null;
    const found = validateTenant({
      tenant_id: tenantId.value,
      name: tenantName.value,
      client_id: clientId.value,
      secret: secret.value,
      hasCertificate: !!file,
      msp_tenant_id: mspField.hidden ? "" : mspTenant.value,
    });
    let pem: string | null = null;
    if (file && !found.credential) {
      try {
        pem = await readText(file);
      } catch (e) {
        found.credential = e instanceof Error ? e.message : String(e);
      }
      if (pem !== null && !pem.includes("-----BEGIN")) {
        found.credential = "That file is not a PEM certificate (it has no -----BEGIN line).";
        pem = null;
      }
    }
    if (errs.show(found)) return;
    const name = tenantName.value.trim();
    const tenant: NewTenant = {
      tenant_id: tenantId.value.trim(),
      name,
      client_id: clientId.value.trim(),
      client_secret: pem === null ? secret.value : null,
      certificate_pem: pem,
    };
    const msp = mspField.hidden ? "" : mspTenant.value.trim();
    if (msp) tenant.msp_tenant_id = msp;
    if (cloud.value) tenant.cloud = cloud.value as Cloud;
    saveBtn.disabled = true;
    const place = await ctx.run(api.addTenant(tenant));
    // The only copy of the credential in JS was `tenant`; drop it whatever happened.
    tenant.client_secret = null;
    tenant.certificate_pem = null;
    pem = null;
    saveBtn.disabled = false;
    if (place === undefined) return;
    form.reset();
    secret.value = "";
    certFile.value = "";
    message.textContent = `Added ${name}, ${place}; its secret is in the OS keychain.`;
    await ctx.refreshAll();
  }

  const el = h(
    "div",
    { id: "tenants-page" },
    h("h2", null, "Tenants"),
    sandboxBox,
    partner.el,
    h("h3", { id: "watched-tenants-title" }, "Watched tenants"),
    list,
    empty,
    form,
  );

  async function refresh(): Promise<void> {
    sandboxBox.hidden = !ctx.overview()?.sandbox;
    await Promise.all([partner.refresh(), refreshTenants(), refreshMsp()]);
  }

  async function refreshMsp(): Promise<void> {
    const known = await ctx.run(api.mspTenant());
    if (known) mspField.hidden = !known.ask;
  }

  async function refreshTenants(): Promise<void> {
    const tenants = await ctx.run(api.listTenants());
    if (!tenants) return;
    replace(list, tenants.map(renderTenantSafe));
    empty.hidden = tenants.length > 0;
  }

  // A refresh rebuilds the rows; keep any open connection result or confirm step.
  function renderTenantSafe(t: TenantStatus): HTMLElement {
    const old = findRow(t.tenant_id);
    const row = renderTenant(t);
    if (old) {
      const oldResult = old.querySelector<HTMLElement>("[data-testid=connection-result]");
      const oldConfirm = old.querySelector<HTMLElement>(".confirm");
      const newResult = row.querySelector<HTMLElement>("[data-testid=connection-result]");
      const newConfirm = row.querySelector<HTMLElement>(".confirm");
      if (oldResult && newResult) {
        replace(newResult, ...Array.from(oldResult.childNodes));
        newResult.hidden = oldResult.hidden;
      }
      if (oldConfirm && newConfirm) newConfirm.hidden = oldConfirm.hidden;
      const oldTest = old.querySelector<HTMLButtonElement>("[data-testid=test-connection]");
      const newTest = row.querySelector<HTMLButtonElement>("[data-testid=test-connection]");
      if (oldTest && newTest) newTest.disabled = oldTest.disabled;
    }
    return row;
  }

  async function enter(): Promise<void> {
    message.textContent = "";
    await refresh();
  }

  return { el, refresh, enter };
}
