// Sleep blocks the worker for ms milliseconds while rendering.
export default function Sleep({ ms }: { ms: number }) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  return <p>slept {ms}</p>;
}
