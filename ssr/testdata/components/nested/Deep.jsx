export default function Deep({ who }) {
  return <em>deep {who}</em>;
}
