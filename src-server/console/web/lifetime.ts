import { h, uid } from './dom.js';

/** Lifetimes are minutes on the wire (the API and the policy); people choose them in minutes, hours or days. */
const UNITS = [
  { value: 'minutes', label: 'minutes', minutes: 1 },
  { value: 'hours', label: 'hours', minutes: 60 },
  { value: 'days', label: 'days', minutes: 24 * 60 },
] as const;

/** "14 days", "24 hours", "90 minutes": the largest unit that divides the lifetime. */
export function describeMinutes(minutes: number): string {
  for (const u of [...UNITS].reverse()) {
    if (minutes % u.minutes === 0) {
      const n = minutes / u.minutes;
      return `${n} ${n === 1 ? u.label.slice(0, -1) : u.label}`;
    }
  }
  return `${minutes} minutes`;
}

/**
 * A number and a unit, labelled as one group ("Lifetime" + "Unit" for screen readers), starting from `minutes`
 * in the largest unit that divides it. `minutes()` reads the choice back, NaN when it is not a whole number.
 */
export function lifetimeControl(
  label: string,
  minutes: number,
  hintId?: string,
): { el: HTMLElement; amount: HTMLInputElement; minutes(): number } {
  const unit0 = [...UNITS].reverse().find((u) => minutes % u.minutes === 0) ?? UNITS[0];
  const id = uid('lifetime');
  const amount = h('input', {
    type: 'number',
    id,
    name: 'lifetime',
    min: 1,
    step: 1,
    required: true,
    value: minutes / unit0.minutes,
    class: 'short',
    'aria-describedby': hintId ?? null,
  });
  const unit = h(
    'select',
    { name: 'unit', 'aria-label': `${label}: unit` },
    ...UNITS.map((u) => h('option', { value: u.value, selected: u === unit0 }, u.label)),
  );
  return {
    el: h('div', { class: 'inline' }, h('label', { for: id, class: 'visually-hidden' }, label), amount, unit),
    amount,
    minutes: () => {
      const n = Number(amount.value) * (UNITS.find((u) => u.value === unit.value)?.minutes ?? 1);
      return Number.isInteger(n) ? n : NaN;
    },
  };
}
