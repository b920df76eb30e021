/**
 * Cooperative slicing of long synchronous work in node handlers: a window of 100,000 records is
 * checked, baselined or evaluated in slices, yielding to the event loop (`setImmediate`) whenever a
 * turn has run for {@link SLICE_BUDGET_MS}, so that Node-RED (editor, timers, other flows, the
 * capture) is never held for long (issue #8: event-loop delay p99 < 50 ms during a full-speed replay).
 *
 * @packageDocumentation
 */
import { performance } from 'perf_hooks';

/** Longest a handler runs before it yields to the event loop, ms. */
export const SLICE_BUDGET_MS = 12;

/** Items processed between two looks at the clock. */
export const SLICE_ITEMS = 512;

/** Resolves on the next turn of the event loop, after pending I/O and timers. */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs `work(from, to)` over `[0, count)` in consecutive ranges of at most `itemsPerCall` items, in
 * order, yielding to the event loop whenever the current turn has taken `budgetMs` or more. An
 * exception from `work` rejects the promise and stops the run (later ranges are not processed).
 * The first range runs synchronously, within the call.
 * @param count number of items (≥ 0)
 * @param work processes items `from` … `to − 1`
 */
export async function runInSlices(count: number, work: (from: number, to: number) => void, budgetMs = SLICE_BUDGET_MS, itemsPerCall = SLICE_ITEMS): Promise<void> {
  let turnStart = performance.now();
  for (let from = 0; from < count; from += itemsPerCall) {
    work(from, Math.min(count, from + itemsPerCall));
    if (from + itemsPerCall < count && performance.now() - turnStart >= budgetMs) {
      await yieldToEventLoop();
      turnStart = performance.now();
    }
  }
}

/**
 * Calls `step()` until it returns true, yielding to the event loop whenever the current turn has
 * taken `budgetMs` or more. An exception from `step` rejects the promise. The first call runs
 * synchronously, within this call.
 */
export async function runStepsInSlices(step: () => boolean, budgetMs = SLICE_BUDGET_MS): Promise<void> {
  let turnStart = performance.now();
  while (!step()) {
    if (performance.now() - turnStart >= budgetMs) {
      await yieldToEventLoop();
      turnStart = performance.now();
    }
  }
}
