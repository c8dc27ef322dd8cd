// Partner sign-in (GDAP), on the Tenants page: sign in once with the MSP's partner account
// in the browser, then every customer the GDAP relationships reach is listed, watched or
// excluded. Customer names and messages come from Microsoft: text only, like everything.
// The section is built once; a refresh re-renders the account and the customers but never
// the two input fields, so a half-typed id survives a change event.
import { api, type Customer, type PartnerAccount, type PartnerState } from "../api";
import { errorMessage, type Ctx } from "../ctx";
import { h, replace, setText } from "../h";
import { localDateTime } from "../format";
import { checkId, fieldErrors, idInput, labelled } from "../fields";

export interface PartnerSection {
  el: HTMLElement;
  /** Re-reads the partner state (called with the Tenants page's refresh). */
  refresh(): Promise<void>;
}

/** Field id → message for the sign-in form. Empty when it can be sent. */
export function validatePartner(tenantId: string, clientId: string): Record<string, string> {
  const errors: Record<string, string> = {};
  checkId(errors, "partner-tenant-id", tenantId, "tenant id", "Enter your own (MSP) tenant id: Directory (tenant) ID in Entra.");
  checkId(errors, "partner-client-id", clientId, "client id", "Enter the partner app's client id: Application (client) ID in Entra.");
  return errors;
}

/** The sign-in lapsed (or was revoked): only a new browser sign-in helps. */
export function signInLapsed(s: PartnerState): boolean {
  return s.problem_kind === "sign_in_needed" || s.customers.some((c) => c.problem === "sign_in_needed");
}

export function watchState(c: Customer): { key: "watched" | "excluded" | "not_watched"; text: string } {
  if (c.watched) return { key: "watched", text: "watched" };
  if (c.excluded) return { key: "excluded", text: "excluded" };
  return { key: "not_watched", text: "not watched" };
}

const ACCESS_TEXT: Record<string, string> = {
  ok: "ok",
  partial: "partial",
  error: "error",
  not_scanned: "not scanned yet",
};
export function accessText(c: Customer): string {
  return c.access ? (ACCESS_TEXT[c.access] ?? c.access) : "not scanned yet";
}

export function createPartnerSection(ctx: Ctx): PartnerSection {
  /** The account last seen signed in: prefills the form and feeds "sign in again". */
  let lastAccount: PartnerAccount | null = null;
  let current: PartnerState | null = null;
  let signingIn = false;
  /** The user typed in the form: never overwrite it with a prefill. */
  let typed = false;
  /** Bumped by every answer that renders, so an older answer arriving late is dropped. */
  let generation = 0;
  /** Customers whose exclude confirm step is open (kept across re-renders). */
  const confirming = new Set<string>();

  // ---- signed out: the form ----------------------------------------------------------
  const tenantInput = idInput("partner-tenant-id", { input: () => (typed = true) });
  const clientInput = idInput("partner-client-id", { input: () => (typed = true) });
  const errs = fieldErrors({ "partner-tenant-id": [tenantInput], "partner-client-id": [clientInput] });
  const signInBtn: HTMLButtonElement = h("button", { id: "partner-sign-in", type: "submit", class: "primary" }, "Sign in with the partner account");
  const form = h(
    "form",
    { id: "partner-sign-in-form", class: "partner-form", novalidate: true },
    h(
      "p",
      null,
      "Sign in once with your MSP partner account, with MFA, in your browser. Rulewatch then watches every customer " +
        "your GDAP relationships reach, and picks up new ones as they appear. The app-only tenants below keep working beside it.",
    ),
    labelled("Partner tenant id", tenantInput, "Your own (MSP) tenant: Directory (tenant) ID"),
    errs.boxes["partner-tenant-id"],
    labelled("Partner app client id", clientInput, "Application (client) ID of the partner app registered in your tenant"),
    errs.boxes["partner-client-id"],
    h("div", { class: "actions" }, signInBtn),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    void submit();
  });
  const signedOut = h("div", { id: "partner-signed-out" }, form);

  // ---- shared: waiting, sign-in error, problem ----------------------------------------
  const waiting = h(
    "p",
    { id: "partner-waiting", class: "partner-waiting", role: "status", hidden: true },
    "Finish signing in in your browser…",
  );
  const signInError = h("p", { id: "partner-error", class: "field-error partner-error", role: "alert", hidden: true });
  const problemText = h("span", { id: "partner-problem-text", class: "wrap" });
  const signInAgainBtn: HTMLButtonElement = h(
    "button",
    { id: "partner-sign-in-again", type: "button", class: "primary", hidden: true, on: { click: () => void signInAgain() } },
    "Sign in again",
  );
  const problemBox = h("div", { id: "partner-problem", class: "partner-problem", role: "alert", hidden: true }, problemText, signInAgainBtn);

  // ---- signed in: account, sign out, watch all, customers -----------------------------
  const account = h("dl", { id: "partner-account", class: "facts compact" });
  const signOutConfirmText = h("span", { class: "wrap" });
  const signOutConfirm = h(
    "div",
    { id: "partner-sign-out-confirm", class: "confirm", hidden: true },
    signOutConfirmText,
    h("button", { id: "partner-confirm-sign-out", type: "button", class: "danger", on: { click: () => void signOut() } }, "Sign out"),
    h("button", { id: "partner-cancel-sign-out", type: "button", on: { click: () => (signOutConfirm.hidden = true) } }, "Cancel"),
  );
  const signOutBtn = h(
    "button",
    { id: "partner-sign-out", type: "button", on: { click: () => (signOutConfirm.hidden = false) } },
    "Sign out…",
  );
  const watchAll: HTMLInputElement = h("input", { id: "watch-all", type: "checkbox", on: { change: () => void toggleWatchAll() } });
  const refreshBtn: HTMLButtonElement = h(
    "button",
    { id: "refresh-customers", type: "button", on: { click: () => void refreshCustomers() } },
    "Refresh customers",
  );
  const customerList = h("ul", { id: "customer-list", class: "customer-list" });
  const customersEmpty = h(
    "p",
    { id: "customers-empty", class: "empty", hidden: true },
    "No customers found: check your GDAP relationships.",
  );
  const signedIn = h(
    "div",
    { id: "partner-signed-in", hidden: true },
    account,
    h("div", { class: "actions" }, signOutBtn),
    signOutConfirm,
    h(
      "div",
      { class: "field check-field" },
      h("label", { class: "check" }, watchAll, "Watch all customers, including new ones"),
      h("div", { class: "hint" }, "Off: only the customers you choose are watched; new ones are listed but not scanned."),
    ),
    h("div", { class: "customers-head" }, h("h4", null, "Customers"), refreshBtn),
    customerList,
    customersEmpty,
  );

  const el = h(
    "section",
    { id: "partner", class: "card partner", "aria-labelledby": "partner-title" },
    h("h3", { id: "partner-title" }, "Partner sign-in (GDAP)"),
    problemBox,
    signedOut,
    waiting,
    signInError,
    signedIn,
  );

  // ---- rendering --------------------------------------------------------------------
  function prefill(a: PartnerAccount | null): void {
    if (!a || typed) return;
    tenantInput.value = a.tenant_id;
    clientInput.value = a.client_id;
  }

  function fact(label: string, value: string, id?: string): HTMLElement[] {
    return [h("dt", null, label), h("dd", id ? { id } : null, value)];
  }

  function render(s: PartnerState): void {
    current = s;
    if (s.account) lastAccount = s.account;
    prefill(s.account ?? lastAccount);
    const a = s.account;
    signedOut.hidden = !!a;
    signedIn.hidden = !a;
    if (!a) signOutConfirm.hidden = true;
    if (a) {
      replace(
        account,
        fact("Signed in as", a.upn, "partner-upn"),
        fact("Partner tenant", a.tenant_id, "partner-tenant"),
        fact("Signed in", localDateTime(a.signed_in_at)),
        fact("Last refreshed", localDateTime(a.refreshed_at)),
        a.refresh_expires_at ? fact("Sign-in lapses", localDateTime(a.refresh_expires_at)) : null,
      );
      signOutConfirmText.textContent =
        `Sign out ${a.upn}? Rulewatch removes the partner refresh token from the OS keychain; ` +
        "the customers are not scanned until you sign in again. Their alerts are kept.";
    }
    watchAll.checked = s.watch_all;

    const lapsed = signInLapsed(s);
    const problem = s.problem ?? (lapsed ? "The partner sign-in lapsed: sign in again to keep watching the customers." : null);
    problemBox.hidden = !problem;
    setText(problemText, problem ?? "");
    signInAgainBtn.hidden = !(lapsed && (a ?? lastAccount));
    signInAgainBtn.disabled = signingIn;

    for (const id of Array.from(confirming)) if (!s.customers.some((c) => c.tenant_id === id && c.watched)) confirming.delete(id);
    replace(customerList, s.customers.map(renderCustomer));
    customersEmpty.hidden = !a || s.customers.length > 0;
  }

  function rolesText(roles: string[] | null): string {
    if (roles === null) return "GDAP roles: unknown (they could not be read)";
    return roles.length ? `GDAP roles: ${roles.join(", ")}` : "GDAP roles: none (no active relationship grants a role)";
  }

  function renderCustomer(c: Customer): HTMLElement {
    const w = watchState(c);
    const access = c.access ?? "not_scanned";
    const confirm = h(
      "div",
      { class: "confirm", hidden: !confirming.has(c.tenant_id) },
      h("span", { class: "wrap" }, `Stop watching ${c.name}? It stays out of "watch all"; its alerts are kept.`),
      h(
        "button",
        {
          type: "button",
          class: "danger",
          "data-testid": "confirm-exclude",
          on: {
            click: async (e) => {
              (e.currentTarget as HTMLButtonElement).disabled = true;
              confirming.delete(c.tenant_id);
              ctx.clearError();
              await ctx.run(api.excludeCustomer(c.tenant_id));
              await ctx.refreshAll();
            },
          },
        },
        "Stop watching",
      ),
      h(
        "button",
        {
          type: "button",
          "data-testid": "cancel-exclude",
          on: {
            click: () => {
              confirming.delete(c.tenant_id);
              confirm.hidden = true;
            },
          },
        },
        "Cancel",
      ),
    );
    const action = c.watched
      ? h(
          "button",
          {
            type: "button",
            "data-testid": "exclude-customer",
            on: {
              click: () => {
                confirming.add(c.tenant_id);
                confirm.hidden = false;
              },
            },
          },
          "Stop watching…",
        )
      : h(
          "button",
          {
            type: "button",
            "data-testid": "watch-customer",
            on: {
              click: async (e) => {
                (e.currentTarget as HTMLButtonElement).disabled = true;
                ctx.clearError();
                await ctx.run(api.watchCustomer(c.tenant_id));
                await ctx.refreshAll();
              },
            },
          },
          "Watch",
        );
    return h(
      "li",
      { "data-testid": "customer-row", "data-tenant-id": c.tenant_id, class: `customer customer-${w.key}` },
      h(
        "div",
        { class: "customer-head" },
        h("strong", { class: "wrap customer-name" }, c.name),
        h("span", { class: `watch watch-${w.key}`, "data-testid": "customer-watch", "data-state": w.key }, w.text),
        h(
          "span",
          { class: "customer-access" },
          "access: ",
          h("span", { class: `state state-${access}`, "data-testid": "customer-access", "data-state": access }, accessText(c)),
        ),
      ),
      h("div", { class: "muted mono" }, c.tenant_id),
      h("div", { class: "muted wrap", "data-testid": "customer-roles" }, rolesText(c.gdap_roles)),
      c.message ? h("p", { class: `tenant-message state-error`, "data-testid": "customer-problem", "data-problem": c.problem ?? "" }, c.message) : null,
      h("div", { class: "actions" }, action),
      confirm,
    );
  }

  // ---- actions ----------------------------------------------------------------------
  async function submit(): Promise<void> {
    if (errs.show(validatePartner(tenantInput.value, clientInput.value))) return;
    await signIn(tenantInput.value.trim(), clientInput.value.trim());
  }

  async function signInAgain(): Promise<void> {
    const a = current?.account ?? lastAccount;
    if (a) await signIn(a.tenant_id, a.client_id);
  }

  function setSigningIn(on: boolean): void {
    signingIn = on;
    waiting.hidden = !on;
    signInBtn.disabled = on;
    signInAgainBtn.disabled = on;
  }

  async function signIn(tenantId: string, clientId: string): Promise<void> {
    if (signingIn) return;
    ctx.clearError();
    signInError.hidden = true;
    signInError.textContent = "";
    setSigningIn(true);
    try {
      await api.partnerSignIn(tenantId, clientId);
    } catch (e) {
      setSigningIn(false);
      setText(signInError, errorMessage(e));
      signInError.hidden = false;
      return;
    }
    setSigningIn(false);
    typed = false;
    await ctx.refreshAll();
  }

  async function signOut(): Promise<void> {
    signOutConfirm.hidden = true;
    ctx.clearError();
    const ok = await ctx.run(api.partnerSignOut().then(() => true));
    if (ok) await ctx.refreshAll();
  }

  async function toggleWatchAll(): Promise<void> {
    const on = watchAll.checked;
    watchAll.disabled = true;
    ctx.clearError();
    const ok = await ctx.run(api.setWatchAll(on).then(() => true));
    watchAll.disabled = false;
    if (!ok) {
      watchAll.checked = !on;
      return;
    }
    await ctx.refreshAll();
  }

  async function refreshCustomers(): Promise<void> {
    refreshBtn.disabled = true;
    ctx.clearError();
    const s = await ctx.run(api.refreshCustomers());
    refreshBtn.disabled = false;
    if (!s) return;
    generation++;
    render(s);
  }

  async function refresh(): Promise<void> {
    const mine = ++generation;
    const s = await ctx.run(api.partnerState());
    if (!s || mine !== generation) return;
    render(s);
  }

  return { el, refresh };
}
