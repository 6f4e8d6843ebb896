export function Named() {
  return <p>named</p>;
}
