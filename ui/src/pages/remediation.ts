// Secure and Remediate for one alert: the live plan (read from Microsoft), the steps to
// choose, a confirmation, the results as they arrive (with Undo and Retry), the new
// password shown once, the alert's remediation log and the exported report.
//
// Every string of a plan, a rule, a result or a log row may come from an attacker (rule
// names and descriptions are chosen by whoever wrote the rule): all of it goes through h().
// The new password lives only in one text node of the DOM, never in a variable of this
// module, an attribute, an event or the console; closing the view removes that node.
import {
  api,
  onRemediationStep,
  type LogEntry,
  type Outcome,
  type Plan,
  type PlannedStep,
  type StepResult,
  type UndoPreview,
} from "../api";
import type { Ctx } from "../ctx";
import { errorKind, errorMessage } from "../ctx";
import { h, replace, setText, type Child } from "../h";
import { OUTCOME_WORDS, localDateTime } from "../format";
import { planState } from "../sections/plan-state";

export interface Remediation {
  readonly alertId: number;
  /** The `#remediation` panel (hidden until opened). */
  readonly panel: HTMLElement;
  /** The `#alert-history` section with `#export-report`. */
  readonly history: HTMLElement;
  /** Opens the view and reads the plan (again). */
  open(): Promise<void>;
  /** Closes the view, dropping the plan, the results and any password shown. */
  close(): void;
  /** Re-reads the alert's remediation log. */
  refreshHistory(): Promise<void>;
  /** The alert is left: close, stop listening, forget everything. */
  dispose(): void;
}

/** A result without its password: what this module keeps. */
type Kept = Omit<StepResult, "password">;

function withoutPassword(r: StepResult): Kept {
  const { password: _password, ...rest } = r;
  return rest;
}

const outcomeWords = (o: Outcome | string): string => OUTCOME_WORDS[o as Outcome] ?? String(o);
const outcomeClass = (o: string): string => `outcome outcome-${/^[a-z_]+$/.test(o) ? o : "unknown"}`;

export function confirmText(plan: Plan, n: number): string {
  return `Run ${n} step${n === 1 ? "" : "s"} on ${plan.tenant_name}, mailbox ${plan.mailbox}?`;
}

export function createRemediation(ctx: Ctx, alertId: number): Remediation {
  let disposed = false;
  /** Bumped on close: answers for an older view are dropped. */
  let gen = 0;
  let busy = 0;
  let passwordCount = 0;
  const rows = new Map<string, HTMLElement>();

  const panel = h("section", { id: "remediation", class: "remediation card", hidden: true, "aria-labelledby": "remediation-title", tabindex: -1 });
  const historyBody = h("div", { class: "history-body" });
  const reportPath = h("p", { id: "report-path", class: "ok-message wrap", role: "status", hidden: true });
  const exportBtn = h("button", { id: "export-report", type: "button", on: { click: () => void exportReport() } }, "Export report");
  const history = h(
    "section",
    { id: "alert-history", class: "history", "aria-labelledby": "alert-history-title" },
    h("div", { class: "history-head" }, h("h3", { id: "alert-history-title" }, "Remediation log"), exportBtn),
    reportPath,
    historyBody,
  );

  let unlisten: (() => void) | null = null;
  onRemediationStep((e) => {
    if (disposed || e.alert_id !== alertId) return;
    const row = rows.get(e.result.key);
    // Events never carry the password; only results of a run of this view are shown.
    if (row && row.dataset.outcome === "running") showResult(row, withoutPassword(e.result));
  })
    .then((u) => (disposed ? u() : (unlisten = u)))
    .catch((e) => ctx.showError(errorMessage(e), errorKind(e)));

  // ---- view --------------------------------------------------------------------------
  const closeBtn = (): HTMLButtonElement =>
    h("button", { id: "remediation-close", type: "button", on: { click: () => close() } }, "Close");

  function head(...extra: Child[]): HTMLElement {
    return h("div", { class: "remediation-head" }, h("h3", { id: "remediation-title" }, "Secure and Remediate"), ...extra, closeBtn());
  }

  async function open(): Promise<void> {
    if (disposed) return;
    // Already open: keep the plan, the results and any password on screen; Close, then
    // open again, to read the mailbox afresh.
    if (!panel.hidden) {
      panel.focus();
      return;
    }
    const g = ++gen;
    rows.clear();
    passwordCount = 0;
    panel.hidden = false;
    replace(
      panel,
      head(),
      h("p", { id: "remediation-loading", class: "muted", role: "status" }, "Reading the mailbox…"),
    );
    panel.focus();
    let p: Plan;
    try {
      p = await api.remediationPlan(alertId);
    } catch (e) {
      if (g !== gen || disposed) return;
      replace(panel, head(), h("p", { id: "remediation-error", class: "field-error wrap", role: "alert" }, errorMessage(e)));
      return;
    }
    if (g !== gen || disposed) return;
    renderPlan(p, g);
  }

  function close(): void {
    gen++;
    rows.clear();
    passwordCount = 0;
    busy = 0;
    // Removing the nodes drops the only copy of a password shown.
    for (const pw of panel.querySelectorAll<HTMLElement>("[data-testid=new-password]")) pw.textContent = "";
    replace(panel);
    panel.hidden = true;
    document.getElementById("secure-remediate")?.setAttribute("aria-expanded", "false");
  }

  function renderPlan(p: Plan, g: number): void {
    const runBtn = h("button", { id: "remediate-run", type: "button", class: "primary", on: { click: () => askConfirm() } }, "Run the checked steps…");
    const confirmBox = h("div", { id: "remediate-confirm", class: "confirm", role: "alertdialog", "aria-labelledby": "remediate-confirm-text", hidden: true });
    const results = h("ul", { id: "remediation-results", class: "results", "aria-live": "polite" });
    const runError = h("p", { id: "remediation-error", class: "field-error wrap", role: "alert", hidden: true });

    const checks: { step: PlannedStep; input: HTMLInputElement }[] = [];
    const stepsList = h(
      "ul",
      { id: "plan-steps", class: "plan-steps" },
      p.steps.map((step) => {
        const input = h("input", { type: "checkbox", checked: step.selected, on: { change: () => onCheck(step, input) } });
        checks.push({ step, input });
        return h(
          "li",
          { "data-testid": "plan-step", "data-key": step.key, "data-action": step.action, class: "plan-step" },
          h("label", { class: "check" }, input, " ", h("span", { class: "step-label wrap" }, step.label)),
          h("div", { class: "step-current muted wrap" }, "now: ", step.current),
          step.warning ? h("div", { class: "warning wrap" }, "⚠ ", step.warning) : null,
        );
      }),
    );

    function chosen(): PlannedStep[] {
      return checks.filter((c) => c.input.checked).map((c) => c.step);
    }

    function sync(): void {
      runBtn.disabled = busy > 0 || chosen().length === 0;
      for (const c of checks) c.input.disabled = busy > 0;
      // Closing mid-run would lose the results (and a new password): wait for the answer.
      const closer = panel.querySelector<HTMLButtonElement>("#remediation-close");
      if (closer) closer.disabled = busy > 0;
      if (runBtn.disabled) confirmBox.hidden = true;
    }

    // Disabling and removing the same rule contradict each other: checking one unchecks the other.
    function onCheck(step: PlannedStep, input: HTMLInputElement): void {
      if (input.checked && (step.action === "disable-rule" || step.action === "remove-rule")) {
        const other = step.action === "disable-rule" ? "remove-rule" : "disable-rule";
        for (const c of checks)
          if (c.step.action === other && c.step.rule_identity === step.rule_identity && c.step.account === step.account) c.input.checked = false;
      }
      confirmBox.hidden = true;
      sync();
    }

    function askConfirm(): void {
      const n = chosen().length;
      if (!n || busy) return;
      const no = h("button", { id: "remediate-confirm-no", type: "button", on: { click: () => { confirmBox.hidden = true; runBtn.focus(); } } }, "Cancel");
      replace(
        confirmBox,
        h("span", { id: "remediate-confirm-text" }, confirmText(p, n)),
        h("button", { id: "remediate-confirm-yes", type: "button", class: "danger", on: { click: () => void run() } }, "Run"),
        no,
      );
      confirmBox.hidden = false;
      no.focus();
    }

    async function run(): Promise<void> {
      const steps = chosen();
      confirmBox.hidden = true;
      if (!steps.length || busy) return;
      runError.hidden = true;
      for (const s of steps) {
        let row = rows.get(s.key);
        if (!row) {
          row = h("li", { "data-testid": "step-result", "data-key": s.key, class: "step-result" });
          rows.set(s.key, row);
          results.append(row);
        }
        showRunning(row, s);
      }
      await runKeys(steps.map((s) => s.key));
    }

    async function runKeys(keys: string[]): Promise<void> {
      busy++;
      sync();
      let answer: StepResult[] | null = null;
      let failure: string | null = null;
      try {
        answer = await api.remediate(alertId, keys);
      } catch (e) {
        failure = errorMessage(e);
      }
      if (g !== gen || disposed) return;
      busy = Math.max(0, busy - 1);
      if (answer) {
        for (const r of answer) {
          const row = rows.get(r.key);
          if (!row) continue;
          if (r.password) showPassword(row, r);
          showResult(row, withoutPassword(r));
        }
      }
      for (const k of keys) {
        const row = rows.get(k);
        if (row && row.dataset.outcome === "running") showNoAnswer(row, failure ?? "no result came back for this step");
      }
      if (failure !== null) {
        setText(runError, failure);
        runError.hidden = false;
      }
      sync();
      await refreshHistory();
    }

    function showRunning(row: HTMLElement, step: PlannedStep | undefined): void {
      row.dataset.outcome = "running";
      row.classList.add("running");
      const pw = row.querySelector("[data-testid=password-box]");
      replace(
        row,
        h("div", { class: "result-head" }, h("span", { class: "step-label wrap" }, step?.label ?? row.dataset.key ?? ""), h("span", { class: "outcome outcome-running" }, "running…")),
        pw,
      );
    }

    function showNoAnswer(row: HTMLElement, why: string): void {
      const step = p.steps.find((s) => s.key === row.dataset.key);
      row.dataset.outcome = "unknown";
      row.classList.remove("running");
      replace(
        row,
        h("div", { class: "result-head" }, h("span", { class: "step-label wrap" }, step?.label ?? ""), h("span", { class: "outcome outcome-unknown" }, "no result")),
        h("div", { class: "result-detail wrap" }, why),
        row.querySelector("[data-testid=password-box]"),
      );
    }

    function retry(row: HTMLElement): void {
      const key = row.dataset.key;
      if (!key || busy) return;
      showRunning(row, p.steps.find((s) => s.key === key));
      void runKeys([key]);
    }

    showResultImpl = (row, r) => {
      const step = p.steps.find((s) => s.key === r.key);
      row.dataset.outcome = r.outcome;
      row.classList.remove("running");
      const label = step?.label ?? [r.action, r.account, r.rule_name].filter(Boolean).join(" ");
      const controls = h("div", { class: "actions result-actions" });
      const undoArea = h("div", { class: "undo-area" });
      if (r.reversible) {
        const undoBtn: HTMLButtonElement = h(
          "button",
          { type: "button", "data-testid": "undo-step", on: { click: () => void askUndo() } },
          "Undo",
        );
        // The confirmation says what comes back, read from the step's verified record;
        // restoring forwarding to outside addresses is asked a second time.
        const askUndo = async () => {
          replace(controls, h("span", { class: "muted" }, "reading what the undo puts back…"));
          let preview: UndoPreview;
          try {
            preview = await api.undoPreview(r.action_id);
          } catch (e) {
            if (g !== gen || disposed) return;
            replace(controls, undoBtn);
            replace(undoArea, h("div", { "data-testid": "undo-result", "data-outcome": "refused", class: "field-error wrap" }, "Undo refused: ", errorMessage(e)));
            return;
          }
          if (g !== gen || disposed) return;
          const cancelButton = () =>
            h(
              "button",
              { type: "button", "data-testid": "cancel-undo", on: { click: () => { replace(controls, undoBtn); undoBtn.focus(); } } },
              "Cancel",
            );
          const askOutside = () => {
            const cancel = cancelButton();
            replace(
              controls,
              h(
                "span",
                { class: "confirm", "data-testid": "undo-outside-question" },
                h("span", { class: "wrap" }, `Mail will go outside the organisation again, to ${preview.outside.join(", ")}. Are you sure?`),
                h("button", { type: "button", class: "danger", "data-testid": "confirm-undo-outside", on: { click: () => void doUndo() } }, "Forward outside again"),
                cancel,
              ),
            );
            cancel.focus();
          };
          const cancel = cancelButton();
          replace(
            controls,
            h(
              "span",
              { class: "confirm", "data-testid": "undo-question" },
              h("span", { class: "wrap" }, `Undo this step? It will ${preview.restores}.`),
              h(
                "button",
                { type: "button", class: "danger", "data-testid": "confirm-undo", on: { click: () => (preview.outside.length > 0 ? askOutside() : void doUndo()) } },
                "Undo",
              ),
              cancel,
            ),
          );
          cancel.focus();
        };
        const doUndo = async () => {
          replace(controls, h("span", { class: "muted" }, "undoing…"));
          let u: StepResult | null = null;
          let why: string | null = null;
          try {
            u = await api.undoStep(r.action_id);
          } catch (e) {
            why = errorMessage(e);
          }
          if (g !== gen || disposed) return;
          if (u) {
            const kept = withoutPassword(u);
            replace(controls);
            replace(
              undoArea,
              h(
                "div",
                { "data-testid": "undo-result", "data-outcome": kept.outcome, class: "undo-result" },
                "Undo: ",
                h("span", { class: outcomeClass(kept.outcome) }, outcomeWords(kept.outcome)),
                " ",
                h("span", { class: "wrap" }, kept.detail),
                kept.warning ? h("div", { class: "warning wrap" }, "⚠ ", kept.warning) : null,
                h("span", { class: "muted log-id" }, ` · log #${kept.action_id}`),
              ),
            );
            if (kept.outcome === "failed") replace(controls, undoBtn);
          } else {
            replace(controls, undoBtn);
            replace(undoArea, h("div", { "data-testid": "undo-result", "data-outcome": "error", class: "field-error wrap" }, "Undo failed: ", why ?? ""));
          }
          await refreshHistory();
        };
        controls.append(undoBtn);
      }
      // Running a step again reads the state first: a change that now shows says "already so".
      if (r.outcome === "failed" || r.outcome === "sent_not_visible")
        controls.append(
          h("button", { type: "button", "data-testid": "retry-step", on: { click: () => retry(row) } }, r.outcome === "failed" ? "Retry" : "Check again"),
        );
      replace(
        row,
        h("div", { class: "result-head" }, h("span", { class: "step-label wrap" }, label), h("span", { class: outcomeClass(r.outcome), "data-testid": "step-outcome" }, outcomeWords(r.outcome))),
        h("div", { class: "result-detail wrap" }, r.detail),
        r.warning ? h("div", { class: "warning wrap" }, "⚠ ", r.warning) : null,
        h("div", { class: "muted log-id", "data-testid": "step-log-id" }, `log #${r.action_id}`),
        row.querySelector("[data-testid=password-box]"),
        controls,
        undoArea,
      );
    };

    replace(
      panel,
      head(),
      ...planState(p),
      h("h4", null, "Steps"),
      stepsList,
      h("div", { class: "actions" }, runBtn),
      confirmBox,
      runError,
      results,
    );
    sync();
  }

  // Set by renderPlan: shows a result in its row (the row knows the plan's labels).
  let showResultImpl: ((row: HTMLElement, r: Kept) => void) | null = null;
  function showResult(row: HTMLElement, r: Kept): void {
    showResultImpl?.(row, r);
  }

  // The password: one text node, shown once, with a copy button. Not kept anywhere else.
  function showPassword(row: HTMLElement, r: StepResult): void {
    row.querySelector("[data-testid=password-box]")?.remove();
    passwordCount++;
    const suffix = passwordCount === 1 ? "" : `-${passwordCount}`;
    const value = h("code", { id: `new-password${suffix}`, class: "password mono", "data-testid": "new-password", tabindex: 0 }, r.password ?? "");
    const status = h("span", { class: "muted copy-status", role: "status" });
    const copy = async () => {
      // Read from the DOM at the moment of copying: no variable holds the password.
      try {
        await navigator.clipboard.writeText(value.textContent ?? "");
        status.textContent = "Copied.";
      } catch {
        const sel = window.getSelection();
        sel?.selectAllChildren(value);
        status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
      }
    };
    row.append(
      h(
        "div",
        { class: "password-box", "data-testid": "password-box" },
        h("div", null, "New password for ", h("strong", null, r.account), ":"),
        h(
          "div",
          { class: "password-row" },
          value,
          h("button", { id: `copy-password${suffix}`, type: "button", "data-testid": "copy-password", on: { click: () => void copy() } }, "Copy"),
          status,
        ),
        h("p", { class: "hint" }, "Shown once. Rulewatch keeps no copy."),
      ),
    );
  }

  // ---- history and report ------------------------------------------------------------
  async function refreshHistory(): Promise<void> {
    let log: LogEntry[];
    try {
      log = await api.alertHistory(alertId);
    } catch (e) {
      if (!disposed) replace(historyBody, h("p", { id: "alert-history-error", class: "field-error wrap" }, errorMessage(e)));
      return;
    }
    if (disposed) return;
    if (!log.length) {
      replace(historyBody, h("p", { id: "alert-history-empty", class: "muted" }, "No remediation step recorded for this alert."));
      return;
    }
    replace(
      historyBody,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "history-table" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              ["Time", "Action", "Account", "Result", "Detail", "Who"].map((c) => h("th", { scope: "col" }, c)),
            ),
          ),
          h(
            "tbody",
            null,
            log.map((e) =>
              h(
                "tr",
                { "data-testid": "history-row", "data-log-id": e.id },
                h("td", { class: "nowrap" }, localDateTime(e.at)),
                h("td", null, e.action, e.undoes !== null ? h("span", { class: "muted" }, ` (undoes #${e.undoes})`) : null),
                h("td", { class: "wrap" }, e.mailbox),
                h("td", null, h("span", { class: outcomeClass(e.result) }, outcomeWords(e.result))),
                h("td", { class: "wrap" }, e.detail),
                h("td", { class: "wrap" }, `${e.os_user}@${e.machine}`, e.operator ? h("div", { class: "muted" }, `as ${e.operator}`) : null),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async function exportReport(): Promise<void> {
    ctx.clearError();
    exportBtn.disabled = true;
    reportPath.hidden = true;
    const paths = await ctx.run(api.exportReport(alertId));
    exportBtn.disabled = false;
    if (paths === undefined || disposed) return;
    setText(reportPath, paths.length === 1 ? `Report written to ${paths[0]}` : `One report per customer written to ${paths.join(", ")}`);
    reportPath.hidden = false;
  }

  function dispose(): void {
    close();
    disposed = true;
    showResultImpl = null;
    const u = unlisten;
    unlisten = null;
    u?.();
  }

  void refreshHistory();
  return { alertId, panel, history, open, close, refreshHistory, dispose };
}
