/**
 * Runs `work` on every item, at most `concurrency` at once, and returns the results in the items' order.
 * After a failure no further item starts, and the first error is thrown once the work under way has settled,
 * so nothing the caller started is still running when it sees the error (a Lambda handler that returned
 * with sends in flight would have them frozen or cut off). Hand-written because p-map rejects at once, with
 * work still in flight, and p-limit would take as many lines around it to stop and to wait.
 */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (!failure && next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index] as T);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}
