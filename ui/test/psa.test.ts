// Settings → Delivery: PSA channels (ConnectWise PSA, Autotask, HaloPSA) and confirming
// each tenant's company in them.
import { afterEach, describe, expect, it } from "vitest";
import type { CompanyMatch } from "../src/api";
import { $, $$, HOSTILE_RULE, T1, T2, fill, flush, mount, setValue, unmount, visible } from "./fixtures";
import { callsOf, state } from "./tauri-mock";

afterEach(() => unmount());

async function openSettings(configure?: () => void) {
  await mount(configure);
  $("#nav-settings").click();
  await flush();
}

const add = async () => {
  $("#add-webhook").click();
  await flush();
};

const value = (id: string) => $<HTMLInputElement>(`#${id}`).value;
const labelOf = (id: string) => $(`label[for="${id}"]`).textContent;

// Fields of the other vendors, filled to show they are not sent.
const OTHERS = {
  "psa-company-id": "msp",
  "psa-public-key": "pub",
  "psa-client-id": "client",
  "psa-username": "api@msp.example",
  "psa-integration-code": "CODE",
  "psa-halo-tenant": "msp",
  "psa-status": "5",
  "psa-note-type": "6",
  "psa-note-publish": "7",
  "psa-note-outcome": "8",
};

describe("PSA channels", () => {
  it("adds a ConnectWise PSA channel with its account, ids and route; the form clears and the companies open", async () => {
    await openSettings();
    expect(visible($("#psa-fields"))).toBe(false);
    setValue($<HTMLSelectElement>("#channel-kind"), "connectwise");
    expect(visible($("#psa-fields"))).toBe(true);
    for (const id of ["webhook-url", "webhook-secret", "email-host"]) expect(visible($(`#${id}`)), id).toBe(false);
    for (const id of ["psa-url", "psa-company-id", "psa-public-key", "psa-client-id", "psa-secret", "psa-default-company", "psa-board", "psa-ticket-type"])
      expect(visible($(`#${id}`)), id).toBe(true);
    for (const id of ["psa-username", "psa-integration-code", "psa-halo-tenant", "psa-status", "psa-note-type", "psa-note-publish", "psa-note-outcome"])
      expect(visible($(`#${id}`)), id).toBe(false);
    expect($<HTMLInputElement>("#psa-secret").type).toBe("password");
    expect(labelOf("psa-board")).toBe("Board");
    expect(labelOf("psa-url")).toMatch(/ConnectWise site/);
    expect(labelOf("psa-secret")).toMatch(/Private key/);
    expect($<HTMLInputElement>("#psa-url").placeholder).toBe("https://api-na.myconnectwise.net");
    expect($("#psa-fields").textContent).toMatch(/ConnectWise PSA's own id/);

    fill({
      ...OTHERS,
      "webhook-name": "tickets",
      "psa-url": " https://api-na.myconnectwise.net ",
      "psa-company-id": "msp",
      "psa-public-key": "PUBKEY",
      "psa-client-id": "0000-client",
      "psa-secret": "private key",
      "psa-default-company": "250",
      "psa-board": "1",
      "psa-priority-critical": "1",
      "psa-priority-medium": "3",
      "channel-tenants": T1,
    });
    setValue($<HTMLSelectElement>("#channel-min-severity"), "medium");
    await add();
    expect(callsOf("add_psa_channel")).toHaveLength(1);
    expect(callsOf("add_psa_channel")[0].args).toEqual({
      name: "tickets",
      config: {
        base_url: "https://api-na.myconnectwise.net",
        account: { vendor: "connectwise", company_id: "msp", public_key: "PUBKEY", client_id: "0000-client" },
        default_company: 250,
        board: 1,
        priorities: { critical: 1, medium: 3 },
        ticket_type: null,
        status: null,
        note_kind: null,
        note_publish: null,
      },
      secret: "private key",
      route: { min_severity: "medium", tenants: [T1], exclude_tenants: [] },
    });
    expect(callsOf("add_channel")).toHaveLength(0);
    expect($("#error").hidden).toBe(true);
    expect($("#channel-message").textContent).toBe("tickets added: each incident opens a ticket. Confirm each tenant's company below.");
    for (const id of ["webhook-name", "psa-url", "psa-public-key", "psa-secret", "psa-default-company", "psa-board", "psa-priority-critical", "channel-tenants"])
      expect(value(id), id).toBe("");
    expect($<HTMLSelectElement>("#channel-min-severity").value).toBe("");
    // Its tenants' companies are read right away, to be confirmed.
    expect(callsOf("psa_companies")[0].args).toEqual({ name: "tickets" });
    expect(visible($("#psa-companies"))).toBe(true);
  });

  it("adds an Autotask channel (status and note fields; the zone look-up by default); a refusal keeps all but the secret", async () => {
    await openSettings(
      () =>
        (state.handlers.add_psa_channel = () => {
          throw { kind: "invalid_input", message: "Autotask refused the sign-in: <b>bad</b> user" };
        }),
    );
    setValue($<HTMLSelectElement>("#channel-kind"), "autotask");
    for (const id of ["psa-username", "psa-integration-code", "psa-status", "psa-note-type", "psa-note-publish"]) expect(visible($(`#${id}`)), id).toBe(true);
    for (const id of ["psa-company-id", "psa-public-key", "psa-client-id", "psa-halo-tenant", "psa-note-outcome"]) expect(visible($(`#${id}`)), id).toBe(false);
    expect(labelOf("psa-board")).toBe("Queue");
    expect(labelOf("psa-secret")).toMatch(/API user's secret/);
    expect($<HTMLInputElement>("#psa-url").placeholder).toBe("https://webservices.autotask.net");

    fill({
      ...OTHERS,
      "webhook-name": "autotask",
      "psa-url": "",
      "psa-username": " api@msp.example ",
      "psa-integration-code": "TRACKING",
      "psa-secret": "api secret",
      "psa-default-company": "0",
      "psa-board": "29683",
      "psa-priority-low": "4",
      "psa-priority-high": "2",
      "psa-ticket-type": "1",
      "psa-status": "8",
      "psa-note-type": "3",
      "psa-note-publish": "1",
    });
    await add();
    const expected = {
      name: "autotask",
      config: {
        base_url: "https://webservices.autotask.net",
        account: { vendor: "autotask", username: "api@msp.example", integration_code: "TRACKING" },
        default_company: 0,
        board: 29683,
        priorities: { high: 2, low: 4 },
        ticket_type: 1,
        status: 8,
        note_kind: 3,
        note_publish: 1,
      },
      secret: "api secret",
      route: { tenants: [], exclude_tenants: [] },
    };
    expect(callsOf("add_psa_channel")[0].args).toEqual(expected);
    expect($("#error").textContent).toContain("Autotask refused the sign-in: <b>bad</b> user");
    expect($("#error").querySelector("b")).toBeNull();
    expect($("#channel-message").textContent).toBe("");
    expect(value("psa-secret")).toBe("");
    for (const [id, kept] of [
      ["webhook-name", "autotask"],
      ["psa-username", " api@msp.example "],
      ["psa-board", "29683"],
      ["psa-priority-low", "4"],
      ["psa-status", "8"],
      ["psa-note-publish", "1"],
    ])
      expect(value(id), id).toBe(kept);
    expect(callsOf("psa_companies")).toHaveLength(0);

    state.handlers.add_psa_channel = () => null;
    fill({ "psa-secret": "api secret" });
    await add();
    expect(callsOf("add_psa_channel")[1].args).toEqual(expected);
    expect($("#error").hidden).toBe(true);
    expect($("#channel-message").textContent).toBe("autotask added: each incident opens a ticket. Confirm each tenant's company below.");
    expect(value("psa-secret")).toBe("");
    expect(value("psa-status")).toBe("");
  });

  it("adds a HaloPSA channel: client id, no tenant, the action outcome as note_kind", async () => {
    await openSettings();
    setValue($<HTMLSelectElement>("#channel-kind"), "halo");
    for (const id of ["psa-client-id", "psa-halo-tenant", "psa-note-outcome"]) expect(visible($(`#${id}`)), id).toBe(true);
    for (const id of ["psa-company-id", "psa-public-key", "psa-username", "psa-integration-code", "psa-status", "psa-note-type", "psa-note-publish"])
      expect(visible($(`#${id}`)), id).toBe(false);
    expect(labelOf("psa-board")).toBe("Team");
    expect(labelOf("psa-secret")).toMatch(/Client secret/);
    fill({
      ...OTHERS,
      "webhook-name": "halo",
      "psa-url": "https://msp.halopsa.com",
      "psa-client-id": "halo-client",
      "psa-halo-tenant": " ",
      "psa-secret": "client secret",
      "psa-default-company": "12",
      "psa-board": "3",
      "psa-priority-critical": "1",
      "psa-priority-high": "2",
      "psa-priority-medium": "3",
      "psa-priority-low": "4",
      "psa-note-outcome": "9",
    });
    await add();
    expect(callsOf("add_psa_channel")[0].args).toEqual({
      name: "halo",
      config: {
        base_url: "https://msp.halopsa.com",
        account: { vendor: "halo", client_id: "halo-client", tenant: null },
        default_company: 12,
        board: 3,
        priorities: { critical: 1, high: 2, medium: 3, low: 4 },
        ticket_type: null,
        status: null,
        note_kind: 9,
        note_publish: null,
      },
      secret: "client secret",
      route: { tenants: [], exclude_tenants: [] },
    });
    expect(value("psa-secret")).toBe("");

    // A hosted Halo's tenant is sent when given.
    fill({ "webhook-name": "halo2", "psa-url": "https://msp.halopsa.com", "psa-client-id": "c", "psa-halo-tenant": " msp ", "psa-secret": "s" });
    fill({ "psa-default-company": "12", "psa-board": "3", "psa-priority-low": "4", "psa-note-outcome": "9" });
    await add();
    expect((callsOf("add_psa_channel")[1].args!.config as { account: unknown }).account).toEqual({ vendor: "halo", client_id: "c", tenant: "msp" });
  });

  it("refuses a missing priority and ids that are not whole numbers without a call", async () => {
    await openSettings();
    setValue($<HTMLSelectElement>("#channel-kind"), "connectwise");
    const good = {
      "webhook-name": "tickets",
      "psa-url": "https://api-na.myconnectwise.net",
      "psa-company-id": "msp",
      "psa-public-key": "pub",
      "psa-client-id": "client",
      "psa-secret": "private key",
      "psa-default-company": "250",
      "psa-board": "1",
      "psa-priority-critical": "",
      "psa-priority-high": "",
      "psa-priority-medium": "",
      "psa-priority-low": "",
      "psa-ticket-type": "",
    };
    const cases: [Record<string, string>, string, RegExp][] = [
      [{}, "psa-priority-critical", /^Give the ticket priority for at least one severity\.$/],
      [{ "psa-priority-high": "1.5" }, "psa-priority-high", /^High priority: .*whole number/],
      [{ "psa-priority-low": "-2" }, "psa-priority-low", /^Low priority: .*whole number/],
      [{ "psa-priority-critical": "1", "psa-default-company": "" }, "psa-default-company", /^Default company: .*whole number/],
      [{ "psa-priority-critical": "1", "psa-board": "1e3" }, "psa-board", /^Board: .*whole number/],
      [{ "psa-priority-critical": "1", "psa-ticket-type": "2.0" }, "psa-ticket-type", /^Ticket type: .*whole number/],
    ];
    for (const [over, focused, message] of cases) {
      fill({ ...good, ...over });
      await add();
      expect(callsOf("add_psa_channel"), focused).toHaveLength(0);
      expect($("#channel-message").textContent).toMatch(message);
      expect($("#channel-message").classList.contains("field-error")).toBe(true);
      expect(document.activeElement?.id).toBe(focused);
      // Nothing was sent: everything stays, the secret too, for the corrected attempt.
      expect(value("webhook-name")).toBe("tickets");
      expect(value("psa-secret")).toBe("private key");
    }
    fill({ ...good, "psa-priority-critical": "1" });
    await add();
    expect(callsOf("add_psa_channel")).toHaveLength(1);
    expect($("#channel-message").classList.contains("field-error")).toBe(false);
  });
});

describe("PSA companies", () => {
  const T3 = "33333333-3333-3333-3333-333333333333";
  const T4 = "44444444-4444-4444-4444-444444444444";
  const T5 = "55555555-5555-5555-5555-555555555555";
  const HOSTILE_COMPANY = '<script>alert("company")</script> Ltd';

  /** The PSA's answers, following what map_companies confirmed. */
  function psa(): void {
    const mapped = new Map<string, { id: number; name: string }>([[T1, { id: 10, name: "Contoso Ltd" }]]);
    const suggested: Record<string, { id: number; name: string } | null> = {
      [T1]: { id: 10, name: "Contoso Ltd" },
      [T2]: { id: 12, name: HOSTILE_COMPANY },
      [T3]: { id: 13, name: "Northwind Traders" },
      [T4]: null,
      [T5]: { id: 15, name: "Woodgrove Bank" },
    };
    const names: Record<string, string> = { [T1]: "Contoso", [T2]: HOSTILE_RULE, [T3]: "Northwind", [T4]: "Tailspin", [T5]: "Woodgrove" };
    const base = state.handlers.delivery_channels;
    state.handlers.delivery_channels = (a) => [
      ...(base(a) as object[]),
      { name: "hook", kind: "webhook", queued: 0, last_delivered_at: null, last_error: null },
      { name: "tickets", kind: "connectwise", queued: 1, last_delivered_at: null, last_error: null },
    ];
    state.handlers.psa_companies = (): CompanyMatch[] =>
      Object.keys(names).map((id) => ({ tenant_id: id, tenant_name: names[id], mapped: mapped.get(id) ?? null, suggested: suggested[id] }));
    state.handlers.map_companies = (a) => {
      for (const [tenant, company] of a!.pairs as [string, number][])
        mapped.set(tenant, Object.values(suggested).find((c) => c?.id === company) ?? { id: company, name: `Company ${company}` });
      return null;
    };
  }

  const row = (tenant: string) => $(`#psa-companies [data-testid=company-row][data-tenant="${tenant}"]`);
  const openCompanies = async () => {
    $(`[data-testid=channel-row][data-channel="tickets"] [data-testid=psa-companies]`).click();
    await flush();
  };

  it("lists each tenant's company from a PSA row, hostile names as text", async () => {
    await openSettings(psa);
    expect($(`[data-testid=channel-row][data-channel="hook"]`).querySelector("[data-testid=psa-companies]")).toBeNull();
    expect($(`[data-testid=channel-row][data-channel="desktop"]`).querySelector("button")).toBeNull();
    expect(visible($("#psa-companies"))).toBe(false);
    await openCompanies();
    expect(callsOf("psa_companies")[0].args).toEqual({ name: "tickets" });
    expect(visible($("#psa-companies"))).toBe(true);
    expect($("#psa-companies-title").textContent).toContain("tickets");
    expect($$("#psa-companies [data-testid=company-row]").map((r) => r.dataset.tenant)).toEqual([T1, T2, T3, T4, T5]);

    const contoso = row(T1);
    expect(contoso.textContent).toContain("Contoso");
    expect(contoso.textContent).toContain("files under Contoso Ltd");
    expect(contoso.querySelector("[data-testid=confirm-company]")).toBeNull();

    const hostile = row(T2);
    expect(hostile.textContent).toContain(HOSTILE_RULE);
    expect(hostile.textContent).toContain(HOSTILE_COMPANY);
    expect(hostile.textContent).toContain("default company");
    expect(hostile.querySelector("img")).toBeNull();
    expect(hostile.querySelector("script")).toBeNull();
    expect($("#psa-companies").querySelector("img, script")).toBeNull();
    expect(hostile.querySelector("[data-testid=confirm-company]")).not.toBeNull();

    const tailspin = row(T4);
    expect(tailspin.textContent).toContain("default company");
    expect(tailspin.querySelector("[data-testid=confirm-company]")).toBeNull();
    expect(tailspin.textContent).toContain(`rulewatch channel map tickets --tenant ${T4}`);
    expect($<HTMLButtonElement>("#confirm-all-companies").disabled).toBe(false);
  });

  it("confirms one suggestion, then every remaining one, reading the list again after each", async () => {
    await openSettings(psa);
    await openCompanies();
    row(T3).querySelector<HTMLButtonElement>("[data-testid=confirm-company]")!.click();
    await flush();
    expect(callsOf("map_companies")[0].args).toEqual({ name: "tickets", pairs: [[T3, 13]] });
    expect(callsOf("psa_companies")).toHaveLength(2);
    expect(row(T3).textContent).toContain("files under Northwind Traders");
    expect(row(T3).querySelector("[data-testid=confirm-company]")).toBeNull();
    expect($("#psa-companies-message").textContent).toBe("Northwind files under Northwind Traders.");

    $("#confirm-all-companies").click();
    await flush();
    expect(callsOf("map_companies")[1].args).toEqual({ name: "tickets", pairs: [[T2, 12], [T5, 15]] });
    expect(callsOf("psa_companies")).toHaveLength(3);
    expect(row(T2).textContent).toContain(`files under ${HOSTILE_COMPANY}`);
    expect(row(T5).textContent).toContain("files under Woodgrove Bank");
    expect($$("#psa-companies [data-testid=confirm-company]")).toHaveLength(0);
    expect($<HTMLButtonElement>("#confirm-all-companies").disabled).toBe(true);
    expect($("#psa-companies-message").textContent).toBe("2 tenants confirmed.");
    expect($("#psa-companies").querySelector("img, script")).toBeNull();
  });

  it("maps a tenant without a suggestion to a typed company id, refusing one that is not a whole number", async () => {
    await openSettings(psa);
    await openCompanies();
    const input = row(T4).querySelector<HTMLInputElement>("[data-testid=company-id]")!;
    input.value = "4.5";
    row(T4).querySelector<HTMLButtonElement>("[data-testid=map-company]")!.click();
    await flush();
    expect(callsOf("map_companies")).toHaveLength(0);
    expect($("#psa-companies-message").textContent).toMatch(/^Tailspin: .*whole number/);
    row(T4).querySelector<HTMLInputElement>("[data-testid=company-id]")!.value = "44";
    row(T4).querySelector<HTMLButtonElement>("[data-testid=map-company]")!.click();
    await flush();
    expect(callsOf("map_companies")[0].args).toEqual({ name: "tickets", pairs: [[T4, 44]] });
    expect(callsOf("psa_companies")).toHaveLength(2);
    expect(row(T4).textContent).toContain("files under Company 44");
  });

  it("shows a failed sign-in to the PSA in #error, and a refused confirmation keeps the list", async () => {
    let signedIn = false;
    await openSettings(() => {
      psa();
      const companies = state.handlers.psa_companies;
      state.handlers.psa_companies = (a) => {
        if (!signedIn) throw { kind: "channel", message: "ConnectWise PSA refused the sign-in (401)" };
        return companies(a);
      };
    });
    await openCompanies();
    expect($("#error").textContent).toContain("ConnectWise PSA refused the sign-in (401)");
    expect($("#psa-companies").textContent).toContain("could not be read");
    expect($$("#psa-companies [data-testid=company-row]")).toHaveLength(0);

    signedIn = true;
    await openCompanies();
    expect($$("#psa-companies [data-testid=company-row]")).toHaveLength(5);
    state.handlers.map_companies = () => {
      throw "tenant 33333333 is not watched";
    };
    row(T3).querySelector<HTMLButtonElement>("[data-testid=confirm-company]")!.click();
    await flush();
    expect($("#error").textContent).toContain("is not watched");
    expect(callsOf("psa_companies")).toHaveLength(2);
    expect(row(T3).querySelector<HTMLButtonElement>("[data-testid=confirm-company]")!.disabled).toBe(false);
  });

  it("closes the companies when their channel is removed", async () => {
    await openSettings(psa);
    await openCompanies();
    expect(visible($("#psa-companies"))).toBe(true);
    const channels = state.handlers.delivery_channels;
    state.handlers.delivery_channels = (a) => (channels(a) as { name: string }[]).filter((c) => c.name !== "tickets");
    $(`[data-testid=channel-row][data-channel="tickets"] [data-testid=remove-channel]`).click();
    await flush();
    expect(callsOf("remove_channel")[0].args).toEqual({ name: "tickets" });
    expect(visible($("#psa-companies"))).toBe(false);
  });
});
