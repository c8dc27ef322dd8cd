// Triage of one alert in its detail: who holds it (this technician, a colleague or
// nobody), taking it, letting it go or taking it over from a colleague, a note, and every
// step of its review with who and when. Names, actions and notes come from a database
// colleagues share, so all of it is text and all of it goes through h().
import { api, type HistoryEntry, type Review } from "../api";
import { errorKind, errorMessage, type Ctx } from "../ctx";
import { h, replace, setText } from "../h";
import { localDateTime, reviewActionWords } from "../format";

export interface Triage {
  readonly alertId: number;
  /** The `#triage` section. */
  readonly el: HTMLElement;
  /** Re-reads who holds the alert and its history. */
  refresh(): Promise<void>;
  /** The alert is left: answers still on their way are dropped. */
  dispose(): void;
}

/** "Held by you", "Held by NAME" or "Nobody holds this alert". */
export function holderText(r: Pick<Review, "technician" | "assignee">): string {
  if (r.assignee === null) return "Nobody holds this alert";
  return r.assignee === r.technician ? "Held by you" : `Held by ${r.assignee}`;
}

function entry(e: HistoryEntry): HTMLElement {
  return h(
    "li",
    { "data-testid": "triage-entry" },
    h("time", { datetime: e.at, class: "muted" }, localDateTime(e.at)),
    " ",
    h("strong", { "data-testid": "triage-entry-technician", class: "wrap" }, e.technician),
    " ",
    h("span", { "data-testid": "triage-entry-action", class: "wrap" }, reviewActionWords(e.action)),
    e.note === null ? null : h("div", { "data-testid": "triage-entry-note", class: "triage-note-text wrap" }, e.note),
  );
}

/** `learned` is told the technician's name with every review read (the list needs it). */
export function createTriage(ctx: Ctx, alertId: number, learned: (technician: string) => void): Triage {
  let disposed = false;
  /** Bumped per read: only the latest answer is shown. */
  let seq = 0;
  let busy = false;
  /** The colleague the open take-over confirmation names; it closes when someone else holds the alert. */
  let confirming: string | null = null;

  const holder = h("p", { "data-testid": "triage-holder", class: "triage-holder wrap" }, "Reading who holds it…");
  const buttons = h("div", { class: "actions" });
  const confirmBox = h("div", { class: "confirm", role: "alertdialog", "aria-labelledby": "triage-takeover-text", "data-testid": "triage-takeover-confirm", hidden: true });
  const message = h("p", { "data-testid": "triage-message", class: "field-error wrap", role: "alert", hidden: true });
  const noteError = h("p", { id: "triage-note-error", "data-testid": "triage-note-error", class: "field-error", role: "alert", hidden: true });
  const note = h("textarea", {
    "data-testid": "triage-note",
    rows: 2,
    placeholder: "e.g. called the user, waiting for the client",
    "aria-describedby": "triage-note-error",
  });
  const addNote = h("button", { type: "button", "data-testid": "triage-add-note", on: { click: () => void submitNote() } }, "Add note");
  const history = h("ol", { class: "triage-history", "data-testid": "triage-history" });
  const el = h(
    "section",
    { id: "triage", class: "triage card", "aria-labelledby": "triage-title" },
    h("h3", { id: "triage-title" }, "Triage"),
    holder,
    buttons,
    confirmBox,
    message,
    h("label", { class: "triage-note" }, "Note", note),
    noteError,
    h("div", { class: "actions" }, addNote),
    h("h4", null, "History"),
    history,
  );

  const button = (testid: string, label: string, click: () => void, cls?: string): HTMLButtonElement =>
    h("button", { type: "button", class: cls, "data-testid": testid, disabled: busy, on: { click } }, label);

  function render(r: Review): void {
    // The buttons are rebuilt: keep the keyboard in the section.
    const hadFocus = buttons.contains(document.activeElement) || confirmBox.contains(document.activeElement);
    setText(holder, holderText(r));
    const colleague = r.assignee !== null && r.assignee !== r.technician ? r.assignee : null;
    if (confirming !== colleague) confirming = null;
    // A colleague's refusal no longer applies once no colleague holds the alert.
    if (colleague === null) message.hidden = true;
    replace(
      buttons,
      r.assignee === null
        ? button("triage-take", "Take it", () => void act(() => api.takeAlert(alertId, false)), "primary")
        : colleague === null
          ? button("triage-release", "Release", () => void act(() => api.releaseAlert(alertId, false)))
          : button("triage-takeover", `Take over from ${colleague}…`, () => openConfirm(colleague)),
    );
    renderConfirm();
    replace(
      history,
      r.history.length ? r.history.map(entry) : h("li", { class: "muted" }, "Nothing yet: nobody has taken, noted or changed this alert."),
    );
    if (hadFocus) (confirmBox.hidden ? buttons : confirmBox).querySelector("button")?.focus();
  }

  function renderConfirm(): void {
    confirmBox.hidden = confirming === null;
    if (confirming === null) {
      replace(confirmBox);
      return;
    }
    replace(
      confirmBox,
      h("span", { id: "triage-takeover-text", class: "wrap" }, `${confirming} holds this alert. Take it over? Its history will say you took it over from them.`),
      button("triage-takeover-yes", "Take over", () => void act(() => api.takeAlert(alertId, true)), "danger"),
      button("triage-takeover-no", "Cancel", () => {
        confirming = null;
        renderConfirm();
        buttons.querySelector("button")?.focus();
      }),
    );
  }

  function openConfirm(colleague: string): void {
    confirming = colleague;
    renderConfirm();
    confirmBox.querySelector<HTMLButtonElement>("[data-testid=triage-takeover-no]")?.focus();
  }

  function setBusy(on: boolean): void {
    busy = on;
    for (const b of el.querySelectorAll("button")) b.disabled = on;
  }

  /** Takes or releases. A colleague's hold is said here; any other failure in #error. */
  async function act(command: () => Promise<void>): Promise<void> {
    ctx.clearError();
    message.hidden = true;
    setBusy(true);
    let stale = false;
    try {
      await command();
      confirming = null;
      stale = true;
    } catch (e) {
      if (errorKind(e) === "held_by_colleague") {
        // A colleague took it meanwhile: their message, then the take-over button.
        setText(message, errorMessage(e));
        message.hidden = false;
        stale = true;
      } else {
        ctx.showError(errorMessage(e), errorKind(e));
      }
    }
    setBusy(false);
    // The page re-reads the list and the alert, and with it this section.
    if (stale && !disposed) await ctx.refreshAll();
  }

  async function submitNote(): Promise<void> {
    const text = note.value.trim();
    if (!text) {
      setText(noteError, "Write the note first: an empty note is not added.");
      noteError.hidden = false;
      note.setAttribute("aria-invalid", "true");
      note.focus();
      return;
    }
    noteError.hidden = true;
    note.removeAttribute("aria-invalid");
    ctx.clearError();
    setBusy(true);
    const ok = await ctx.run(api.noteAlert(alertId, text).then(() => true));
    setBusy(false);
    // Refused: the error shows in #error and the note stays.
    if (!ok || disposed) return;
    note.value = "";
    await ctx.refreshAll();
  }

  async function refresh(): Promise<void> {
    const s = ++seq;
    const r = await ctx.run(api.alertReview(alertId));
    if (!r || disposed || s !== seq) return;
    learned(r.technician);
    render(r);
  }

  void refresh();
  return {
    alertId,
    el,
    refresh,
    dispose() {
      disposed = true;
    },
  };
}
