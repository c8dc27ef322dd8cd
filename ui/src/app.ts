// The panel's shell: header (sandbox banner, scan state, Scan now, navigation), the error
// area, and the page shown. Pages are built once and refreshed in place, so a refresh
// never throws away what the user is typing.
import { api, onChanged, onOpenAlert, onOpenPage, type Overview } from "./api";
import { errorKind, errorMessage, firstRunFor, type Ctx, type Page, type PageName } from "./ctx";
import { h, replace, setText } from "./h";
import { scanStateText } from "./format";
import { createOverviewPage } from "./pages/overview";
import { createAlertsPage } from "./pages/alerts";
import { createTenantsPage } from "./pages/tenants";
import { createSettingsPage } from "./pages/settings";

export interface App {
  ctx: Ctx;
  refreshAll(): Promise<void>;
  destroy(): void;
}

export const HEADER_POLL_MS = 5000;
export const CHANGE_DEBOUNCE_MS = 200;

export function startApp(root: HTMLElement): App {
  let current: PageName = "overview";
  let ov: Overview | null = null;
  let destroyed = false;

  const errorText = h("span", { id: "error-text" });
  const errorBox = h(
    "div",
    { id: "error", role: "alert", class: "error-box", hidden: true },
    errorText,
    h("button", { id: "error-dismiss", type: "button", class: "link", "aria-label": "Dismiss error", on: { click: () => ctx.clearError() } }, "Dismiss"),
  );

  const sandboxBanner = h(
    "div",
    { id: "sandbox-banner", class: "sandbox-banner", hidden: true },
    "SANDBOX — watching the built-in test tenant; no real Microsoft 365 tenant is touched",
  );
  // Permanent while set: real tenants' data and secrets would go to this host.
  const endpointsBanner = h("div", { id: "endpoints-banner", class: "endpoints-banner", role: "alert", hidden: true });
  const scanState = h("span", { id: "scan-state", class: "scan-state", "aria-live": "polite" }, "…");
  const scanNow: HTMLButtonElement = h("button", { id: "scan-now", type: "button", on: { click: () => void doScanNow() } }, "Scan now");
  const openCount = h("span", { class: "badge", hidden: true });
  const navButtons: Record<PageName, HTMLButtonElement> = {
    overview: h("button", { id: "nav-overview", type: "button", on: { click: () => navigate("overview") } }, "Overview"),
    alerts: h("button", { id: "nav-alerts", type: "button", on: { click: () => navigate("alerts") } }, "Alerts", openCount),
    tenants: h("button", { id: "nav-tenants", type: "button", on: { click: () => navigate("tenants") } }, "Tenants"),
    settings: h("button", { id: "nav-settings", type: "button", on: { click: () => navigate("settings") } }, "Settings"),
  };
  const header = h(
    "header",
    { class: "app-header" },
    h(
      "div",
      { class: "header-row" },
      h("h1", { class: "app-name" }, "Rulewatch"),
      scanState,
      scanNow,
    ),
    h("nav", { class: "nav", "aria-label": "Pages" }, navButtons.overview, navButtons.alerts, navButtons.tenants, navButtons.settings),
  );
  const main = h("main", { id: "page", class: "page" });
  replace(root, endpointsBanner, sandboxBanner, header, errorBox, main);

  const ctx: Ctx = {
    async run<T>(p: Promise<T>): Promise<T | undefined> {
      try {
        return await p;
      } catch (e) {
        ctx.showError(errorMessage(e), errorKind(e));
        return undefined;
      }
    },
    showError(message: string, kind: string | null = null) {
      setText(errorText, message);
      errorBox.dataset.kind = kind ?? "";
      errorBox.hidden = false;
    },
    clearError() {
      errorText.textContent = "";
      delete errorBox.dataset.kind;
      errorBox.hidden = true;
    },
    navigate: (p) => navigate(p),
    openAlert: (id) => {
      navigate("alerts", false);
      void alerts.openDetail(id).then(() => alerts.reloadList());
    },
    overview: () => ov,
    refreshAll: () => refreshAll(),
  };

  const alerts = createAlertsPage(ctx);
  const pages: Record<PageName, Page> = {
    overview: createOverviewPage(ctx),
    alerts,
    tenants: createTenantsPage(ctx),
    settings: createSettingsPage(ctx),
  };

  const isPageName = (p: unknown): p is PageName => typeof p === "string" && Object.hasOwn(pages, p);

  async function refreshHeader(): Promise<void> {
    let o: Overview;
    try {
      o = await api.overview();
    } catch (e) {
      ctx.showError(errorMessage(e), errorKind(e));
      return;
    }
    ov = o;
    sandboxBanner.hidden = !o.sandbox;
    endpointsBanner.hidden = o.endpoints_override === null;
    endpointsBanner.textContent =
      o.endpoints_override === null ? "" : `NOT MICROSOFT — RULEWATCH_ENDPOINTS is set: every call goes to ${o.endpoints_override}`;
    const s = scanStateText(o);
    scanState.textContent = s.text;
    scanState.classList.toggle("scan-error", s.error);
    scanNow.disabled = o.scanning !== null;
    openCount.hidden = o.open_alerts === 0;
    openCount.textContent = String(o.open_alerts);
    openCount.setAttribute("aria-label", `${o.open_alerts} open`);
  }

  function navigate(page: PageName, enter = true): void {
    if (page !== current) pages[current].leave?.();
    current = page;
    for (const [name, b] of Object.entries(navButtons)) {
      const on = name === page;
      b.classList.toggle("active", on);
      if (on) b.setAttribute("aria-current", "page");
      else b.removeAttribute("aria-current");
    }
    replace(main, pages[page].el);
    if (!enter) return;
    const p = pages[page];
    void (p.enter ? p.enter() : p.refresh());
  }

  async function doScanNow(): Promise<void> {
    ctx.clearError();
    scanNow.disabled = true;
    await ctx.run(api.scanNow());
    await refreshHeader();
  }

  async function refreshAll(): Promise<void> {
    await refreshHeader();
    await pages[current].refresh();
  }

  let debounce: ReturnType<typeof setTimeout> | undefined;
  const unlisten: (() => void)[] = [];
  onChanged(() => {
    clearTimeout(debounce);
    debounce = setTimeout(() => void refreshAll(), CHANGE_DEBOUNCE_MS);
  })
    .then((u) => (destroyed ? u() : unlisten.push(u)))
    .catch((e) => ctx.showError(errorMessage(e), errorKind(e)));
  onOpenAlert((id) => ctx.openAlert(id))
    .then((u) => (destroyed ? u() : unlisten.push(u)))
    .catch((e) => ctx.showError(errorMessage(e), errorKind(e)));
  // A notification names a page (e.g. "tenants" when the partner sign-in lapsed); an
  // unknown name is ignored rather than trusted.
  onOpenPage((page) => {
    if (isPageName(page)) navigate(page);
  })
    .then((u) => (destroyed ? u() : unlisten.push(u)))
    .catch((e) => ctx.showError(errorMessage(e), errorKind(e)));
  const poll = setInterval(() => void refreshHeader(), HEADER_POLL_MS);

  // The panel opens where the desktop asked (a notification's alert, a page), else on
  // the Overview; on a first run (no tenant, no sandbox) on the Alerts page's welcome
  // screen instead, which offers the sandbox. A notification's alert needs nothing from
  // the header, so the alert, its list and the header are read together: each read
  // waited for the one before it, and they were most of the time a reopened panel took
  // to draw. The others need the header's overview, so their page is read once it is in
  // (unless a click has already chosen another page meanwhile, which is then read
  // again). Once drawn, the desktop is told, which times the opening.
  const start = startView();
  navigate(start.alert === null ? "overview" : "alerts", false);
  const opened =
    start.alert === null ? null : Promise.all([refreshHeader(), alerts.openDetail(start.alert), alerts.reloadList()]);
  void (opened ?? refreshHeader())
    .then(async () => {
      if (opened !== null) return;
      if (current === "overview" && start.page !== null) {
        await enter(start.page);
      } else if (current === "overview" && firstRunFor(ov)) {
        await enter("alerts");
      } else await pages[current].refresh();
    })
    .then(() => api.panelDrawn())
    .catch((e) => ctx.showError(errorMessage(e), errorKind(e)));

  async function enter(page: PageName): Promise<void> {
    navigate(page, false);
    const p = pages[page];
    await (p.enter ? p.enter() : p.refresh());
  }

  /** What the desktop made this panel to open on, checked: a positive alert id or a page's name. */
  function startView(): { alert: number | null; page: PageName | null } {
    const given: unknown = (window as { __RULEWATCH_START__?: unknown }).__RULEWATCH_START__;
    const field = (name: string): unknown => (given && typeof given === "object" && name in given ? (given as Record<string, unknown>)[name] : null);
    const alert = field("alert");
    const page = field("page");
    return {
      alert: typeof alert === "number" && Number.isSafeInteger(alert) && alert > 0 ? alert : null,
      page: isPageName(page) ? page : null,
    };
  }

  return {
    ctx,
    refreshAll,
    destroy() {
      destroyed = true;
      clearInterval(poll);
      clearTimeout(debounce);
      for (const u of unlisten) u();
    },
  };
}
