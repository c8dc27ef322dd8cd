import { vi } from "vitest";

vi.mock("@tauri-apps/api/core", async () => {
  const m = await import("./tauri-mock");
  return { invoke: m.invoke };
});
vi.mock("@tauri-apps/api/event", async () => {
  const m = await import("./tauri-mock");
  return { listen: m.listen };
});
