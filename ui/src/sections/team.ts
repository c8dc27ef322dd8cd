// Settings → Team: joining the team's PostgreSQL database (its URL and password; the
// password goes to the keychain and leaves the form after every attempt), and once in a
// team, the database, who is on duty, copying this computer's records into it, and
// leaving. Names and the URL come from a database colleagues share: all text, via h().
import { api, type TeamStatus } from "../api";
import type { Ctx } from "../ctx";
import { h, replace, setText } from "../h";
import { localDateTime, shortDateTime } from "../format";
import { labelled } from "../fields";

export interface TeamSection {
  readonly el: HTMLElement;
  /** Re-reads the team's state; the join form keeps what is being typed. */
  refresh(): Promise<void>;
}

export function createTeamSection(ctx: Ctx): TeamSection {
  const url = h("input", {
    id: "team-url",
    type: "text",
    spellcheck: "false",
    autocomplete: "off",
    placeholder: "postgres://rulewatch@db.msp.example/rulewatch?sslrootcert=/etc/rulewatch/ca.pem",
  });
  const password = h("input", { id: "team-password", type: "password", autocomplete: "off" });
  const joinBtn = h("button", { id: "join-team", type: "submit", class: "primary" }, "Join the team");
  const message = h("p", { id: "team-message", role: "status", class: "wrap" });
  const joinForm = h(
    "form",
    { id: "team-join", novalidate: true },
    h(
      "p",
      { class: "hint" },
      "Every technician's Rulewatch shares alerts, who holds them and the remediation record through one PostgreSQL database. " +
        "Tenant secrets stay in each computer's keychain: a workstation scans the tenants it holds credentials for. " +
        "The connection is TLS with the server's certificate checked unless the URL's sslmode says otherwise; " +
        "add sslrootcert=/path/to/ca.pem for an in-house CA.",
    ),
    labelled("Team database (postgres:// URL)", url),
    labelled("Database password (kept in the keychain)", password),
    h("div", { class: "actions" }, joinBtn),
  );
  joinForm.addEventListener("submit", (e) => {
    e.preventDefault();
    void join();
  });

  const joined = h("div", { id: "team-joined", hidden: true });
  const copyBtn = h("button", { id: "copy-to-team", type: "button", on: { click: () => void copy() } }, "Copy this computer's records into the team");
  const leaveBtn = h("button", { id: "leave-team", type: "button", on: { click: () => (confirmBox.hidden = false) } }, "Leave the team");
  const confirmBox = h(
    "div",
    { id: "leave-team-confirm", class: "confirm", role: "alertdialog", "aria-labelledby": "leave-team-text", hidden: true },
    h(
      "p",
      { id: "leave-team-text" },
      "Leave the team? This computer goes back to its own file; the team's database keeps everything, and the password leaves the keychain.",
    ),
    h("button", { id: "leave-team-yes", type: "button", class: "danger", on: { click: () => void leave() } }, "Leave"),
    " ",
    h("button", { type: "button", on: { click: () => (confirmBox.hidden = true) } }, "Stay"),
  );
  const el = h(
    "section",
    { id: "team", class: "card", "aria-labelledby": "team-title" },
    h("h3", { id: "team-title" }, "Team"),
    joinForm,
    joined,
    message,
  );

  function say(text: string, error = false): void {
    setText(message, text);
    message.classList.toggle("field-error", error);
  }

  function show(t: TeamStatus | null): void {
    joinForm.hidden = t !== null;
    joined.hidden = t === null;
    if (t === null) {
      joined.replaceChildren();
      return;
    }
    const onDuty = t.technicians.filter((x) => x.on_duty);
    replace(
      joined,
      h(
        "dl",
        { class: "facts" },
        h("dt", null, "Database"),
        h("dd", { id: "team-database", class: "wrap" }, t.url),
        h("dt", null, "Connection"),
        h("dd", { id: "team-sslmode" }, t.sslmode === "disable" ? "not encrypted (this machine only)" : `TLS, ${t.sslmode}`),
        h("dt", null, "This workstation"),
        h("dd", { id: "team-workstation" }, t.workstation),
        h("dt", null, "Joined"),
        h("dd", { title: localDateTime(t.joined_at) }, shortDateTime(t.joined_at)),
        h("dt", null, "On duty"),
        h(
          "dd",
          { id: "team-on-duty", class: "wrap" },
          onDuty.length === 0 ? "nobody" : onDuty.map((x) => x.technician).join(", "),
        ),
      ),
      h("div", { class: "actions" }, copyBtn, " ", leaveBtn),
      confirmBox,
    );
  }

  async function refresh(): Promise<void> {
    const t = await ctx.run(api.teamState());
    if (t !== undefined) show(t);
  }

  async function join(): Promise<void> {
    ctx.clearError();
    const u = url.value.trim();
    if (!u) {
      say("Enter the team database's URL, postgres://USER@HOST/DATABASE.", true);
      url.focus();
      return;
    }
    say("Connecting…");
    joinBtn.disabled = true;
    const pw = password.value;
    password.value = "";
    const t = await ctx.run(api.joinTeam(u, pw));
    joinBtn.disabled = false;
    if (t === undefined) {
      say("Not joined: nothing was recorded.", true);
      return;
    }
    url.value = "";
    show(t);
    say("Joined: this computer now works from the team's database.");
    await ctx.refreshAll();
  }

  async function copy(): Promise<void> {
    ctx.clearError();
    copyBtn.disabled = true;
    const m = await ctx.run(api.copyToTeam());
    copyBtn.disabled = false;
    if (m === undefined) return;
    say(
      `Copied ${m.alerts} alert(s), ${m.tenants} tenant(s), ${m.allowlist} allowlist entr${m.allowlist === 1 ? "y" : "ies"} ` +
        `and ${m.steps} remediation step(s); what the team had already was left as it was.`,
    );
  }

  async function leave(): Promise<void> {
    ctx.clearError();
    confirmBox.hidden = true;
    const ok = await ctx.run(api.leaveTeam().then(() => true));
    if (!ok) return;
    show(null);
    say("Left the team: this computer works from its own file again.");
    await ctx.refreshAll();
  }

  return { el, refresh };
}
