/** Compute Engine › VM instance details (`/compute/instances/details/ZONE/NAME`). */
export function InstanceDetailsPage(props: { project: string; zone: string; name: string }) {
  return (
    <h1>
      {props.name} ({props.zone}, {props.project})
    </h1>
  );
}
