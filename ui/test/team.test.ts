import { afterEach, describe, expect, it } from "vitest";
import { $, HOSTILE_RULE, flush, mount, overview, teamStatus, unmount } from "./fixtures";
import { callsOf, state } from "./tauri-mock";

afterEach(() => unmount());

async function openSettings(configure?: () => void) {
  await mount(configure);
  $("#nav-settings").click();
  await flush();
}

describe("settings → team", () => {
  it("joins with the password sent once and never kept in the form", async () => {
    await openSettings();
    expect($("#team-join").hidden).toBe(false);
    expect($("#team-joined").hidden).toBe(true);

    $("#join-team").click();
    await flush();
    expect(callsOf("join_team")).toHaveLength(0);
    expect($("#team-message").textContent).toMatch(/Enter the team database's URL/);

    state.handlers.join_team = () => {
      throw { kind: "failed", message: "the team's database at postgres://rulewatch@db:5432/rw cannot be reached: password authentication failed" };
    };
    $<HTMLInputElement>("#team-url").value = " postgres://rulewatch@db/rw ";
    $<HTMLInputElement>("#team-password").value = "s3cret";
    $("#join-team").click();
    await flush();
    expect(callsOf("join_team")[0].args).toEqual({ url: "postgres://rulewatch@db/rw", password: "s3cret" });
    expect($("#error").textContent).toContain("password authentication failed");
    expect($("#team-message").textContent).toBe("Not joined: nothing was recorded.");
    expect($<HTMLInputElement>("#team-password").value).toBe("");
    expect($<HTMLInputElement>("#team-url").value).toBe(" postgres://rulewatch@db/rw ");

    state.handlers.join_team = () => teamStatus();
    state.handlers.team_state = () => teamStatus();
    $<HTMLInputElement>("#team-password").value = "right";
    $("#join-team").click();
    await flush();
    expect($("#team-join").hidden).toBe(true);
    expect($("#team-database").textContent).toBe("postgres://rulewatch@db.msp.example:5432/rulewatch");
    expect($("#team-sslmode").textContent).toBe("TLS, verify-full");
    // A colleague's name is text, and only those on duty are named.
    expect($("#team-on-duty").textContent).toBe(HOSTILE_RULE);
    expect($("#team-on-duty").querySelector("img")).toBeNull();
    expect($("#team-message").textContent).toMatch(/^Joined/);
  });

  it("copies this computer's records and leaves only after asking", async () => {
    await openSettings(() => (state.handlers.team_state = () => teamStatus({ sslmode: "disable" })));
    expect($("#team-sslmode").textContent).toBe("not encrypted (this machine only)");
    $("#copy-to-team").click();
    await flush();
    expect($("#team-message").textContent).toBe(
      "Copied 3 alert(s), 1 tenant(s), 0 allowlist entries and 2 remediation step(s); what the team had already was left as it was.",
    );

    $("#leave-team").click();
    await flush();
    expect(callsOf("leave_team")).toHaveLength(0);
    expect($("#leave-team-confirm").hidden).toBe(false);
    state.handlers.team_state = () => null;
    $("#leave-team-yes").click();
    await flush();
    expect(callsOf("leave_team")).toHaveLength(1);
    expect($("#team-join").hidden).toBe(false);
    expect($("#team-message").textContent).toMatch(/^Left the team/);
  });

  it("says how many tenants the last scan left to colleagues' workstations", async () => {
    await mount(() => (state.handlers.overview = () => overview({ elsewhere: 3 })));
    expect($("#scan-state").textContent).toMatch(/^Last scan .* · 3 tenant\(s\) left to colleagues$/);
  });

  it("says in the header why nothing is watched while the team's database is out of reach", async () => {
    const why = "the team's database at postgres://rulewatch@db:5432/rw cannot be reached: connection refused. Rulewatch keeps trying to connect.";
    await mount(() => (state.handlers.overview = () => overview({ offline: why, tenants: 0, open_alerts: 0 })));
    expect($("#scan-state").textContent).toBe(why);
    expect($("#scan-state").classList.contains("scan-error")).toBe(true);
  });
});
