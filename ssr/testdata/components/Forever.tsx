// Forever never returns: the worker running it is stuck.
export default function Forever(): never {
  for (;;) {
    // loop
  }
}
