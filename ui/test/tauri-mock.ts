// Stand-ins for @tauri-apps/api/core and /event: commands answered by per-test handlers,
// every call recorded, events delivered by emit().
export type Handler = (args: Record<string, unknown> | undefined) => unknown;
export type Call = { cmd: string; args: Record<string, unknown> | undefined };

export const state = {
  handlers: {} as Record<string, Handler>,
  calls: [] as Call[],
  listeners: new Map<string, Set<(e: { event: string; id: number; payload: unknown }) => void>>(),
};

export async function invoke(cmd: string, args?: Record<string, unknown>): Promise<unknown> {
  // Record a copy, as the real IPC serialises the arguments when the command is sent.
  state.calls.push({ cmd, args: args === undefined ? undefined : structuredClone(args) });
  const f = state.handlers[cmd];
  // Tauri commands reject with a plain string.
  if (!f) throw `unmocked command ${cmd}`;
  return await f(args);
}

export async function listen(event: string, cb: (e: { event: string; id: number; payload: unknown }) => void): Promise<() => void> {
  let set = state.listeners.get(event);
  if (!set) state.listeners.set(event, (set = new Set()));
  set.add(cb);
  return () => set.delete(cb);
}

export function emit(event: string, payload: unknown = null): void {
  for (const cb of state.listeners.get(event) ?? []) cb({ event, id: 1, payload });
}

export function resetMock(): void {
  state.handlers = {};
  state.calls = [];
  state.listeners.clear();
}

export const callsOf = (cmd: string): Call[] => state.calls.filter((c) => c.cmd === cmd);
