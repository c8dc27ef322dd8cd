// What a Secure and Remediate plan read of the mailbox, shown before any step is chosen:
// the tenant, the mailbox, its account and forwarding, who made the change, what could
// not be read, and every inbox rule. All of it is text an attacker may have written,
// and all of it goes through h().
import type { Plan } from "../api";
import { h, type Child } from "../h";

/** "forwards all mail to x@y.example, keeping a copy" */
export function forwardingWords(plan: Plan): string {
  const f = plan.forwarding;
  if (!f) return "Unknown: the forwarding could not be read";
  const to = [f.forwarding_smtp_address, f.forwarding_address].filter((x): x is string => !!x);
  if (!to.length) return f.deliver_to_mailbox_and_forward ? "No forwarding address (keep-a-copy is still set)" : "No forwarding";
  return `Forwards all mail to ${to.join(" and ")}${f.deliver_to_mailbox_and_forward ? ", keeping a copy in the mailbox" : ", keeping no copy in the mailbox"}`;
}

/** The plan's state as read, as the view's elements in order. */
export function planState(p: Plan): Child[] {
  const accountWords = p.account_enabled === true ? "Sign-in allowed" : p.account_enabled === false ? "Sign-in blocked" : "Sign-in state unknown";
  const account = h(
    "dd",
    { id: "plan-account" },
    h("span", { class: p.account_enabled === false ? "state-ok" : "" }, accountWords),
    p.synced_from_on_premises
      ? h(
          "div",
          { class: "warning" },
          "⚠ Synced from on-premises Active Directory: the next sync overwrites changes made in the cloud. Block the account in Active Directory too.",
        )
      : null,
  );

  const rulesList = h(
    "ul",
    { id: "plan-rules", class: "plan-rules" },
    p.rules.length
      ? p.rules.map((r) =>
          h(
            "li",
            { "data-testid": "plan-rule", class: r.system ? "plan-rule rule-system" : r.about_alert ? "plan-rule rule-alert" : "plan-rule" },
            h(
              "div",
              { class: "rule-head" },
              h("span", { class: "rule-name wrap" }, r.name),
              " ",
              h("span", { class: r.enabled ? "rule-state rule-enabled" : "rule-state rule-disabled" }, r.enabled ? "enabled" : "disabled"),
              r.about_alert ? h("span", { class: "tag tag-alert" }, "the alert's rule") : null,
              r.system ? h("span", { class: "tag tag-system" }, "Exchange's own rule, left alone") : null,
              r.marks.map((m) => h("span", { class: "tag tag-warn" }, "⚠ ", m)),
            ),
            h("div", { class: "rule-description wrap" }, r.description),
          ),
        )
      : h("li", { class: "muted" }, "No inbox rules in the mailbox."),
  );

  return [
    h(
      "dl",
      { class: "facts compact" },
      h("dt", null, "Tenant"),
      h("dd", { id: "plan-tenant" }, p.tenant_name),
      h("dt", null, "Mailbox"),
      h("dd", { id: "plan-mailbox", class: "wrap" }, p.mailbox, p.resolved_from ? h("span", { class: "muted" }, ` (resolved from ${p.resolved_from})`) : null),
      h("dt", null, "Account"),
      account,
      h("dt", null, "Forwarding"),
      h("dd", { id: "plan-forwarding", class: "wrap" }, forwardingWords(p)),
    ),
    p.actor_differs
      ? h(
          "p",
          { id: "plan-actor", class: "note wrap" },
          "The change was made by another account, ",
          h("strong", null, p.actor),
          ". Its steps are listed unchecked: check them if that account is compromised too.",
        )
      : null,
    p.actor_not_offered
      ? h("p", { id: "plan-actor-not-offered", class: "note wrap" }, "The change was made by another account, not offered here: ", p.actor_not_offered, ".")
      : null,
    p.problems.length
      ? h(
          "div",
          { class: "problems" },
          h("p", null, "Some of the state could not be read; the steps it concerns may fail:"),
          h("ul", { id: "plan-problems" }, p.problems.map((x) => h("li", { class: "wrap" }, x))),
        )
      : null,
    h("h4", null, "Inbox rules in the mailbox now"),
    rulesList,
  ];
}
