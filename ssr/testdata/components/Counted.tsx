// Counted appends the worker's pid to the file named by its props each time
// it renders, so that a test counts the renders that reached a worker (and
// which worker ran them), then does what mode says: "ok" renders, "throw"
// throws, "exit" ends the worker, "hang" never returns, "sleep" blocks the
// worker for ms milliseconds and renders, "closestdout" closes every file
// descriptor of the worker's stdout (which carries the replies; Bun keeps a
// copy of fd 1) and renders.
import { appendFileSync, closeSync, readdirSync, readlinkSync } from 'node:fs';

interface Props {
  file: string;
  mode?: 'ok' | 'throw' | 'exit' | 'hang' | 'sleep' | 'closestdout';
  ms?: number;
  id?: number;
}

export default function Counted({ file, mode = 'ok', ms = 0, id = 0 }: Props) {
  appendFileSync(file, `${process.pid}\n`);
  switch (mode) {
    case 'throw':
      throw new Error('counted: the component failed');
    case 'exit':
      process.exit(7);
      break;
    case 'hang':
      for (;;) {
        // loop
      }
    case 'sleep':
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
      break;
    case 'closestdout': {
      const pipe = readlinkSync('/proc/self/fd/1');
      for (const fd of readdirSync('/proc/self/fd')) {
        try {
          if (readlinkSync(`/proc/self/fd/${fd}`) === pipe) closeSync(Number(fd));
        } catch {
          // gone already
        }
      }
      break;
    }
  }
  return <p>counted {id}</p>;
}
