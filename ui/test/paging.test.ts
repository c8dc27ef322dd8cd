// The Alerts page with a year of alerts: it asks the desktop for one page at a time with the
// filters, turns pages, and never draws more than a page.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AlertPage, AlertQuery, AlertStatus, AlertSummary, Severity } from "../src/api";
import { PAGE_SIZE, SEARCH_DEBOUNCE_MS } from "../src/pages/alerts";
import { $, $$, alert, alertPageOf, changed, desk, flush, HOSTILE_RULE, ME, mount, openAlerts, rowIds, setValue, T1, T2, typeSearch, unmount, visible } from "./fixtures";
import { callsOf, state } from "./tauri-mock";

afterEach(() => {
  unmount();
  vi.useRealTimers();
});

const STATUSES: AlertStatus[] = ["open", "acknowledged", "false_positive", "resolved", "suppressed"];
const SEVERITIES: Severity[] = ["low", "medium", "high", "critical"];

/** `n` alerts, newest first (ids n down to 1): every fifth status, every fourth severity, two tenants. */
function many(n: number): AlertSummary[] {
  return Array.from({ length: n }, (_, i) => {
    const id = n - i;
    return alert({
      id,
      status: STATUSES[id % 5],
      severity: SEVERITIES[id % 4],
      tenant_id: id % 2 ? T1 : T2,
      tenant_name: id % 2 ? "Contoso" : "Fabrikam",
      target: `user${id}@contoso.com`,
      event_time: new Date(Date.UTC(2026, 10, 27, 10, 0, 0) - id * 60_000).toISOString(),
    });
  });
}

const queries = (): AlertQuery[] => callsOf("alert_page").map((c) => c.args!.query as AlertQuery);
const lastQuery = (): AlertQuery => queries().at(-1)!;
const range = (from: number, to: number): number[] => Array.from({ length: from - to + 1 }, (_, i) => from - i);
const pick = async (id: string, value: string): Promise<void> => {
  setValue($<HTMLSelectElement>(id), value);
  await flush();
};
const turn = async (which: "prev" | "next"): Promise<void> => {
  $<HTMLButtonElement>(`[data-testid=page-${which}]`).click();
  await flush();
};

/** The Alerts page over `n` alerts, every status shown. */
async function openMany(n: number): Promise<void> {
  await openAlerts(() => (state.handlers.stored_alerts = () => many(n)));
  await pick("#filter-status", "all");
}

describe("the alert list, a page at a time", () => {
  it("asks for the first page with the filters, and draws one page at most", async () => {
    await mount(() => (state.handlers.stored_alerts = () => many(1000)));
    $("#nav-alerts").click();
    await flush();
    expect(queries()).toEqual([{ status: "active", severity: null, tenant: null, search: "", held_by: "anyone", offset: 0, limit: PAGE_SIZE }]);
    expect(rowIds()).toHaveLength(PAGE_SIZE);
    // Open and acknowledged: two statuses in five.
    expect($("#alerts-count").textContent).toBe("Showing 1–100 of 400 alerts");
    await pick("#filter-status", "all");
    expect($("#alerts-count").textContent).toBe("Showing 1–100 of 1,000 alerts");
    expect($$("#alerts-table tbody tr")).toHaveLength(PAGE_SIZE);
    // Grouped by incident, the same page under its headings.
    await pick("#filter-group", "incidents");
    expect(rowIds()).toEqual(range(1000, 901));
    expect(visible($("#alerts-group-note"))).toBe(true);
  });

  it("turns pages: Next asks for the next offset, Previous for the one before", async () => {
    await openMany(250);
    expect(rowIds()).toEqual(range(250, 151));
    expect(visible($("#alerts-pager"))).toBe(true);
    expect($<HTMLButtonElement>("[data-testid=page-prev]").disabled).toBe(true);
    await turn("next");
    expect(lastQuery().offset).toBe(100);
    expect(rowIds()).toEqual(range(150, 51));
    expect($("#alerts-count").textContent).toBe("Showing 101–200 of 250 alerts");
    await turn("next");
    expect(lastQuery().offset).toBe(200);
    expect(rowIds()).toEqual(range(50, 1));
    expect($("#alerts-count").textContent).toBe("Showing 201–250 of 250 alerts");
    expect($<HTMLButtonElement>("[data-testid=page-next]").disabled).toBe(true);
    await turn("prev");
    expect(lastQuery().offset).toBe(100);
    expect(rowIds()).toEqual(range(150, 51));
  });

  it("shows no pager while everything fits on one page", async () => {
    await openAlerts();
    expect(rowIds()).toEqual([5, 4, 3]);
    expect(visible($("#alerts-pager"))).toBe(false);
    expect(visible($("#alerts-group-note"))).toBe(false);
  });

  it("goes back to the first page when a filter changes", async () => {
    await openMany(250);
    for (const [id, value, field] of [
      ["#filter-severity", "high", { severity: "high" }],
      ["#filter-tenant", T2, { tenant: T2 }],
      ["#filter-assignee", "nobody", { held_by: "nobody" }],
      ["#filter-status", "open", { status: "open" }],
    ] as const) {
      await pick("#filter-severity", "any");
      await pick("#filter-tenant", "");
      await pick("#filter-assignee", "anyone");
      await pick("#filter-status", "all");
      await turn("next");
      expect(lastQuery().offset).toBe(100);
      await pick(id, value);
      expect(lastQuery()).toMatchObject({ ...field, offset: 0 });
    }
  });

  it("asks once typing pauses, from the first page, with the text as typed", async () => {
    await openMany(250);
    await turn("next");
    const asked = callsOf("alert_page").length;
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const box = $<HTMLInputElement>("#search");
    setValue(box, "u");
    await vi.advanceTimersByTimeAsync(SEARCH_DEBOUNCE_MS - 1);
    setValue(box, "us");
    await vi.advanceTimersByTimeAsync(SEARCH_DEBOUNCE_MS - 1);
    setValue(box, "USER2");
    await vi.advanceTimersByTimeAsync(SEARCH_DEBOUNCE_MS - 1);
    expect(callsOf("alert_page")).toHaveLength(asked);
    await vi.advanceTimersByTimeAsync(1);
    vi.useRealTimers();
    await flush();
    expect(callsOf("alert_page")).toHaveLength(asked + 1);
    expect(lastQuery()).toMatchObject({ search: "USER2", offset: 0 });
    // user2, user20–29, user200–250 (ASCII case aside).
    expect($("#alerts-count").textContent).toBe("Showing 1–62 of 62 alerts");
    // Spaces around the same text search the same: no question.
    await typeSearch(" USER2 ");
    expect(callsOf("alert_page")).toHaveLength(asked + 1);
  });

  it("sends hostile search text as it is, and shows it as text", async () => {
    const hostile = `%_\\' OR 1=1 -- ${HOSTILE_RULE}`;
    await openMany(250);
    await typeSearch(hostile);
    expect(lastQuery().search).toBe(hostile);
    expect($<HTMLInputElement>("#search").value).toBe(hostile);
    expect(rowIds()).toEqual([]);
    expect($("#alerts-empty").textContent).toMatch(/No alerts match/);
    expect(document.querySelector("img, script, iframe, object")).toBeNull();
  });

  it("re-reads the page shown on a change, keeping the page, the focus and the search", async () => {
    await openMany(250);
    await typeSearch("contoso");
    await turn("next");
    const next = $<HTMLButtonElement>("[data-testid=page-next]");
    next.focus();
    const shown = rowIds();
    const asked = callsOf("alert_page").length;
    await changed();
    expect(callsOf("alert_page")).toHaveLength(asked + 1);
    expect(lastQuery()).toMatchObject({ status: "all", search: "contoso", offset: 100 });
    expect(rowIds()).toEqual(shown);
    expect(document.activeElement).toBe(next);
    const box = $<HTMLInputElement>("#search");
    box.focus();
    box.setSelectionRange(2, 4);
    await changed();
    expect(document.activeElement).toBe(box);
    expect([box.value, box.selectionStart, box.selectionEnd]).toEqual(["contoso", 2, 4]);
    expect(lastQuery().offset).toBe(100);
  });

  it("shows the page the desktop answers when fewer alerts match now", async () => {
    await openMany(250);
    await turn("next");
    await turn("next");
    expect(lastQuery().offset).toBe(200);
    // A colleague's CLI removed a hundred: the third page is gone.
    state.handlers.stored_alerts = () => many(150);
    await changed();
    expect(lastQuery().offset).toBe(200);
    expect(rowIds()).toEqual(range(50, 1));
    expect($("#alerts-count").textContent).toBe("Showing 101–150 of 150 alerts");
    expect($<HTMLButtonElement>("[data-testid=page-next]").disabled).toBe(true);
    await turn("prev");
    expect(lastQuery().offset).toBe(0);
  });

  it("draws the latest question's answer, not a slower earlier one", async () => {
    let release!: () => void;
    await openMany(250);
    const answer = state.handlers.alert_page;
    state.handlers.alert_page = async (a) => {
      const q = a!.query as AlertQuery;
      if (q.severity === "critical") await new Promise<void>((r) => (release = r));
      return answer(a);
    };
    await pick("#filter-severity", "critical");
    await pick("#filter-severity", "high");
    const high = rowIds();
    expect(high.length).toBeGreaterThan(0);
    release();
    await flush();
    expect(rowIds()).toEqual(high);
    expect(lastQuery().severity).toBe("high");
  });

  it("asks the desktop for mine: it knows who is at this workstation", async () => {
    await openAlerts(() => {
      desk.holders.set(5, ME);
      desk.holders.set(4, "bob");
    });
    await pick("#filter-assignee", "mine");
    expect(lastQuery().held_by).toBe("mine");
    expect(rowIds()).toEqual([5]);
    await pick("#filter-assignee", "nobody");
    expect(rowIds()).toEqual([3]);
  });

  it("offers every alert's tenant, whatever the page shows", async () => {
    await openMany(250);
    await typeSearch("nothing like this");
    expect(rowIds()).toEqual([]);
    expect($$("#filter-tenant option").map((o) => o.textContent)).toEqual(["All tenants", "Contoso", "Fabrikam"]);
  });
});

describe("the desktop's stand-in pages as the store does", () => {
  const page = (q: Partial<AlertQuery>): AlertPage =>
    alertPageOf(many(30), { status: "all", severity: null, tenant: null, search: "", held_by: "anyone", offset: 0, limit: 100, ...q });
  it("ranks severity, takes search text literally, and moves a page past the end back", () => {
    expect(page({ severity: "high" }).alerts.every((a) => a.severity === "high" || a.severity === "critical")).toBe(true);
    expect(page({ search: "USER1" }).total).toBe(11);
    expect(page({ search: "user_" }).total).toBe(0);
    expect(page({ offset: 30, limit: 7 })).toMatchObject({ offset: 28, total: 30 });
  });
});
