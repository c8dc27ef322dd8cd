import { afterEach, describe, expect, it } from "vitest";
import { $, $$, FORWARDS, HIDES_MAIL, HOSTILE_RULE, T1, T2, flush, mount, tuningDesk, unmount } from "./fixtures";
import { callsOf, state } from "./tauri-mock";

afterEach(() => unmount());

async function openSettings(configure?: () => void) {
  await mount(configure);
  $("#nav-settings").click();
  await flush();
}

function setValue(selector: string, value: string): void {
  const el = $<HTMLInputElement | HTMLSelectElement>(selector);
  el.value = value;
  el.dispatchEvent(new Event("change"));
}

describe("settings → rules and allowlist", () => {
  it("sets a rule's severity for every tenant, shows one tenant's, and gives the rule's own back", async () => {
    await openSettings(() => {
      tuningDesk.severities = [{ rule: HIDES_MAIL.id, tenant_id: T2, severity: "low" }];
    });
    const row = $(`tr[data-rule="${HIDES_MAIL.id}"]`);
    expect(row.textContent).toContain("Fabrikam: Low");
    expect($<HTMLSelectElement>(`#severity-${HIDES_MAIL.id}`).value).toBe("");

    setValue(`#severity-${HIDES_MAIL.id}`, "high");
    await flush();
    expect(callsOf("set_rule_severity").at(-1)!.args).toEqual({ rule: HIDES_MAIL.id, tenantId: null, severity: "high" });
    expect($("#tuning-message").textContent).toBe("Inbox rule hides mail: High for every tenant, on alerts found from now on.");

    row.querySelector("button")!.click();
    await flush();
    expect(callsOf("set_rule_severity").at(-1)!.args).toEqual({ rule: HIDES_MAIL.id, tenantId: T2, severity: null });
    expect($(`tr[data-rule="${HIDES_MAIL.id}"]`).textContent).not.toContain("Fabrikam");
    expect($<HTMLSelectElement>(`#severity-${HIDES_MAIL.id}`).value).toBe("high");
  });

  it("adds an entry for one account until a date, with its reason, and never a forwarding rule as a whole", async () => {
    await openSettings();
    expect($("#allowlist-empty").textContent).toBe("Nothing is trusted yet.");

    setValue("#trust-kind", "rule");
    expect($("#trust-value").closest(".field")!.hasAttribute("hidden")).toBe(true);
    const offered = $$<HTMLOptionElement>("#trust-rule option").map((o) => o.value);
    expect(offered).toEqual([HIDES_MAIL.id]);
    expect(offered).not.toContain(FORWARDS.id);

    $("#trust-add").click();
    await flush();
    expect(callsOf("trust")).toHaveLength(0);
    expect($("#tuning-message").textContent).toMatch(/^Say why it is safe/);

    setValue("#trust-tenant", T1);
    setValue("#trust-account", " scanner@contoso.example ");
    setValue("#trust-reason", "the copier scans to mail");
    setValue("#trust-expires", "30d");
    $("#trust-add").click();
    await flush();
    expect(callsOf("trust")[0].args).toEqual({
      request: {
        tenant_id: T1,
        account: "scanner@contoso.example",
        kind: "rule",
        value: HIDES_MAIL.id,
        reason: "the copier scans to mail",
        expires: "30d",
      },
    });
    const row = $("#trust-1");
    expect(row.textContent).toContain(`A whole rule: ${HIDES_MAIL.id}`);
    expect(row.textContent).toContain("Contosoonly scanner@contoso.example");
    expect(row.textContent).toContain("the copier scans to mailadded by me");
    expect($<HTMLInputElement>("#trust-reason").value).toBe("");

    $("#untrust-1").click();
    await flush();
    expect(callsOf("untrust")[0].args).toEqual({ id: 1 });
    expect($("#allowlist-empty")).not.toBeNull();
  });

  it("shows expired entries as expired and hostile values as text", async () => {
    await openSettings(() => {
      tuningDesk.entries = [
        {
          id: 4,
          tenant_id: null,
          account: null,
          kind: "destination",
          value: HOSTILE_RULE,
          reason: HOSTILE_RULE,
          added_at: "2026-01-01T00:00:00Z",
          added_by: HOSTILE_RULE,
          expires_at: "2026-02-01T00:00:00Z",
        },
      ];
    });
    const row = $("#trust-4");
    expect(row.querySelector("img")).toBeNull();
    expect(row.textContent).toContain(HOSTILE_RULE);
    expect(row.textContent).toContain("Every tenant");
    expect(row.querySelector("td.expired")!.textContent).toMatch(/^expired /);
  });

  it("keeps what was typed when core refuses the entry", async () => {
    await openSettings();
    state.handlers.trust = () => {
      throw { kind: "invalid_input", message: "the application id 'Timesheets' is not a GUID" };
    };
    setValue("#trust-kind", "application");
    setValue("#trust-value", "Timesheets");
    setValue("#trust-reason", "every customer uses it");
    $("#trust-add").click();
    await flush();
    expect($("#error").textContent).toContain("is not a GUID");
    expect($("#tuning-message").textContent).toBe("Not added: nothing was stored.");
    expect($<HTMLInputElement>("#trust-value").value).toBe("Timesheets");
    expect($<HTMLInputElement>("#trust-reason").value).toBe("every customer uses it");
  });
});
