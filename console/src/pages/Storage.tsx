/** Cloud Storage pages (the modules live in ./storage/). */
export { BucketsPage } from './storage/Buckets.tsx';
export { ObjectsPage } from './storage/Objects.tsx';
