// Form pieces the panel's forms share (add tenant, partner sign-in, settings): labelled
// fields, id fields, their error boxes and how a validation's messages are shown. One copy,
// so the forms keep the same attributes, messages and aria-describedby / aria-invalid use.
import { h, type Child, type Listeners } from "./h";
import { GUID } from "./format";

/** A text input for a tenant or client id, described by its error box `#ID-error`. */
export function idInput(id: string, on?: Listeners): HTMLInputElement {
  return h("input", { id, type: "text", autocomplete: "off", spellcheck: "false", "aria-describedby": `${id}-error`, on });
}

/** Label, input (or select) and an optional hint, as one field. */
export function labelled(label: string, input: HTMLElement, hint?: Child): HTMLElement {
  return h("div", { class: "field" }, h("label", { for: input.id }, label), input, hint ? h("div", { class: "hint" }, hint) : null);
}

/** Puts `missing` under `key` when `value` is empty, or the GUID hint when it is not a GUID. */
export function checkId(errors: Record<string, string>, key: string, value: string, what: "tenant id" | "client id", missing: string): void {
  const v = value.trim();
  if (!v) errors[key] = missing;
  else if (!GUID.test(v)) errors[key] = `The ${what} is a GUID like 00000000-0000-0000-0000-000000000000.`;
}

export interface FieldErrors {
  /** Error box `#KEY-error` per key, hidden while it has no message. */
  boxes: Record<string, HTMLElement>;
  /** Shows `found` (key → message), clears the other boxes, focuses the first field in error; true when there was one. */
  show(found: Record<string, string>): boolean;
}

/** Error boxes for a form; `inputs` maps each key to the inputs its message is about. */
export function fieldErrors(inputs: Record<string, HTMLInputElement[]>): FieldErrors {
  const boxes: Record<string, HTMLElement> = {};
  for (const key of Object.keys(inputs)) boxes[key] = h("div", { id: `${key}-error`, class: "field-error", hidden: true });
  function show(found: Record<string, string>): boolean {
    for (const [key, box] of Object.entries(boxes)) {
      const msg = found[key];
      box.textContent = msg ?? "";
      box.hidden = !msg;
      for (const i of inputs[key]) {
        if (msg) i.setAttribute("aria-invalid", "true");
        else i.removeAttribute("aria-invalid");
      }
    }
    const first = Object.keys(found)[0];
    if (first) inputs[first][0].focus();
    return !!first;
  }
  return { boxes, show };
}
