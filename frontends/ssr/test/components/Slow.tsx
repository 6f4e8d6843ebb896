export default function Slow() {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  return <i>slow</i>;
}
