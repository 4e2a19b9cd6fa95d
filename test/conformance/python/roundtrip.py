"""google-cloud-storage round trip: the seed lecture's snippet, corrected.

Usage: roundtrip.py JSON where JSON has bucket, object, source, target and optionally endpoint
(passed as client_options api_endpoint), create (create the bucket first) and chunkSize.
Prints one JSON line: {"ok": true, ...} or {"error": "<exception class>", "code": N, ...}.
"""
import json
import sys

import loopback_only  # noqa: F401  (must come before the Google imports)
from google.api_core import exceptions
from google.cloud import storage


def main() -> None:
    args = json.loads(sys.argv[1])
    endpoint = args.get("endpoint")
    if endpoint:
        client = storage.Client(client_options={"api_endpoint": endpoint})
    else:
        client = storage.Client()
    bucket = client.bucket(args["bucket"])
    try:
        if args.get("create"):
            bucket.create()
        blob = bucket.blob(args["object"])
        if args.get("chunkSize"):
            blob.chunk_size = args["chunkSize"]
        blob.upload_from_filename(args["source"])
        # A fresh blob: the client builds the download URL itself (no mediaLink from the upload).
        bucket.blob(args["object"]).download_to_filename(args["target"])
    except exceptions.GoogleAPICallError as error:
        print(json.dumps({"error": type(error).__name__, "code": error.code, "message": error.message}))
        return
    print(
        json.dumps(
            {
                "ok": True,
                "project": client.project,
                "credentials": type(client._credentials).__name__,
                "size": blob.size,
                "md5Hash": blob.md5_hash,
                "crc32c": blob.crc32c,
                "mediaLink": blob.media_link,
            }
        )
    )


if __name__ == "__main__":
    main()
