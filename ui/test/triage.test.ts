import { afterEach, describe, expect, it } from "vitest";
import { $, $$, alert, changed, desk, deskStep, flush, HOSTILE_RULE, ME, openAlerts, rowIds, setValue, unmount, visible } from "./fixtures";
import { callsOf, state } from "./tauri-mock";
import { localDateTime } from "../src/format";

afterEach(() => unmount());

const noMarkup = () => expect(document.querySelector("img, script, iframe, object")).toBeNull();
const testid = (id: string): HTMLElement => $(`#triage [data-testid=${id}]`);
const absent = (id: string) => expect(document.querySelector(`#triage [data-testid=${id}]`)).toBeNull();
const entries = (): string[] => $$("#triage [data-testid=triage-entry]").map((e) => e.textContent ?? "");

/** The Alerts page with alert 5's detail open; `configure` runs before the panel starts. */
async function openAlert5(configure?: () => void): Promise<void> {
  await openAlerts(configure);
  $(`[data-testid=alert-row][data-alert-id="5"]`).click();
  await flush();
}

describe("triage in the alert detail", () => {
  it("says nobody holds a new alert, with an empty history", async () => {
    await openAlert5();
    expect(callsOf("alert_review").at(-1)!.args).toEqual({ id: 5 });
    expect(visible($("#triage"))).toBe(true);
    expect(testid("triage-holder").textContent).toBe("Nobody holds this alert");
    expect(testid("triage-take").textContent).toBe("Take it");
    absent("triage-release");
    absent("triage-takeover");
    expect(entries()).toEqual([]);
    expect(testid("triage-history").textContent).toMatch(/Nothing yet/);
  });

  it("takes the alert: held by you, and the history says who took it when", async () => {
    await openAlert5();
    testid("triage-take").click();
    await flush();
    expect(callsOf("take_alert")).toEqual([{ cmd: "take_alert", args: { id: 5, force: false } }]);
    expect(testid("triage-holder").textContent).toBe("Held by you");
    expect(testid("triage-release").textContent).toBe("Release");
    absent("triage-take");
    const at = desk.history.get(5)![0].at;
    expect(entries()).toEqual([`${localDateTime(at)} ${ME} took it`]);
    expect($("#triage time").getAttribute("datetime")).toBe(at);
  });

  it("releases an alert this technician holds", async () => {
    await openAlert5(() => desk.holders.set(5, ME));
    expect(testid("triage-holder").textContent).toBe("Held by you");
    testid("triage-release").click();
    await flush();
    expect(callsOf("release_alert")).toEqual([{ cmd: "release_alert", args: { id: 5, force: false } }]);
    expect(testid("triage-holder").textContent).toBe("Nobody holds this alert");
    expect(visible(testid("triage-take"))).toBe(true);
    expect(entries().at(-1)).toMatch(/me released it$/);
  });

  it("takes an alert over from a colleague only once confirmed", async () => {
    await openAlert5(() => {
      desk.holders.set(5, "bob");
      deskStep(5, "bob", "took");
    });
    expect(testid("triage-holder").textContent).toBe("Held by bob");
    absent("triage-take");
    absent("triage-release");
    expect(visible(testid("triage-takeover-confirm"))).toBe(false);

    testid("triage-takeover").click();
    expect(testid("triage-takeover").textContent).toBe("Take over from bob…");
    expect(visible(testid("triage-takeover-confirm"))).toBe(true);
    expect(testid("triage-takeover-confirm").textContent).toContain("bob holds this alert");
    testid("triage-takeover-no").click();
    expect(visible(testid("triage-takeover-confirm"))).toBe(false);
    expect(callsOf("take_alert")).toEqual([]);

    testid("triage-takeover").click();
    testid("triage-takeover-yes").click();
    await flush();
    expect(callsOf("take_alert")).toEqual([{ cmd: "take_alert", args: { id: 5, force: true } }]);
    expect(testid("triage-holder").textContent).toBe("Held by you");
    expect(visible(testid("triage-takeover-confirm"))).toBe(false);
    expect(entries().map((e) => e.replace(/^.*?(me|bob) /, "$1 "))).toEqual(["bob took it", "me took over from bob"]);
  });

  it("says so when a colleague took the alert meanwhile, and offers the take-over", async () => {
    await openAlert5();
    expect(testid("triage-holder").textContent).toBe("Nobody holds this alert");
    // Bob takes it at his desk; this panel has not heard yet.
    desk.holders.set(5, "bob");
    testid("triage-take").click();
    await flush();
    expect(callsOf("take_alert")).toEqual([{ cmd: "take_alert", args: { id: 5, force: false } }]);
    expect(visible(testid("triage-message"))).toBe(true);
    expect(testid("triage-message").textContent).toBe("alert 5 is held by bob since 2026-11-27T10:50:00Z; ask them, or take it over");
    // The refusal is the section's to say, not the error box's.
    expect(visible($("#error"))).toBe(false);
    expect(testid("triage-holder").textContent).toBe("Held by bob");
    expect(testid("triage-takeover").textContent).toBe("Take over from bob…");
    absent("triage-take");
    // Bob lets it go: the refusal is old news.
    desk.holders.delete(5);
    await changed();
    expect(testid("triage-holder").textContent).toBe("Nobody holds this alert");
    expect(visible(testid("triage-message"))).toBe(false);
  });

  it("shows any other failure in the error box", async () => {
    await openAlert5(() => {
      state.handlers.take_alert = () => {
        throw { kind: "local_database", message: "database is locked" };
      };
    });
    testid("triage-take").click();
    await flush();
    expect($("#error-text").textContent).toBe("database is locked");
    expect(visible(testid("triage-message"))).toBe(false);
    expect(testid("triage-holder").textContent).toBe("Nobody holds this alert");
  });

  it("adds a note, and refuses an empty one without sending it", async () => {
    await openAlert5();
    const note = testid("triage-note") as HTMLTextAreaElement;
    note.value = "   ";
    testid("triage-add-note").click();
    await flush();
    expect(callsOf("note_alert")).toEqual([]);
    expect(visible(testid("triage-note-error"))).toBe(true);
    expect(testid("triage-note-error").textContent).toMatch(/empty note/);
    expect(note.getAttribute("aria-invalid")).toBe("true");

    note.value = "  called the user: she did not make this rule ";
    testid("triage-add-note").click();
    await flush();
    expect(callsOf("note_alert")).toEqual([{ cmd: "note_alert", args: { id: 5, note: "called the user: she did not make this rule" } }]);
    expect(visible(testid("triage-note-error"))).toBe(false);
    expect(note.value).toBe("");
    expect($("#triage [data-testid=triage-entry-action]").textContent).toBe("added a note");
    expect($("#triage [data-testid=triage-entry-note]").textContent).toBe("called the user: she did not make this rule");
  });

  it("keeps the note when adding it is refused", async () => {
    await openAlert5(() => {
      state.handlers.note_alert = () => {
        throw { kind: "local_database", message: "database is locked" };
      };
    });
    const note = testid("triage-note") as HTMLTextAreaElement;
    note.value = "waiting for the client";
    testid("triage-add-note").click();
    await flush();
    expect($("#error-text").textContent).toBe("database is locked");
    expect(note.value).toBe("waiting for the client");
  });

  it("keeps a half-typed note when a change arrives", async () => {
    await openAlert5();
    const note = testid("triage-note") as HTMLTextAreaElement;
    note.value = "checking with";
    desk.holders.set(5, "bob");
    const reviews = callsOf("alert_review").length;
    await changed();
    expect(callsOf("alert_review").length).toBeGreaterThan(reviews);
    expect(testid("triage-holder").textContent).toBe("Held by bob");
    expect(testid("triage-note")).toBe(note);
    expect(note.value).toBe("checking with");
  });

  it("resolves the alert among the status actions", async () => {
    await openAlert5();
    expect($("#mark-resolved").parentElement!.id).toBe("status-actions");
    $("#mark-resolved").click();
    await flush();
    expect(callsOf("set_alert_status")).toEqual([
      { cmd: "set_alert_status", args: { id: 5, status: "resolved", note: null, trustDestination: false } },
    ]);
    expect(entries().at(-1)).toMatch(/me resolved it$/);
  });

  it("offers no Resolve for a resolved alert", async () => {
    await openAlerts(() => (state.handlers.stored_alerts = () => [alert({ id: 5, status: "resolved" })]));
    setValue($<HTMLSelectElement>("#filter-status"), "resolved");
    await flush();
    expect(rowIds()).toEqual([5]);
    state.handlers.get_alert = () => ({ ...alert({ id: 5, status: "resolved" }), record_id: "r", details: null, destinations: [], parameters: [], raw_record: "{}", related: [] });
    $(`[data-testid=alert-row][data-alert-id="5"]`).click();
    await flush();
    expect(document.querySelector("#mark-resolved")).toBeNull();
    expect(visible($("#mark-open"))).toBe(true);
  });
});

describe("who holds each alert, in the list", () => {
  it("badges held rows, 'you' for this technician, learning the name with one review read", async () => {
    await openAlerts(() => {
      desk.holders.set(5, ME);
      desk.holders.set(4, "bob");
    });
    const badge = (id: number) => document.querySelector(`[data-testid=alert-row][data-alert-id="${id}"] [data-testid=row-assignee]`);
    expect(badge(5)!.textContent).toBe("you");
    expect(badge(5)!.getAttribute("title")).toBe("Held by you");
    expect(badge(4)!.textContent).toBe("bob");
    expect(badge(4)!.getAttribute("title")).toBe("Held by bob");
    expect(badge(3)).toBeNull();
    expect(callsOf("alert_review")).toHaveLength(1);
    // Known now: a refresh asks no more.
    await changed();
    expect(callsOf("alert_review")).toHaveLength(1);
  });

  it("asks no review while no alert is held", async () => {
    await openAlerts();
    expect($$("[data-testid=row-assignee]")).toEqual([]);
    expect(callsOf("alert_review")).toEqual([]);
  });

  it("filters by who holds the alert, next to the status filter", async () => {
    await openAlerts(() => {
      desk.holders.set(5, ME);
      desk.holders.set(4, "bob");
    });
    const select = $<HTMLSelectElement>("[data-testid=filter-assignee]");
    expect(select.closest(".filter")!.previousElementSibling!.contains($("#filter-status"))).toBe(true);
    expect($$("#filter-assignee option").map((o) => [o.getAttribute("value"), o.textContent])).toEqual([
      ["anyone", "Anyone"],
      ["mine", "Mine"],
      ["nobody", "Nobody's"],
    ]);
    expect(rowIds()).toEqual([5, 4, 3]);
    setValue(select, "mine");
    await flush();
    expect(rowIds()).toEqual([5]);
    setValue(select, "nobody");
    await flush();
    expect(rowIds()).toEqual([3]);
    setValue($<HTMLSelectElement>("#filter-status"), "all");
    await flush();
    expect(rowIds()).toEqual([3, 2, 1]);
    setValue(select, "anyone");
    await flush();
    expect(rowIds()).toEqual([5, 4, 3, 2, 1]);
  });

  it("shows an alert taken in the detail as yours once back in the list", async () => {
    await openAlert5();
    testid("triage-take").click();
    await flush();
    $("#back-to-alerts").click();
    expect($(`[data-testid=alert-row][data-alert-id="5"] [data-testid=row-assignee]`).textContent).toBe("you");
    setValue($<HTMLSelectElement>("#filter-assignee"), "mine");
    await flush();
    expect(rowIds()).toEqual([5]);
  });
});

describe("names, actions and notes are text", () => {
  it("shows a hostile colleague's name, action and note as literal text", async () => {
    const hostileNote = '<script>alert("note")</script>';
    await openAlert5(() => {
      desk.holders.set(5, HOSTILE_RULE);
      deskStep(5, HOSTILE_RULE, `took over from ${HOSTILE_RULE}`, null);
      deskStep(5, HOSTILE_RULE, "note", hostileNote);
      deskStep(5, HOSTILE_RULE, "constructor", null);
    });
    noMarkup();
    expect(testid("triage-holder").textContent).toBe(`Held by ${HOSTILE_RULE}`);
    expect(testid("triage-takeover").textContent).toBe(`Take over from ${HOSTILE_RULE}…`);
    testid("triage-takeover").click();
    expect(testid("triage-takeover-confirm").textContent).toContain(`${HOSTILE_RULE} holds this alert`);
    expect($$("#triage [data-testid=triage-entry-technician]").map((e) => e.textContent)).toEqual([HOSTILE_RULE, HOSTILE_RULE, HOSTILE_RULE]);
    // An action this panel has no words for is shown as stored, a prototype member's name too.
    expect($$("#triage [data-testid=triage-entry-action]").map((e) => e.textContent)).toEqual([
      `took over from ${HOSTILE_RULE}`,
      "added a note",
      "constructor",
    ]);
    expect($("#triage [data-testid=triage-entry-note]").textContent).toBe(hostileNote);
    noMarkup();

    $("#back-to-alerts").click();
    const badge = $(`[data-testid=alert-row][data-alert-id="5"] [data-testid=row-assignee]`);
    expect(badge.textContent).toBe(HOSTILE_RULE);
    expect(badge.children.length).toBe(0);
    noMarkup();
  });
});
