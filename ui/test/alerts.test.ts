import { afterEach, describe, expect, it } from "vitest";
import { $, $$, alert, changed, detail, flush, HIDES_MAIL, incident, HOSTILE_RAW, HOSTILE_RULE, HOSTILE_SUMMARY, mount, openAlerts, rowIds, setValue, T2, typeSearch, unmount, visible } from "./fixtures";
import { callsOf, emit, state } from "./tauri-mock";
import type { Severity } from "../src/api";

afterEach(() => unmount());

const noMarkup = () => expect(document.querySelector("img, script, iframe, object")).toBeNull();

describe("alert list", () => {
  it("lists newest first, open + acknowledged by default", async () => {
    await openAlerts();
    expect(visible($("#alert-list"))).toBe(true);
    expect($("#nav-alerts").getAttribute("aria-current")).toBe("page");
    expect($<HTMLSelectElement>("#filter-status").value).toBe("active");
    expect(rowIds()).toEqual([5, 4, 3]);
    const row = $(`[data-testid=alert-row][data-alert-id="4"]`);
    expect(row.textContent).toContain("Fabrikam");
    expect(row.textContent).toContain("ap@fabrikam.com");
    // The rule's own title, from the registry.
    expect(row.querySelector(".row-open")!.textContent).toBe("Inbox rule hides mail");
    expect(row.textContent).toContain("Medium");
    expect(row.textContent).toContain("Open");
  });

  it("groups the alerts under a heading per incident, at its gravest", async () => {
    await openAlerts(() => {
      state.handlers.stored_alerts = () => [
        alert({ id: 9, severity: "medium", incident_id: 7, target: "adele@contoso.com", rule: HIDES_MAIL.id }),
        alert({ id: 8, severity: "high", incident_id: 3, target: "bob@contoso.com" }),
        alert({ id: 6, severity: "critical", incident_id: 7, target: "adele@contoso.com" }),
        alert({ id: 2, severity: "low", status: "suppressed", incident_id: null, target: "carol@contoso.com" }),
      ];
    });
    expect($$("[data-testid=incident-row]")).toEqual([]);
    setValue($<HTMLSelectElement>("#filter-status"), "all");
    await flush();
    setValue($<HTMLSelectElement>("#filter-group"), "incidents");
    await flush();
    const rows = $$("#alerts-table tbody tr").map((r) =>
      r.dataset.testid === "incident-row" ? `incident ${r.dataset.incidentId}` : `alert ${r.dataset.alertId}`,
    );
    expect(rows).toEqual(["incident 7", "alert 9", "alert 6", "incident 3", "alert 8", "incident ", "alert 2"]);
    const adele = $(`[data-testid=incident-row][data-incident-id="7"]`);
    expect(adele.textContent).toContain("Critical");
    expect(adele.textContent).toContain("adele@contoso.com");
    expect(adele.textContent).toContain("2 alerts");
    // A member still opens its alert.
    $(`[data-testid=alert-row][data-alert-id="9"]`).click();
    await flush();
    expect(visible($("#alert-detail"))).toBe(true);
  });

  it("shows a hostile rule name and summary as literal text", async () => {
    await openAlerts();
    noMarkup();
    const row = $(`[data-testid=alert-row][data-alert-id="5"]`);
    expect(row.textContent).toContain(HOSTILE_RULE);
    expect(row.querySelector(".row-open")!.textContent).toBe(HOSTILE_RULE);
    expect(row.querySelector(".row-open")!.getAttribute("title")).toBe(HOSTILE_SUMMARY);
    // The tenant filter, built from alert fields, is text too.
    expect($$("#filter-tenant option").map((o) => o.textContent)).toEqual(["All tenants", "Contoso", "Fabrikam"]);
  });

  it("narrows by status, severity (at least), tenant and search", async () => {
    await openAlerts();
    const pick = async (id: string, value: string) => {
      setValue($<HTMLSelectElement>(id), value);
      await flush();
    };
    await pick("#filter-status", "all");
    expect(rowIds()).toEqual([5, 4, 3, 2, 1]);
    await pick("#filter-status", "false_positive");
    expect(rowIds()).toEqual([2]);
    await pick("#filter-status", "suppressed");
    expect(rowIds()).toEqual([1]);
    await pick("#filter-status", "all");
    await pick("#filter-severity", "high");
    expect(rowIds()).toEqual([5, 2, 1]);
    await pick("#filter-severity", "any");
    await pick("#filter-tenant", T2);
    expect(rowIds()).toEqual([4]);
    await pick("#filter-tenant", "");
    await typeSearch("SALES@");
    expect(rowIds()).toEqual([2]);
    await typeSearch("198.51.100");
    expect(rowIds()).toEqual([4]);
    await typeSearch("<IMG SRC");
    expect(rowIds()).toEqual([5]);
    await typeSearch("nothing like this");
    expect(rowIds()).toEqual([]);
    expect(visible($("#alerts-empty"))).toBe(true);
    expect($("#alerts-empty").textContent).toMatch(/No alerts match/);
    // Each of them asked the desktop: the panel filters nothing itself.
    expect(callsOf("alert_page").at(-1)!.args).toEqual({
      query: { status: "all", severity: null, tenant: null, search: "nothing like this", held_by: "anyone", offset: 0, limit: 100 },
    });
  });

  it("draws what the desktop answers, not a filter of its own", async () => {
    await openAlerts(() => {
      state.handlers.alert_page = () => ({
        alerts: [alert({ id: 7, status: "resolved", severity: "low" })],
        total: 1,
        offset: 0,
        tenants: [{ tenant_id: T2, tenant_name: "Fabrikam" }],
      });
    });
    // The default filter is open + acknowledged and this one is resolved: shown, as answered.
    expect(rowIds()).toEqual([7]);
    expect($$("#filter-tenant option").map((o) => o.textContent)).toEqual(["All tenants", "Fabrikam"]);
  });

  it("says so when there are no alerts at all", async () => {
    await openAlerts(() => (state.handlers.stored_alerts = () => []));
    expect(rowIds()).toEqual([]);
    expect(visible($("#alerts-empty"))).toBe(true);
    expect($("#alerts-empty").textContent).toMatch(/No alerts yet/);
  });

  it("keeps filters through a change event, debounced", async () => {
    await openAlerts();
    setValue($<HTMLSelectElement>("#filter-severity"), "critical");
    await flush();
    expect(rowIds()).toEqual([5]);
    const before = callsOf("alert_page").length;
    await changed(3, () => expect(callsOf("alert_page").length).toBe(before));
    expect(callsOf("alert_page").length).toBe(before + 1);
    expect((callsOf("alert_page").at(-1)!.args!.query as { severity: string }).severity).toBe("critical");
    expect(rowIds()).toEqual([5]);
  });
});

describe("alert detail", () => {
  it("says what the rule looks for and what else makes it fire", async () => {
    await openAlerts();
    $(`[data-testid=alert-row][data-alert-id="4"]`).click();
    await flush();
    expect($("#alert-rule").textContent).toBe("Inbox rule hides mail (inbox-rule-hides-mail)");
    expect($("[data-testid=rule-description]").textContent).toBe(HIDES_MAIL.description);
    expect($("[data-testid=rule-false-positives]").textContent).toBe(`Also fires for: ${HIDES_MAIL.false_positives}`);
    expect($("#about-rule").textContent).toContain("T1564.008");
    expect(callsOf("rules")).toHaveLength(1);
  });

  it("shows the alert's incident as a timeline, oldest first, under its chain's title", async () => {
    const step = (id: number, rule: string, severity: Severity, at: string, summary: string) => ({
      id,
      rule,
      severity,
      status: "open" as const,
      summary,
      event_time: at,
      detected_at: at,
    });
    const chain = `Account takeover: ${HOSTILE_RULE} was used from Nigeria, where it had never signed in, then its MFA was changed and its mail forwarded outside (3 alerts)`;
    await openAlerts(() => {
      state.handlers.get_alert = (a) =>
        detail({
          id: a!.id as number,
          incident: incident({
            id: 7,
            severity: "critical",
            title: chain,
            alerts: [
              step(3, "mfa-changed", "medium", "2026-11-27T10:00:00Z", HOSTILE_SUMMARY),
              step(4, HIDES_MAIL.id, "high", "2026-11-27T10:20:00Z", "Hides mail"),
              step(5, "inbox-rule-external-forward", "high", "2026-11-27T10:40:00Z", "Forwards mail"),
            ],
          }),
        });
    });
    $(`[data-testid=alert-row][data-alert-id="5"]`).click();
    await flush();
    noMarkup();
    expect(visible($("#incident-timeline"))).toBe(true);
    expect($("[data-testid=incident-title]").textContent).toBe(`Critical ${chain}`);
    const steps = $$("[data-testid=timeline-alert]");
    expect(steps.map((s) => s.dataset.alertId)).toEqual(["3", "4", "5"]);
    expect(steps[0].textContent).toContain(HOSTILE_SUMMARY);
    expect(steps[1].textContent).toContain("Inbox rule hides mail");
    // This alert is marked and cannot be opened again; another opens its own detail.
    expect(steps.map((s) => s.getAttribute("aria-current"))).toEqual([null, null, "true"]);
    expect(steps[2].querySelector("button")!.disabled).toBe(true);
    steps[0].querySelector("button")!.click();
    await flush();
    expect(callsOf("get_alert").at(-1)!.args).toEqual({ id: 3 });
  });

  it("shows no timeline for an alert alone in its incident", async () => {
    await openAlerts();
    $(`[data-testid=alert-row][data-alert-id="5"]`).click();
    await flush();
    expect(document.getElementById("incident-timeline")).toBeNull();
  });

  it("opens on a row click and shows every field as text", async () => {
    await openAlerts();
    $(`[data-testid=alert-row][data-alert-id="5"]`).click();
    await flush();
    expect(callsOf("get_alert").at(-1)!.args).toEqual({ id: 5 });
    expect(visible($("#alert-detail"))).toBe(true);
    expect(visible($("#alert-list"))).toBe(false);
    noMarkup();
    expect($("#alert-summary").textContent).toBe(HOSTILE_SUMMARY);
    // An id the registry does not know is shown as it is.
    expect($("#alert-rule").textContent).toBe(`${HOSTILE_RULE} (${HOSTILE_RULE})`);
    expect(document.getElementById("about-rule")).toBeNull();
    expect($("#alert-raw").tagName).toBe("PRE");
    expect($("#alert-raw").textContent).toBe(HOSTILE_RAW);
    expect($("#alert-raw").children.length).toBe(0);
    expect($("#alert-status").textContent).toBe("Open");
    expect($("#alert-target").textContent).toBe("cfo@contoso.com");
    expect($("#alert-actor").textContent).toBe("ceo@contoso.com");
    expect($("#alert-target").previousElementSibling!.textContent).toBe("Mailbox");
    expect($("#alert-actor").previousElementSibling!.textContent).toBe("Changed by");
    expect($("#alert-ip").textContent).toBe("203.0.113.9");
    expect($("#alert-location").textContent).toBe(
      "Amsterdam, North Holland, Netherlands (NL) · AS64500 Example Hosting BV · VPN/proxy",
    );
    expect($("#alert-familiarity").textContent).toBe("never signed in from this country before");
    const cells = $$("#alert-parameters tbody tr").map((r) => [r.children[0].textContent, r.children[1].textContent]);
    expect(cells).toEqual([
      ["Name", HOSTILE_RULE],
      ["ForwardTo", "evil@example.net"],
    ]);
  });

  it("marks a false positive with the note and the trust flag", async () => {
    await openAlerts();
    $(`[data-testid=alert-row][data-alert-id="5"]`).click();
    await flush();
    expect(visible(document.querySelector("#status-note"))).toBe(false);
    $("#mark-false-positive").click();
    expect(visible($("#status-note"))).toBe(true);
    expect(visible($("#trust-destination"))).toBe(true);
    expect($("#trust-destinations").textContent).toBe("evil@example.net");
    $<HTMLTextAreaElement>("#status-note").value = "  client's own archive <b>box</b> ";
    $<HTMLInputElement>("#trust-destination").click();
    const refreshes = callsOf("alert_page").length;
    $("#confirm-status").click();
    await flush();
    expect(callsOf("set_alert_status")).toEqual([
      { cmd: "set_alert_status", args: { id: 5, status: "false_positive", note: "client's own archive <b>box</b>", trustDestination: true } },
    ]);
    expect(callsOf("alert_page").length).toBeGreaterThan(refreshes);
    expect(callsOf("get_alert").length).toBeGreaterThanOrEqual(2);
  });

  it("sends no note and no trust when left empty", async () => {
    await openAlerts();
    $(`[data-testid=alert-row][data-alert-id="5"]`).click();
    await flush();
    $("#mark-false-positive").click();
    $("#confirm-status").click();
    await flush();
    expect(callsOf("set_alert_status")[0].args).toEqual({ id: 5, status: "false_positive", note: null, trustDestination: false });
  });

  it("offers trusting a destination only when the alert has destinations", async () => {
    // The evidence's shape is core's to read (`destinations`); odd `details` change nothing.
    for (const details of [null, {}, { destinations: ["x@evil.example"] }]) {
      await openAlerts(() => (state.handlers.get_alert = (a) => detail({ id: a!.id as number, details, destinations: [] })));
      $(`[data-testid=alert-row][data-alert-id="4"]`).click();
      await flush();
      $("#mark-false-positive").click();
      expect(visible($("#status-note"))).toBe(true);
      expect(document.querySelector("#trust-destination")).toBeNull();
    }
  });

  it("acknowledges and reopens", async () => {
    await openAlerts();
    $(`[data-testid=alert-row][data-alert-id="5"]`).click();
    await flush();
    expect(document.querySelector("#mark-open")).toBeNull();
    $("#mark-acknowledged").click();
    await flush();
    expect(callsOf("set_alert_status")[0].args).toEqual({ id: 5, status: "acknowledged", note: null, trustDestination: false });

    state.handlers.get_alert = (a) => detail({ id: a!.id as number, status: "acknowledged" });
    $("#back-to-alerts").click();
    $(`[data-testid=alert-row][data-alert-id="3"]`).click();
    await flush();
    expect(document.querySelector("#mark-acknowledged")).toBeNull();
    $("#mark-open").click();
    await flush();
    expect(callsOf("set_alert_status")[1].args).toEqual({ id: 3, status: "open", note: null, trustDestination: false });
  });

  it("shows who suppressed a suppressed alert", async () => {
    await openAlerts();
    setValue($<HTMLSelectElement>("#filter-status"), "all");
    await flush();
    $(`[data-testid=alert-row][data-alert-id="1"]`).click();
    await flush();
    expect($("#alert-status").textContent).toBe("Suppressed");
    expect($("#alert-suppressed-by").textContent).toBe("destination partner.example");
  });

  it("lists related alerts and opens one on click", async () => {
    await openAlerts(() => {
      state.handlers.get_alert = (a) =>
        detail({ id: a!.id as number, related: a!.id === 5 ? [alert({ id: 1, rule: HOSTILE_RULE, summary: HOSTILE_SUMMARY })] : [] });
    });
    $(`[data-testid=alert-row][data-alert-id="5"]`).click();
    await flush();
    const rel = $$("#alert-related [data-testid=related-alert]");
    expect(rel.map((r) => r.dataset.alertId)).toEqual(["1"]);
    noMarkup();
    expect($("#alert-related").textContent).toContain(HOSTILE_RULE);
    rel[0].click();
    await flush();
    expect(callsOf("get_alert").at(-1)!.args).toEqual({ id: 1 });
    expect($("#alert-related").textContent).toMatch(/No other alert/);
  });

  it("opens the alert a notification asks for, from any page", async () => {
    await mount();
    $("#nav-settings").click();
    await flush();
    emit("rulewatch://open-alert", 4);
    await flush();
    expect($("#nav-alerts").getAttribute("aria-current")).toBe("page");
    expect(visible($("#alert-detail"))).toBe(true);
    expect($("#alert-detail").dataset.alertId).toBe("4");
  });

  it("goes back to the list", async () => {
    await openAlerts();
    $(`[data-testid=alert-row][data-alert-id="5"]`).click();
    await flush();
    $("#back-to-alerts").click();
    expect(visible($("#alert-list"))).toBe(true);
    expect(visible($("#alert-detail"))).toBe(false);
  });
});

describe("refresh while reviewing", () => {
  it("keeps a half-typed false-positive note when a change arrives", async () => {
    await openAlerts();
    $(`[data-testid=alert-row][data-alert-id="5"]`).click();
    await flush();
    $("#mark-false-positive").click();
    $<HTMLTextAreaElement>("#status-note").value = "checking with the client";
    $<HTMLInputElement>("#trust-destination").click();
    const fetched = callsOf("get_alert").length;
    await changed();
    expect(callsOf("get_alert").length).toBe(fetched + 1);
    expect(visible($("#status-note"))).toBe(true);
    expect($<HTMLTextAreaElement>("#status-note").value).toBe("checking with the client");
    expect($<HTMLInputElement>("#trust-destination").checked).toBe(true);
  });
});
