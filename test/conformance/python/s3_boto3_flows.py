"""boto3 (default checksum settings) against Nimbus's XML face: run by test/conformance/s3-boto3.test.ts.

Reads only the endpoint and credentials from the environment (AWS_ENDPOINT_URL_S3,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION) plus BUCKET and WORK (a scratch
directory). With S3_INSECURE_TLS=1 (the test's loopback TLS terminator with a throwaway
self-signed certificate) certificate verification is off. Prints one JSON object: the facts each step observed, for the test to assert on.
"""

import hashlib
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

import boto3
import botocore
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

MIB = 1024 * 1024


def error_of(call):
    try:
        call()
    except ClientError as error:
        return {
            "code": error.response["Error"]["Code"],
            "status": error.response["ResponseMetadata"]["HTTPStatusCode"],
        }
    return {"code": None, "status": 200}


def main():
    bucket = os.environ["BUCKET"]
    work = os.environ["WORK"]
    insecure = os.environ.get("S3_INSECURE_TLS") == "1"
    s3 = boto3.client("s3", verify=not insecure)
    tls = ssl._create_unverified_context() if insecure else None
    facts = {
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "endpoint": s3.meta.endpoint_url,
        "checksumSetting": s3.meta.config.request_checksum_calculation,
    }

    s3.create_bucket(Bucket=bucket)
    facts["bucketListed"] = bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    # put / get / head / delete
    body = b"boto3 says hello" * 64
    put = s3.put_object(Bucket=bucket, Key="docs/hello.txt", Body=body, ContentType="text/plain",
                        Metadata={"colour": "green"})
    facts["putETag"] = put["ETag"]
    facts["putChecksumCRC32"] = put.get("ChecksumCRC32")
    got = s3.get_object(Bucket=bucket, Key="docs/hello.txt")
    facts["getBody"] = got["Body"].read() == body
    facts["getMetadata"] = got["Metadata"]
    facts["getContentType"] = got["ContentType"]
    ranged = s3.get_object(Bucket=bucket, Key="docs/hello.txt", Range="bytes=0-4")
    facts["rangeBody"] = ranged["Body"].read().decode()
    head = s3.head_object(Bucket=bucket, Key="docs/hello.txt")
    facts["headLength"] = head["ContentLength"]
    facts["md5"] = hashlib.md5(body).hexdigest()

    # list v2 paginator with a delimiter: 7 top-level keys, 3 prefixes, pages of 2
    for name in ["a1", "a2", "a3", "a4", "d1/x", "d2/x", "d2/y", "d3/z/z"]:
        s3.put_object(Bucket=bucket, Key="list/" + name, Body=name.encode())
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="list/", Delimiter="/", PaginationConfig={"PageSize": 2})
    keys, prefixes, page_count = [], [], 0
    for page in pages:
        page_count += 1
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    facts["listKeys"] = keys
    facts["listPrefixes"] = prefixes
    facts["listPages"] = page_count

    # multipart through upload_file with a small threshold: 3 parts of 5 MiB + a tail
    big_path = os.path.join(work, "big.bin")
    with open(big_path, "wb") as out:
        out.write(os.urandom(16 * MIB + 123))
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=4)
    s3.upload_file(big_path, bucket, "big.bin", Config=config)
    big_head = s3.head_object(Bucket=bucket, Key="big.bin")
    facts["bigETag"] = big_head["ETag"]
    facts["bigLength"] = big_head["ContentLength"]
    back_path = os.path.join(work, "big-back.bin")
    s3.download_file(bucket, "big.bin", back_path, Config=config)
    with open(big_path, "rb") as a, open(back_path, "rb") as b:
        facts["bigRoundTrip"] = hashlib.sha256(a.read()).hexdigest() == hashlib.sha256(b.read()).hexdigest()

    # copy
    s3.copy_object(Bucket=bucket, Key="docs/copy.txt", CopySource={"Bucket": bucket, "Key": "docs/hello.txt"})
    facts["copyBody"] = s3.get_object(Bucket=bucket, Key="docs/copy.txt")["Body"].read() == body
    s3.copy({"Bucket": bucket, "Key": "big.bin"}, bucket, "big-copy.bin", Config=config)
    facts["bigCopyLength"] = s3.head_object(Bucket=bucket, Key="big-copy.bin")["ContentLength"]

    # delete_objects (one missing key is still reported deleted, as S3 does)
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "list/a1"}, {"Key": "list/a2"}, {"Key": "list/never-there"}]})
    facts["deletedKeys"] = sorted(d["Key"] for d in deleted.get("Deleted", []))
    facts["deleteErrors"] = deleted.get("Errors", [])
    remaining = s3.list_objects_v2(Bucket=bucket, Prefix="list/a")
    facts["remainingA"] = [o["Key"] for o in remaining.get("Contents", [])]

    # versioning
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    facts["versioning"] = s3.get_bucket_versioning(Bucket=bucket).get("Status")
    v1 = s3.put_object(Bucket=bucket, Key="v.txt", Body=b"first")
    v2 = s3.put_object(Bucket=bucket, Key="v.txt", Body=b"second")
    facts["versionIds"] = [v1.get("VersionId"), v2.get("VersionId")]
    listed = s3.list_object_versions(Bucket=bucket, Prefix="v.txt")
    facts["listedVersions"] = [[v["VersionId"], v["IsLatest"]] for v in listed.get("Versions", [])]
    old = s3.get_object(Bucket=bucket, Key="v.txt", VersionId=v1["VersionId"])
    facts["oldVersionBody"] = old["Body"].read().decode()

    # presigned GET
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "docs/hello.txt"},
                                    ExpiresIn=300)
    with urllib.request.urlopen(url, context=tls) as response:
        facts["presignedStatus"] = response.status
        facts["presignedBody"] = response.read() == body
    try:
        urllib.request.urlopen(url.replace("docs/hello.txt", "docs/copy.txt"), context=tls)
        facts["presignedOtherKeyStatus"] = 200
    except urllib.error.HTTPError as error:
        facts["presignedOtherKeyStatus"] = error.code

    # ClientError codes
    facts["noSuchKey"] = error_of(lambda: s3.get_object(Bucket=bucket, Key="missing"))
    facts["noSuchBucket"] = error_of(lambda: s3.list_objects_v2(Bucket=bucket + "-missing"))
    facts["preconditionFailed"] = error_of(
        lambda: s3.get_object(Bucket=bucket, Key="docs/hello.txt", IfMatch='"0123456789abcdef0123456789abcdef"'))
    facts["ifNoneMatchStar"] = error_of(
        lambda: s3.put_object(Bucket=bucket, Key="docs/hello.txt", Body=b"x", IfNoneMatch="*"))

    s3.delete_object(Bucket=bucket, Key="docs/copy.txt")
    facts["deletedHead"] = error_of(lambda: s3.head_object(Bucket=bucket, Key="docs/copy.txt"))

    # A wrong secret is refused.
    bad = boto3.client("s3", verify=not insecure, aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key="not-the-secret" * 3)
    facts["wrongSecret"] = error_of(lambda: bad.list_objects_v2(Bucket=bucket))

    json.dump(facts, sys.stdout)


if __name__ == "__main__":
    main()
