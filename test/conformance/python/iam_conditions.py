"""google-cloud-storage and IAM Conditions: sets a conditional bucket binding, then reads as the account.

Usage: iam_conditions.py JSON where JSON has endpoint, bucket and action:
- "grant" (with token: the owner's access token, member, role, title, expression): reads the bucket
  policy at version 3, appends a conditional binding and writes it back; prints the policy written.
- "read" (credentials from GOOGLE_APPLICATION_CREDENTIALS, objects: names): downloads each object
  and lists the bucket; prints {name: "ok" | HTTP status}.
Prints one JSON line.
"""
import json
import sys

import loopback_only  # noqa: F401  (must come before the Google imports)
from google.api_core import exceptions
from google.cloud import storage
from google.oauth2.credentials import Credentials


def grant(args: dict) -> dict:
    client = storage.Client(
        project="nimbus-local",
        credentials=Credentials(token=args["token"]),
        client_options={"api_endpoint": args["endpoint"]},
    )
    bucket = client.bucket(args["bucket"])
    policy = bucket.get_iam_policy(requested_policy_version=3)
    policy.version = 3
    policy.bindings.append(
        {
            "role": args["role"],
            "members": {args["member"]},
            "condition": {"title": args["title"], "expression": args["expression"]},
        }
    )
    try:
        written = bucket.set_iam_policy(policy)
    except exceptions.GoogleAPICallError as error:
        return {"error": type(error).__name__, "code": error.code, "message": error.message}
    return {
        "version": written.version,
        "bindings": [
            {"role": b["role"], "members": sorted(b["members"]), "condition": b.get("condition")}
            for b in written.bindings
        ],
    }


def read(args: dict) -> dict:
    client = storage.Client(client_options={"api_endpoint": args["endpoint"]})
    bucket = client.bucket(args["bucket"])
    out = {"credentials": type(client._credentials).__name__, "objects": {}}
    for name in args["objects"]:
        try:
            out["objects"][name] = bucket.blob(name).download_as_bytes().decode()
        except exceptions.GoogleAPICallError as error:
            out["objects"][name] = error.code
    try:
        out["list"] = [blob.name for blob in client.list_blobs(args["bucket"])]
    except exceptions.GoogleAPICallError as error:
        out["list"] = error.code
    return out


def main() -> None:
    args = json.loads(sys.argv[1])
    print(json.dumps(grant(args) if args["action"] == "grant" else read(args)))


if __name__ == "__main__":
    main()
