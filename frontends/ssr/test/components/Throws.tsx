export default function Throws(): never {
  throw new Error('thrown by a component');
}
