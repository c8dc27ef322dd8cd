import { afterEach, describe, expect, it } from "vitest";
import { $, $$, C1, C2, C3, changed, customer, fill, flush, mount, openTenants, PARTNER_CLIENT, PARTNER_TENANT, partnerAccount, partnerState, signedIn, unmount, visible } from "./fixtures";
import { callsOf, emit, state } from "./tauri-mock";
import { signInLapsed, validatePartner } from "../src/pages/partner";

afterEach(() => unmount());

const MSP_TENANT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const MSP_CLIENT = "12345678-90ab-cdef-1234-567890abcdef";
const HOSTILE_NAME = '<img src=x onerror=alert("customer")>Contoso';

const row = (tenantId: string) => $$("[data-testid=customer-row]").find((r) => r.dataset.tenantId === tenantId)!;
const inRow = <T extends HTMLElement = HTMLElement>(tenantId: string, testid: string) =>
  row(tenantId).querySelector<T>(`[data-testid=${testid}]`);

describe("partner sign-in form (signed out)", () => {
  it("explains the partner sign-in above the app-only tenants and the add form", async () => {
    await openTenants();
    const section = $("#partner");
    expect(visible(section)).toBe(true);
    expect(section.textContent).toMatch(/Partner sign-in \(GDAP\)/);
    expect(section.textContent).toMatch(/MFA/);
    expect(section.textContent).toMatch(/GDAP relationships reach/);
    expect(visible($("#partner-sign-in"))).toBe(true);
    expect(visible($("#partner-account"))).toBe(false);
    expect(visible($("#customer-list"))).toBe(false);
    expect(visible($("#partner-problem"))).toBe(false);
    // Order on the page: partner section, then the tenant list, then the add form.
    const follows = (a: Element, b: Element) => !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
    expect(follows(section, $("#tenant-list"))).toBe(true);
    expect(follows(section, $("#add-tenant-form"))).toBe(true);
  });

  it("validates both ids as GUIDs and sends nothing until they are", async () => {
    await openTenants();
    fill({ "partner-tenant-id": "msp.onmicrosoft.com", "partner-client-id": "" });
    $("#partner-sign-in").click();
    await flush();
    expect(callsOf("partner_sign_in")).toHaveLength(0);
    expect(visible($("#partner-tenant-id-error"))).toBe(true);
    expect($("#partner-tenant-id-error").textContent).toMatch(/GUID/);
    expect($("#partner-client-id-error").textContent).toMatch(/client id/i);
    expect($("#partner-tenant-id").getAttribute("aria-invalid")).toBe("true");
    expect(validatePartner(MSP_TENANT, MSP_CLIENT)).toEqual({});
    expect(validatePartner(MSP_TENANT, "nope")["partner-client-id"]).toMatch(/GUID/);
  });

  it("signs in: shows the wait, disables the button, then the account and the customers", async () => {
    let answer!: (v: unknown) => void;
    let signedInNow = false;
    await openTenants(() => {
      state.handlers.partner_sign_in = () => new Promise((r) => (answer = r));
      state.handlers.partner_state = () => (signedInNow ? signedIn() : partnerState());
    });
    fill({ "partner-tenant-id": ` ${MSP_TENANT} `, "partner-client-id": MSP_CLIENT });
    $("#partner-sign-in").click();
    await flush();
    expect(callsOf("partner_sign_in")[0].args).toEqual({ tenantId: MSP_TENANT, clientId: MSP_CLIENT });
    expect(visible($("#partner-waiting"))).toBe(true);
    expect($("#partner-waiting").textContent).toBe("Finish signing in in your browser…");
    expect($<HTMLButtonElement>("#partner-sign-in").disabled).toBe(true);

    signedInNow = true;
    answer(partnerAccount());
    await flush();
    expect(visible($("#partner-waiting"))).toBe(false);
    expect($<HTMLButtonElement>("#partner-sign-in").disabled).toBe(false);
    expect(visible($("#partner-account"))).toBe(true);
    expect($("#partner-account").textContent).toContain("tech@msp.example");
    expect($("#partner-account").textContent).toContain(PARTNER_TENANT);
    expect($("#partner-account").textContent).toMatch(/Sign-in lapses/);
    expect(visible($("#partner-sign-in"))).toBe(false);
    expect($$("[data-testid=customer-row]").map((r) => r.dataset.tenantId)).toEqual([C1, C2, C3]);
    expect(inRow(C1, "customer-watch")!.textContent).toBe("watched");
    expect(inRow(C2, "customer-watch")!.textContent).toBe("excluded");
    expect(inRow(C3, "customer-watch")!.textContent).toBe("not watched");
    expect(inRow(C1, "customer-access")!.textContent).toBe("ok");
    expect(inRow(C3, "customer-access")!.textContent).toBe("not scanned yet");
    expect(row(C1).textContent).toContain(C1);
    expect(visible($("#customers-empty"))).toBe(false);
  });

  it("shows a sign-in error in #partner-error and lets the user try again", async () => {
    await openTenants(() => (state.handlers.partner_sign_in = () => Promise.reject("AADSTS50105: the user is not assigned a role")));
    fill({ "partner-tenant-id": MSP_TENANT, "partner-client-id": MSP_CLIENT });
    $("#partner-sign-in").click();
    await flush();
    expect(visible($("#partner-error"))).toBe(true);
    expect($("#partner-error").textContent).toBe("AADSTS50105: the user is not assigned a role");
    expect(visible($("#partner-waiting"))).toBe(false);
    expect($<HTMLButtonElement>("#partner-sign-in").disabled).toBe(false);
    expect(visible($("#partner-account"))).toBe(false);
  });

  it("keeps a half-typed id across a change event", async () => {
    await openTenants();
    const input = $<HTMLInputElement>("#partner-tenant-id");
    input.value = "aaaaaaaa-bb";
    input.dispatchEvent(new Event("input", { bubbles: true }));
    const before = callsOf("partner_state").length;
    await changed();
    expect(callsOf("partner_state").length).toBeGreaterThan(before);
    expect($<HTMLInputElement>("#partner-tenant-id").value).toBe("aaaaaaaa-bb");
  });

  it("prefills the form from the last signed-in account after signing out", async () => {
    let signedInNow = true;
    await openTenants(() => {
      state.handlers.partner_state = () => (signedInNow ? signedIn() : partnerState());
      state.handlers.partner_sign_out = () => {
        signedInNow = false;
        return null;
      };
    });
    $("#partner-sign-out").click();
    $("#partner-confirm-sign-out").click();
    await flush();
    expect(visible($("#partner-sign-in"))).toBe(true);
    expect($<HTMLInputElement>("#partner-tenant-id").value).toBe(PARTNER_TENANT);
    expect($<HTMLInputElement>("#partner-client-id").value).toBe(PARTNER_CLIENT);
  });
});

describe("partner signed in", () => {
  it("signs out only after the confirm step, which names the keychain", async () => {
    await openTenants(() => (state.handlers.partner_state = () => signedIn()));
    expect(visible($("#partner-confirm-sign-out"))).toBe(false);
    $("#partner-sign-out").click();
    expect(callsOf("partner_sign_out")).toHaveLength(0);
    expect(visible($("#partner-confirm-sign-out"))).toBe(true);
    expect($("#partner-sign-out-confirm").textContent).toMatch(/refresh token from the OS keychain/);
    $("#partner-cancel-sign-out").click();
    expect(visible($("#partner-confirm-sign-out"))).toBe(false);
    expect(callsOf("partner_sign_out")).toHaveLength(0);
    $("#partner-sign-out").click();
    $("#partner-confirm-sign-out").click();
    await flush();
    expect(callsOf("partner_sign_out")).toHaveLength(1);
  });

  it("watch all toggles call set_watch_all", async () => {
    let on = true;
    await openTenants(() => {
      state.handlers.partner_state = () => signedIn({ watch_all: on });
      state.handlers.set_watch_all = (a) => {
        on = a!.on as boolean;
        return null;
      };
    });
    const box = $<HTMLInputElement>("#watch-all");
    expect(box.checked).toBe(true);
    expect(box.closest("label")!.textContent).toBe("Watch all customers, including new ones");
    box.click();
    await flush();
    expect(callsOf("set_watch_all").map((c) => c.args)).toEqual([{ on: false }]);
    expect($<HTMLInputElement>("#watch-all").checked).toBe(false);
    $<HTMLInputElement>("#watch-all").click();
    await flush();
    expect(callsOf("set_watch_all").map((c) => c.args)).toEqual([{ on: false }, { on: true }]);
  });

  it("puts the checkbox back when set_watch_all is refused", async () => {
    await openTenants(() => {
      state.handlers.partner_state = () => signedIn();
      state.handlers.set_watch_all = () => Promise.reject("database is locked");
    });
    $<HTMLInputElement>("#watch-all").click();
    await flush();
    expect($<HTMLInputElement>("#watch-all").checked).toBe(true);
    expect($("#error-text").textContent).toBe("database is locked");
  });

  it("refresh renders the new answer", async () => {
    await openTenants(() => {
      state.handlers.partner_state = () => signedIn();
      state.handlers.refresh_customers = () =>
        signedIn({ customers: [customer({ tenant_id: C1, name: "Northwind" }), customer({ tenant_id: C2, name: "Adatum", access: "partial" })] });
    });
    expect($$("[data-testid=customer-row]")).toHaveLength(3);
    $("#refresh-customers").click();
    await flush();
    expect(callsOf("refresh_customers")).toHaveLength(1);
    expect($$("[data-testid=customer-row]").map((r) => r.dataset.tenantId)).toEqual([C1, C2]);
    expect(row(C2).textContent).toContain("Adatum");
    expect(inRow(C2, "customer-access")!.textContent).toBe("partial");
  });

  it("says when the partner account reaches no customer", async () => {
    await openTenants(() => (state.handlers.partner_state = () => signedIn({ customers: [] })));
    expect(visible($("#customers-empty"))).toBe(true);
    expect($("#customers-empty").textContent).toMatch(/No customers found: check your GDAP relationships/);
  });

  it("watches a customer that is not watched", async () => {
    await openTenants(() => (state.handlers.partner_state = () => signedIn()));
    expect(inRow(C1, "watch-customer")).toBeNull();
    inRow(C3, "watch-customer")!.click();
    await flush();
    expect(callsOf("watch_customer").map((c) => c.args)).toEqual([{ tenantId: C3 }]);
    // Excluded customers can be watched again too.
    inRow(C2, "watch-customer")!.click();
    await flush();
    expect(callsOf("watch_customer").map((c) => c.args)).toEqual([{ tenantId: C3 }, { tenantId: C2 }]);
  });

  it("excludes a watched customer only after the confirm step, which says alerts are kept", async () => {
    await openTenants(() => (state.handlers.partner_state = () => signedIn()));
    expect(inRow(C3, "exclude-customer")).toBeNull();
    const confirm = inRow(C1, "confirm-exclude")!;
    expect(visible(confirm)).toBe(false);
    inRow(C1, "exclude-customer")!.click();
    expect(visible(confirm)).toBe(true);
    expect(confirm.parentElement!.textContent).toMatch(/alerts are kept/);
    inRow(C1, "cancel-exclude")!.click();
    expect(visible(inRow(C1, "confirm-exclude"))).toBe(false);
    expect(callsOf("exclude_customer")).toHaveLength(0);

    inRow(C1, "exclude-customer")!.click();
    // A change event re-renders the list; the open confirm step stays open.
    await changed();
    expect(visible(inRow(C1, "confirm-exclude"))).toBe(true);
    inRow(C1, "confirm-exclude")!.click();
    await flush();
    expect(callsOf("exclude_customer").map((c) => c.args)).toEqual([{ tenantId: C1 }]);
  });

  it("shows a customer's missing consent and how to grant it", async () => {
    const message = "Admin consent is missing in this customer: approve the partner app at https://login.microsoftonline.com/…/adminconsent";
    await openTenants(() => {
      state.handlers.partner_state = () =>
        signedIn({ customers: [customer({ tenant_id: C1, access: "error", problem: "consent_missing", message })] });
    });
    expect(inRow(C1, "customer-problem")!.textContent).toBe(message);
    expect(inRow(C1, "customer-access")!.textContent).toBe("error");
    expect(visible($("#partner-problem"))).toBe(false);
  });

  it("shows each customer's GDAP roles, or that they are unknown", async () => {
    await openTenants(() => {
      state.handlers.partner_state = () =>
        signedIn({
          customers: [
            customer({ tenant_id: C1, gdap_roles: ["Exchange Administrator", "User Administrator"] }),
            customer({ tenant_id: C2, gdap_roles: null }),
            customer({ tenant_id: C3, gdap_roles: [] }),
          ],
        });
    });
    expect(inRow(C1, "customer-roles")!.textContent).toBe("GDAP roles: Exchange Administrator, User Administrator");
    expect(inRow(C2, "customer-roles")!.textContent).toMatch(/unknown/);
    expect(inRow(C3, "customer-roles")!.textContent).toMatch(/none/);
  });

  it("renders a hostile customer name as text", async () => {
    await openTenants(() => {
      state.handlers.partner_state = () =>
        signedIn({ customers: [customer({ tenant_id: C1, name: HOSTILE_NAME, message: "<b>consent</b> missing" })] });
    });
    expect(row(C1).textContent).toContain(HOSTILE_NAME);
    expect(inRow(C1, "customer-problem")!.textContent).toBe("<b>consent</b> missing");
    inRow(C1, "exclude-customer")!.click();
    expect(row(C1).textContent).toContain(`Stop watching ${HOSTILE_NAME}?`);
    expect(document.querySelectorAll("img")).toHaveLength(0);
    expect(row(C1).querySelector("b")).toBeNull();
  });
});

describe("lapsed partner sign-in", () => {
  it("shows the problem and signs in again with the stored ids", async () => {
    const problem = "The partner sign-in lapsed (AADSTS700082: the refresh token expired): sign in again.";
    let lapsed = true;
    await openTenants(() => {
      state.handlers.partner_state = () =>
        lapsed
          ? signedIn({ problem, problem_kind: "sign_in_needed", customers: [customer({ tenant_id: C1, access: "error", problem: "sign_in_needed", message: "sign in again" })] })
          : signedIn();
      state.handlers.partner_sign_in = () => {
        lapsed = false;
        return partnerAccount();
      };
    });
    const box = $("#partner-problem");
    expect(visible(box)).toBe(true);
    expect(box.getAttribute("role")).toBe("alert");
    expect(box.textContent).toContain(problem);
    expect(visible($("#partner-sign-in-again"))).toBe(true);
    $("#partner-sign-in-again").click();
    await flush();
    expect(callsOf("partner_sign_in").map((c) => c.args)).toEqual([{ tenantId: PARTNER_TENANT, clientId: PARTNER_CLIENT }]);
    expect(visible($("#partner-problem"))).toBe(false);
  });

  it("offers sign in again when only a customer says the sign-in is needed", async () => {
    const s = signedIn({ customers: [customer({ tenant_id: C1, access: "error", problem: "sign_in_needed", message: null })] });
    expect(signInLapsed(s)).toBe(true);
    expect(signInLapsed(signedIn({ problem: "Microsoft could not be reached", problem_kind: "unreachable" }))).toBe(false);
    // The kind decides, never the words.
    expect(signInLapsed(signedIn({ problem: "sign in again", problem_kind: "bad_response" }))).toBe(false);
    expect(signInLapsed(signedIn({ problem: "anything", problem_kind: "sign_in_needed" }))).toBe(true);
    await openTenants(() => (state.handlers.partner_state = () => s));
    expect(visible($("#partner-problem"))).toBe(true);
    expect($("#partner-problem").textContent).toMatch(/sign in again/i);
    expect(visible($("#partner-sign-in-again"))).toBe(true);
  });

  it("shows other problems without offering sign in again", async () => {
    await openTenants(() => (state.handlers.partner_state = () => signedIn({ problem: "Microsoft could not be reached" })));
    expect($("#partner-problem-text").textContent).toBe("Microsoft could not be reached");
    expect(visible($("#partner-sign-in-again"))).toBe(false);
  });
});

describe("open page", () => {
  it("onOpenPage(\"tenants\") navigates to the Tenants page", async () => {
    await mount(() => (state.handlers.partner_state = () => signedIn({ problem: "sign in again", problem_kind: "sign_in_needed" })));
    expect($("#nav-overview").getAttribute("aria-current")).toBe("page");
    emit("rulewatch://open-page", "tenants");
    await flush();
    expect($("#nav-tenants").getAttribute("aria-current")).toBe("page");
    expect(visible($("#partner-problem"))).toBe(true);
    emit("rulewatch://open-page", "no-such-page");
    await flush();
    expect($("#nav-tenants").getAttribute("aria-current")).toBe("page");
  });
});
