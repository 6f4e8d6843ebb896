// Echo renders its id after a busy wait of spin ms, so that replies of a
// worker come back in another order than the requests.
export default function Echo({ id, spin = 0 }: { id: number; spin?: number }) {
  const end = performance.now() + spin;
  while (performance.now() < end) {
    // spin
  }
  return <span data-id={id}>echo {id}</span>;
}
