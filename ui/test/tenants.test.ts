import { afterEach, describe, expect, it } from "vitest";
import { $, $$, changed, fill, flush, openTenants, overview, T1, T2, unmount, visible } from "./fixtures";
import { callsOf, state } from "./tauri-mock";
import { validateTenant } from "../src/pages/tenants";

afterEach(() => unmount());

const GOOD_TENANT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";
const GOOD_CLIENT = "12345678-90ab-cdef-1234-567890abcdef";

function setFile(input: HTMLInputElement, file: File | null) {
  const files = file ? [file] : [];
  Object.defineProperty(input, "files", { configurable: true, get: () => Object.assign(files, { item: (i: number) => files[i] }) });
}

const submit = async () => {
  $("#save-tenant").click();
  await flush();
};

describe("tenants page", () => {
  it("lists tenants with state, problem, times and open alerts", async () => {
    await openTenants();
    const rows = $$("[data-testid=tenant-row]");
    expect(rows.map((r) => r.dataset.tenantId)).toEqual([T1, T2]);
    expect(rows[0].textContent).toContain("Contoso");
    expect(rows[0].textContent).toContain(T1);
    expect(rows[0].querySelector("[data-testid=tenant-state]")!.textContent).toBe("OK");
    expect(rows[0].querySelector("[data-testid=tenant-problem]")).toBeNull();
    expect(rows[1].querySelector("[data-testid=tenant-state]")!.textContent).toBe("Error");
    expect(rows[1].querySelector("[data-testid=tenant-problem]")!.textContent).toBe("Admin consent was revoked");
    expect(rows[1].querySelector("[data-testid=tenant-open-alerts]")!.textContent).toBe("1");
    // Only a tenant outside the commercial cloud is marked with its cloud.
    expect(rows[0].querySelector("[data-testid=tenant-cloud]")).toBeNull();
    expect(rows[1].querySelector("[data-testid=tenant-cloud]")!.textContent).toBe("GCC");
    expect(visible($("#leave-sandbox"))).toBe(false);
  });

  it("tests a connection and shows each step", async () => {
    await openTenants(() => {
      state.handlers.test_connection = () => [
        { step: "token", ok: true, detail: "Got a token" },
        { step: "subscription", ok: false, detail: "<i>Audit log is off</i>" },
      ];
    });
    const row = $$("[data-testid=tenant-row]")[1];
    (row.querySelector("[data-testid=test-connection]") as HTMLElement).click();
    await flush();
    expect(callsOf("test_connection")[0].args).toEqual({ tenantId: T2 });
    const result = row.querySelector<HTMLElement>("[data-testid=connection-result]")!;
    expect(visible(result)).toBe(true);
    const items = Array.from(result.querySelectorAll("li")).map((li) => li.textContent);
    expect(items[0]).toMatch(/^✓ .*Got a token$/);
    expect(items[1]).toMatch(/^✗ .*<i>Audit log is off<\/i>$/);
    expect(result.querySelector("i")).toBeNull();
  });

  it("removes a tenant only after the confirm step", async () => {
    await openTenants();
    const row = $$("[data-testid=tenant-row]")[0];
    const confirm = row.querySelector<HTMLElement>("[data-testid=confirm-remove]")!;
    expect(visible(confirm)).toBe(false);
    (row.querySelector("[data-testid=remove-tenant]") as HTMLElement).click();
    expect(callsOf("remove_tenant")).toHaveLength(0);
    expect(visible(confirm)).toBe(true);
    confirm.click();
    await flush();
    expect(callsOf("remove_tenant")[0].args).toEqual({ tenantId: T1 });
  });

  it("offers to stop watching a partner customer rather than to delete a secret it does not have", async () => {
    await openTenants();
    const [own, partner] = $$("[data-testid=tenant-row]");
    expect(own.querySelector("[data-testid=remove-tenant]")!.textContent).toBe("Remove…");
    expect(own.textContent).toContain("deletes its keychain secret");
    expect(partner.querySelector("[data-testid=remove-tenant]")!.textContent).toBe("Stop watching…");
    expect(partner.textContent).not.toContain("keychain");
    expect(partner.textContent).toContain('stays out of "watch all"');
  });

  it("leaves the sandbox from the Tenants page", async () => {
    await openTenants(() => (state.handlers.overview = () => overview({ sandbox: true })));
    expect(visible($("#leave-sandbox"))).toBe(true);
    $("#leave-sandbox").click();
    await flush();
    expect(callsOf("leave_sandbox")).toHaveLength(1);
  });
});

describe("add tenant", () => {
  it("says what is wrong next to each field and sends nothing", async () => {
    await openTenants();
    fill({ "tenant-id": "contoso.onmicrosoft.com", "tenant-name": "   ", "client-id": "" });
    await submit();
    expect(callsOf("add_tenant")).toHaveLength(0);
    expect(visible($("#tenant-id-error"))).toBe(true);
    expect($("#tenant-id-error").textContent).toMatch(/GUID/);
    expect($("#tenant-name-error").textContent).toMatch(/name/i);
    expect($("#client-id-error").textContent).toMatch(/client id/i);
    expect($("#credential-error").textContent).toMatch(/secret or its certificate/);
    expect($("#tenant-id").getAttribute("aria-invalid")).toBe("true");
  });

  it("accepts exactly one credential", () => {
    const f = { tenant_id: GOOD_TENANT, name: "Contoso", client_id: GOOD_CLIENT };
    expect(validateTenant({ ...f, secret: "s", hasCertificate: false })).toEqual({});
    expect(validateTenant({ ...f, secret: "", hasCertificate: true })).toEqual({});
    expect(validateTenant({ ...f, secret: "s", hasCertificate: true }).credential).toMatch(/not both/);
    expect(validateTenant({ ...f, secret: "", hasCertificate: false }).credential).toMatch(/secret or its certificate/);
  });

  it("refuses a secret and a certificate together", async () => {
    await openTenants();
    fill({ "tenant-id": GOOD_TENANT, "tenant-name": "Contoso", "client-id": GOOD_CLIENT, "client-secret": "s3cret" });
    setFile($<HTMLInputElement>("#certificate-file"), new File(["-----BEGIN CERTIFICATE-----\n"], "app.pem"));
    await submit();
    expect(callsOf("add_tenant")).toHaveLength(0);
    expect($("#credential-error").textContent).toMatch(/not both/);
    expect(visible($("#tenant-id-error"))).toBe(false);
  });

  it("sends a secret, clears it and says where it went", async () => {
    await openTenants();
    fill({ "tenant-id": ` ${GOOD_TENANT} `, "tenant-name": "Contoso <Ltd>", "client-id": GOOD_CLIENT, "client-secret": "s3cret" });
    const listed = callsOf("list_tenants").length;
    await submit();
    expect(callsOf("add_tenant")[0].args).toEqual({
      tenant: { tenant_id: GOOD_TENANT, name: "Contoso <Ltd>", client_id: GOOD_CLIENT, client_secret: "s3cret", certificate_pem: null },
    });
    expect($<HTMLInputElement>("#client-secret").value).toBe("");
    expect($("#tenant-message").textContent).toBe(
      "Added Contoso <Ltd>, in the commercial (global) cloud; its secret is in the OS keychain.",
    );
    expect(callsOf("list_tenants").length).toBeGreaterThan(listed);
  });

  it("sends the cloud only when the technician chose one", async () => {
    await openTenants(() => (state.handlers.add_tenant = () => "in the GCC cloud"));
    fill({ "tenant-id": GOOD_TENANT, "tenant-name": "Contoso", "client-id": GOOD_CLIENT, "client-secret": "s3cret" });
    expect($<HTMLSelectElement>("#tenant-cloud").value).toBe("");
    $<HTMLSelectElement>("#tenant-cloud").value = "gcc";
    await submit();
    expect(callsOf("add_tenant")[0].args).toEqual({
      tenant: { tenant_id: GOOD_TENANT, name: "Contoso", client_id: GOOD_CLIENT, client_secret: "s3cret", certificate_pem: null, cloud: "gcc" },
    });
    expect($("#tenant-message").textContent).toBe("Added Contoso, in the GCC cloud; its secret is in the OS keychain.");
    // The form is reset: the next tenant's cloud is found out again.
    expect($<HTMLSelectElement>("#tenant-cloud").value).toBe("");
  });

  it("reads a certificate file and sends its PEM text", async () => {
    await openTenants();
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
    fill({ "tenant-id": GOOD_TENANT, "tenant-name": "Contoso", "client-id": GOOD_CLIENT });
    setFile($<HTMLInputElement>("#certificate-file"), new File([pem], "app.pem"));
    await submit();
    expect(callsOf("add_tenant")[0].args).toEqual({
      tenant: { tenant_id: GOOD_TENANT, name: "Contoso", client_id: GOOD_CLIENT, client_secret: null, certificate_pem: pem },
    });
  });

  it("refuses a file that is not PEM", async () => {
    await openTenants();
    fill({ "tenant-id": GOOD_TENANT, "tenant-name": "Contoso", "client-id": GOOD_CLIENT });
    setFile($<HTMLInputElement>("#certificate-file"), new File(["\x30\x82binary"], "app.pfx"));
    await submit();
    expect(callsOf("add_tenant")).toHaveLength(0);
    expect($("#credential-error").textContent).toMatch(/not a PEM/);
  });

  it("asks once for the MSP's own tenant id and sends it with the tenant", async () => {
    const MSP = "99999999-8888-4777-8666-555555555555";
    await openTenants();
    expect(visible($("#msp-tenant-field"))).toBe(true);
    fill({ "tenant-id": GOOD_TENANT, "tenant-name": "Contoso", "client-id": GOOD_CLIENT, "client-secret": "s3cret", "msp-tenant-id": "msp.onmicrosoft.com" });
    await submit();
    expect(callsOf("add_tenant")).toHaveLength(0);
    expect($("#msp-tenant-id-error").textContent).toMatch(/GUID/);

    fill({ "msp-tenant-id": ` ${MSP} ` });
    state.handlers.msp_tenant = () => ({ msp_tenant_id: MSP, ask: false });
    await submit();
    expect(callsOf("add_tenant")[0].args).toEqual({
      tenant: { tenant_id: GOOD_TENANT, name: "Contoso", client_id: GOOD_CLIENT, client_secret: "s3cret", certificate_pem: null, msp_tenant_id: MSP },
    });
    // Stored: the next tenant is added without the question.
    expect(visible($("#msp-tenant-field"))).toBe(false);
  });

  it("does not ask when the MSP's tenant is known", async () => {
    await openTenants(() => (state.handlers.msp_tenant = () => ({ msp_tenant_id: null, ask: false })));
    expect(visible($("#msp-tenant-field"))).toBe(false);
    fill({ "tenant-id": GOOD_TENANT, "tenant-name": "Contoso", "client-id": GOOD_CLIENT, "client-secret": "s3cret", "msp-tenant-id": "not-a-guid" });
    await submit();
    expect(callsOf("add_tenant")[0].args).toEqual({
      tenant: { tenant_id: GOOD_TENANT, name: "Contoso", client_id: GOOD_CLIENT, client_secret: "s3cret", certificate_pem: null },
    });
  });

  it("shows the command's refusal in #error and adds nothing", async () => {
    await openTenants(() => (state.handlers.add_tenant = () => Promise.reject("The keychain is locked")));
    fill({ "tenant-id": GOOD_TENANT, "tenant-name": "Contoso", "client-id": GOOD_CLIENT, "client-secret": "s3cret" });
    await submit();
    expect($("#error-text").textContent).toBe("The keychain is locked");
    expect($("#tenant-message").textContent).toBe("");
  });
});

describe("refresh during a connection test", () => {
  it("puts the answer in the row shown after a change event rebuilt the list", async () => {
    let answer!: (v: unknown) => void;
    await openTenants(() => {
      state.handlers.test_connection = () => new Promise((r) => (answer = r));
    });
    ($$("[data-testid=tenant-row]")[0].querySelector("[data-testid=test-connection]") as HTMLElement).click();
    await flush();
    await changed();
    const row = $$("[data-testid=tenant-row]")[0];
    expect(row.querySelector("[data-testid=connection-result]")!.textContent).toBe("Testing…");
    expect((row.querySelector("[data-testid=test-connection]") as HTMLButtonElement).disabled).toBe(true);
    answer([{ step: "token", ok: true, detail: "Got a token" }]);
    await flush();
    const live = $$("[data-testid=tenant-row]")[0];
    expect(live.querySelector("[data-testid=connection-result]")!.textContent).toMatch(/✓ .*Got a token/);
    expect((live.querySelector("[data-testid=test-connection]") as HTMLButtonElement).disabled).toBe(false);
  });
});
