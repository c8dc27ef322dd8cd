import { afterEach, describe, expect, it } from "vitest";
import { $, flush, mount, setValue, settings, unmount, visible } from "./fixtures";
import { callsOf, state } from "./tauri-mock";

afterEach(() => unmount());

async function openSettings(configure?: () => void) {
  await mount(configure);
  $("#nav-settings").click();
  await flush();
}

const save = async () => {
  $("#save-settings").click();
  await flush();
};

describe("settings", () => {
  it("adds, tests and removes a webhook; a refused one keeps what was typed but the secret", async () => {
    const webhook = { name: "psa", kind: "webhook", queued: 0, last_delivered_at: null, last_error: null };
    await openSettings(() => {
      const base = state.handlers.delivery_channels;
      state.handlers.delivery_channels = (a) => [...(base(a) as object[]), webhook];
    });
    expect($(`[data-testid=channel-row][data-channel="desktop"]`).querySelector("button")).toBeNull();
    const row = $(`[data-testid=channel-row][data-channel="psa"]`);
    row.querySelector<HTMLButtonElement>("[data-testid=test-channel]")!.click();
    await flush();
    expect(callsOf("test_channel")[0].args).toEqual({ name: "psa" });
    expect($("#channel-message").textContent).toBe("psa took the test delivery.");

    state.handlers.add_channel = () => {
      throw { kind: "invalid_input", message: "the webhook URL http://hooks.example.com is plain http:// to another machine" };
    };
    $<HTMLInputElement>("#webhook-name").value = "bridge";
    $<HTMLInputElement>("#webhook-url").value = "http://hooks.example.com/x";
    $<HTMLInputElement>("#webhook-secret").value = "sixteen characters or more";
    $("#add-webhook").click();
    await flush();
    expect(callsOf("add_channel")[0].args).toEqual({
      kind: "webhook",
      name: "bridge",
      url: "http://hooks.example.com/x",
      secret: "sixteen characters or more",
      route: { tenants: [], exclude_tenants: [] },
    });
    expect($("#error").textContent).toContain("plain http://");
    expect($<HTMLInputElement>("#webhook-url").value).toBe("http://hooks.example.com/x");
    expect($<HTMLInputElement>("#webhook-secret").value).toBe("");

    state.handlers.add_channel = () => null;
    $<HTMLInputElement>("#webhook-url").value = "https://hooks.example.com/x";
    $<HTMLInputElement>("#webhook-secret").value = "sixteen characters or more";
    $("#add-webhook").click();
    await flush();
    expect($("#channel-message").textContent).toBe("bridge added: new alerts are posted to it.");
    expect($<HTMLInputElement>("#webhook-name").value).toBe("");

    // Slack: the URL is the credential (no secret field), with a route.
    setValue($<HTMLSelectElement>("#channel-kind"), "slack");
    expect(visible($("#webhook-secret"))).toBe(false);
    $<HTMLInputElement>("#webhook-name").value = "soc";
    $<HTMLInputElement>("#webhook-url").value = "https://hooks.slack.com/services/T/B/X";
    setValue($<HTMLSelectElement>("#channel-min-severity"), "high");
    $<HTMLInputElement>("#channel-exclude-tenants").value = " t1 , ,T2";
    $("#add-webhook").click();
    await flush();
    expect(callsOf("add_channel")[2].args).toEqual({
      kind: "slack",
      name: "soc",
      url: "https://hooks.slack.com/services/T/B/X",
      secret: null,
      route: { min_severity: "high", tenants: [], exclude_tenants: ["t1", "T2"] },
    });

    $(`[data-testid=channel-row][data-channel="psa"] [data-testid=remove-channel]`).click();
    await flush();
    expect(callsOf("remove_channel")[0].args).toEqual({ name: "psa" });
  });

  it("adds an e-mail channel with its relay, recipients, digest and quiet hours; the password is not kept in the form", async () => {
    await openSettings();
    setValue($<HTMLSelectElement>("#channel-kind"), "email");
    expect(visible($("#webhook-url"))).toBe(false);
    expect(visible($("#webhook-secret"))).toBe(false);
    expect(visible($("#email-host"))).toBe(true);
    $<HTMLInputElement>("#webhook-name").value = "soc-mail";
    $<HTMLInputElement>("#email-host").value = " smtp.office365.com ";
    setValue($<HTMLSelectElement>("#email-security"), "tls");
    $<HTMLInputElement>("#email-username").value = "alerts@msp.example";
    $<HTMLInputElement>("#email-password").value = "relay password";
    $<HTMLInputElement>("#email-from").value = "Rulewatch <alerts@msp.example>";
    $<HTMLInputElement>("#email-to").value = "soc@msp.example, ,oncall@msp.example";
    $<HTMLInputElement>("#email-digest-at").value = "07:30";
    $<HTMLInputElement>("#channel-quiet-start").value = "22:00";
    $<HTMLInputElement>("#channel-quiet-end").value = "07:00";
    $("#add-webhook").click();
    await flush();
    expect(callsOf("add_email_channel")[0].args).toEqual({
      name: "soc-mail",
      config: {
        host: "smtp.office365.com",
        port: 465,
        security: "tls",
        username: "alerts@msp.example",
        from: "Rulewatch <alerts@msp.example>",
        to: ["soc@msp.example", "oncall@msp.example"],
        digest_at: "07:30",
      },
      password: "relay password",
      route: { tenants: [], exclude_tenants: [], quiet_hours: { start: "22:00", end: "07:00" } },
    });
    expect(callsOf("add_channel")).toHaveLength(0);
    expect($("#channel-message").textContent).toBe("soc-mail added: a digest is mailed daily at 07:30.");
    expect($<HTMLInputElement>("#email-password").value).toBe("");
    expect($<HTMLInputElement>("#email-host").value).toBe("");
  });

  it("shows each delivery channel's queue, a hostile error as text", async () => {
    const error = "<img src=x onerror=alert(1)> no notification daemon";
    await openSettings(
      () =>
        (state.handlers.delivery_channels = () => [
          { name: "desktop", kind: "desktop", queued: 2, last_delivered_at: "2026-11-27T10:42:00Z", last_error: error },
          { name: "scan", kind: "scan", queued: 0, last_delivered_at: null, last_error: null },
        ]),
    );
    const desktop = $(`[data-testid=channel-row][data-channel="desktop"]`);
    expect(desktop.textContent).toContain("This desktop's notifications");
    expect(desktop.textContent).toContain("2");
    expect(desktop.textContent).toContain(error);
    expect(desktop.querySelector("img")).toBeNull();
    const scan = $(`[data-testid=channel-row][data-channel="scan"]`);
    expect(scan.textContent).toContain("never");
    expect(scan.textContent).toContain("none");
  });

  it("fills the form from the stored settings", async () => {
    await openSettings();
    expect($<HTMLInputElement>("#scan-interval").value).toBe("5");
    expect($<HTMLInputElement>("#backfill-hours").value).toBe("24");
    expect($<HTMLInputElement>("#notify-low").checked).toBe(false);
    expect($<HTMLInputElement>("#notify-critical").checked).toBe(true);
    expect($<HTMLInputElement>("#start-at-login").checked).toBe(true);
    expect($<HTMLInputElement>("#sign-ins").checked).toBe(false);
    expect($<HTMLSelectElement>("#geo-provider").value).toBe("ipstack");
    expect(visible($("#ipstack-key"))).toBe(true);
    expect(visible($("#mmdb-city"))).toBe(false);
    expect($<HTMLInputElement>("#ipstack-key").type).toBe("password");
    expect($<HTMLInputElement>("#ipstack-key").placeholder).toMatch(/stored in the keychain/);
  });

  it("offers and checks the bounds core sends, not its own", async () => {
    await openSettings(() => (state.handlers.get_settings = () => settings({ bounds: { scan_interval_minutes: [2, 60], backfill_hours: [1, 48], raw_retention_days: [30, 400] } })));
    const interval = $<HTMLInputElement>("#scan-interval");
    expect([interval.min, interval.max]).toEqual(["2", "60"]);
    expect($<HTMLInputElement>("#backfill-hours").max).toBe("48");
    expect(interval.parentElement!.textContent).toContain("2 to 60");
    interval.value = "90";
    await save();
    expect($("#settings-message").textContent).toBe("Scan every: a whole number of minutes from 2 to 60.");
    interval.value = "30";
    $<HTMLInputElement>("#backfill-hours").value = "72";
    await save();
    expect($("#settings-message").textContent).toBe("Look back: a whole number of hours from 1 to 48.");
    $<HTMLInputElement>("#backfill-hours").value = "24";
    const raw = $<HTMLInputElement>("#raw-retention-days");
    expect([raw.min, raw.max]).toEqual(["30", "400"]);
    raw.value = "401";
    await save();
    expect($("#settings-message").textContent).toBe("Raw audit records: a whole number of days from 30 to 400.");
    expect(callsOf("save_settings")).toHaveLength(0);
  });

  it("shows where the log files are", async () => {
    await openSettings();
    expect(visible($("#log-file"))).toBe(true);
    expect($("#log-dir").textContent).toBe("/home/tech/.local/share/Rulewatch/logs");
    expect($("#log-file").textContent).toMatch(/a week kept/);
  });

  it("keeps the stored ipstack key when the field is left empty", async () => {
    await openSettings();
    $<HTMLInputElement>("#scan-interval").value = "10";
    $<HTMLInputElement>("#notify-low").click();
    $<HTMLInputElement>("#notify-colleagues-taken").click();
    await save();
    expect(callsOf("save_settings")[0].args).toEqual({
      settings: {
        scan_interval_minutes: 10,
        backfill_hours: 24,
        raw_retention_days: 180,
        notify: { low: true, medium: true, high: true, critical: true, colleagues_taken: true },
        start_at_login: true,
        sign_ins: false,
        geo: { provider: "ipstack", key: null },
        remediation_defaults: ["block-sign-in", "revoke-sessions", "reset-password", "disable-rule", "clear-forwarding"],
      },
    });
    expect($("#settings-message").textContent).toBe("Settings saved.");
  });

  it("sends a newly typed key once and clears the field", async () => {
    await openSettings();
    $<HTMLInputElement>("#ipstack-key").value = "abc123";
    await save();
    expect((callsOf("save_settings")[0].args!.settings as { geo: unknown }).geo).toEqual({ provider: "ipstack", key: "abc123" });
    expect($<HTMLInputElement>("#ipstack-key").value).toBe("");
  });

  it("sends database paths for mmdb", async () => {
    await openSettings(() => (state.handlers.get_settings = () => settings({ geo: { provider: "off" } })));
    const sel = $<HTMLSelectElement>("#geo-provider");
    sel.value = "mmdb";
    sel.dispatchEvent(new Event("change"));
    expect(visible($("#mmdb-city"))).toBe(true);
    $<HTMLInputElement>("#mmdb-city").value = " /data/GeoLite2-City.mmdb ";
    await save();
    expect((callsOf("save_settings")[0].args!.settings as { geo: unknown }).geo).toEqual({
      provider: "mmdb",
      city: "/data/GeoLite2-City.mmdb",
      asn: null,
    });
  });

  it("refuses out-of-range numbers and a missing key", async () => {
    await openSettings(() => (state.handlers.get_settings = () => settings({ geo: { provider: "ipstack", key_stored: false } })));
    for (const [id, bad] of [["scan-interval", "0"], ["scan-interval", "1441"], ["backfill-hours", "168"], ["backfill-hours", "2.5"]]) {
      $<HTMLInputElement>("#scan-interval").value = "5";
      $<HTMLInputElement>("#backfill-hours").value = "24";
      $<HTMLInputElement>(`#${id}`).value = bad;
      await save();
      expect(callsOf("save_settings")).toHaveLength(0);
      expect($("#settings-message").textContent).toMatch(id === "scan-interval" ? /1 to 1440/ : /1 to 167/);
    }
    $<HTMLInputElement>("#scan-interval").value = "5";
    $<HTMLInputElement>("#backfill-hours").value = "24";
    for (const bad of ["6", "3651", "90.5"]) {
      $<HTMLInputElement>("#raw-retention-days").value = bad;
      await save();
      expect(callsOf("save_settings")).toHaveLength(0);
      expect($("#settings-message").textContent).toBe("Raw audit records: a whole number of days from 7 to 3650.");
    }
    $<HTMLInputElement>("#raw-retention-days").value = "365";
    await save();
    expect(callsOf("save_settings")).toHaveLength(0);
    expect($("#settings-message").textContent).toMatch(/ipstack access key/);
  });
});
