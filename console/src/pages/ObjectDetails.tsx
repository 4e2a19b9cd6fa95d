/** Cloud Storage › object details (`/storage/browser/_details/BUCKET/OBJECT`). */
export function ObjectDetailsPage(props: { project: string; bucket: string; object: string }) {
  return (
    <h1>
      {props.bucket}/{props.object} ({props.project})
    </h1>
  );
}
