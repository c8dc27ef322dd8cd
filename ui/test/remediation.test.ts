import { afterEach, describe, expect, it, vi } from "vitest";
import { $, $$, changed, detail, flush, HOSTILE_RULE, logEntry, MAILBOX, mount, openAlerts, plan, RULE_ID, settings, stepResult, unmount, visible } from "./fixtures";
import { callsOf, emit, state } from "./tauri-mock";
import type { StepResult } from "../src/api";

afterEach(() => {
  unmount();
  vi.unstubAllGlobals();
});

const PASSWORD = "Kq7#vT2!pLm9@xZ4";
const noMarkup = () => expect(document.querySelector("img, script, iframe, object")).toBeNull();

async function openAlert(configure?: () => void, id = 5) {
  await openAlerts(configure);
  $(`[data-testid=alert-row][data-alert-id="${id}"]`).click();
  await flush();
}

async function openPlan(configure?: () => void) {
  await openAlert(configure);
  $("#secure-remediate").click();
  await flush();
}

const stepRow = (key: string) => $$("[data-testid=plan-step]").find((r) => r.dataset.key === key)!;
const stepBox = (key: string) => stepRow(key).querySelector<HTMLInputElement>("input[type=checkbox]")!;
const resultRow = (key: string) => $$("[data-testid=step-result]").find((r) => r.dataset.key === key);
const checkedKeys = () => $$("[data-testid=plan-step]").filter((r) => r.querySelector<HTMLInputElement>("input")!.checked).map((r) => r.dataset.key);

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function runChecked() {
  $("#remediate-run").click();
  $("#remediate-confirm-yes").click();
  await flush();
}

const K = {
  block: `block-sign-in:${MAILBOX}`,
  revoke: `revoke-sessions:${MAILBOX}`,
  reset: `reset-password:${MAILBOX}`,
  disable: `disable-rule:${MAILBOX}:${RULE_ID}`,
  remove: `remove-rule:${MAILBOX}:${RULE_ID}`,
  forwarding: `clear-forwarding:${MAILBOX}`,
};

describe("Secure and Remediate: the plan", () => {
  it("is offered only for alerts about a mailbox", async () => {
    await openAlert();
    expect($("#secure-remediate").classList.contains("primary")).toBe(true);
    expect($("#secure-remediate").closest("#status-actions")).not.toBeNull();
    await openAlert(() => (state.handlers.get_alert = (a) => detail({ id: a!.id as number, target: "Organization config" })));
    expect(document.querySelector("#secure-remediate")).toBeNull();
  });

  it("says it is reading the mailbox, then shows the error of a failed read", async () => {
    const plan$ = deferred<never>();
    await openAlert(() => (state.handlers.remediation_plan = () => plan$.promise));
    $("#secure-remediate").click();
    await flush();
    expect(visible($("#remediation"))).toBe(true);
    expect($("#remediation-loading").textContent).toBe("Reading the mailbox…");
    expect(callsOf("remediation_plan")[0].args).toEqual({ alertId: 5 });
    plan$.reject("Exchange Online refused: the app lacks the Exchange.ManageAsApp permission <b>x</b>");
    await flush();
    expect(document.querySelector("#remediation-loading")).toBeNull();
    expect($("#remediation-error").textContent).toBe("Exchange Online refused: the app lacks the Exchange.ManageAsApp permission <b>x</b>");
    expect($("#remediation").querySelector("b")).toBeNull();
  });

  it("renders the live state, the rules and the steps, hostile text as text", async () => {
    await openPlan(() => {
      state.handlers.remediation_plan = () =>
        plan({
          synced_from_on_premises: true,
          actor_differs: true,
          actor: "intruder@contoso.com",
          problems: ["Could not read the mailbox's rules: <i>timeout</i>"],
        });
    });
    noMarkup();
    expect(document.querySelector("#remediation i, #remediation b")).toBeNull();
    expect($("#plan-tenant").textContent).toBe("Contoso");
    expect($("#plan-mailbox").textContent).toBe(MAILBOX);
    expect($("#plan-account").textContent).toMatch(/^Sign-in allowed/);
    expect($("#plan-account").textContent).toMatch(/on-premises/);
    expect($("#plan-forwarding").textContent).toBe("Forwards all mail to smtp:evil@example.net, keeping a copy in the mailbox");
    expect($("#plan-actor").textContent).toMatch(/another account, intruder@contoso\.com/);
    expect($$("#plan-problems li").map((l) => l.textContent)).toEqual(["Could not read the mailbox's rules: <i>timeout</i>"]);

    const rules = $$("#plan-rules [data-testid=plan-rule]");
    expect(rules).toHaveLength(2);
    expect(rules[0].querySelector(".rule-name")!.textContent).toBe(HOSTILE_RULE);
    expect(rules[0].textContent).toContain("enabled");
    expect(rules[0].textContent).toContain("the alert's rule");
    expect(rules[0].textContent).toContain("inbox-rule-hidden-folder: moves mail to RSS Feeds");
    expect(rules[0].querySelector(".rule-description")!.textContent).toBe(`moves mail to RSS Feeds; ${HOSTILE_RULE}`);
    expect(rules[1].classList.contains("rule-system")).toBe(true);
    expect(rules[1].textContent).toContain("left alone");

    const steps = $$("#plan-steps [data-testid=plan-step]");
    // Spelled out, not REMEDIATION_ACTIONS: the rows follow the plan's order, which this checks on its own.
    expect(steps.map((s) => s.dataset.action)).toEqual([
      "block-sign-in",
      "revoke-sessions",
      "reset-password",
      "disable-rule",
      "remove-rule",
      "clear-forwarding",
    ]);
    expect(stepRow(K.disable).textContent).toContain(`Disable inbox rule "${HOSTILE_RULE}"`);
    expect(stepRow(K.disable).textContent).toContain(`now: enabled: ${HOSTILE_RULE}`);
    noMarkup();
  });

  it("checks the plan's selected steps and shows a step's warning", async () => {
    await openPlan(() => {
      state.handlers.remediation_plan = () => {
        const p = plan();
        p.steps[0].warning = "cfo@contoso.com is synced from on-premises Active Directory";
        return p;
      };
    });
    expect(checkedKeys()).toEqual([K.block, K.revoke, K.reset, K.disable, K.forwarding]);
    expect(stepRow(K.block).querySelector(".warning")!.textContent).toContain("synced from on-premises");
  });

  it("never lets both disable and remove of one rule be checked", async () => {
    await openPlan();
    expect(stepBox(K.disable).checked).toBe(true);
    stepBox(K.remove).click();
    expect(stepBox(K.remove).checked).toBe(true);
    expect(stepBox(K.disable).checked).toBe(false);
    stepBox(K.disable).click();
    expect(stepBox(K.disable).checked).toBe(true);
    expect(stepBox(K.remove).checked).toBe(false);
  });

  it("disables Run when nothing is checked and asks before running, naming tenant and mailbox", async () => {
    await openPlan();
    for (const k of Object.values(K)) if (stepBox(k).checked) stepBox(k).click();
    expect($<HTMLButtonElement>("#remediate-run").disabled).toBe(true);
    stepBox(K.block).click();
    stepBox(K.forwarding).click();
    expect($<HTMLButtonElement>("#remediate-run").disabled).toBe(false);
    expect(visible(document.querySelector("#remediate-confirm"))).toBe(false);
    $("#remediate-run").click();
    expect(visible($("#remediate-confirm"))).toBe(true);
    expect($("#remediate-confirm").textContent).toContain(`Run 2 steps on Contoso, mailbox ${MAILBOX}?`);
    $("#remediate-confirm-no").click();
    expect(visible($("#remediate-confirm"))).toBe(false);
    expect(callsOf("remediate")).toHaveLength(0);
    $("#remediate-run").click();
    $("#remediate-confirm-yes").click();
    await flush();
    expect(callsOf("remediate")).toEqual([{ cmd: "remediate", args: { alertId: 5, keys: [K.block, K.forwarding] } }]);
  });
});

describe("Secure and Remediate: running", () => {
  it("shows running… and updates each row as step events arrive, then from the answer", async () => {
    const answer = deferred<StepResult[]>();
    await openPlan(() => (state.handlers.remediate = () => answer.promise));
    await runChecked();
    const keys = [K.block, K.revoke, K.reset, K.disable, K.forwarding];
    expect($$("[data-testid=step-result]").map((r) => r.dataset.key)).toEqual(keys);
    for (const k of keys) {
      expect(resultRow(k)!.dataset.outcome).toBe("running");
      expect(resultRow(k)!.textContent).toContain("running…");
    }
    expect($<HTMLButtonElement>("#remediate-run").disabled).toBe(true);

    emit("rulewatch://remediation-step", { alert_id: 5, result: stepResult({ key: K.block, action_id: 41, detail: "sign-in is blocked" }) });
    // Another alert's step is not this view's.
    emit("rulewatch://remediation-step", { alert_id: 4, result: stepResult({ key: K.revoke, action_id: 99 }) });
    await flush();
    expect(resultRow(K.block)!.dataset.outcome).toBe("done");
    expect(resultRow(K.block)!.textContent).toContain("done ✓");
    expect(resultRow(K.block)!.textContent).toContain("sign-in is blocked");
    expect(resultRow(K.block)!.textContent).toContain("log #41");
    expect(resultRow(K.block)!.querySelector("[data-testid=undo-step]")).not.toBeNull();
    expect(resultRow(K.revoke)!.dataset.outcome).toBe("running");

    answer.resolve([
      stepResult({ key: K.block, action_id: 41, detail: "sign-in is blocked" }),
      stepResult({ key: K.revoke, action_id: 42, outcome: "already_so", detail: "no session since the alert" }),
      stepResult({ key: K.reset, action_id: 43, outcome: "skipped", detail: "skipped: the account is synced", warning: "change it on-premises" }),
      stepResult({ key: K.disable, action_id: 44 }),
      stepResult({ key: K.forwarding, action_id: 45 }),
    ]);
    await flush();
    expect(resultRow(K.revoke)!.dataset.outcome).toBe("already_so");
    expect(resultRow(K.revoke)!.textContent).toContain("already so");
    expect(resultRow(K.revoke)!.querySelector("[data-testid=undo-step]")).toBeNull();
    expect(resultRow(K.reset)!.dataset.outcome).toBe("skipped");
    expect(resultRow(K.reset)!.querySelector(".warning")!.textContent).toContain("change it on-premises");
    expect($<HTMLButtonElement>("#remediate-run").disabled).toBe(false);
    expect(callsOf("alert_history").length).toBeGreaterThanOrEqual(2);
  });

  it("shows a failed step's readable detail and retries only that step", async () => {
    let runs = 0;
    await openPlan(() => {
      state.handlers.remediate = (a) => {
        runs++;
        return (a!.keys as string[]).map((key, i) =>
          runs === 1 && key === K.forwarding
            ? stepResult({ key, action_id: 60 + i, outcome: "failed", detail: "Set-Mailbox was refused: the app is not an Exchange administrator" })
            : stepResult({ key, action_id: 60 + i + runs * 10 }),
        );
      };
    });
    await runChecked();
    const row = resultRow(K.forwarding)!;
    expect(row.dataset.outcome).toBe("failed");
    expect(row.textContent).toContain("failed ✗");
    expect(row.textContent).toContain("Set-Mailbox was refused: the app is not an Exchange administrator");
    expect(row.querySelector("[data-testid=undo-step]")).toBeNull();
    expect($$("[data-testid=retry-step]")).toHaveLength(1);
    row.querySelector<HTMLButtonElement>("[data-testid=retry-step]")!.click();
    expect(resultRow(K.forwarding)!.dataset.outcome).toBe("running");
    await flush();
    expect(callsOf("remediate").at(-1)!.args).toEqual({ alertId: 5, keys: [K.forwarding] });
    expect(resultRow(K.forwarding)!.dataset.outcome).toBe("done");
    expect($$("[data-testid=retry-step]")).toHaveLength(0);
  });

  it("names the alert's own name for a mailbox Microsoft resolved", async () => {
    await openPlan(() => (state.handlers.remediation_plan = () => plan({ resolved_from: "311b45d6-1a3e-46ac-8434-721367961e19" })));
    expect($("#plan-mailbox").textContent).toBe(`${MAILBOX} (resolved from 311b45d6-1a3e-46ac-8434-721367961e19)`);
  });

  it("shows a change Microsoft accepted but does not show yet as sent, never as failed", async () => {
    await openPlan(() => {
      state.handlers.remediate = (a) =>
        (a!.keys as string[]).map((key, i) =>
          key === K.revoke
            ? stepResult({ key, action_id: 70 + i, outcome: "sent_not_visible", detail: "sent, not yet visible — check again: run this step again later" })
            : stepResult({ key, action_id: 70 + i }),
        );
    });
    await runChecked();
    const row = resultRow(K.revoke)!;
    expect(row.dataset.outcome).toBe("sent_not_visible");
    expect(row.textContent).toContain("sent, not yet visible — check again");
    expect(row.textContent).not.toContain("failed");
    expect(row.querySelector(".outcome-sent_not_visible")).not.toBeNull();
    const again = row.querySelector<HTMLButtonElement>("[data-testid=retry-step]")!;
    expect(again.textContent).toBe("Check again");
    again.click();
    await flush();
    expect(callsOf("remediate").at(-1)!.args).toEqual({ alertId: 5, keys: [K.revoke] });
  });

  it("shows a rejected run in #remediation-error and marks its steps without a result", async () => {
    await openPlan(() => (state.handlers.remediate = () => Promise.reject("both disable-rule and remove-rule are chosen")));
    await runChecked();
    expect($("#remediation-error").textContent).toBe("both disable-rule and remove-rule are chosen");
    expect(resultRow(K.block)!.dataset.outcome).toBe("unknown");
  });

  it("asks before an undo, then calls undoStep and shows its result", async () => {
    await openPlan();
    await runChecked();
    const row = resultRow(K.block)!;
    row.querySelector<HTMLButtonElement>("[data-testid=undo-step]")!.click();
    await flush();
    expect(callsOf("undo_preview")).toEqual([{ cmd: "undo_preview", args: { actionId: 100 } }]);
    expect(row.querySelector("[data-testid=undo-question]")!.textContent).toContain(`It will allow ${MAILBOX} to sign in again.`);
    row.querySelector<HTMLButtonElement>("[data-testid=cancel-undo]")!.click();
    expect(row.querySelector("[data-testid=confirm-undo]")).toBeNull();
    expect(callsOf("undo_step")).toHaveLength(0);

    const history = callsOf("alert_history").length;
    row.querySelector<HTMLButtonElement>("[data-testid=undo-step]")!.click();
    await flush();
    row.querySelector<HTMLButtonElement>("[data-testid=confirm-undo]")!.click();
    await flush();
    expect(callsOf("undo_step")).toEqual([{ cmd: "undo_step", args: { actionId: 100 } }]);
    const undone = row.querySelector<HTMLElement>("[data-testid=undo-result]")!;
    expect(undone.dataset.outcome).toBe("done");
    expect(undone.textContent).toContain("sign-in is allowed again");
    expect(undone.textContent).toContain("log #200");
    expect(row.querySelector("[data-testid=undo-step]")).toBeNull();
    expect(callsOf("alert_history").length).toBe(history + 1);
  });

  it("asks a second time before an undo forwards mail outside again, in the record's words", async () => {
    const hostile = "x@evil.example<img src=x onerror=alert(1)>";
    await openPlan(() => {
      state.handlers.undo_preview = (a) => ({
        action_id: a!.actionId as number,
        mailbox: MAILBOX,
        restores: `forward all mail from ${MAILBOX} to ${hostile} again`,
        outside: [hostile],
      });
    });
    await runChecked();
    const row = resultRow(K.block)!;
    row.querySelector<HTMLButtonElement>("[data-testid=undo-step]")!.click();
    await flush();
    expect(row.querySelector("[data-testid=undo-question]")!.textContent).toContain(`forward all mail from ${MAILBOX} to ${hostile} again`);
    row.querySelector<HTMLButtonElement>("[data-testid=confirm-undo]")!.click();
    expect(callsOf("undo_step")).toHaveLength(0);
    expect(row.querySelector("[data-testid=undo-outside-question]")!.textContent).toContain(`outside the organisation again, to ${hostile}`);
    noMarkup();
    row.querySelector<HTMLButtonElement>("[data-testid=cancel-undo]")!.click();
    expect(callsOf("undo_step")).toHaveLength(0);

    row.querySelector<HTMLButtonElement>("[data-testid=undo-step]")!.click();
    await flush();
    row.querySelector<HTMLButtonElement>("[data-testid=confirm-undo]")!.click();
    row.querySelector<HTMLButtonElement>("[data-testid=confirm-undo-outside]")!.click();
    await flush();
    expect(callsOf("undo_step")).toEqual([{ cmd: "undo_step", args: { actionId: 100 } }]);
  });

  it("refuses an undo whose record was changed, saying why, and changes nothing", async () => {
    await openPlan(() => (state.handlers.undo_preview = () => Promise.reject("step 100 of the remediation record does not check out (row 100 was changed after it was written)")));
    await runChecked();
    const row = resultRow(K.block)!;
    row.querySelector<HTMLButtonElement>("[data-testid=undo-step]")!.click();
    await flush();
    const refused = row.querySelector<HTMLElement>("[data-testid=undo-result]")!;
    expect(refused.dataset.outcome).toBe("refused");
    expect(refused.textContent).toContain("does not check out");
    expect(row.querySelector("[data-testid=confirm-undo]")).toBeNull();
    expect(callsOf("undo_step")).toHaveLength(0);
  });

  it("keeps the view and its results through a change event", async () => {
    await openPlan();
    await runChecked();
    await changed();
    expect(visible($("#remediation"))).toBe(true);
    expect(resultRow(K.block)!.dataset.outcome).toBe("done");
  });

  it("keeps the results when Secure and Remediate is pressed again; Close then open reads afresh", async () => {
    await openPlan();
    await runChecked();
    $("#secure-remediate").click();
    await flush();
    expect(callsOf("remediation_plan")).toHaveLength(1);
    expect(resultRow(K.block)!.dataset.outcome).toBe("done");
    $("#remediation-close").click();
    expect($("#secure-remediate").getAttribute("aria-expanded")).toBe("false");
    $("#secure-remediate").click();
    await flush();
    expect(callsOf("remediation_plan")).toHaveLength(2);
    expect(resultRow(K.block)).toBeUndefined();
  });
});

describe("Secure and Remediate: the new password", () => {
  const withPassword = () => {
    state.handlers.remediate = (a) =>
      (a!.keys as string[]).map((key, i) => stepResult({ key, action_id: 70 + i, password: key === K.reset ? PASSWORD : null }));
  };

  it("is shown once with copy, never in an attribute, and gone after close", async () => {
    const writeText = vi.fn(async () => {});
    vi.stubGlobal("navigator", { ...navigator, clipboard: { writeText } });
    await openPlan(withPassword);
    await runChecked();
    const pw = $("#new-password");
    expect(pw.textContent).toBe(PASSWORD);
    expect(pw.closest("[data-testid=step-result]")!.getAttribute("data-key")).toBe(K.reset);
    expect(pw.parentElement!.parentElement!.textContent).toContain("Shown once. Rulewatch keeps no copy.");
    expect($$("*").some((e) => Array.from(e.attributes).some((a) => a.value.includes(PASSWORD)))).toBe(false);
    $("#copy-password").click();
    await flush();
    expect(writeText).toHaveBeenCalledWith(PASSWORD);

    $("#remediation-close").click();
    expect(document.querySelector("#new-password")).toBeNull();
    expect(document.body.textContent).not.toContain(PASSWORD);
    expect(visible(document.querySelector("#remediation"))).toBe(false);
  });

  it("falls back to selecting the text without a clipboard, and is gone when the alert is left", async () => {
    vi.stubGlobal("navigator", { ...navigator, clipboard: undefined });
    await openPlan(withPassword);
    await runChecked();
    $("#copy-password").click();
    await flush();
    expect(window.getSelection()!.toString()).toBe(PASSWORD);
    expect($("#new-password").parentElement!.textContent).toMatch(/Selected/);
    $("#back-to-alerts").click();
    await flush();
    expect(document.body.textContent).not.toContain(PASSWORD);
  });

  it("is gone when another page is shown", async () => {
    await openPlan(withPassword);
    await runChecked();
    expect($("#new-password").textContent).toBe(PASSWORD);
    // The alerts page is detached, not destroyed, by navigation: look inside it.
    const alertsPage = $("#alerts-page");
    $("#nav-settings").click();
    await flush();
    expect(alertsPage.isConnected).toBe(false);
    expect(alertsPage.textContent).not.toContain(PASSWORD);
    expect(alertsPage.querySelector("#new-password")).toBeNull();
  });
});

describe("remediation log and report", () => {
  it("lists the alert's history rows with who did what", async () => {
    await openAlert(() => {
      state.handlers.alert_history = () => [
        logEntry({ id: 7 }),
        logEntry({ id: 8, action: "undo-block-sign-in", undoes: 7, detail: HOSTILE_RULE, operator: "admin@partner.example", result: "failed" }),
      ];
    });
    expect(callsOf("alert_history")[0].args).toEqual({ alertId: 5 });
    const rows = $$("#alert-history [data-testid=history-row]");
    expect(rows.map((r) => r.dataset.logId)).toEqual(["7", "8"]);
    expect(rows[0].textContent).toContain("block-sign-in");
    expect(rows[0].textContent).toContain(MAILBOX);
    expect(rows[0].textContent).toContain("done ✓");
    expect(rows[0].textContent).toContain("tech@DESK-01");
    expect(rows[1].textContent).toContain("undoes #7");
    expect(rows[1].textContent).toContain("admin@partner.example");
    expect(rows[1].textContent).toContain(HOSTILE_RULE);
    noMarkup();
  });

  it("says so when nothing was recorded, and refreshes after a run", async () => {
    let log = [] as ReturnType<typeof logEntry>[];
    await openPlan(() => (state.handlers.alert_history = () => log));
    expect($("#alert-history").textContent).toContain("No remediation step recorded");
    log = [logEntry({ id: 9 })];
    await runChecked();
    expect($$("[data-testid=history-row]").map((r) => r.dataset.logId)).toEqual(["9"]);
  });

  it("exports the report and shows where it was written", async () => {
    await openAlert();
    expect(visible(document.querySelector("#report-path"))).toBe(false);
    $("#export-report").click();
    await flush();
    expect(callsOf("export_report")).toEqual([{ cmd: "export_report", args: { alertId: 5 } }]);
    expect($("#report-path").textContent).toBe("Report written to /home/tech/Rulewatch/reports/alert-5.html");
    expect(visible($("#report-path"))).toBe(true);
  });

  it("lists one report per customer for an alert spanning customers", async () => {
    await openAlert(() => (state.handlers.export_report = () => ["/r/alert-5-a.html", "/r/alert-5-b.html"]));
    $("#export-report").click();
    await flush();
    expect($("#report-path").textContent).toBe("One report per customer written to /r/alert-5-a.html, /r/alert-5-b.html");
  });

  it("says why a partner technician who made the change is not offered", async () => {
    await openPlan(() => {
      state.handlers.remediation_plan = () =>
        plan({ actor: "user_4b1f@msp.onmicrosoft.com", actor_not_offered: "user_4b1f@msp.onmicrosoft.com is not an account of Contoso" });
    });
    expect(document.querySelector("#plan-actor")).toBeNull();
    expect($("#plan-actor-not-offered").textContent).toContain("not offered here: user_4b1f@msp.onmicrosoft.com is not an account of Contoso");
    expect($$("#plan-steps [data-testid=plan-step]").some((s) => s.textContent!.includes("msp.onmicrosoft.com"))).toBe(false);
  });
});

describe("settings: remediation defaults", () => {
  it("loads and saves the steps checked by default", async () => {
    await mount(() => (state.handlers.get_settings = () => settings({ remediation_defaults: ["block-sign-in", "clear-forwarding"] })));
    $("#nav-settings").click();
    await flush();
    expect($("#remediation-defaults").querySelector("legend")!.textContent).toBe("Secure and Remediate");
    const ids = ["block-sign-in", "revoke-sessions", "reset-password", "disable-rule", "remove-rule", "clear-forwarding"];
    expect(ids.map((a) => $<HTMLInputElement>(`#remediation-default-${a}`).checked)).toEqual([true, false, false, false, false, true]);
    $<HTMLInputElement>("#remediation-default-remove-rule").click();
    $<HTMLInputElement>("#remediation-default-block-sign-in").click();
    $("#save-settings").click();
    await flush();
    expect((callsOf("save_settings")[0].args!.settings as { remediation_defaults: unknown }).remediation_defaults).toEqual([
      "remove-rule",
      "clear-forwarding",
    ]);
  });
});
