// Resolving an incident from the "By incident" view of the Alerts page.
import { afterEach, describe, expect, it } from "vitest";
import { $, $$, changed, flush, HOSTILE_RULE, incident, incidents, openAlerts, setValue, unmount, visible } from "./fixtures";
import { callsOf, state } from "./tauri-mock";

afterEach(() => unmount());

const noMarkup = () => expect(document.querySelector("img, script, iframe, object")).toBeNull();
const heading = (id: number) => $(`[data-testid=incident-row][data-incident-id="${id}"]`);
const form = () => document.querySelector<HTMLElement>("[data-testid=resolve-form]");
const note = () => $<HTMLTextAreaElement>("[data-testid=resolve-note]");
const DONE = "Incident resolved: the channels told of it hear so at their next delivery.";

/** The Alerts page grouped by incident, every status shown. */
async function openIncidents(configure?: () => void): Promise<void> {
  await openAlerts(configure);
  setValue($<HTMLSelectElement>("#filter-status"), "all");
  setValue($<HTMLSelectElement>("#filter-group"), "incidents");
  await flush();
}

describe("resolving an incident", () => {
  it("reads the incidents only for the grouped view", async () => {
    await openAlerts();
    await changed();
    expect(callsOf("list_incidents")).toEqual([]);
    setValue($<HTMLSelectElement>("#filter-group"), "incidents");
    await flush();
    expect(callsOf("list_incidents")).toHaveLength(1);
    // Only the incidents of the alerts on the page: a year's are never read.
    const onPage = [...new Set($$("[data-testid=incident-row]").map((r) => Number(r.dataset.incidentId)).filter((id) => id > 0))];
    expect(onPage.length).toBeGreaterThan(0);
    expect([...(callsOf("list_incidents")[0].args!.ids as number[])].sort()).toEqual(onPage.sort());
    // Grouped, every refresh reads them after the alerts.
    await changed();
    expect(callsOf("list_incidents")).toHaveLength(2);
  });

  it("offers Resolve on an open incident, and shows a resolved one's note without a button", async () => {
    await openIncidents(() => {
      state.handlers.list_incidents = () =>
        incidents().map((i) => (i.id === 4 ? { ...i, status: "resolved" as const, resolved_at: "2026-11-27T11:00:00Z", resolution_note: "rule removed" } : i));
    });
    const open = heading(5);
    expect(open.querySelector("[data-testid=incident-status]")!.textContent).toBe("Open");
    expect(open.querySelector("[data-testid=resolve-incident]")!.textContent).toBe("Resolve…");
    const done = heading(4);
    expect(done.querySelector("[data-testid=incident-status]")!.textContent).toBe("Resolved");
    expect(done.querySelector("[data-testid=incident-note]")!.textContent).toBe("rule removed");
    expect(done.querySelector("[data-testid=resolve-incident]")).toBeNull();
    expect(form()).toBeNull();
  });

  it("sends the incident's key and the trimmed note, reloads, and shows it resolved", async () => {
    // Keys are not derived from ids, and the incidents come in another order than the alerts.
    await openIncidents(() => {
      const keys: Record<number, string> = { 5: "c0ffee00-0000-4000-8000-000000000005", 4: "beef0000-0000-4000-8000-000000000004" };
      const base = state.handlers.list_incidents;
      state.handlers.list_incidents = (a) => (base(a) as ReturnType<typeof incidents>).map((i) => ({ ...i, key: keys[i.id] ?? i.key })).reverse();
      state.handlers.resolve_incident = (a) => {
        const it = incident({ id: 5, key: a!.key as string, status: "resolved", resolution_note: a!.note as string | null });
        state.handlers.list_incidents = () => [it, incident({ id: 4, key: keys[4] })];
        return it;
      };
    });
    heading(5).querySelector<HTMLButtonElement>("[data-testid=resolve-incident]")!.click();
    expect(visible(form())).toBe(true);
    // Right under its heading.
    expect(heading(5).nextElementSibling!.contains(form())).toBe(true);
    expect(document.activeElement).toBe(note());
    note().value = "  removed the rule, reset the password \n";
    const alertsRead = callsOf("alert_page").length;
    const incidentsRead = callsOf("list_incidents").length;
    $("[data-testid=resolve-confirm]").click();
    await flush();
    expect(callsOf("resolve_incident")).toEqual([
      { cmd: "resolve_incident", args: { key: "c0ffee00-0000-4000-8000-000000000005", note: "removed the rule, reset the password" } },
    ]);
    expect(callsOf("alert_page").length).toBeGreaterThan(alertsRead);
    expect(callsOf("list_incidents").length).toBeGreaterThan(incidentsRead);
    expect(form()).toBeNull();
    expect(heading(5).querySelector("[data-testid=incident-status]")!.textContent).toBe("Resolved");
    expect(heading(5).querySelector("[data-testid=incident-note]")!.textContent).toBe("removed the rule, reset the password");
    expect(heading(5).querySelector("[data-testid=resolve-incident]")).toBeNull();
    // The other incident is untouched.
    expect(heading(4).querySelector("[data-testid=resolve-incident]")).not.toBeNull();
    expect($("#alerts-message").getAttribute("role")).toBe("status");
    expect($("#alerts-message").textContent).toBe(DONE);
    expect($("#error").hidden).toBe(true);
  });

  it("sends no note when none was typed, and shows none", async () => {
    await openIncidents();
    heading(3).querySelector<HTMLButtonElement>("[data-testid=resolve-incident]")!.click();
    note().value = "   ";
    $("[data-testid=resolve-confirm]").click();
    await flush();
    expect(callsOf("resolve_incident")[0].args).toEqual({ key: incidents().find((i) => i.id === 3)!.key, note: null });
    expect(heading(3).querySelector("[data-testid=incident-status]")!.textContent).toBe("Resolved");
    expect(heading(3).querySelector("[data-testid=incident-note]")).toBeNull();
  });

  it("shows a refusal in #error and keeps the typed note", async () => {
    await openIncidents(() => {
      state.handlers.resolve_incident = (a) => {
        throw { kind: "invalid_input", message: `no open incident has the key ${a!.key as string}` };
      };
    });
    heading(5).querySelector<HTMLButtonElement>("[data-testid=resolve-incident]")!.click();
    note().value = "client confirmed";
    $("[data-testid=resolve-confirm]").click();
    await flush();
    expect(callsOf("resolve_incident")).toHaveLength(1);
    expect(visible($("#error"))).toBe(true);
    expect($("#error").dataset.kind).toBe("invalid_input");
    expect($("#error-text").textContent).toBe(`no open incident has the key ${incidents().find((i) => i.id === 5)!.key}`);
    expect(visible(form())).toBe(true);
    expect(note().value).toBe("client confirmed");
    expect($<HTMLButtonElement>("[data-testid=resolve-confirm]").disabled).toBe(false);
    expect($("#alerts-message").textContent).toBe("");
  });

  it("keeps a half-typed note, and its focus, when a change re-renders the list", async () => {
    await openIncidents();
    heading(5).querySelector<HTMLButtonElement>("[data-testid=resolve-incident]")!.click();
    note().value = "checking with the client";
    const rows = callsOf("list_incidents").length;
    await changed();
    expect(callsOf("list_incidents")).toHaveLength(rows + 1);
    expect(visible(form())).toBe(true);
    expect(heading(5).nextElementSibling!.contains(form())).toBe(true);
    expect(note().value).toBe("checking with the client");
    expect(document.activeElement).toBe(note());
    // A filter hiding the incident and back again changes nothing either.
    setValue($<HTMLSelectElement>("#filter-severity"), "critical");
    setValue($<HTMLSelectElement>("#filter-severity"), "any");
    expect(note().value).toBe("checking with the client");
    // Nor does clicking Resolve… again.
    heading(5).querySelector<HTMLButtonElement>("[data-testid=resolve-incident]")!.click();
    expect(note().value).toBe("checking with the client");
  });

  it("drops the form when the incident was resolved elsewhere", async () => {
    await openIncidents();
    heading(5).querySelector<HTMLButtonElement>("[data-testid=resolve-incident]")!.click();
    note().value = "half typed";
    state.handlers.list_incidents = () => incidents().map((i) => (i.id === 5 ? { ...i, status: "resolved" as const } : i));
    await changed();
    expect(form()).toBeNull();
    expect(heading(5).querySelector("[data-testid=incident-status]")!.textContent).toBe("Resolved");
  });

  it("cancels, and opens empty again", async () => {
    await openIncidents();
    const resolve = () => heading(5).querySelector<HTMLButtonElement>("[data-testid=resolve-incident]")!;
    resolve().click();
    note().value = "never mind";
    $("[data-testid=resolve-cancel]").click();
    expect(form()).toBeNull();
    expect(document.activeElement).toBe(resolve());
    resolve().click();
    expect(note().value).toBe("");
    expect(callsOf("resolve_incident")).toEqual([]);
  });

  it("shows a hostile title and note as text", async () => {
    await openIncidents(() => {
      state.handlers.list_incidents = () =>
        incidents().map((i) =>
          i.id === 5 ? { ...i, title: HOSTILE_RULE } : i.id === 4 ? { ...i, status: "resolved" as const, resolution_note: HOSTILE_RULE } : i,
        );
    });
    heading(5).querySelector<HTMLButtonElement>("[data-testid=resolve-incident]")!.click();
    noMarkup();
    expect($("[data-testid=resolve-title]").textContent).toBe(HOSTILE_RULE);
    expect(heading(4).querySelector("[data-testid=incident-note]")!.textContent).toBe(HOSTILE_RULE);
    expect($$("[data-testid=incident-note]").every((n) => n.children.length === 0)).toBe(true);
  });
});
