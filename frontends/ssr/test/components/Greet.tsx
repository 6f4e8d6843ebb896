export default function Greet({ name }: { name: string }) {
  console.log('printed by a component');
  return <b>hi {name}</b>;
}
